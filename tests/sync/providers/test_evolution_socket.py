"""Evolution events over Socket.IO, for desktops without a public webhook address.

A real Socket.IO server (python-socketio, as Evolution's ``websocket.controller.ts`` runs
socket.io) inside the fake Evolution, on loopback; the adapter's own small client connects to
the instance's namespace with its key and turns each event into normalized events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from sync.domain.events import ConnectionEvent, MessageEvent, ProviderEvent, QrEvent
from sync.domain.models import ConnectionState
from sync.providers.evolution import EvolutionAdapter
from sync.providers.socketio_client import (
    NamespaceRefused,
    SocketEvent,
    SocketIOError,
    listen,
    socket_url,
)
from tests.fakes.evolution_server import FakeEvolution
from tests.polling import eventually
from tests.sync.providers.harness_evolution import (
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
        webhook_url=None,
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


async def test_the_client_reports_a_refused_namespace_and_a_missing_server(
    evolution: tuple[FakeEvolution, str],
) -> None:
    fake, base_url = evolution
    fake.add_instance(INSTANCE, token=INSTANCE_TOKEN)
    got: list[SocketEvent] = []

    async def handle(event: SocketEvent) -> None:
        got.append(event)

    async with httpx.AsyncClient(timeout=5) as http:
        with pytest.raises((NamespaceRefused, SocketIOError)):
            await listen(http, socket_url(base_url, {"apikey": "wrong"}), f"/{INSTANCE}", handle)
        assert got == []
        task = asyncio.ensure_future(
            listen(http, socket_url(base_url, {"apikey": API_KEY}), INSTANCE, handle)
        )
        await eventually(lambda: bool(got))
        assert got[0].name == "connect"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(SocketIOError, match="cannot reach"):
            await listen(http, socket_url("http://127.0.0.1:9", {}), "/x", handle)
