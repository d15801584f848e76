"""Group commit over every store: concurrent calls share commits, each returns after its events
are durable, a bad call fails alone, a store that is down fails every caller.

Each case runs over the local SQLCipher cache and the team's Postgres (the store contract's
probes, ``tests/sync/store/store_probes.py``): the queue is written once, through
``Store.ingest``, and must give both the same outcomes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from sync.domain.events import ProviderEvent, UnstorableEvents
from sync.domain.outbox import IngestResult
from sync.engine.ingest_queue import IngestQueue
from sync.engine.store import Store
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.local.local_cache import LocalCache
from sync.store.local.store import LocalStore
from tests.sync.helpers import add_account, inbound, scalar
from tests.sync.store.store_probes import StoreProbe, open_probe

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["local", "team"])
def probe(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreProbe]:
    """A fresh, empty store of each kind, with its probe."""
    with open_probe(request.param, request, tmp_path) as opened:
        yield opened


class CountingStore:
    """A store that counts the ``ingest`` calls it passes on (how the queue split a batch)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls: list[int] = []  # events per call

    async def ingest(self, events: Sequence[ProviderEvent]) -> IngestResult:
        self.calls.append(len(events))
        return await self.store.ingest(events)


def queue_over(store: Store | CountingStore, **kw: int) -> IngestQueue:
    return IngestQueue(store, **kw)  # type: ignore[arg-type]  # only ``ingest`` is used


async def test_concurrent_calls_share_commits_and_all_land(probe: StoreProbe) -> None:
    account = probe.number()
    store = CountingStore(probe.store)
    queue = queue_over(store)

    results = await asyncio.gather(
        *(queue.submit([inbound(account, f"wamid.{i}")]) for i in range(200))
    )

    # Stored and committed when ``submit`` returned (the team's probe reads on another
    # connection: it sees only what is committed).
    assert probe.count(account) == 200
    assert all(isinstance(r, IngestResult) for r in results)
    # The first call commits alone; the rest pile up behind it and go in far fewer commits,
    # each one transaction (one ``ingest``) for many callers.
    assert queue.commits == len(store.calls) < 50
    assert max(store.calls) > 1


async def test_a_redelivery_in_the_same_batch_is_stored_once(probe: StoreProbe) -> None:
    account = probe.number()
    queue = IngestQueue(probe.store)
    event = inbound(account, "wamid.same")

    await asyncio.gather(*(queue.submit([event]) for _ in range(10)))

    assert probe.count(account) == 1


def _past_64_bits(account: int) -> ProviderEvent:
    return replace(inbound(account, "wamid.bad"), timestamp=10**30)


def _of_no_number(account: int) -> ProviderEvent:
    return inbound(account + 10_000, "wamid.bad")


@pytest.mark.parametrize("bad", [_past_64_bits, _of_no_number])
async def test_one_bad_call_fails_alone_and_the_rest_of_its_batch_is_stored(
    probe: StoreProbe, bad: Callable[[int], ProviderEvent]
) -> None:
    account = probe.number()
    store = CountingStore(probe.store)
    queue = queue_over(store)
    good = [queue.submit([inbound(account, f"wamid.{i}")]) for i in range(5)]
    # The bad call also carries a good event: it must not be kept without its neighbour.
    guilty = queue.submit([inbound(account, "wamid.with.bad"), bad(account)])
    late = queue.submit([inbound(account, "wamid.late")])

    outcomes = await asyncio.gather(*good, guilty, late, return_exceptions=True)

    assert [type(o).__name__ for o in outcomes] == [
        *["IngestResult"] * 5,
        "UnstorableEvents",
        "IngestResult",
    ]
    assert probe.count(account) == 6
    assert probe.message_id(account, "wamid.with.bad") is None
    # All seven were tried together once, then one by one.
    assert store.calls == [8, *[1] * 5, 2, 1]


async def test_a_store_that_is_down_fails_every_caller_and_keeps_nothing(
    probe: StoreProbe,
) -> None:
    account = probe.number()
    down = CountingStore(probe.down_store())
    queue = queue_over(down)

    outcomes = await asyncio.gather(
        *(queue.submit([inbound(account, f"wamid.{i}")]) for i in range(6)),
        return_exceptions=True,
    )

    # Not "unstorable": the receiver answers 503 and the provider sends them again later.
    assert all(isinstance(o, Exception) for o in outcomes)
    assert not any(isinstance(o, UnstorableEvents) for o in outcomes)
    assert probe.count(account) == 0
    # An outage is not split call by call: each part would only meet it again.
    assert sum(down.calls) == 6
    assert queue.commits == 0


async def test_close_flushes_what_is_pending_then_refuses_new_events(probe: StoreProbe) -> None:
    account = probe.number()
    queue = IngestQueue(probe.store)
    pending = [
        asyncio.ensure_future(queue.submit([inbound(account, f"wamid.{i}")])) for i in range(20)
    ]
    await asyncio.sleep(0)  # they reached the queue, no commit yet

    await queue.aclose()

    assert all(p.done() and isinstance(p.result(), IngestResult) for p in pending)
    assert probe.count(account) == 20
    with pytest.raises(RuntimeError):
        await queue.submit([inbound(account, "wamid.after")])


async def test_listeners_hear_each_commit(probe: StoreProbe) -> None:
    account = probe.number()
    queue = IngestQueue(probe.store)
    heard: list[IngestResult] = []
    queue.add_listener(heard.append)
    broken = queue.add_listener(lambda _: 1 / 0)  # one failing listener stops nobody

    await asyncio.gather(*(queue.submit([inbound(account, f"wamid.{i}")]) for i in range(30)))
    broken()
    stored = await queue.submit([inbound(account, "wamid.last")])

    assert sum(len(r.new_inbound) for r in heard) == 31
    assert len(heard) == queue.commits
    assert heard[-1].new_inbound == stored.new_inbound


async def test_a_bad_call_alone_is_not_heard(probe: StoreProbe) -> None:
    account = probe.number()
    queue = IngestQueue(probe.store)
    heard: list[IngestResult] = []
    queue.add_listener(heard.append)

    with pytest.raises(UnstorableEvents):
        await queue.submit([_of_no_number(account)])

    assert heard == [] and queue.commits == 0


async def test_nothing_to_store_costs_no_commit(probe: StoreProbe) -> None:
    queue = IngestQueue(probe.store)

    assert await queue.submit([]) == IngestResult()
    assert queue.commits == 0


async def test_batches_are_bounded(probe: StoreProbe) -> None:
    account = probe.number()
    store = CountingStore(probe.store)
    queue = queue_over(store, max_batch_events=10)

    await asyncio.gather(*(queue.submit([inbound(account, f"wamid.{i}")]) for i in range(50)))

    assert max(store.calls) <= 10 and queue.commits >= 5
    assert probe.count(account) == 50


# --- the local cache only -----------------------------------------------------------------


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


async def test_the_cache_has_the_events_on_disk_when_submit_returns(
    db: Database, cache_path: Path, cache_key: CacheKey
) -> None:
    account = db.run_sync(add_account)
    queue = IngestQueue(LocalStore(db))

    await asyncio.gather(*(queue.submit([inbound(account, f"wamid.{i}")]) for i in range(20)))

    # Another connection (a fresh process after a crash would be one) already sees them all.
    assert await asyncio.to_thread(_count_elsewhere, cache_path, cache_key) == 20
