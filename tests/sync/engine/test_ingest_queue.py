"""Group commit: concurrent submits share commits, each returns after its events are durable."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sync.domain.changes import ChangeSet
from sync.domain.events import UnstorableEvents
from sync.domain.models import MessageType
from sync.engine.ingest_queue import IngestQueue
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.local.ingest import IngestResult
from sync.store.local.local_cache import LocalCache
from tests.sync.helpers import add_account, inbound, scalar

pytestmark = pytest.mark.anyio


@pytest.fixture
def db(cache_path: Path, cache_key: CacheKey) -> Iterator[Database]:
    database = Database(cache_path, cache_key)
    database.open_sync()
    try:
        yield database
    finally:
        database.close_sync()


def _count_elsewhere(cache_path: Path, key: CacheKey) -> int:
    """Messages as another connection sees them (what a crash right now would keep)."""
    other = LocalCache.open(cache_path, key)
    try:
        return int(scalar(other, "SELECT COUNT(*) FROM messages"))
    finally:
        other.close()


async def test_concurrent_submits_share_commits_and_all_land(db: Database) -> None:
    account = db.run_sync(add_account)
    queue = IngestQueue(db)

    await asyncio.gather(*(queue.submit([inbound(account, f"wamid.{i}")]) for i in range(200)))

    assert db.run_sync(scalar, "SELECT COUNT(*) FROM messages") == 200
    # The first submit commits alone; the rest pile up behind it and go in far fewer commits.
    assert queue.commits < 50


async def test_submit_returns_only_once_the_events_are_committed(
    db: Database, cache_path: Path, cache_key: CacheKey
) -> None:
    account = db.run_sync(add_account)
    queue = IngestQueue(db)

    results = await asyncio.gather(
        *(queue.submit([inbound(account, f"wamid.{i}")]) for i in range(20))
    )

    # Another connection (a fresh process after a crash would be one) already sees them all.
    assert await asyncio.to_thread(_count_elsewhere, cache_path, cache_key) == 20
    assert all(isinstance(r, IngestResult) for r in results)


async def test_a_redelivery_in_the_same_batch_is_stored_once(db: Database) -> None:
    account = db.run_sync(add_account)
    queue = IngestQueue(db)
    event = inbound(account, "wamid.same")

    await asyncio.gather(*(queue.submit([event]) for _ in range(10)))

    assert db.run_sync(scalar, "SELECT COUNT(*) FROM messages") == 1


async def test_one_bad_call_fails_alone_and_the_rest_of_its_batch_is_stored(db: Database) -> None:
    account = db.run_sync(add_account)
    queue = IngestQueue(db)
    good = [queue.submit([inbound(account, f"wamid.{i}")]) for i in range(5)]
    # No number 999: the conversation's foreign key fails the whole transaction.
    bad = queue.submit([inbound(999, "wamid.orphan")])

    outcomes = await asyncio.gather(*good, bad, return_exceptions=True)

    assert all(isinstance(o, IngestResult) for o in outcomes[:5])
    assert isinstance(outcomes[5], Exception)
    assert db.run_sync(scalar, "SELECT COUNT(*) FROM messages") == 5


async def test_a_store_failure_reaches_the_caller(db: Database) -> None:
    account = db.run_sync(add_account)
    queue = IngestQueue(db)
    db.run_sync(lambda cache: cache.close())

    with pytest.raises(Exception):  # noqa: B017 - whatever the closed connection raises
        await queue.submit([inbound(account, "wamid.lost")])


async def test_listeners_and_database_subscribers_hear_each_commit(db: Database) -> None:
    account = db.run_sync(add_account)
    queue = IngestQueue(db)
    heard: list[IngestResult] = []
    published: list[ChangeSet] = []
    queue.add_listener(heard.append)
    db.subscribe(published.append)

    await asyncio.gather(*(queue.submit([inbound(account, f"wamid.{i}")]) for i in range(30)))

    assert sum(len(r.new_inbound) for r in heard) == 30
    assert len(heard) == queue.commits
    assert {m for c in published for m in c.messages} == {m for r in heard for m in r.new_inbound}


async def test_nothing_to_store_costs_no_commit(db: Database) -> None:
    queue = IngestQueue(db)

    assert await queue.submit([]) == IngestResult()
    assert queue.commits == 0


async def test_a_closed_queue_refuses_new_events(db: Database) -> None:
    account = db.run_sync(add_account)
    queue = IngestQueue(db)
    pending = asyncio.ensure_future(queue.submit([inbound(account, "wamid.1")]))
    await asyncio.sleep(0)

    await queue.aclose()

    await pending  # what was under way finished
    with pytest.raises(RuntimeError):
        await queue.submit([inbound(account, "wamid.2")])


async def test_batches_are_bounded(db: Database) -> None:
    account = db.run_sync(add_account)
    queue = IngestQueue(db, max_batch_events=10)

    await asyncio.gather(*(queue.submit([inbound(account, f"wamid.{i}")]) for i in range(50)))

    assert queue.commits >= 5
    assert db.run_sync(scalar, "SELECT COUNT(*) FROM messages") == 50


async def test_values_the_cache_cannot_hold_are_unstorable_not_a_store_failure(
    db: Database,
) -> None:
    account = db.run_sync(add_account)
    queue = IngestQueue(db)
    good = queue.submit([inbound(account, "wamid.good")])
    infinite = queue.submit([inbound(account, "wamid.inf", ts=float("inf"))])
    huge = queue.submit([replace(inbound(account, "wamid.big"), timestamp=10**30)])

    outcomes = await asyncio.gather(good, infinite, huge, return_exceptions=True)

    assert isinstance(outcomes[0], IngestResult)
    assert isinstance(outcomes[1], UnstorableEvents)
    assert isinstance(outcomes[2], UnstorableEvents)
    assert db.run_sync(scalar, "SELECT COUNT(*) FROM messages") == 1


async def test_a_lone_surrogate_becomes_a_replacement_character(db: Database) -> None:
    account = db.run_sync(add_account)
    queue = IngestQueue(db)

    event = replace(
        inbound(account, "wamid.half", "bolo \ud83c!", name="Ana \udc00"),
        type=MessageType.IMAGE,
        media={"caption": ["\udfff"], "\ud800": "key"},
    )

    await queue.submit([event])

    assert db.run_sync(scalar, "SELECT body FROM messages") == "bolo \ufffd!"
    assert db.run_sync(scalar, "SELECT customer_name FROM conversations") == "Ana \ufffd"
    stored = db.run_sync(scalar, "SELECT media FROM messages")
    assert "\ufffd" in json.loads(stored)
    assert json.loads(stored)["caption"] == ["\ufffd"]
