"""Evolution events over Socket.IO, for desktops without a public webhook address.

A real Socket.IO server (python-socketio, as Evolution's ``websocket.controller.ts`` runs
socket.io) inside the fake Evolution, on loopback; the adapter connects to the instance's
namespace with python-socketio's client and its key, and turns each event into normalized events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from sync.domain.events import ConnectionEvent, MessageEvent, ProviderEvent, QrEvent
from sync.domain.models import ConnectionState
from sync.providers.evolution import EvolutionAdapter
from tests.fakes.evolution_server import FakeEvolution
from tests.fakes.loopback import serve
from tests.polling import eventually
from tests.sync.providers.evolution.harness import (
    API_KEY,
    INSTANCE,
    INSTANCE_TOKEN,
    OWN_PHONE,
    evolution_account,
)

pytestmark = pytest.mark.anyio


class Seen:
    """What the adapter pushed to its sink and showed its observer."""

    def __init__(self) -> None:
        self.stored: list[ProviderEvent] = []
        self.observed: list[ProviderEvent] = []

    async def sink(self, batch: Sequence[ProviderEvent]) -> None:
        self.stored.extend(batch)

    def observe(self, batch: Sequence[ProviderEvent]) -> None:
        self.observed.extend(batch)


async def quick_sleep(seconds: float) -> None:
    await asyncio.sleep(min(seconds, 0.05))


@pytest.fixture
async def evolution() -> AsyncIterator[tuple[FakeEvolution, str]]:
    fake = FakeEvolution(api_key=API_KEY, websocket_enabled=True)
    with fake.running() as base_url:
        yield fake, base_url


async def started(base_url: str, seen: Seen, http: httpx.AsyncClient) -> EvolutionAdapter:
    """A started adapter whose observer does what the workspace's does: the listeners (here
    ``seen``) and the adapter itself see the stored events."""

    def observe(batch: Sequence[ProviderEvent]) -> None:
        seen.observe(batch)
        adapter.observe(batch)

    adapter = EvolutionAdapter(
        evolution_account(base_url),
        http,
        webhook_url="",
        observer=observe,
        sleep=quick_sleep,
        rng=lambda: 1.0,
    )
    await adapter.start(seen.sink)
    return adapter


async def test_inbound_messages_arrive_over_the_socket(
    evolution: tuple[FakeEvolution, str],
) -> None:
    fake, base_url = evolution
    fake.add_instance(INSTANCE, token=INSTANCE_TOKEN)
    seen = Seen()
    async with httpx.AsyncClient(timeout=5) as http:
        adapter = await started(base_url, seen, http)
        try:
            await eventually(lambda: adapter.socket_connected)
            assert fake.instances[INSTANCE].websocket == {
                "enabled": True,
                "events": fake.instances[INSTANCE].websocket["events"],
            }
            assert "MESSAGES_UPSERT" in fake.instances[INSTANCE].websocket["events"]
            assert fake.instances[INSTANCE].webhook is None  # no webhook without an address
            await fake.deliver_inbound(INSTANCE, text="Bom dia pelo socket", msg_id="SOCK1")
            await eventually(lambda: any(isinstance(e, MessageEvent) for e in seen.stored))
            message = next(e for e in seen.stored if isinstance(e, MessageEvent))
            assert (message.provider_message_id, message.text) == ("SOCK1", "Bom dia pelo socket")
            assert message in seen.observed  # the workspace (pairing dialog, adapter) sees it
        finally:
            await adapter.aclose()


async def test_a_dropped_socket_reconnects_and_events_flow_again(
    evolution: tuple[FakeEvolution, str],
) -> None:
    fake, base_url = evolution
    fake.add_instance(INSTANCE, token=INSTANCE_TOKEN)
    seen = Seen()
    async with httpx.AsyncClient(timeout=5) as http:
        adapter = await started(base_url, seen, http)
        try:
            await eventually(lambda: adapter.socket_connected)
            await fake.disconnect_sockets(INSTANCE)
            await eventually(lambda: not adapter.socket_connected)
            await eventually(lambda: adapter.socket_connected)
            await eventually(lambda: fake.socket_clients[f"/{INSTANCE}"] == 1)
            await fake.drop(INSTANCE, 428)
            await eventually(
                lambda: any(
                    isinstance(e, ConnectionEvent) and e.state is ConnectionState.OFFLINE
                    for e in seen.observed
                )
            )
            assert not adapter.ready_to_send()
        finally:
            await adapter.aclose()
    assert adapter._socket_task is None or adapter._socket_task.done()


async def test_pairing_over_the_socket_qr_refresh_then_link(
    evolution: tuple[FakeEvolution, str],
) -> None:
    fake, base_url = evolution
    seen = Seen()
    async with httpx.AsyncClient(timeout=5) as http:
        adapter = await started(base_url, seen, http)  # no instance yet: the socket waits
        try:
            first = await adapter.request_pairing()
            assert first.qr_code
            await eventually(lambda: adapter.socket_connected)
            await fake.emit_qr(INSTANCE)
            await eventually(lambda: any(isinstance(e, QrEvent) for e in seen.observed))
            await fake.scan(INSTANCE, phone=OWN_PHONE)
            await eventually(lambda: adapter.state is ConnectionState.CONNECTED)
            assert adapter.ready_to_send()
        finally:
            await adapter.aclose()


async def test_a_server_with_socketio_off_is_left_alone() -> None:
    fake = FakeEvolution(api_key=API_KEY, websocket_enabled=False)
    fake.add_instance(INSTANCE, token=INSTANCE_TOKEN)
    seen = Seen()
    with fake.running() as base_url:
        async with httpx.AsyncClient(timeout=5) as http:
            adapter = await started(base_url, seen, http)
            try:
                await eventually(
                    lambda: adapter._socket_task is not None and adapter._socket_task.done()
                )
                assert fake.calls["POST /websocket/set"] == 1  # asked once, then stopped
                assert adapter.state is ConnectionState.CONNECTED  # the number still works
            finally:
                await adapter.aclose()


class Sleeps:
    """The adapter's sleep: records each backoff, waits at most 50 ms of it."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await asyncio.sleep(min(seconds, 0.05))


def recording(
    base_url: str, seen: Seen, http: httpx.AsyncClient, sleeps: Sleeps
) -> EvolutionAdapter:
    return EvolutionAdapter(
        evolution_account(base_url),
        http,
        webhook_url="",
        observer=seen.observe,
        sleep=sleeps,
        rng=lambda: 1.0,
    )


async def test_a_refused_namespace_is_retried_with_growing_backoff(
    evolution: tuple[FakeEvolution, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, base_url = evolution
    fake.add_instance(INSTANCE, token=INSTANCE_TOKEN)
    fake.refuse_sockets = True
    seen, sleeps = Seen(), Sleeps()
    async with httpx.AsyncClient(timeout=5) as http:
        adapter = recording(base_url, seen, http, sleeps)
        await adapter.start(seen.sink)
        try:
            await eventually(lambda: len(sleeps.asked) >= 3)
            assert not adapter.socket_connected
            assert sleeps.asked[:3] == [2.0, 4.0, 8.0]  # the policy's base, doubling (rng = 1.0)
            assert "refused the connection" in caplog.text
            fake.refuse_sockets = False
            await eventually(lambda: adapter.socket_connected)
        finally:
            await adapter.aclose()


async def test_a_server_without_socketio_is_retried_and_the_number_still_works() -> None:
    # /websocket/set answers, but nothing serves /socket.io/ (a proxy that drops WebSockets).
    fake = FakeEvolution(api_key=API_KEY, websocket_enabled=True)
    fake.add_instance(INSTANCE, token=INSTANCE_TOKEN)
    seen, sleeps = Seen(), Sleeps()
    with serve(fake.starlette) as base_url:
        async with httpx.AsyncClient(timeout=5) as http:
            adapter = recording(base_url, seen, http, sleeps)
            await adapter.start(seen.sink)
            try:
                await eventually(lambda: len(sleeps.asked) >= 2)
                assert sleeps.asked[:2] == [2.0, 4.0]
                assert not adapter.socket_connected
                assert adapter.state is ConnectionState.CONNECTED
            finally:
                await adapter.aclose()


async def test_the_key_is_in_no_url_and_no_log(
    evolution: tuple[FakeEvolution, str], caplog: pytest.LogCaptureFixture
) -> None:
    # Evolution puts the instance's apikey in every event body (expose_apikey): python-socketio
    # and python-engineio log whole packets at INFO, so this also proves those records are gone.
    caplog.set_level(logging.DEBUG)
    fake, base_url = evolution
    fake.add_instance(INSTANCE, token=INSTANCE_TOKEN)
    seen = Seen()
    async with httpx.AsyncClient(timeout=5) as http:
        adapter = await started(base_url, seen, http)
        try:
            await eventually(lambda: adapter.socket_connected)
            await fake.deliver_inbound(INSTANCE, text="Oi", msg_id="SOCK-LOG")
            await eventually(lambda: any(isinstance(e, MessageEvent) for e in seen.stored))
            await fake.disconnect_sockets(INSTANCE)
            await eventually(lambda: not adapter.socket_connected)
            await eventually(lambda: adapter.socket_connected)
        finally:
            await adapter.aclose()
    assert len(fake.socket_queries) >= 2
    assert not any(INSTANCE_TOKEN in query or API_KEY in query for query in fake.socket_queries)
    assert caplog.records  # the run was logged at DEBUG, ...
    assert INSTANCE_TOKEN not in caplog.text  # ... without the key
    assert API_KEY not in caplog.text
    # The libraries were handed our logger: theirs got no stderr handler of their own.
    assert not logging.getLogger("engineio.client").handlers
    assert not logging.getLogger("socketio.client").handlers
