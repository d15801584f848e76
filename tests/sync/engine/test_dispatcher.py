"""The dispatcher's rules, once, over both stores: what the engine decides, whatever keeps it.

Each case runs the engine's ``Dispatcher`` over the local SQLCipher cache (``local``) and over the
team's Postgres (``team``), on a fake clock (every time the store sees is the clock's), sending
through a scripted adapter (``RecordingProvider``). What a store keeps is read back with the
contract test's probes. The HTTP ends (Meta's Graph API on loopback) are in the solo engine's and
the team dispatcher's own tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.domain.ids import uuid7
from sync.domain.outbox import (
    INTERRUPTED_REASON,
    UNCONFIRMED_AFTER_S,
    UNCONFIRMED_REASON,
    Claim,
    Outcome,
)
from sync.engine.dispatcher import LEASE_S, Dispatcher
from sync.engine.pacing import PacingConfig
from sync.providers.base import (
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    RateLimited,
)
from tests.fakes.clock import FakeClock
from tests.fakes.recording_provider import HANG, RecordingProvider, provider_id_for
from tests.polling import eventually
from tests.sync.helpers import inbound
from tests.sync.store.store_probes import StoreProbe, open_probe

pytestmark = pytest.mark.anyio

START = 1_750_000_000.0  # epoch seconds: the fake clock's start
TS = START - 3600  # when the customers wrote
PHONES = [f"+55 11 9{n:04d}-0001" for n in range(8)]
UNPACED = None


@pytest.fixture(params=["local", "team"])
def probe(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreProbe]:
    with open_probe(request.param, request, tmp_path) as opened:
        yield opened


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=START)


def sole(probe: StoreProbe) -> bool:
    """Whether the store has one dispatcher only: the desktop's cache (not the team's)."""
    from sync.store.local.store import LocalStore

    return isinstance(probe.store, LocalStore)


def make(probe: StoreProbe, clock: FakeClock, **options: Any) -> Dispatcher:
    settings: dict[str, Any] = {
        "sole": sole(probe),
        "clock": clock.now,
        "sleep": clock.sleep,
        "rng": random.Random(7),
        "concurrency": 0,
        "close_grace_s": 0.5,
    }
    settings.update(options)
    return Dispatcher(probe.store, **settings)


@pytest.fixture
async def dispatchers() -> AsyncIterator[list[Dispatcher]]:
    """Dispatchers a case started; all closed at its end, whatever happened."""
    started: list[Dispatcher] = []
    yield started
    for dispatcher in started:
        await dispatcher.aclose()


async def chat(probe: StoreProbe, account: int, phone: str) -> int:
    """A conversation with ``phone`` (the customer wrote first)."""
    result = await probe.store.ingest(
        [inbound(account, f"in.{account}.{phone}", phone=phone, ts=TS)]
    )
    (message_id,) = result.new_inbound
    seen = probe.message(message_id)
    assert seen is not None
    return seen.conversation_id


async def queue(probe: StoreProbe, clock: FakeClock, conversation: int, body: str) -> str:
    """Queue a text at the clock's now; returns our id."""
    now_ms = int(clock.now() * 1000)
    message_id = uuid7(now_ms)
    await probe.store.queue_text(message_id, conversation, body, now_ms=now_ms)
    return message_id


def status(probe: StoreProbe, message_id: str) -> tuple[str, str | None]:
    seen = probe.message(message_id)
    assert seen is not None
    return seen.status, seen.error


async def add(
    probe: StoreProbe, d: Dispatcher, provider: RecordingProvider, pacing: PacingConfig | None
) -> RecordingProvider:
    """Send from ``provider``'s number; its own events are stored and shown to ``d``."""

    async def sink(events: Any) -> None:
        await probe.store.ingest(events)
        d.observe(events)

    d.set_number(provider, pacing)
    await provider.start(sink)
    return provider


async def start(dispatchers: list[Dispatcher], dispatcher: Dispatcher) -> Dispatcher:
    await dispatcher.start()
    dispatchers.append(dispatcher)
    return dispatcher


# --- outcomes ----------------------------------------------------------------------------------


async def test_a_send_certainly_not_taken_backs_off_then_goes(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    provider = RecordingProvider(account).then(NotSent("connection refused"))
    d = make(probe, clock, backoff_base_s=10.0)
    await add(probe, d, provider, UNPACED)
    await start(dispatchers, d)
    message_id = await queue(probe, clock, conversation, "de novo")

    assert await d.dispatch_once()
    assert status(probe, message_id) == ("queued", "not_sent: connection refused")
    # The first backoff is 5-10 s (half the ceiling to the ceiling): not due at 4.9 s...
    clock.advance(4.9)
    assert not await d.dispatch_once()
    clock.advance(5.2)  # ...due by 10.1 s
    assert await d.dispatch_once()
    assert status(probe, message_id) == ("sent", None)
    assert [m.client_id for m in provider.calls] == [message_id, message_id]


async def test_a_message_that_never_gets_through_fails_after_the_last_attempt(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    provider = RecordingProvider(account).then(*[NotSent("maintenance")] * 3)
    d = make(probe, clock, max_attempts=3, backoff_base_s=1.0, backoff_cap_s=1.0)
    await add(probe, d, provider, UNPACED)
    await start(dispatchers, d)
    message_id = await queue(probe, clock, conversation, "nunca")

    for _ in range(3):
        assert await d.dispatch_once()
        clock.advance(1.0)
    assert not await d.dispatch_once()
    assert status(probe, message_id) == (
        "failed",
        "gave up after 3 attempts: not_sent: maintenance",
    )
    assert len(provider.calls) == 3


async def test_a_refusal_fails_at_once_and_frees_the_conversation(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    provider = RecordingProvider(account).then(PermanentSendError("invalid number"))
    d = make(probe, clock)
    await add(probe, d, provider, UNPACED)
    await start(dispatchers, d)
    first = await queue(probe, clock, conversation, "primeira")
    second = await queue(probe, clock, conversation, "segunda")

    assert await d.dispatch_once()
    assert await d.dispatch_once()
    assert status(probe, first) == ("failed", "rejected: invalid number")
    assert status(probe, second) == ("sent", None)


async def test_a_rate_limit_holds_back_the_whole_number(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    one = await chat(probe, account, PHONES[0])
    other = await chat(probe, account, PHONES[1])
    provider = RecordingProvider(account).then(RateLimited("slow down", retry_after=30.0))
    d = make(probe, clock)
    await add(probe, d, provider, PacingConfig(per_second=1000, burst=1000, recipient_interval_s=0))
    await start(dispatchers, d)
    limited = await queue(probe, clock, one, "limitada")
    clock.advance(0.001)
    waiting = await queue(probe, clock, other, "outra conversa")

    assert await d.dispatch_once()
    assert status(probe, limited)[0] == "queued"
    # The other conversation is due, but the number waits out the provider's 30 s.
    clock.advance(29.0)
    assert not await d.dispatch_once()
    clock.advance(1.1)
    assert await d.dispatch_once()
    assert await d.dispatch_once()
    assert [m.client_id for m in provider.calls] == [limited, waiting, limited]


async def test_a_customers_rate_limit_holds_only_that_customer(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    one = await chat(probe, account, PHONES[0])
    other = await chat(probe, account, PHONES[1])
    provider = RecordingProvider(account).then(
        RateLimited("pair rate limit", retry_after=6.0, per_recipient=True)
    )
    d = make(probe, clock)
    await add(probe, d, provider, PacingConfig(per_second=80, burst=8))
    await start(dispatchers, d)
    limited = await queue(probe, clock, one, "muitas")
    clock.advance(0.001)
    goes = await queue(probe, clock, other, "outra cliente")

    assert await d.dispatch_once()  # refused: the customer is held...
    clock.advance(0.1)
    assert await d.dispatch_once()  # ...the number's other customer is not
    assert not await d.dispatch_once()
    clock.advance(6.0)
    assert await d.dispatch_once()
    assert [m.client_id for m in provider.calls] == [limited, goes, limited]


async def test_an_unknown_send_is_never_resent_and_failed_once_nothing_confirmed_it(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    provider = RecordingProvider(account).then(DeliveryUnknown("timeout after send"))
    d = make(probe, clock)
    await add(probe, d, provider, UNPACED)
    await start(dispatchers, d)
    message_id = await queue(probe, clock, conversation, "talvez")

    assert await d.dispatch_once()
    assert status(probe, message_id) == ("unknown", "timeout after send")
    assert not await d.dispatch_once()
    # Up for less than the wait: a receipt may still come.
    clock.advance(UNCONFIRMED_AFTER_S - 1)
    await d.upkeep()
    assert status(probe, message_id)[0] == "unknown"
    clock.advance(2)
    await d.upkeep()
    assert status(probe, message_id) == ("failed", UNCONFIRMED_REASON)
    assert len(provider.calls) == 1


async def test_a_dispatcher_up_only_briefly_does_not_settle_older_unknown_sends(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    provider = RecordingProvider(account).then(DeliveryUnknown("lost"))
    first = make(probe, clock)
    await add(probe, first, provider, UNPACED)
    await first.start()
    message_id = await queue(probe, clock, conversation, "antiga")
    assert await first.dispatch_once()
    await first.aclose()

    # Down for an hour; the receipt may be among the webhooks the provider is still retrying.
    clock.advance(3600)
    d = await start(dispatchers, make(probe, clock))
    await add(probe, d, RecordingProvider(account), UNPACED)
    await d.upkeep()
    assert status(probe, message_id)[0] == "unknown"
    clock.advance(UNCONFIRMED_AFTER_S + 1)
    await d.upkeep()
    assert status(probe, message_id) == ("failed", UNCONFIRMED_REASON)


async def test_an_adapter_bug_makes_the_send_unknown_without_its_text(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    provider = RecordingProvider(account).then(ValueError("token=EAAG-secret"))
    d = make(probe, clock)
    await add(probe, d, provider, UNPACED)
    await start(dispatchers, d)
    message_id = await queue(probe, clock, conversation, "bug")

    assert await d.dispatch_once()
    assert status(probe, message_id) == ("unknown", "unexpected error: ValueError")


# --- crashes and stops -------------------------------------------------------------------------


async def test_a_send_a_crash_left_sending_becomes_unknown_never_resent(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    crashed = await queue(probe, clock, conversation, "interrompida")
    later = await queue(probe, clock, conversation, "depois")
    now_ms = int(clock.now() * 1000)
    claimed = await probe.store.claim_next(
        [account], [], now_ms=now_ms, lease_until_ms=now_ms + int(LEASE_S * 1000)
    )
    assert claimed is not None and claimed.message_id == crashed  # then the process died

    provider = RecordingProvider(account)
    d = make(probe, clock)
    await add(probe, d, provider, UNPACED)
    await start(dispatchers, d)
    if not sole(probe):
        # Another server may still be sending it: only once its lease ran out is it settled.
        assert d.recovered == 0
        assert not await d.dispatch_once()
        clock.advance(LEASE_S + 0.001)
        await d.upkeep()
    assert d.recovered == 1
    assert status(probe, crashed) == ("unknown", INTERRUPTED_REASON)
    assert await d.dispatch_once()
    assert not await d.dispatch_once()
    assert [m.client_id for m in provider.calls] == [later]


async def test_upkeep_leaves_the_dispatchers_own_send_in_flight_alone(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    provider = RecordingProvider(account).then(HANG)
    d = make(probe, clock)
    await add(probe, d, provider, UNPACED)
    await start(dispatchers, d)
    message_id = await queue(probe, clock, conversation, "em voo")

    sending = asyncio.ensure_future(d.dispatch_once())
    await asyncio.wait_for(provider.hanging.wait(), 10)
    await d.upkeep()
    assert status(probe, message_id)[0] == "sending"
    provider.release()
    assert await asyncio.wait_for(sending, 10)
    assert status(probe, message_id) == ("sent", None)
    assert d.recovered == 0


async def test_a_stopped_dispatchers_send_is_settled_once_its_lease_ran_out(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    stuck = RecordingProvider(account).then(HANG)
    # A dispatcher of another process, about to be killed: its own timers never fire again.
    frozen = FakeClock(start=START)
    # Two dispatchers on one store: neither is its only one, whatever the store.
    gone = make(probe, clock, sleep=frozen.sleep, sole=False)
    await add(probe, gone, stuck, UNPACED)
    message_id = await queue(probe, clock, conversation, "em voo")
    later = await queue(probe, clock, conversation, "depois")
    sending = asyncio.ensure_future(gone.dispatch_once())
    await asyncio.wait_for(stuck.hanging.wait(), 10)

    live = make(probe, clock, sole=False)  # another process, running meanwhile
    await add(probe, live, RecordingProvider(account), UNPACED)
    await start(dispatchers, live)
    assert not await live.dispatch_once()  # its conversation waits behind it
    clock.advance(LEASE_S - 1)
    await live.upkeep()
    assert status(probe, message_id) == ("sending", None)
    # Nothing renews it: once the lease ran out, the send is settled, never resent.
    clock.advance(2)
    await live.upkeep()
    assert status(probe, message_id) == ("unknown", INTERRUPTED_REASON)
    assert live.recovered == 1
    assert await live.dispatch_once()  # the conversation goes on
    assert status(probe, later) == ("sent", None)
    assert [m.client_id for m in stuck.calls] == [message_id]
    sending.cancel()  # the dead process's task, gone for real
    with contextlib.suppress(asyncio.CancelledError):
        await sending
    assert status(probe, message_id) == ("unknown", INTERRUPTED_REASON)


async def test_a_slow_provider_call_keeps_renewing_its_lease(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    slow = RecordingProvider(account).then(HANG)
    d = make(probe, clock, sole=False)
    await add(probe, d, slow, UNPACED)
    message_id = await queue(probe, clock, conversation, "devagar")
    sending = asyncio.ensure_future(d.dispatch_once())
    await asyncio.wait_for(slow.hanging.wait(), 10)
    other = make(probe, clock, sole=False)
    await start(dispatchers, other)

    # Three leases' worth of time, a tenth of a lease at a time: the call renews its own.
    for _ in range(30):
        await clock.advance_and_settle(LEASE_S / 10)
        # The call's timer is set again once a renewal's write is done.
        await eventually(lambda: clock.pending == 1, message="the call waits again")
    await other.upkeep()
    assert status(probe, message_id) == ("sending", None)
    slow.release()
    assert await asyncio.wait_for(sending, 10)
    assert status(probe, message_id) == ("sent", None)
    assert other.recovered == 0


async def test_a_stop_mid_send_leaves_it_unknown(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    provider = RecordingProvider(account).then(HANG)
    d = make(probe, clock, concurrency=1, close_grace_s=0.05)
    await add(probe, d, provider, UNPACED)
    await d.start()
    message_id = await queue(probe, clock, conversation, "presa")
    d.wake()
    await asyncio.wait_for(provider.hanging.wait(), 10)
    await d.aclose()
    assert status(probe, message_id) == ("unknown", INTERRUPTED_REASON)


class FlakyStore:
    """A store whose ``record_outcome`` fails ``failures`` times first (a database going away)."""

    def __init__(self, inner: Any, failures: int) -> None:
        self._inner = inner
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def record_outcome(self, claim: Claim, outcome: Outcome, *, now_ms: int) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("the database went away")
        return await self._inner.record_outcome(claim, outcome, now_ms=now_ms)


@pytest.mark.parametrize("failures", [2, 100], ids=["recovers", "gone"])
async def test_an_outcome_the_store_cannot_record_is_retried_then_left_to_recovery(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher], failures: int
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    provider = RecordingProvider(account)
    flaky = FlakyStore(probe.store, failures)
    d = Dispatcher(flaky, clock=clock.now, sole=sole(probe))  # type: ignore[arg-type]
    await add(probe, d, provider, UNPACED)
    await start(dispatchers, d)
    message_id = await queue(probe, clock, conversation, "gravar")

    await eventually(lambda: provider.accepted, message="the provider took it")
    if failures < 6:
        await eventually(lambda: status(probe, message_id)[0] == "sent", message="recorded")
        return
    await eventually(lambda: flaky.failures <= 100 - 6, message="six tries")
    await asyncio.sleep(0.1)
    assert status(probe, message_id)[0] == "sending"  # never "queued": never resent
    # Once its lease ran out, recovery settles it as unknown; a receipt with our id may still
    # come.
    clock.advance(LEASE_S + 1)
    await d.upkeep()
    assert status(probe, message_id) == ("unknown", INTERRUPTED_REASON)
    assert len(provider.calls) == 1


# --- order, pacing, concurrency ----------------------------------------------------------------


async def test_pacing_per_number_and_per_customer(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    a, b, c = [await chat(probe, account, phone) for phone in PHONES[:3]]
    provider = RecordingProvider(account)
    d = make(probe, clock)
    await add(
        probe,
        d,
        provider,
        PacingConfig(per_second=10, burst=2, recipient_interval_s=6, recipient_burst=1),
    )
    await start(dispatchers, d)
    a1 = await queue(probe, clock, a, "a1")
    a2 = await queue(probe, clock, a, "a2")
    b1 = await queue(probe, clock, b, "b1")
    c1 = await queue(probe, clock, c, "c1")

    assert await d.dispatch_once()  # a1
    assert await d.dispatch_once()  # b1 (a2 waits for its customer)
    assert not await d.dispatch_once()  # the number's burst of 2 is spent
    clock.advance(0.12)  # then 9 a second: no second holds more than 10
    assert await d.dispatch_once()  # c1
    clock.advance(1.0)
    assert not await d.dispatch_once()  # a2 waits 6 s after a1
    clock.advance(4.95)
    assert await d.dispatch_once()
    assert [m.client_id for m in provider.calls] == [a1, b1, c1, a2]


async def test_two_dispatchers_share_a_numbers_pacing(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversations = [await chat(probe, account, phone) for phone in PHONES]
    for i in range(40):
        await queue(probe, clock, conversations[i % len(conversations)], f"m{i}")
    limits = PacingConfig(per_second=5, burst=1, recipient_interval_s=0)
    provider = RecordingProvider(account)
    one, two = make(probe, clock, sole=False), make(probe, clock, sole=False)
    await add(probe, one, provider, limits)
    await add(probe, two, provider, limits)
    sent_at: list[float] = []
    # Two processes, each sending whenever its own look says it may, for 4 s of fake time.
    for _ in range(400):
        for d in (one, two):
            if await d.dispatch_once():
                sent_at.append(clock.now())
        clock.advance(0.01)
    busiest = max(sum(1 for t in sent_at if start <= t < start + 1.0 - 1e-9) for start in sent_at)
    assert busiest <= 5, busiest  # not 10: the limit is the number's, not each dispatcher's
    assert len(sent_at) >= 18  # and it is used: 5 a second for 4 s

    # One of them is told to slow down: the other holds the number too.
    provider.then(RateLimited("slow down", retry_after=10.0))
    clock.advance(1.0)
    assert await one.dispatch_once()
    for _ in range(19):  # 9.5 s of the 10
        clock.advance(0.5)
        assert not await two.dispatch_once()
    clock.advance(0.6)
    assert await two.dispatch_once()


async def test_a_number_not_ready_keeps_its_messages_until_it_connects(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    provider = RecordingProvider(account, ready=False)
    d = make(probe, clock)
    await add(probe, d, provider, UNPACED)
    await start(dispatchers, d)
    message_id = await queue(probe, clock, conversation, "espera")
    assert not await d.dispatch_once()
    await provider.set_ready(True)
    assert await d.dispatch_once()
    assert status(probe, message_id) == ("sent", None)


async def test_two_dispatchers_never_send_a_message_twice_and_keep_each_conversations_order(
    probe: StoreProbe, dispatchers: list[Dispatcher]
) -> None:
    real = FakeClock(start=START)
    account = probe.number()
    conversations = [await chat(probe, account, phone) for phone in PHONES]
    queued: dict[int, list[str]] = {c: [] for c in conversations}
    for i in range(120):
        conversation = conversations[i % len(conversations)]
        real.advance(0.001)
        queued[conversation].append(await queue(probe, real, conversation, f"m{i}"))
    real.advance(1)
    provider = RecordingProvider(account)
    for _ in range(2):
        d = Dispatcher(
            probe.store,
            clock=real.now,
            concurrency=4,
            idle_poll_s=0.05,
        )
        await add(probe, d, provider, UNPACED)
        await start(dispatchers, d)

    await eventually(lambda: len(provider.accepted) >= 120, timeout=60, message="all sent")
    for d in dispatchers:
        await asyncio.wait_for(d.idle(), 10)
    sent = [m.client_id for m in provider.calls]
    assert len(sent) == 120 and max(Counter(sent).values()) == 1
    for ids in queued.values():
        assert [s for s in sent if s in set(ids)] == ids
    assert {status(probe, s)[0] for s in sent} == {"sent"}


async def test_idle_answers_only_when_nothing_it_may_send_is_left(
    probe: StoreProbe, clock: FakeClock, dispatchers: list[Dispatcher]
) -> None:
    account = probe.number()
    conversation = await chat(probe, account, PHONES[0])
    provider = RecordingProvider(account)
    d = make(probe, clock, concurrency=2)
    await add(probe, d, provider, UNPACED)
    await start(dispatchers, d)
    ids = [await queue(probe, clock, conversation, f"m{i}") for i in range(5)]
    await asyncio.wait_for(d.idle(), 10)
    assert [m.client_id for m in provider.accepted] == ids
    assert provider_id_for(ids[0]) == probe.message(ids[0]).provider_id  # type: ignore[union-attr]
