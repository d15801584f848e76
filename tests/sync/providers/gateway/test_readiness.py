"""When the gateway adapter sends (the 3-second and 75-second rules, on a fake clock) and how it
reconnects (backoff with full jitter, one attempt at a time, never after a logout or a ban)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sync.domain.events import ConnectionEvent, QrEvent
from sync.domain.models import ConnectionState
from sync.providers.base import NotSent
from sync.providers.gateway import (
    HEARTBEAT_MAX_AGE_S,
    OPEN_SETTLE_S,
    RECONNECT_BASE_S,
    RECONNECT_CAP_S,
    RECONNECT_WAIT_S,
    STABLE_OPEN_S,
    GatewayAdapter,
)
from tests.fakes.clock import FakeClock, settle
from tests.polling import eventually
from tests.sync.providers.gateway.harness import (
    ACCOUNT_ID,
    INSTANCE,
    TOKEN,
    GatewayHarness,
    GatewaySetup,
    gateway_setup,
    harness,
    heartbeat_event,
    offline_event,
    ready_event,
    repair_event,
)

pytestmark = pytest.mark.anyio

T0 = 1000.0  # FakeClock's start


@pytest.fixture
async def setup() -> AsyncIterator[GatewaySetup]:
    async with gateway_setup() as made:
        yield made


# --- the fake clock itself -----------------------------------------------------------------------


async def test_the_fake_clock_wakes_sleepers_exactly_at_their_deadline() -> None:
    clock = FakeClock(start=0.0)
    woke: list[str] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.ensure_future(nap("a", 3.0)), asyncio.ensure_future(nap("b", 1.0))]
    await settle()
    assert clock.pending == 2 and clock.next_deadline == 1.0
    await clock.advance_and_settle(0.999)
    assert woke == []
    await clock.advance_and_settle(0.001)
    assert woke == ["b"]
    clock.set(2.999)
    await settle()
    assert woke == ["b"]
    clock.set(3.0)
    await settle()
    assert woke == ["b", "a"] and clock.now() == 3.0
    assert clock.sleeps == [3.0, 1.0]
    await clock.sleep(0)  # returns at once
    cancelled = asyncio.ensure_future(nap("c", 5.0))
    await settle()
    cancelled.cancel()
    await settle()
    assert clock.pending == 0
    await asyncio.gather(*tasks)
    with pytest.raises(ValueError):
        clock.advance(-1)


# --- the 3-second rule ---------------------------------------------------------------------------


async def test_ready_only_once_the_socket_has_stayed_open_three_seconds(
    setup: GatewaySetup,
) -> None:
    adapter = setup.adapter()
    assert not adapter.ready_to_send()
    adapter.observe([ready_event(ACCOUNT_ID)])
    assert not adapter.ready_to_send()
    setup.clock.set(T0 + 2.999)
    assert not adapter.ready_to_send()
    setup.clock.set(T0 + 3.0)
    assert adapter.ready_to_send()
    assert adapter.phone == "5511988887777"


async def test_a_new_ready_starts_the_three_seconds_over(setup: GatewaySetup) -> None:
    adapter = setup.adapter()
    adapter.observe([ready_event(ACCOUNT_ID)])
    setup.clock.set(T0 + 10)
    assert adapter.ready_to_send()
    adapter.observe([ready_event(ACCOUNT_ID)])  # the socket was replaced meanwhile
    assert not adapter.ready_to_send()
    setup.clock.set(T0 + 12.999)
    assert not adapter.ready_to_send()
    setup.clock.set(T0 + 13)
    assert adapter.ready_to_send()


async def test_a_heartbeat_without_a_ready_opens_the_socket_too(setup: GatewaySetup) -> None:
    adapter = setup.adapter()
    adapter.observe([heartbeat_event(ACCOUNT_ID)])
    setup.clock.set(T0 + 2.999)
    assert not adapter.ready_to_send()
    setup.clock.set(T0 + 3.0)
    assert adapter.ready_to_send()


async def test_a_heartbeat_does_not_restart_the_three_seconds(setup: GatewaySetup) -> None:
    adapter = setup.adapter()
    adapter.observe([ready_event(ACCOUNT_ID)])
    setup.clock.set(T0 + 2.0)
    adapter.observe([heartbeat_event(ACCOUNT_ID)])
    setup.clock.set(T0 + 3.0)
    assert adapter.ready_to_send()


@pytest.mark.parametrize(
    "event",
    [
        ConnectionEvent(ACCOUNT_ID, ConnectionState.CONNECTING, reason="authenticated"),
        ConnectionEvent(ACCOUNT_ID, ConnectionState.OFFLINE, reason="NAVIGATION"),
        ConnectionEvent(ACCOUNT_ID, ConnectionState.NEEDS_REPAIR, needs_repair=True, reason="x"),
        ConnectionEvent(ACCOUNT_ID, ConnectionState.BLOCKED, needs_repair=True, reason="ban"),
        ConnectionEvent(ACCOUNT_ID, ConnectionState.WAITING_FOR_QR),
        QrEvent(ACCOUNT_ID, qr_code="2@x"),
    ],
    ids=["authenticated", "offline", "needs-repair", "blocked", "waiting-for-qr", "qr"],
)
async def test_anything_but_an_open_socket_stops_sends_at_once(
    setup: GatewaySetup, event: ConnectionEvent | QrEvent
) -> None:
    adapter = setup.adapter()
    adapter.observe([ready_event(ACCOUNT_ID)])
    setup.clock.set(T0 + 5)
    assert adapter.ready_to_send()
    adapter.observe([event])
    assert not adapter.ready_to_send()
    await adapter.aclose()


async def test_events_of_other_numbers_are_ignored(setup: GatewaySetup) -> None:
    adapter = setup.adapter()
    adapter.observe([ready_event(ACCOUNT_ID + 1)])
    setup.clock.set(T0 + 5)
    assert not adapter.ready_to_send()
    adapter.observe([ready_event(ACCOUNT_ID)])
    setup.clock.set(T0 + 10)
    adapter.observe([offline_event(ACCOUNT_ID + 1), repair_event(ACCOUNT_ID + 1)])
    assert adapter.ready_to_send()


# --- the 75-second rule --------------------------------------------------------------------------


async def test_ready_while_the_last_heartbeat_is_at_most_75_seconds_old(
    setup: GatewaySetup,
) -> None:
    adapter = setup.adapter()
    adapter.observe([ready_event(ACCOUNT_ID)])
    setup.clock.set(T0 + 40)
    adapter.observe([heartbeat_event(ACCOUNT_ID)])
    setup.clock.set(T0 + 40 + HEARTBEAT_MAX_AGE_S)  # 75 s old: still fine
    assert adapter.ready_to_send()
    setup.clock.set(T0 + 40 + 75.001)
    assert not adapter.ready_to_send()
    # The next heartbeat proves the socket alive again (it never closed): ready at once.
    adapter.observe([heartbeat_event(ACCOUNT_ID)])
    assert adapter.ready_to_send()


async def test_without_heartbeats_the_ready_event_counts_as_the_last_sign_of_life(
    setup: GatewaySetup,
) -> None:
    adapter = setup.adapter()
    adapter.observe([ready_event(ACCOUNT_ID)])
    setup.clock.set(T0 + 75.0)
    assert adapter.ready_to_send()
    setup.clock.set(T0 + 75.001)
    assert not adapter.ready_to_send()


async def test_a_status_poll_saying_connected_counts_as_a_sign_of_life(setup: GatewaySetup) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN, state="connected")
    adapter = setup.adapter()
    adapter.observe([ready_event(ACCOUNT_ID)])
    setup.clock.set(T0 + 70)
    await adapter.check()
    setup.clock.set(T0 + 145)
    assert adapter.ready_to_send()
    setup.clock.set(T0 + 145.001)
    assert not adapter.ready_to_send()


async def test_a_heartbeat_never_undoes_a_needed_repair(setup: GatewaySetup) -> None:
    adapter = setup.adapter()
    adapter.observe([ready_event(ACCOUNT_ID)])
    adapter.observe([repair_event(ACCOUNT_ID)])
    adapter.observe([heartbeat_event(ACCOUNT_ID)])
    setup.clock.set(T0 + 10)
    assert not adapter.ready_to_send()
    assert adapter.needs_repair_reason == "LOGOUT: logged out from the phone"
    adapter.observe([ready_event(ACCOUNT_ID)])  # paired again
    setup.clock.set(T0 + 13)
    assert adapter.ready_to_send()
    assert adapter.needs_repair_reason == ""


# --- a send while not ready ----------------------------------------------------------------------


async def _not_sent_without_a_call(h: GatewayHarness, match: str) -> None:
    calls = len(h.fake.calls)
    with pytest.raises(NotSent, match=match):
        await h.adapter.send(h.outgoing())
    assert len(h.fake.calls) == calls
    assert h.accepted() == 0


async def test_a_send_while_not_ready_is_refused_without_any_call() -> None:
    async with harness() as h:
        h.adapter.observe([ready_event(ACCOUNT_ID)])  # a fresh socket: 3 s to wait
        await _not_sent_without_a_call(h, "just opened")
        h.clock.advance(HEARTBEAT_MAX_AGE_S + 1)  # ...and then nothing for too long
        await _not_sent_without_a_call(h, "no heartbeat")
        h.adapter.observe([offline_event(ACCOUNT_ID)])
        await _not_sent_without_a_call(h, "not open")
        h.adapter.observe([repair_event(ACCOUNT_ID)])
        await _not_sent_without_a_call(h, "needs re-pairing: LOGOUT")
        h.adapter.observe([ready_event(ACCOUNT_ID)])
        h.clock.advance(OPEN_SETTLE_S)
        await h.adapter.send(h.outgoing())
        assert h.accepted() == 1


# --- reconnects ----------------------------------------------------------------------------------


async def _connected_adapter(
    setup: GatewaySetup, *, state: str = "connected", token: str = TOKEN
) -> GatewayAdapter:
    """A started adapter whose instance is linked (a saved session), ready to send."""
    setup.fake.add_instance(INSTANCE, token=TOKEN, state="connected", phone="5511988887777")
    adapter = setup.adapter(token=token)
    await adapter.start(setup.sink)
    setup.clock.advance(OPEN_SETTLE_S)
    assert adapter.ready_to_send()
    setup.fake.instances[INSTANCE].state = state
    return adapter


async def _next_sleep(setup: GatewaySetup, count: int) -> float:
    """Wait until the adapter has asked for its ``count``-th sleep; return its length."""
    await eventually(lambda: len(setup.clock.sleeps) >= count and setup.clock.pending > 0)
    return setup.clock.sleeps[count - 1]


async def _wake(setup: GatewaySetup) -> None:
    deadline = setup.clock.next_deadline
    assert deadline is not None
    setup.clock.set(deadline)


async def test_a_transient_drop_reconnects_once_and_stops_when_ready(setup: GatewaySetup) -> None:
    adapter = await _connected_adapter(setup, state="disconnected")
    adapter.observe([offline_event(ACCOUNT_ID, "Connection Closed (428): connection closed")])
    assert not adapter.ready_to_send()
    assert adapter.reconnecting
    assert await _next_sleep(setup, 1) == 0.5 * RECONNECT_BASE_S  # full jitter, rng = 0.5
    await _wake(setup)
    assert await _next_sleep(setup, 2) == RECONNECT_WAIT_S  # then waits for ``ready``
    assert setup.fake.connects[INSTANCE] == 1
    assert setup.fake.instances[INSTANCE].state == "connecting"
    assert [r for r, _, _ in setup.fake.calls][-2:] == ["status", "connect"]
    assert setup.events[-1] == ConnectionEvent(
        ACCOUNT_ID, ConnectionState.CONNECTING, reason="reconnecting"
    )
    # The gateway restores the session: ``ready`` arrives, the loop ends, 3 s later it sends.
    adapter.observe([ready_event(ACCOUNT_ID)])
    assert not adapter.reconnecting
    setup.clock.advance(OPEN_SETTLE_S)
    assert adapter.ready_to_send()
    setup.clock.advance(1000)
    await eventually(lambda: setup.clock.pending == 0)
    assert setup.fake.connects[INSTANCE] == 1


async def test_a_storm_of_disconnects_makes_one_attempt_at_a_time(setup: GatewaySetup) -> None:
    adapter = await _connected_adapter(setup, state="disconnected")
    setup.fake.instances[INSTANCE].reconnect_fails = True
    for _ in range(50):
        adapter.observe([offline_event(ACCOUNT_ID)])
    await _next_sleep(setup, 1)
    assert setup.clock.pending == 1  # one loop, not fifty
    await _wake(setup)
    await _next_sleep(setup, 2)
    for _ in range(50):
        adapter.observe([offline_event(ACCOUNT_ID)])
    setup.clock.advance(RECONNECT_WAIT_S - 0.001)
    await eventually(lambda: setup.clock.pending == 1)
    assert setup.fake.connects[INSTANCE] == 1
    assert setup.clock.pending == 1


async def test_the_backoff_doubles_up_to_its_cap(setup: GatewaySetup) -> None:
    adapter = await _connected_adapter(setup, state="disconnected")
    setup.fake.instances[INSTANCE].reconnect_fails = True
    adapter.observe([offline_event(ACCOUNT_ID)])
    backoffs = []
    for attempt in range(9):
        backoffs.append(await _next_sleep(setup, 2 * attempt + 1))
        await _wake(setup)
        assert await _next_sleep(setup, 2 * attempt + 2) == RECONNECT_WAIT_S
        assert setup.fake.connects[INSTANCE] == attempt + 1
        await _wake(setup)
    assert backoffs == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert max(backoffs) == 0.5 * RECONNECT_CAP_S
    await adapter.aclose()
    assert not adapter.reconnecting


async def test_the_jitter_is_full(setup: GatewaySetup) -> None:
    draws = iter([0.0, 0.99, 0.25])
    setup.rng = lambda: next(draws, 0.5)
    adapter = await _connected_adapter(setup, state="disconnected")
    setup.fake.instances[INSTANCE].reconnect_fails = True
    adapter.observe([offline_event(ACCOUNT_ID)])
    waits = []
    for n in range(3):
        waits.append(await _next_sleep(setup, 2 * n + 1))
        await _wake(setup)
        await _next_sleep(setup, 2 * n + 2)
        await _wake(setup)
    assert waits == [0.0, pytest.approx(0.99 * 4), 0.25 * 8]
    await adapter.aclose()


async def test_a_stable_open_resets_the_backoff_and_a_short_one_does_not(
    setup: GatewaySetup,
) -> None:
    adapter = await _connected_adapter(setup, state="disconnected")
    setup.fake.instances[INSTANCE].reconnect_fails = True
    adapter.observe([offline_event(ACCOUNT_ID)])
    for n in range(3):  # three failed attempts: 1, 2, 4 s
        await _next_sleep(setup, 2 * n + 1)
        await _wake(setup)
        await _next_sleep(setup, 2 * n + 2)
        await _wake(setup)
    await _next_sleep(setup, 7)
    adapter.observe([ready_event(ACCOUNT_ID)])  # it came back (the loop ends)...
    setup.clock.advance(10)  # ...for 10 s only
    adapter.observe([offline_event(ACCOUNT_ID)])
    assert await _next_sleep(setup, 8) == 0.5 * 2 * 2**4  # the backoff goes on growing
    adapter.observe([ready_event(ACCOUNT_ID)])
    setup.clock.advance(STABLE_OPEN_S)  # this time it stays up a minute
    adapter.observe([offline_event(ACCOUNT_ID)])
    assert await _next_sleep(setup, 9) == 0.5 * RECONNECT_BASE_S  # back to the start
    await adapter.aclose()


@pytest.mark.parametrize(
    "event",
    [
        repair_event(ACCOUNT_ID, "LOGOUT: logged out from the phone"),
        repair_event(ACCOUNT_ID, "authentication failed: restore failed"),
        ConnectionEvent(ACCOUNT_ID, ConnectionState.BLOCKED, needs_repair=True, reason="TOS_BLOCK"),
    ],
    ids=["logout", "auth-failure", "banned"],
)
async def test_a_logout_or_ban_stops_reconnecting_and_says_why(
    setup: GatewaySetup, event: ConnectionEvent
) -> None:
    adapter = await _connected_adapter(setup, state="disconnected")
    adapter.observe([offline_event(ACCOUNT_ID)])
    await _next_sleep(setup, 1)
    adapter.observe([event])
    assert not adapter.reconnecting
    assert adapter.needs_repair_reason == event.reason
    setup.clock.advance(10_000)
    adapter.observe([offline_event(ACCOUNT_ID)])  # a later drop does not start it again
    assert not adapter.reconnecting
    await eventually(lambda: setup.clock.pending == 0)
    assert setup.fake.connects[INSTANCE] == 0


async def test_no_reconnect_after_the_user_logged_out(setup: GatewaySetup) -> None:
    adapter = await _connected_adapter(setup)
    await adapter.logout()
    adapter.observe([offline_event(ACCOUNT_ID, "LOGOUT? no: a plain drop")])
    assert not adapter.reconnecting
    assert setup.fake.connects[INSTANCE] == 0


async def test_a_gateway_that_reconnected_by_itself_is_not_asked_again(
    setup: GatewaySetup,
) -> None:
    adapter = await _connected_adapter(setup, state="connected")
    adapter.observe([offline_event(ACCOUNT_ID)])
    await _next_sleep(setup, 1)
    await _wake(setup)
    await eventually(lambda: not adapter.reconnecting)
    assert setup.fake.connects[INSTANCE] == 0
    setup.clock.advance(OPEN_SETTLE_S)
    assert adapter.ready_to_send()


async def test_a_gateway_already_connecting_is_left_alone(setup: GatewaySetup) -> None:
    adapter = await _connected_adapter(setup, state="connecting")
    adapter.observe([offline_event(ACCOUNT_ID)])
    await _next_sleep(setup, 1)
    await _wake(setup)
    assert await _next_sleep(setup, 2) == RECONNECT_WAIT_S
    assert setup.fake.connects[INSTANCE] == 0
    await adapter.aclose()


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        ("revoke-token", "refused the token"),
        ("delete-instance", "no longer exists"),
        ("show-qr", "QR code"),
    ],
)
async def test_a_reconnect_that_only_the_user_can_fix_stops_and_says_why(
    setup: GatewaySetup, arrange: str, reason: str
) -> None:
    # A deleted instance's token means nothing any more (401): with the master token the
    # gateway can say the instance is gone (404).
    token = "" if arrange == "delete-instance" else TOKEN
    adapter = await _connected_adapter(setup, state="disconnected", token=token)
    if arrange == "revoke-token":
        setup.fake.instances[INSTANCE].token = "rotated"
    elif arrange == "delete-instance":
        del setup.fake.instances[INSTANCE]
    else:
        setup.fake.instances[INSTANCE].state = "qr"
    adapter.observe([offline_event(ACCOUNT_ID)])
    await _next_sleep(setup, 1)
    await _wake(setup)
    await eventually(lambda: not adapter.reconnecting)
    assert reason in adapter.needs_repair_reason
    last = setup.events[-1]
    assert isinstance(last, ConnectionEvent) and last.needs_repair and reason in last.reason
    assert TOKEN not in last.reason
    assert setup.fake.connects[INSTANCE] == 0


async def test_an_unreachable_gateway_is_retried_with_backoff_not_hammered(
    setup: GatewaySetup,
) -> None:
    adapter = await _connected_adapter(setup, state="disconnected")
    adapter.observe([offline_event(ACCOUNT_ID)])
    await _next_sleep(setup, 1)
    calls = len(setup.fake.calls)
    setup.fake.respond_next("status", 503, {"success": False, "error": "restarting"})
    setup.fake.respond_next("status", 503, {"success": False, "error": "restarting"})
    for n in range(2):
        await _wake(setup)
        await _next_sleep(setup, 2 * n + 2)
        await _wake(setup)
        await _next_sleep(setup, 2 * n + 3)
    assert [r for r, _, _ in setup.fake.calls[calls:]] == ["status", "status"]
    assert setup.clock.sleeps[:5] == [1.0, RECONNECT_WAIT_S, 2.0, RECONNECT_WAIT_S, 4.0]
    await adapter.aclose()


async def test_aclose_stops_a_pending_reconnect(setup: GatewaySetup) -> None:
    adapter = await _connected_adapter(setup, state="disconnected")
    adapter.observe([offline_event(ACCOUNT_ID)])
    await _next_sleep(setup, 1)
    await adapter.aclose()
    assert not adapter.reconnecting
    adapter.observe([offline_event(ACCOUNT_ID)])
    assert not adapter.reconnecting
    assert setup.clock.pending == 0


# --- the watchdog: heartbeats that stop without a "disconnected" ------------------------------


async def test_silent_heartbeats_drop_the_link_and_ask_the_gateway(setup: GatewaySetup) -> None:
    adapter = await _connected_adapter(setup, state="disconnected")
    adapter.observe([heartbeat_event(ACCOUNT_ID)])
    setup.clock.advance(HEARTBEAT_MAX_AGE_S)
    assert not adapter.check_liveness()  # exactly at the limit it is still alive
    setup.clock.advance(1)
    assert adapter.check_liveness()
    assert not adapter.ready_to_send()
    await eventually(
        lambda: bool(setup.events) and setup.events[-1].state is ConnectionState.OFFLINE
    )
    assert setup.events[-1] == ConnectionEvent(
        ACCOUNT_ID, ConnectionState.OFFLINE, reason="no heartbeat from the gateway for 76 s"
    )
    assert adapter.reconnecting
    assert not adapter.check_liveness()  # dropped once, not once per check
    # The reconnect asks how the instance stands and, as it is down, to connect.
    await _next_sleep(setup, 1)
    await _wake(setup)
    await eventually(lambda: setup.fake.connects.get(INSTANCE, 0) == 1)
    await adapter.aclose()


async def test_the_watchdog_leaves_a_live_or_closed_link_alone(setup: GatewaySetup) -> None:
    adapter = await _connected_adapter(setup)
    for _ in range(5):
        setup.clock.advance(HEARTBEAT_MAX_AGE_S - 1)
        adapter.observe([heartbeat_event(ACCOUNT_ID)])
        assert not adapter.check_liveness()
    assert adapter.ready_to_send()
    adapter.observe([repair_event(ACCOUNT_ID, "logged out")])
    setup.clock.advance(10 * HEARTBEAT_MAX_AGE_S)
    assert not adapter.check_liveness() and not adapter.reconnecting
    await adapter.aclose()
