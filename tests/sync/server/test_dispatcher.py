"""The team dispatcher on a real Postgres, sending to the fake Graph API over loopback HTTP."""

from __future__ import annotations

import socket
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import text

from sync.domain.models import DeliveryStatus
from sync.providers.base import WebhookRequest
from sync.providers.meta_cloud import parse_webhook
from sync.server.auth import Principal
from sync.server.credentials import ServerKey, generate_key, join_account
from sync.server.dispatcher import TeamDispatcher
from sync.store.team.database import ServerDatabase
from sync.store.team.ingest import ingest_events
from sync.store.team.outbox import RetryRefused, claim_next
from tests.fakes.clock import FakeClock
from tests.fakes.loopback import serve
from tests.fakes.meta_server import FakeMeta, signed_webhook
from tests.polling import at_most, eventually
from tests.sync.server.seeding import Seeded, add_conversation, enqueue, rows, seed_workspace

if TYPE_CHECKING:
    pass

pytestmark = pytest.mark.anyio

TOKEN = "EAAG-dispatch-test-token"
PNID = "106540352242922"
APP_SECRET = "meta-app-secret-for-tests"
PHONES = ["5511999990001", "5511999990002", "5511999990003"]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeMeta, str]]:
    fake = FakeMeta(access_token=TOKEN, phone_number_id=PNID, waba_id="102290129340398")
    with serve(fake.app) as base_url:
        yield fake, base_url
        fake.close()


@pytest.fixture
def fake(served: tuple[FakeMeta, str]) -> FakeMeta:
    served[0].reset()
    return served[0]


@pytest.fixture
def base_url(served: tuple[FakeMeta, str]) -> str:
    return served[1]


@pytest.fixture
def db(server_db: ServerDatabase) -> ServerDatabase:
    return server_db  # the server's pool (tests/conftest.py), under this module's short name


@pytest.fixture
def key() -> ServerKey:
    return ServerKey(generate_key())


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # Generous: a send timing out under a loaded machine would become "unknown" and change the
    # order a test expects (the tests about timeouts make their own short client).
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
        yield client


def seed(db: ServerDatabase, key: ServerKey, base_url: str, **pacing: Any) -> Seeded:
    # Recipient pacing off unless a test is about it: most tests send bursts to one customer.
    return seed_workspace(db, key, base_url=base_url, pacing={"recipient_interval_s": 0, **pacing})


def dispatcher(
    db: ServerDatabase, key: ServerKey, http: httpx.AsyncClient, **kw: Any
) -> TeamDispatcher:
    options: dict[str, Any] = {
        "concurrency": 0,
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.02,
        "idle_poll_s": 0.05,
    }
    options.update(kw)
    return TeamDispatcher(db, key, http, **options)


def sent_ids(fake: FakeMeta) -> list[str]:
    return [str(p.get("biz_opaque_callback_data")) for p in fake.accepted]


async def drain(d: TeamDispatcher) -> int:
    """Dispatch until nothing is left; how many were handled."""
    count = 0
    for _ in at_most(1000, "the dispatcher kept finding something to send"):
        if not await d.dispatch_once():
            break
        count += 1
    return count


def make_due(db: ServerDatabase) -> None:
    with db.system() as conn:
        conn.execute(text("UPDATE outbox SET next_attempt_at = now()"))


async def deliver_status(
    db: ServerDatabase, key: ServerKey, seeded: Seeded, fake: FakeMeta, wamid: str, value: str
) -> None:
    """A signed status webhook for an accepted message, parsed and ingested as the server does."""
    raw, headers = signed_webhook(APP_SECRET, fake.status_webhook(wamid, value))
    with db.system() as conn:
        row = conn.execute(
            text("SELECT name, provider, config, secrets FROM accounts WHERE id = :a"),
            {"a": seeded.account_id},
        ).one()
    config = {k: v for k, v in row.config.items() if k != "pacing"}
    account = join_account(
        key,
        account_id=seeded.account_id,
        name=row.name,
        provider=row.provider,
        config=config,
        sealed=bytes(row.secrets),
    )
    result = parse_webhook(WebhookRequest("POST", headers, raw), [account])  # type: ignore[list-item]
    await ingest_events(db, result.events)


async def test_messages_go_out_once_in_order_with_our_id(
    db: ServerDatabase, key: ServerKey, http: httpx.AsyncClient, fake: FakeMeta, base_url: str
) -> None:
    seeded = seed(db, key, base_url)
    conv = add_conversation(db, seeded, PHONES[0])
    ids = [enqueue(db, seeded, conv, f"mensagem {i}", PHONES[0]) for i in range(3)]
    d = dispatcher(db, key, http)
    await d.start()
    try:
        assert await drain(d) == 3
        assert not await d.dispatch_once()
    finally:
        await d.aclose()
    assert sent_ids(fake) == [str(i) for i in ids]
    assert [p["text"]["body"] for p in fake.accepted] == [f"mensagem {i}" for i in range(3)]
    assert [p["to"] for p in fake.accepted] == [PHONES[0]] * 3
    messages = rows(
        db, "SELECT id, status, provider_message_id, error FROM messages ORDER BY ts, id"
    )
    assert [(m[0], m[1], m[3]) for m in messages] == [(i, "sent", None) for i in ids]
    assert [m[2] for m in messages] == fake.accepted_ids
    assert rows(db, "SELECT count(*) FROM outbox") == [(0,)]
    assert rows(db, "SELECT last_status FROM conversations") == [("sent",)]


async def test_transient_errors_are_retried_with_backoff(
    db: ServerDatabase, key: ServerKey, http: httpx.AsyncClient, fake: FakeMeta, base_url: str
) -> None:
    seeded = seed(db, key, base_url)
    conv = add_conversation(db, seeded, PHONES[0])
    message_id = enqueue(db, seeded, conv, "olá", PHONES[0])
    clock = FakeClock(start=time.time())
    d = dispatcher(db, key, http, clock=clock.now, backoff_base_s=30.0, backoff_cap_s=60.0)
    await d.start()
    try:
        fake.fail_next(131057)  # maintenance mode: certainly not sent
        assert await d.dispatch_once()
        (entry,) = rows(
            db,
            "SELECT state, attempts, last_error, EXTRACT(EPOCH FROM next_attempt_at - now())"
            " FROM outbox",
        )
        assert entry[:2] == ("pending", 1) and entry[2].startswith("not_sent")
        assert 14 <= entry[3] <= 31  # first backoff: 15-30 s (half the ceiling to the ceiling)
        assert rows(db, "SELECT status FROM messages") == [("queued",)]
        assert not await d.dispatch_once()  # not due yet
        make_due(db)
        clock.advance(1)  # past the database's now()
        fake.arrange("rate_limited", retry_after=120)
        assert await d.dispatch_once()
        (entry,) = rows(
            db, "SELECT attempts, EXTRACT(EPOCH FROM next_attempt_at - now()) FROM outbox"
        )
        assert entry[0] == 2 and 110 <= entry[1] <= 121  # the provider's hint wins
        make_due(db)
        # ...and the whole number waits it out, not only that message.
        assert not await d.dispatch_once()
        clock.advance(121)
        assert await d.dispatch_once()
    finally:
        await d.aclose()
    assert sent_ids(fake) == [str(message_id)]
    assert rows(db, "SELECT status, error FROM messages") == [("sent", None)]


async def test_a_refused_connection_is_retried(
    db: ServerDatabase, key: ServerKey, http: httpx.AsyncClient, fake: FakeMeta
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    seeded = seed(db, key, f"http://127.0.0.1:{port}")
    conv = add_conversation(db, seeded, PHONES[0])
    enqueue(db, seeded, conv, "olá", PHONES[0])
    d = dispatcher(db, key, http)
    await d.start()
    try:
        assert await d.dispatch_once()
    finally:
        await d.aclose()
    assert rows(db, "SELECT state, attempts FROM outbox") == [("pending", 1)]
    assert rows(db, "SELECT status FROM messages") == [("queued",)]


async def test_permanent_errors_fail_with_the_reason_and_free_the_conversation(
    db: ServerDatabase, key: ServerKey, http: httpx.AsyncClient, fake: FakeMeta, base_url: str
) -> None:
    seeded = seed(db, key, base_url)
    conv = add_conversation(db, seeded, PHONES[0])
    first = enqueue(db, seeded, conv, "primeira", PHONES[0])
    second = enqueue(db, seeded, conv, "segunda", PHONES[0])
    fake.arrange("invalid_recipient")
    d = dispatcher(db, key, http)
    await d.start()
    try:
        assert await drain(d) == 2
    finally:
        await d.aclose()
    statuses = dict(rows(db, "SELECT id, status FROM messages"))
    assert statuses == {first: "failed", second: "sent"}
    (error,) = rows(db, "SELECT error FROM messages WHERE id = :id", id=first)[0]
    assert error.startswith("undeliverable") or "131026" in error
    assert sent_ids(fake) == [str(second)]


async def test_a_lost_answer_is_unknown_never_resent_and_settled_by_the_receipt(
    db: ServerDatabase, key: ServerKey, fake: FakeMeta, base_url: str
) -> None:
    seeded = seed(db, key, base_url)
    conv = add_conversation(db, seeded, PHONES[0])
    message_id = enqueue(db, seeded, conv, "vai chegar?", PHONES[0])
    fake.arrange("accept_then_hang")
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.3)) as short:
        d = dispatcher(db, key, short)
        await d.start()
        try:
            assert await d.dispatch_once()
            assert not await d.dispatch_once()  # never retried
        finally:
            await d.aclose()
    (row,) = rows(db, "SELECT status, provider_message_id, error FROM messages")
    assert row[0] == "unknown" and row[1] is None and "ReadTimeout" in row[2]
    assert rows(db, "SELECT count(*) FROM outbox") == [(0,)]
    assert sent_ids(fake) == [str(message_id)]
    # Meta's status webhook carries our id in biz_opaque_callback_data.
    (wamid,) = fake.accepted_ids
    await deliver_status(db, key, seeded, fake, wamid, "delivered")
    assert rows(db, "SELECT status, provider_message_id, error FROM messages") == [
        ("delivered", wamid, None)
    ]


async def test_a_crash_while_sending_leaves_unknown_never_resent(
    db: ServerDatabase, key: ServerKey, http: httpx.AsyncClient, fake: FakeMeta, base_url: str
) -> None:
    seeded = seed(db, key, base_url)
    conv = add_conversation(db, seeded, PHONES[0])
    enqueue(db, seeded, conv, "interrompida", PHONES[0])
    later = enqueue(db, seeded, conv, "depois", PHONES[0])
    # Claimed with a 30 s lease, then the process died.
    lease = int(time.time() * 1000) + 30_000
    assert claim_next(db, [seeded.account_id], [], lease_until_ms=lease) is not None
    clock = FakeClock(start=time.time())
    d = dispatcher(db, key, http, clock=clock.now)
    await d.start()
    try:
        assert d.recovered == 0  # the lease still runs: it may be a live server's
        assert await drain(d) == 0  # and its conversation waits behind it
        clock.advance(31)
        await d.engine.upkeep()
        assert d.recovered == 1
        assert await drain(d) == 1
    finally:
        await d.aclose()
    assert sorted(r[0] for r in rows(db, "SELECT status FROM messages")) == ["sent", "unknown"]
    assert sent_ids(fake) == [str(later)]


async def test_a_conversation_keeps_its_order_while_others_go_ahead(
    db: ServerDatabase, key: ServerKey, http: httpx.AsyncClient, fake: FakeMeta, base_url: str
) -> None:
    seeded = seed(db, key, base_url)
    a = add_conversation(db, seeded, PHONES[0])
    b = add_conversation(db, seeded, PHONES[1])
    a1 = enqueue(db, seeded, a, "a1", PHONES[0])
    a2 = enqueue(db, seeded, a, "a2", PHONES[0])
    b1 = enqueue(db, seeded, b, "b1", PHONES[1])
    d = dispatcher(db, key, http, backoff_base_s=60, backoff_cap_s=60)
    await d.start()
    try:
        fake.fail_next(131057)  # a1 waits out a backoff...
        assert await d.dispatch_once()
        assert await d.dispatch_once()  # ...b1 goes...
        assert not await d.dispatch_once()  # ...a2 waits behind a1
        make_due(db)
        assert await drain(d) == 2
    finally:
        await d.aclose()
    assert sent_ids(fake) == [str(b1), str(a1), str(a2)]


async def test_two_dispatchers_at_once_never_send_a_message_twice(
    db: ServerDatabase, key: ServerKey, http: httpx.AsyncClient, fake: FakeMeta, base_url: str
) -> None:
    seeded = seed(db, key, base_url, per_second=100000, burst=100000)
    conversations = [add_conversation(db, seeded, f"55119{n:08d}") for n in range(10)]
    queued: dict[int, list[uuid.UUID]] = {c: [] for c in conversations}
    for i in range(200):
        conv = conversations[i % len(conversations)]
        queued[conv].append(enqueue(db, seeded, conv, f"m{i}", f"55119{conv:08d}"))
    one = dispatcher(db, key, http, concurrency=4)
    two = dispatcher(db, key, http, concurrency=4)
    await one.start()
    await two.start()
    try:
        await eventually(
            lambda: rows(db, "SELECT count(*) FROM outbox") == [(0,)],
            timeout=20,
            interval=0.02,
            message="both dispatchers emptied the outbox",
        )
    finally:
        await one.aclose()
        await two.aclose()
    sent = sent_ids(fake)
    assert len(sent) == 200 and max(Counter(sent).values()) == 1
    by_conversation = dict(rows(db, "SELECT id::text, conversation_id FROM messages"))
    for conv, ids in queued.items():
        assert [s for s in sent if by_conversation[s] == conv] == [str(i) for i in ids]
    assert rows(db, "SELECT DISTINCT status FROM messages") == [("sent",)]


async def test_pacing_per_number_and_per_recipient(
    db: ServerDatabase, key: ServerKey, http: httpx.AsyncClient, fake: FakeMeta, base_url: str
) -> None:
    seeded = seed_workspace(
        db,
        key,
        base_url=base_url,
        pacing={"per_second": 10, "burst": 2, "recipient_interval_s": 6, "recipient_burst": 1},
    )
    a = add_conversation(db, seeded, PHONES[0])
    b = add_conversation(db, seeded, PHONES[1])
    c = add_conversation(db, seeded, PHONES[2])
    a1 = enqueue(db, seeded, a, "a1", PHONES[0])
    a2 = enqueue(db, seeded, a, "a2", PHONES[0])
    b1 = enqueue(db, seeded, b, "b1", PHONES[1])
    c1 = enqueue(db, seeded, c, "c1", PHONES[2])
    clock = FakeClock(start=time.time())  # epoch seconds, after the queuing: the claims' clock
    d = dispatcher(db, key, http, clock=clock.now)
    await d.start()
    try:
        assert await d.dispatch_once()  # a1
        assert await d.dispatch_once()  # b1 (a2 waits for its recipient)
        assert not await d.dispatch_once()  # the number's burst of 2 is spent
        clock.advance(0.12)  # then 9 a second: no second holds more than 10
        assert await d.dispatch_once()  # c1
        clock.advance(1.0)
        assert not await d.dispatch_once()  # a2 waits 6 s after a1
        clock.advance(4.9)
        assert await d.dispatch_once()
    finally:
        await d.aclose()
    assert sent_ids(fake) == [str(a1), str(b1), str(c1), str(a2)]


async def test_supervisors_send_a_failed_message_again_as_a_new_copy(
    db: ServerDatabase, key: ServerKey, http: httpx.AsyncClient, fake: FakeMeta, base_url: str
) -> None:
    seeded = seed(db, key, base_url)
    conv = add_conversation(db, seeded, PHONES[0])
    failed = enqueue(db, seeded, conv, "tente de novo", PHONES[0])
    fake.arrange("invalid_recipient")
    d = dispatcher(db, key, http)
    await d.start()
    try:
        assert await d.dispatch_once()
        agent = Principal(seeded.workspace_id, seeded.agent_id, role="agent")
        supervisor = Principal(seeded.workspace_id, seeded.supervisor_id, role="supervisor")
        with pytest.raises(RetryRefused), db.system() as conn:
            await d.retry(conn, failed, agent)
        with db.system() as conn:
            copy = await d.retry(conn, failed, supervisor)
        d.wake()
        sent = enqueue(db, seeded, conv, "outra", PHONES[0])
        with pytest.raises(RetryRefused), db.system() as conn:
            await d.retry(conn, sent, supervisor)  # queued, not failed
        assert await drain(d) == 2
    finally:
        await d.aclose()
    statuses = dict(rows(db, "SELECT id, status FROM messages"))
    assert statuses == {failed: "failed", copy: "sent", sent: "sent"}
    assert rows(db, "SELECT author_user_id FROM messages WHERE id = :id", id=copy) == [
        (seeded.supervisor_id,)
    ]
    assert sent_ids(fake) == [str(copy), str(sent)]


async def test_the_loop_sends_what_is_queued_after_a_wake(
    db: ServerDatabase, key: ServerKey, http: httpx.AsyncClient, fake: FakeMeta, base_url: str
) -> None:
    seeded = seed(db, key, base_url)
    conv = add_conversation(db, seeded, PHONES[0])
    d = dispatcher(db, key, http, concurrency=2, idle_poll_s=30)
    await d.start()
    try:
        message_id = enqueue(db, seeded, conv, "acordou", PHONES[0])
        d.wake()
        await eventually(lambda: fake.accepted, message="the woken loop sent it")
    finally:
        await d.aclose()
    assert sent_ids(fake) == [str(message_id)]
    assert "Secret" not in repr(d) and TOKEN not in repr(d)


async def test_a_broken_number_config_does_not_stop_the_others(
    db: ServerDatabase,
    key: ServerKey,
    http: httpx.AsyncClient,
    fake: FakeMeta,
    base_url: str,
    caplog: Any,
) -> None:
    seeded = seed(db, key, base_url)
    with db.system() as conn:
        conn.execute(
            text('UPDATE accounts SET config = config || \'{"pacing": {"per_second": -1}}\'')
        )
    conv = add_conversation(db, seeded, PHONES[0])
    enqueue(db, seeded, conv, "x", PHONES[0])
    d = dispatcher(db, key, http)
    await d.start()
    try:
        assert not await d.dispatch_once()
    finally:
        await d.aclose()
    assert "pacing 'per_second'" in caplog.text
    assert TOKEN not in caplog.text
    assert rows(db, "SELECT status FROM messages") == [(DeliveryStatus.QUEUED.value,)]
