"""The reconnect policy on a fake clock: backoff with full jitter, one attempt in flight, capped,
reset after a stable open, and a stop (with the reason) when only a new pairing can help."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from sync.domain.events import AccountRemovedEvent, ConnectionEvent, MessageEvent, QrEvent
from sync.domain.models import ConnectionState, Direction, MessageType
from sync.providers.evolution import (
    REASON_BAD_SESSION,
    REASON_QR_UNASKED,
    EvolutionAdapter,
    ReconnectPolicy,
    parse_webhook,
)
from tests.fakes.evolution_server import FakeEvolution
from tests.polling import eventually
from tests.sync.providers.evolution.harness import (
    INSTANCE,
    EvolutionHarness,
    body,
    evolution_account,
    fake_evolution,
    harness,
    request,
)

POLICY = ReconnectPolicy(base=2.0, cap=30.0, max_attempts=6, stable_seconds=30.0)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeper:
    """Records each delay; with ``hold`` set, waits until the test lets it go."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.hold = False
        self._go = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.hold:
            self._go.clear()
            await self._go.wait()
        else:
            await asyncio.sleep(0)

    def release(self) -> None:
        self._go.set()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeEvolution, str]]:
    with fake_evolution() as running:
        yield running


@dataclasses.dataclass
class Rig:
    """The fake clock, the recording sleep and the adapter options using them."""

    clock: Clock
    sleeper: Sleeper
    options: dict[str, Any]


def setup(rng: float = 1.0, **policy: Any) -> Rig:
    clock, sleeper = Clock(), Sleeper()
    options = {
        "clock": clock,
        "sleep": sleeper,
        "rng": lambda: rng,
        "reconnect": dataclasses.replace(POLICY, **policy),
    }
    return Rig(clock, sleeper, options)


def drop(h: EvolutionHarness, code: int = 428) -> list[Any]:
    """What the receiver would hand to observe for a connection.update close."""
    payload = body(
        "connection.update", {"instance": INSTANCE, "state": "close", "statusReason": code}
    )
    return list(parse_webhook(request(payload), [h.adapter._account]).events)


def opened(h: EvolutionHarness) -> list[Any]:
    payload = body(
        "connection.update",
        {"instance": INSTANCE, "state": "open", "wuid": "5511988887777@s.whatsapp.net"},
    )
    return list(parse_webhook(request(payload), [h.adapter._account]).events)


async def settle(h: EvolutionHarness) -> None:
    task = h.adapter._link.reconnect_task
    if task is not None:
        await asyncio.wait_for(task, 5)


async def backing_off(rig: Rig, attempts: int = 1) -> None:
    """Until the reconnect loop waits out backoff number ``attempts`` (held by the sleeper)."""
    await eventually(lambda: len(rig.sleeper.delays) == attempts, message="the loop backs off")


async def ended(task: asyncio.Task[None] | None) -> asyncio.Task[None]:
    """Until ``task`` (a reconnect loop that was stopped) has finished."""
    assert task is not None
    await eventually(task.done, message="the reconnect loop ended")
    return task


@pytest.mark.anyio
async def test_a_drop_storm_makes_one_gentle_loop(server: tuple[FakeEvolution, str]) -> None:
    rig = setup(rng=1.0)
    async with harness(server=server, **rig.options) as h:
        h.fake.instances[INSTANCE].state = "close"  # Evolution lost the socket, has the session
        base_state = h.fake.calls["GET /instance/connectionState"]
        for _ in range(100):  # a hundred redelivered "close" webhooks
            h.adapter.observe(drop(h))
        assert not h.adapter.ready_to_send()
        await settle(h)
        # 2, 4, 8, 16, then the cap; max_attempts bounds the whole thing
        assert rig.sleeper.delays == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
        assert h.fake.calls["GET /instance/connectionState"] - base_state == 6
        # only the first attempt found the socket closed; then Evolution was connecting
        assert h.fake.calls["GET /instance/connect"] == 1
        assert "gave up" in h.adapter.reason
        assert isinstance(h.events[-1], ConnectionEvent) and "gave up" in h.events[-1].reason


@pytest.mark.anyio
@pytest.mark.parametrize("rng", [0.0, 0.37, 0.999])
async def test_full_jitter_bounds(server: tuple[FakeEvolution, str], rng: float) -> None:
    rig = setup(rng=rng, max_attempts=8)
    async with harness(server=server, **rig.options) as h:
        h.fake.instances[INSTANCE].state = "close"
        h.adapter.observe(drop(h))
        await settle(h)
        for attempt, delay in enumerate(rig.sleeper.delays):
            ceiling = min(30.0, 2.0 * 2**attempt)
            assert 0.0 <= delay <= ceiling
            assert delay == pytest.approx(rng * ceiling)


@pytest.mark.anyio
async def test_one_attempt_in_flight_and_stop_on_open(server: tuple[FakeEvolution, str]) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        rig.sleeper.hold = True
        h.fake.instances[INSTANCE].state = "close"
        h.adapter.observe(drop(h))
        await backing_off(rig)
        task = h.adapter._link.reconnect_task
        for code in (428, 408, 503, 440):
            h.adapter.observe(drop(h, code))
        assert h.adapter._link.reconnect_task is task and len(rig.sleeper.delays) == 1
        await h.fake.reopen(INSTANCE)  # Evolution reconnected by itself
        h.adapter.observe(opened(h))
        assert h.adapter.ready_to_send()
        assert (await ended(task)).cancelled()  # in its backoff: it never called connect
        assert h.fake.calls["GET /instance/connect"] == 0


@pytest.mark.anyio
async def test_the_loop_notices_an_open_it_was_not_told_about(
    server: tuple[FakeEvolution, str],
) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        h.adapter.observe(drop(h))  # the fake is still open: the webhook was stale
        await settle(h)
        assert h.adapter.ready_to_send() and rig.sleeper.delays == [2.0]
        assert h.events[-1] == ConnectionEvent(7, ConnectionState.CONNECTED, phone="5511988887777")


@pytest.mark.anyio
async def test_attempts_reset_after_a_stable_open_not_while_flapping(
    server: tuple[FakeEvolution, str],
) -> None:
    rig = setup(max_attempts=3)
    async with harness(server=server, **rig.options) as h:
        h.fake.instances[INSTANCE].state = "close"
        h.adapter.observe(drop(h))
        await settle(h)
        assert rig.sleeper.delays == [2.0, 4.0, 8.0]
        # flapping: open for 5 s, then closed again -> keeps backing off (already at the max)
        h.adapter.observe(opened(h))
        rig.clock.now += 5
        h.fake.instances[INSTANCE].state = "close"
        h.adapter.observe(drop(h))
        await settle(h)
        assert rig.sleeper.delays == [2.0, 4.0, 8.0]
        assert "gave up" in h.adapter.reason
        # stable: open for a minute, then a fresh outage starts from the base delay again
        h.adapter.observe(opened(h))
        rig.clock.now += 60
        h.fake.instances[INSTANCE].state = "close"
        h.adapter.observe(drop(h))
        await settle(h)
        assert rig.sleeper.delays == [2.0, 4.0, 8.0, 2.0, 4.0, 8.0]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("code", "state"),
    [
        (401, ConnectionState.NEEDS_REPAIR),
        (403, ConnectionState.BLOCKED),
        (402, ConnectionState.NEEDS_REPAIR),
        (411, ConnectionState.NEEDS_REPAIR),
    ],
)
async def test_logout_or_ban_stops_reconnecting(
    server: tuple[FakeEvolution, str], code: int, state: ConnectionState
) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        rig.sleeper.hold = True
        h.fake.instances[INSTANCE].state = "close"
        h.adapter.observe(drop(h, 428))
        await backing_off(rig)
        task = h.adapter._link.reconnect_task
        h.adapter.observe(drop(h, code))
        assert (await ended(task)).cancelled()
        assert h.adapter.needs_repair and h.adapter.state is state and h.adapter.reason
        # a late transient close does not restart the loop: the re-pair is sticky
        h.adapter.observe(drop(h, 428))
        assert h.adapter._link.reconnect_task is None and h.adapter.needs_repair
        assert h.fake.calls["GET /instance/connect"] == 0


@pytest.mark.anyio
async def test_logout_instance_webhook_and_removal(server: tuple[FakeEvolution, str]) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        account = [h.adapter._account]
        h.adapter.observe(parse_webhook(request(body("logout.instance", None)), account).events)
        assert h.adapter.needs_repair and not h.adapter.ready_to_send()
    async with harness(server=server, **rig.options) as h:
        h.adapter.observe([AccountRemovedEvent(7, reason="deleted")])
        assert h.adapter.needs_repair and h.adapter.reason == "deleted"


@pytest.mark.anyio
async def test_a_qr_nobody_asked_for_means_pair_again(server: tuple[FakeEvolution, str]) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        before = len(h.events)
        h.adapter.observe([QrEvent(7, qr_code="2@new")])
        assert h.adapter.needs_repair and h.adapter.reason == REASON_QR_UNASKED
        (told,) = await eventually(lambda: h.events[before:], message="the adapter tells")
        assert isinstance(told, ConnectionEvent) and told.needs_repair


@pytest.mark.anyio
async def test_pairing_qrs_and_the_link(server: tuple[FakeEvolution, str]) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        del h.fake.instances[INSTANCE]
        await h.adapter.request_pairing()
        h.adapter.observe([QrEvent(7, qr_code="2@refreshed")])
        assert h.adapter.state is ConnectionState.WAITING_FOR_QR and not h.adapter.needs_repair
        h.adapter.observe([ConnectionEvent(7, ConnectionState.CONNECTING, reason="restarting")])
        assert h.adapter.state is ConnectionState.CONNECTING
        h.adapter.observe(opened(h))
        assert h.adapter.ready_to_send()


@pytest.mark.anyio
async def test_a_bad_session_needs_a_new_pairing_and_is_not_reconnected(
    server: tuple[FakeEvolution, str],
) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        rig.sleeper.hold = True
        h.fake.instances[INSTANCE].state = "close"
        h.adapter.observe(drop(h, 500))
        assert h.adapter.needs_repair and h.adapter.reason == REASON_BAD_SESSION
        assert h.adapter.state is ConnectionState.NEEDS_REPAIR
        assert h.adapter._link.reconnect_task is None  # reconnecting on broken keys cannot succeed


@pytest.mark.anyio
async def test_restart_required_and_connecting_need_no_nudge(
    server: tuple[FakeEvolution, str],
) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        h.adapter.observe(drop(h, 515))
        assert h.adapter.state is ConnectionState.CONNECTING
        assert h.adapter._link.reconnect_task is None and not h.adapter.ready_to_send()


@pytest.mark.anyio
async def test_other_accounts_and_messages_are_ignored(server: tuple[FakeEvolution, str]) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        h.adapter.observe([ConnectionEvent(99, ConnectionState.OFFLINE, reason="x")])
        message = MessageEvent(7, "3A1", "5511", "5511", Direction.IN, 1.0, MessageType.TEXT)
        h.adapter.observe([message])
        assert h.adapter.ready_to_send() and h.adapter._link.reconnect_task is None


@pytest.mark.anyio
async def test_a_refused_key_stops_the_loop(server: tuple[FakeEvolution, str]) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        h.fake.instances[INSTANCE].state = "close"
        h.fake.arrange("unauthorized", prefix="/instance/connectionState")
        h.adapter.observe(drop(h))
        await settle(h)
        assert len(rig.sleeper.delays) == 1 and "Unauthorized" in h.adapter.reason


@pytest.mark.anyio
async def test_aclose_cancels_the_loop(server: tuple[FakeEvolution, str]) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        rig.sleeper.hold = True
        h.fake.instances[INSTANCE].state = "close"
        h.adapter.observe(drop(h))
        await backing_off(rig)
        task = h.adapter._link.reconnect_task
        await h.adapter.aclose()
        assert task is not None and task.cancelled() and not h.adapter.ready_to_send()
        h.adapter.observe(drop(h))
        assert h.adapter._link.reconnect_task is None


def test_observe_outside_a_loop_does_not_fail() -> None:
    http: Any = None  # never used: observe makes no call
    adapter = EvolutionAdapter(evolution_account("http://127.0.0.1:9"), http, webhook_url="")
    adapter.observe([ConnectionEvent(7, ConnectionState.OFFLINE, reason="x")])
    adapter.observe([QrEvent(7, qr_code="2@x")])
    assert adapter.needs_repair


@pytest.mark.anyio
async def test_reconnect_now_after_giving_up(server: tuple[FakeEvolution, str]) -> None:
    rig = setup(max_attempts=2)
    async with harness(server=server, **rig.options) as h:
        h.fake.instances[INSTANCE].state = "close"
        h.adapter.observe(drop(h))
        await settle(h)
        assert rig.sleeper.delays == [2.0, 4.0] and "gave up" in h.adapter.reason
        h.adapter.reconnect_now()
        await settle(h)
        assert rig.sleeper.delays == [2.0, 4.0, 2.0, 4.0]


@pytest.mark.anyio
async def test_a_pairing_left_open_expires(server: tuple[FakeEvolution, str]) -> None:
    rig = setup()
    async with harness(server=server, **rig.options) as h:
        del h.fake.instances[INSTANCE]
        await h.adapter.request_pairing()
        h.adapter.observe([QrEvent(7, qr_code="2@second")])
        assert not h.adapter.needs_repair
        rig.clock.now += 16 * 60  # the dialog was abandoned long ago
        h.adapter.observe([QrEvent(7, qr_code="2@late")])
        assert h.adapter.needs_repair and h.adapter.reason == REASON_QR_UNASKED
