"""The engine end to end: outbox dispatcher + adapters + ingest over one database thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import pytest

from sync.domain.changes import ChangeSet
from sync.domain.messages import Message
from sync.domain.models import ConnectionState, DeliveryStatus
from sync.domain.outbox import INTERRUPTED_REASON
from sync.engine import dispatcher, pacing
from sync.engine.demo_workspace import DemoShape, demo_adapters, seed_demo_workspace
from sync.engine.pacing import PacingConfig
from sync.engine.service import Engine, PacingChoice
from sync.providers.base import (
    AuthError,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    ProviderAdapter,
    RateLimited,
)
from sync.providers.demo import DemoProvider, DemoTiming
from sync.store.local import outbox, queries
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.local.ingest import apply_events
from sync.store.local.outbox import OutboxError
from sync.store.local.search import search_messages
from tests.fakes.clock import FakeClock, settle
from tests.fakes.recording_provider import HANG, RecordingProvider, provider_id_for
from tests.polling import eventually
from tests.sync.helpers import (
    BASE_TS,
    add_account,
    conversation_id_for,
    inbound,
    outbound_echo,
    receipt,
)

pytestmark = pytest.mark.anyio

PHONE = "+55 11 99999-0001"
FAST = DemoTiming().scaled(0.01)


@pytest.fixture
def db(cache_path: Path, cache_key: CacheKey) -> Iterator[Database]:
    database = Database(cache_path, cache_key)
    database.open_sync()
    try:
        yield database
    finally:
        database.close_sync()


def _setup_number(db: Database, name: str = "Loja", phone: str = PHONE) -> tuple[int, int]:
    """A number with one conversation; returns (account id, conversation id)."""
    account = db.run_sync(add_account, name)
    db.run_sync(apply_events, [inbound(account, f"wamid.hello.{name}", phone=phone)])
    return account, db.run_sync(conversation_id_for, account, phone)


@contextlib.asynccontextmanager
async def running(
    db: Database,
    adapters: Mapping[int, ProviderAdapter],
    *,
    clock: FakeClock | None = None,
    pacing: PacingChoice = None,
    **rules: float,
) -> AsyncIterator[Engine]:
    """The engine started (on ``clock`` when given) and closed at the end.

    Unpaced unless ``pacing`` says otherwise: the other rules are tested at full speed, and
    pacing on the fake clock by the tests that are about it.
    """
    engine = (
        Engine(db, adapters, pacing=pacing, **rules)
        if clock is None
        else Engine(db, adapters, clock=clock.now, sleep=clock.sleep, pacing=pacing, **rules)
    )
    await engine.start()
    try:
        yield engine
    finally:
        await engine.aclose()


async def idle(engine: Engine) -> None:
    """``engine.idle()``, bounded: a dispatcher that never comes back fails the test."""
    await asyncio.wait_for(engine.idle(), 10)


async def message(db: Database, message_id: str) -> Message:
    (found,) = await db.run(queries.messages_by_id, [message_id])
    return found


async def statuses(db: Database, message_ids: list[str]) -> list[DeliveryStatus]:
    return [(await message(db, i)).status for i in message_ids]


async def status_becomes(
    db: Database, message_id: str, *statuses: DeliveryStatus, timeout: float = 5.0
) -> Message:
    async def check() -> Message | None:
        current = await message(db, message_id)
        return current if current.status in statuses else None

    return await eventually(check, timeout=timeout, message=f"{message_id} {statuses}")


# --- the happy path ----------------------------------------------------------------------------


async def test_a_reply_goes_out_once_and_is_marked_sent(db: Database) -> None:
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account)
    published: list[ChangeSet] = []
    db.subscribe(published.append)

    async with running(db, {account: provider}) as engine:
        queued = await engine.send_text(conversation, "Seu bolo está pronto")
        # Safe on disk when send_text returns, before any send.
        assert (await message(db, queued.id)).text == "Seu bolo está pronto"
        sent = await status_becomes(db, queued.id, DeliveryStatus.SENT)
        await idle(engine)  # looked again after the send: nothing more to hand out

    assert [m.client_id for m in provider.calls] == [queued.id]
    assert provider.calls[0].to_phone == PHONE
    assert sent.provider_message_id == provider_id_for(queued.id)
    assert await db.run(outbox.pending_count) == 0
    assert any(queued.id in changes.messages for changes in published)
    accounts = {a.id: a for a in await db.run(queries.list_accounts)}
    assert accounts[account].state is ConnectionState.CONNECTED


async def test_an_empty_reply_is_refused_before_anything_is_written(db: Database) -> None:
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account)

    async with running(db, {account: provider}) as engine:
        with pytest.raises(OutboxError):
            await engine.send_text(conversation, "  ")
        await idle(engine)

    assert provider.calls == []
    assert await db.run(outbox.pending_count) == 0


# --- idle(): how these tests prove that something is not sent -----------------------------------


async def test_idle_answers_only_after_a_pass_that_begins_later_and_finds_nothing(
    db: Database,
) -> None:
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account).then(HANG)

    async with running(db, {account: provider}) as engine:
        queued = await engine.send_text(conversation, "devagar")
        await asyncio.wait_for(provider.hanging.wait(), 5)
        answer = asyncio.ensure_future(engine.idle())
        await settle()
        assert not answer.done()  # the dispatcher is inside a send: no pass has looked since
        provider.release()
        await asyncio.wait_for(answer, 10)
        # What was sendable when idle() was called has gone out, its outcome recorded.
        assert (await message(db, queued.id)).status is DeliveryStatus.SENT

    with pytest.raises(RuntimeError, match="not running"):
        await engine.idle()


async def test_idle_is_not_answered_by_a_pass_that_looked_before_the_call(db: Database) -> None:
    # A pass that found nothing, and is finishing when a message is queued and idle() called,
    # must not answer: it looked before the message existed.
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account)
    gate = threading.Event()
    clock = FakeClock(start=BASE_TS)  # only to see when the dispatcher is asleep

    async with running(db, {account: provider}, clock=clock) as engine:
        await idle(engine)
        await eventually(lambda: clock.pending == 1, message="the dispatcher sleeps")
        # The database has one thread: hold it, so that what comes next runs in a known order.
        held = asyncio.ensure_future(db.run(lambda _: gate.wait(10)))
        await settle()
        before = engine.passes
        first = asyncio.ensure_future(engine.idle())
        await eventually(lambda: engine.passes == before + 1)  # its claim waits behind the hold
        queued = asyncio.ensure_future(engine.send_text(conversation, "no meio"))
        await settle()  # the message's write waits behind that claim
        gate.set()  # the claim finds nothing, the message is written, idle() is asked
        await held
        message_id = (await queued).id
        await asyncio.wait_for(engine.idle(), 10)
        assert first.done()
        assert [m.client_id for m in provider.calls] == [message_id]


# --- each provider error and its outcome -------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (RateLimited("slow down", retry_after=0.2), "rate_limited: slow down"),
        (NotSent("connection refused"), "not_sent: connection refused"),
    ],
    ids=["rate-limited", "not-sent"],
)
async def test_a_send_the_provider_certainly_did_not_take_is_retried_later(
    db: Database, error: Exception, reason: str
) -> None:
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account).then(error)

    # The first retry in 0.1-0.2 s.
    async with running(db, {account: provider}, backoff_base_s=0.2) as engine:
        queued = await engine.send_text(conversation, "tente de novo")
        await eventually(lambda: len(provider.calls) == 1)
        # Between the refusal and the retry: back in the queue, the reason kept for the agent.
        waiting = await status_becomes(db, queued.id, DeliveryStatus.QUEUED)
        assert waiting.error == reason
        sent = await status_becomes(db, queued.id, DeliveryStatus.SENT)

    assert [m.client_id for m in provider.calls] == [queued.id, queued.id]
    assert [m.client_id for m in provider.accepted] == [queued.id]
    assert sent.error is None


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (PermanentSendError("invalid number"), "rejected: invalid number"),
        (AuthError("token expired"), "auth: token expired"),
    ],
    ids=["permanent", "auth"],
)
async def test_a_refused_send_fails_with_its_reason_and_is_not_retried(
    db: Database, error: Exception, shown: str
) -> None:
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account).then(error)

    async with running(db, {account: provider}) as engine:
        queued = await engine.send_text(conversation, "não vai")
        failed = await status_becomes(db, queued.id, DeliveryStatus.FAILED)
        later = await engine.send_text(conversation, "esta vai")
        await status_becomes(db, later.id, DeliveryStatus.SENT)

    assert failed.error == shown
    assert [m.client_id for m in provider.calls] == [queued.id, later.id]
    assert await db.run(outbox.pending_count) == 0
    conv = (await db.run(queries.conversations_by_id, [conversation]))[0]
    assert conv.last_status is DeliveryStatus.SENT


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (DeliveryUnknown("timeout after send"), "timeout after send"),
        # An adapter's bug: only its type is kept (its text might hold anything).
        (RuntimeError("adapter bug"), "unexpected error: RuntimeError"),
        (KeyError("surprise"), "unexpected error: KeyError"),
    ],
    ids=["delivery-unknown", "runtime-error", "key-error"],
)
async def test_a_send_whose_outcome_is_unknown_is_never_resent(
    db: Database, caplog: pytest.LogCaptureFixture, error: Exception, shown: str
) -> None:
    caplog.set_level(logging.CRITICAL, logger="sync.engine.dispatcher")  # expected tracebacks
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account).then(error)

    async with running(db, {account: provider}) as engine:
        queued = await engine.send_text(conversation, "talvez")
        unknown = await status_becomes(db, queued.id, DeliveryStatus.UNKNOWN)
        following = await engine.send_text(conversation, "depois")
        await status_becomes(db, following.id, DeliveryStatus.SENT)
        await idle(engine)

    assert unknown.error == shown
    assert [m.client_id for m in provider.calls] == [queued.id, following.id]

    # A restart does not resend it either; a receipt carrying our id settles it.
    fresh = RecordingProvider(account)
    async with running(db, {account: fresh}) as restarted:
        await idle(restarted)  # it has looked at the outbox, and left the unknown one alone
        await fresh.push(
            [receipt(account, "wamid.late", DeliveryStatus.DELIVERED, client_ref=queued.id)]
        )
        settled = await status_becomes(db, queued.id, DeliveryStatus.DELIVERED)
    assert fresh.calls == []
    assert settled.provider_message_id == "wamid.late"


async def test_a_send_cut_short_by_shutdown_becomes_unknown_not_resent(db: Database) -> None:
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account).then(HANG)

    async with running(db, {account: provider}) as engine:
        queued = await engine.send_text(conversation, "preso")
        await asyncio.wait_for(provider.hanging.wait(), 5)
        # "sending" is committed before the provider is called.
        assert (await message(db, queued.id)).status is DeliveryStatus.SENDING

    stored = await message(db, queued.id)
    assert (stored.status, stored.error) == (DeliveryStatus.UNKNOWN, INTERRUPTED_REASON)
    fresh = RecordingProvider(account)
    async with running(db, {account: fresh}) as restarted:
        await idle(restarted)
    assert fresh.calls == []
    assert (await message(db, queued.id)).status is DeliveryStatus.UNKNOWN


async def test_a_slow_send_holds_back_the_next_message_of_its_conversation(
    db: Database,
) -> None:
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account).then(HANG)

    async with running(db, {account: provider}) as engine:
        first = await engine.send_text(conversation, "primeira")
        await asyncio.wait_for(provider.hanging.wait(), 5)
        second = await engine.send_text(conversation, "segunda")
        # The dispatcher is busy with the first; asked for another send now, the engine has
        # none it may make: the second waits behind the first of its conversation.
        assert await engine.dispatch_once() is False
        assert [m.client_id for m in provider.calls] == [first.id]
        provider.release()
        await status_becomes(db, second.id, DeliveryStatus.SENT)

    assert [m.client_id for m in provider.calls] == [first.id, second.id]
    assert (await message(db, first.id)).status is DeliveryStatus.SENT


@pytest.mark.parametrize("receipt_first", [False, True], ids=["echo", "echo-then-read"])
async def test_an_echo_of_our_own_message_before_the_answer_is_merged_into_it(
    db: Database, receipt_first: bool
) -> None:
    # QR-linked providers report our own sends as "from me" messages, sometimes (with their
    # receipts) before the send call answers.
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account).then(HANG)

    async with running(db, {account: provider}) as engine:
        first = await engine.send_text(conversation, "eco de bolo")
        await asyncio.wait_for(provider.hanging.wait(), 5)
        pid = provider_id_for(first.id)
        await provider.push([outbound_echo(account, pid, "eco de bolo")])
        if receipt_first:
            await provider.push([receipt(account, pid, DeliveryStatus.READ)])
        provider.release()
        second = await engine.send_text(conversation, "depois do eco")
        await status_becomes(db, second.id, DeliveryStatus.SENT, timeout=2)

    stored = await message(db, first.id)
    expected = DeliveryStatus.READ if receipt_first else DeliveryStatus.SENT
    assert (stored.status, stored.provider_message_id) == (expected, pid)
    assert await db.run(queries.count_messages, account) == 3  # hello, eco (once), depois
    assert [h.message_id for h in await db.run(search_messages, "eco de bolo")] == [first.id]
    assert [m.client_id for m in provider.calls] == [first.id, second.id]
    assert await db.run(outbox.pending_count) == 0


# --- ordering and readiness --------------------------------------------------------------------


async def test_messages_to_one_conversation_go_out_in_order_even_through_retries(
    db: Database,
) -> None:
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account).then(None, RateLimited(retry_after=0.05), None)

    async with running(db, {account: provider}) as engine:
        ids = [(await engine.send_text(conversation, f"parte {i}")).id for i in range(6)]
        await status_becomes(db, ids[-1], DeliveryStatus.SENT)

    assert [m.client_id for m in provider.accepted] == ids
    assert [m.text for m in provider.accepted] == [f"parte {i}" for i in range(6)]
    assert len(provider.calls) == 7  # one refusal, retried once
    assert await statuses(db, ids) == [DeliveryStatus.SENT] * 6


async def test_a_number_not_ready_keeps_its_messages_until_it_connects(db: Database) -> None:
    shop, shop_chat = _setup_number(db, "Loja")
    garage, garage_chat = _setup_number(db, "Oficina", "+55 21 98888-0000")
    offline = RecordingProvider(shop, ready=False)
    online = RecordingProvider(garage)

    async with running(db, {shop: offline, garage: online}) as engine:
        waiting = [(await engine.send_text(shop_chat, f"fila {i}")).id for i in range(3)]
        other = await engine.send_text(garage_chat, "oficina")
        await status_becomes(db, other.id, DeliveryStatus.SENT)
        await idle(engine)
        assert offline.calls == []
        assert await statuses(db, waiting) == [DeliveryStatus.QUEUED] * 3

        await offline.set_ready(True)
        await status_becomes(db, waiting[-1], DeliveryStatus.SENT)
        await idle(engine)

    assert [m.client_id for m in offline.calls] == waiting
    assert [m.client_id for m in online.calls] == [other.id]


# Fake time moves in steps a binary fraction long, so every deadline falls exactly on a step.
STEP_S = 0.25


async def _passes_over(engine: Engine, clock: FakeClock, seconds: float) -> int:
    """The dispatcher's passes while ``seconds`` of fake time go by, step by step, each step
    run until the dispatcher is back asleep on the clock."""
    start, before = clock.now(), engine.passes
    for step in range(1, round(seconds / STEP_S) + 1):
        clock.set(start + step * STEP_S)
        # Its only sleeper: it has finished the pass the step woke it for (if any).
        await eventually(lambda: clock.pending == 1, message="the dispatcher went back to sleep")
    return engine.passes - before


async def test_the_dispatcher_does_not_spin_while_a_number_is_offline(db: Database) -> None:
    account, conversation = _setup_number(db)
    offline = RecordingProvider(account, ready=False)
    clock = FakeClock(start=BASE_TS)

    async with running(db, {account: offline}, clock=clock) as engine:
        await engine.send_text(conversation, "espera")
        await idle(engine)
        await eventually(lambda: clock.pending == 1, message="the dispatcher sleeps")
        passes = await _passes_over(engine, clock, 12 * dispatcher.IDLE_POLL_S)

    # With nothing it could send, it looks once per idle poll: 12 passes, not one per step.
    assert passes == 12, f"{passes} dispatch passes in 12 idle polls with nothing it could send"
    assert offline.calls == []


async def test_the_dispatcher_does_not_spin_behind_a_rescheduled_message(db: Database) -> None:
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account).then(RateLimited(retry_after=30))
    clock = FakeClock(start=BASE_TS)

    async with running(db, {account: provider}, clock=clock) as engine:
        first = await engine.send_text(conversation, "limitada")
        await engine.send_text(conversation, "atrás dela")
        await eventually(lambda: len(provider.calls) == 1)
        await idle(engine)
        await eventually(lambda: clock.pending == 1, message="the dispatcher sleeps")
        assert (await message(db, first.id)).status is DeliveryStatus.QUEUED
        # 24 s of the 30 the provider asked for: the head is not due, the second waits behind it.
        passes = await _passes_over(engine, clock, 24.0)
        assert len(provider.calls) == 1

    assert passes == 12, f"{passes} dispatch passes in 24 s with nothing due (one per 2 s poll)"


# --- pacing ------------------------------------------------------------------------------------


def _customers(db: Database, account: int, count: int) -> list[int]:
    """``count`` more conversations of ``account``, one customer each."""
    phones = [f"+55 11 97000-{i:04d}" for i in range(count)]
    db.run_sync(
        apply_events,
        [inbound(account, f"wamid.pace.{i}", phone=phone) for i, phone in enumerate(phones)],
    )
    return [db.run_sync(conversation_id_for, account, phone) for phone in phones]


async def _sent_per_second(
    engine: Engine, clock: FakeClock, provider: RecordingProvider, seconds: float
) -> list[int]:
    """How many sends each second of fake time saw, stepping the clock as ``_passes_over``."""
    counts = []
    for _ in range(round(seconds)):
        before = len(provider.calls)
        await _passes_over(engine, clock, 1.0)
        counts.append(len(provider.calls) - before)
    return counts


async def test_solo_mode_paces_each_number(db: Database) -> None:
    account, _ = _setup_number(db)
    chats = _customers(db, account, 8)
    provider = RecordingProvider(account)
    clock = FakeClock(start=BASE_TS)
    two_per_second = PacingConfig(per_second=2.0, burst=1.0, recipient_interval_s=0.0)

    async with running(
        db, {account: provider}, clock=clock, pacing=lambda caps: two_per_second
    ) as engine:
        for chat in chats:
            await engine.send_text(chat, "promoção")
        await eventually(lambda: len(provider.calls) == 1)
        await eventually(lambda: clock.pending == 1, message="the dispatcher waits for a slot")
        per_second = await _sent_per_second(engine, clock, provider, 5)

    # Eight customers, one each, at two a second: the first at once, the rest two per second.
    assert per_second == [2, 2, 2, 1, 0], per_second
    assert len(provider.calls) == 8


async def test_solo_mode_paces_each_customer_with_the_default_limits(db: Database) -> None:
    account, conversation = _setup_number(db)
    provider = RecordingProvider(account)
    clock = FakeClock(start=BASE_TS)
    limits = pacing.pacing_for(provider.capabilities)
    assert limits.recipient_burst == 5 and limits.recipient_interval_s == 6.0

    async with running(db, {account: provider}, clock=clock, pacing=pacing.pacing_for) as engine:
        for i in range(7):
            await engine.send_text(conversation, f"mensagem {i}")
        await eventually(lambda: len(provider.calls) == 5)
        await idle(engine)
        assert len(provider.calls) == 5  # a burst of five goes at once; the rest wait
        per_second = await _sent_per_second(engine, clock, provider, 13)

    # Then one every 6 s to that customer (Meta's pair rate limit), in the order typed.
    assert per_second == [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0], per_second
    assert [m.text for m in provider.calls] == [f"mensagem {i}" for i in range(7)]


async def test_a_rate_limit_holds_the_whole_number_back(db: Database) -> None:
    account, conversation = _setup_number(db)
    (other,) = _customers(db, account, 1)
    provider = RecordingProvider(account).then(RateLimited(retry_after=10))
    clock = FakeClock(start=BASE_TS)

    async with running(db, {account: provider}, clock=clock, pacing=pacing.pacing_for) as engine:
        await engine.send_text(conversation, "primeira")
        await eventually(lambda: len(provider.calls) == 1)
        await engine.send_text(other, "outra conversa")
        await idle(engine)
        assert len(provider.calls) == 1  # another customer, but the same number: it waits
        per_second = await _sent_per_second(engine, clock, provider, 11)

    # Both go once the 10 s the provider asked for are over.
    assert sum(per_second[:9]) == 0 and sum(per_second) == 2, per_second


# --- the demo provider -------------------------------------------------------------------------


async def test_a_demo_number_sends_delivers_and_reads(db: Database) -> None:
    db.run_sync(
        seed_demo_workspace, shape=DemoShape(numbers=1, conversations=3, max_messages=5), seed=7
    )
    adapters = db.run_sync(demo_adapters, seed=7, timing=FAST, live=False)
    (account,) = adapters
    assert isinstance(adapters[account], DemoProvider)
    chats = await db.run(queries.latest_conversations, account)
    inbound_before = await db.run(queries.count_messages, account)

    async with running(db, adapters) as engine:
        queued = await engine.send_text(chats[0].id, "Obrigado pela preferência!")
        read = await status_becomes(db, queued.id, DeliveryStatus.READ)

    assert read.provider_message_id is not None and read.provider_message_id.startswith("demo.")
    assert await db.run(queries.count_messages, account) >= inbound_before + 1
    conv = (await db.run(queries.conversations_by_id, [chats[0].id]))[0]
    assert conv.last_message_at >= queued.timestamp_ms
    accounts = await db.run(queries.list_accounts)
    assert accounts[0].state is ConnectionState.CONNECTED


async def test_the_demo_provider_refuses_what_it_cannot_send(db: Database) -> None:
    db.run_sync(
        seed_demo_workspace, shape=DemoShape(numbers=1, conversations=2, max_messages=3), seed=7
    )
    adapters = db.run_sync(demo_adapters, seed=7, timing=FAST, live=False)
    (account,) = adapters
    chat = (await db.run(queries.latest_conversations, account))[0]
    too_long = "x" * (DemoProvider.capabilities.max_text_length + 1)

    async with running(db, adapters) as engine:
        queued = await engine.send_text(chat.id, too_long)
        failed = await status_becomes(db, queued.id, DeliveryStatus.FAILED)

    assert failed.error == "rejected: message too long"
