"""Contract harness of the VPS gateway adapter: a fake gateway on loopback, the adapter ready.

    async with harness() as h:
        h.arrange("rate_limited", retry_after=7)
        with pytest.raises(RateLimited):
            await h.adapter.send(h.outgoing())

Every fake gateway of a test run is served by one loopback server (``mounted``), each under a
path prefix of its own (``http://127.0.0.1:PORT/<prefix>`` is its base URL, as a gateway behind a
reverse proxy would be): starting and stopping uvicorn for each test would cost more than the
tests themselves.

The adapter runs on a ``FakeClock``: it is made ready the way it is in production (a status poll
says connected, then the 3-second settling time passes on the fake clock), and since fake time
only moves when told to, the 75-second heartbeat rule never expires mid-test. The httpx client's
timeout is 0.5 s, so "accept_then_hang" ends in a read timeout quickly. "refused" points the next
request at a loopback port that is bound but not listening: the operating system refuses the
connection before anything is sent.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import uvicorn

from sync.domain.events import ConnectionEvent, ProviderEvent
from sync.domain.messages import OutgoingMessage
from sync.domain.models import ConnectionState, MessageType
from sync.providers.accounts import Secret
from sync.providers.gateway import HEARTBEAT_REASON, OPEN_SETTLE_S, GatewayAccount, GatewayAdapter
from tests.fakes.clock import FakeClock
from tests.fakes.gateway_server import FakeGateway
from tests.fakes.loopback import serve
from tests.polling import eventually

INSTANCE = "loja-centro"
ACCOUNT_ID = 7
CUSTOMER = "5511999990001"
HARNESS_TIMEOUT_S = 0.5

T = TypeVar("T")


@contextlib.contextmanager
def dead_port() -> Iterator[int]:
    """A loopback port bound but never listening: connecting to it is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


class RefusingTransport(httpx.AsyncBaseTransport):
    """Real HTTP, except that a request may be sent to a refusing port instead (``refuse_next``)."""

    def __init__(self, refused_port: int) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._refused_port = refused_port
        self.refuse_next = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.refuse_next:
            self.refuse_next = False
            request.url = request.url.copy_with(port=self._refused_port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Mounts:
    """An ASGI app dispatching ``/<prefix>/...`` to the app mounted under ``prefix``."""

    def __init__(self) -> None:
        self.apps: dict[str, Any] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        _, prefix, rest = (scope["path"] + "/").split("/", 2)
        app = self.apps.get(prefix)
        if app is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        path = "/" + rest[:-1] if rest else "/"
        await app(dict(scope, path=path, raw_path=path.encode(), root_path=""), receive, send)


_MOUNTS = _Mounts()
_SERVER: list[str] = []


def _shared_base_url() -> str:
    if not _SERVER:
        served = serve(_MOUNTS)
        _SERVER.append(served.__enter__())
        atexit.register(served.__exit__, None, None, None)
    return _SERVER[0]


@contextlib.contextmanager
def mounted(app: Any) -> Iterator[str]:
    """Serve ``app`` over real HTTP on loopback; yields its base URL (with its own prefix)."""
    prefix = uuid.uuid4().hex
    _MOUNTS.apps[prefix] = app
    try:
        yield f"{_shared_base_url()}/{prefix}"
    finally:
        del _MOUNTS.apps[prefix]


@dataclass
class GatewayHarness:
    """What the contract table needs (see the shared brief), plus the fake for own tests."""

    adapter: GatewayAdapter
    secrets: list[str]
    fake: FakeGateway
    clock: FakeClock
    transport: RefusingTransport
    http: httpx.AsyncClient
    base_url: str
    events: list[ProviderEvent] = field(default_factory=list)

    def accepted(self) -> int:
        """How many messages the fake gateway has taken so far."""
        return len(self.fake.accepted)

    def arrange(self, failure: str, *, retry_after: int | None = None) -> None:
        """The next send fails as ``failure`` (the contract's names, and the fake's own)."""
        if failure == "refused":
            self.transport.refuse_next = True
        else:
            self.fake.arrange(failure, retry_after=retry_after)

    def outgoing(self, text: str = "oi") -> OutgoingMessage:
        """A valid text message to a customer."""
        return OutgoingMessage(
            client_id=str(uuid.uuid4()),
            account_id=ACCOUNT_ID,
            to_phone=CUSTOMER,
            chat_key=CUSTOMER,
            type=MessageType.TEXT,
            text=text,
        )


def gateway_account(
    base_url: str, *, master: str = "", instance_token: str = "", instance: str = INSTANCE
) -> GatewayAccount:
    """A gateway number as ``caixa accounts add`` would make it."""
    return GatewayAccount(
        account_id=ACCOUNT_ID,
        name="Loja Centro (gateway)",
        instance=instance,
        base_url=base_url,
        master_token=Secret(master),
        instance_token=Secret(instance_token),
    )


@contextlib.asynccontextmanager
async def harness(*, connected: bool = True) -> AsyncIterator[GatewayHarness]:
    """The fake gateway up with one linked instance, and the adapter started and ready."""
    master = "gw-master-" + secrets.token_urlsafe(18)
    token = "gw-inst-" + secrets.token_urlsafe(18)
    fake = FakeGateway(master)
    fake.add_instance(
        INSTANCE,
        token=token,
        state="connected" if connected else "disconnected",
        phone="5511988887777" if connected else "",
        name="Loja Centro",
    )
    with mounted(fake.app) as base_url, dead_port() as refused:
        transport = RefusingTransport(refused)
        async with httpx.AsyncClient(transport=transport, timeout=HARNESS_TIMEOUT_S) as http:
            clock = FakeClock()
            adapter = GatewayAdapter(
                gateway_account(base_url, master=master, instance_token=token),
                http,
                clock=clock.now,
                sleep=clock.sleep,
                rng=lambda: 0.5,
            )
            h = GatewayHarness(adapter, [master, token], fake, clock, transport, http, base_url)

            async def sink(events: Sequence[ProviderEvent]) -> None:
                h.events.extend(events)

            await adapter.start(sink)
            if connected:
                clock.advance(OPEN_SETTLE_S)
                assert adapter.ready_to_send()
            try:
                yield h
            finally:
                fake.release_hangs.set()
                await adapter.aclose()


MASTER = "master-token-for-tests-0123456789"
TOKEN = "instance-token-for-tests-9876543210"


class GatewaySetup:
    """For the gateway's own tests: a fake gateway on loopback, adapters on a fake clock."""

    def __init__(self, fake: FakeGateway, base_url: str, http: httpx.AsyncClient) -> None:
        self.fake = fake
        self.base_url = base_url
        self.http = http
        self.clock = FakeClock()
        self.events: list[ProviderEvent] = []
        self.rng: Callable[[], float] = lambda: 0.5

    def adapter(
        self, *, master: str = MASTER, token: str = TOKEN, webhook_url: str = ""
    ) -> GatewayAdapter:
        """An adapter for INSTANCE (not started)."""
        account = gateway_account(self.base_url, master=master, instance_token=token)
        return GatewayAdapter(
            account,
            self.http,
            clock=self.clock.now,
            sleep=self.clock.sleep,
            rng=lambda: self.rng(),
            webhook_url=webhook_url,
        )

    async def sink(self, events: Sequence[ProviderEvent]) -> None:
        """Collects what adapters push (``start``, reconnects)."""
        self.events.extend(events)


@contextlib.asynccontextmanager
async def gateway_setup() -> AsyncIterator[GatewaySetup]:
    """A ``GatewaySetup`` for one test."""
    fake = FakeGateway(MASTER)
    with mounted(fake.app) as base_url:
        try:
            async with httpx.AsyncClient(timeout=2.0) as http:
                yield GatewaySetup(fake, base_url, http)
        finally:
            fake.release_hangs.set()


# --- helpers shared by the gateway tests: real I/O while fake time stands still ------------------


async def run_on_clock(clock: FakeClock, aw: Awaitable[T], *, max_steps: int = 100) -> T:
    """Run ``aw``, moving fake time to the next sleeper's deadline whenever it waits on it."""
    task: asyncio.Future[T] = asyncio.ensure_future(aw)
    for _ in range(max_steps):
        # In real time: HTTP on loopback takes real time while fake time stands still.
        await eventually(lambda: task.done() or clock.pending > 0, interval=0.005)
        if task.done():
            return task.result()
        deadline = clock.next_deadline
        assert deadline is not None
        clock.set(deadline)
        await asyncio.sleep(0)
    task.cancel()
    raise AssertionError("still running after max_steps")


def ready_event(account_id: int, phone: str = "5511988887777") -> ConnectionEvent:
    """What ``parse_webhook`` makes of a ``ready`` event."""
    return ConnectionEvent(account_id, ConnectionState.CONNECTED, phone=phone)


def heartbeat_event(account_id: int) -> ConnectionEvent:
    """What ``parse_webhook`` makes of a ``heartbeat`` event."""
    return ConnectionEvent(account_id, ConnectionState.CONNECTED, reason=HEARTBEAT_REASON)


def offline_event(account_id: int, reason: str = "NAVIGATION") -> ConnectionEvent:
    """A transient ``disconnected``."""
    return ConnectionEvent(account_id, ConnectionState.OFFLINE, reason=reason)


def repair_event(
    account_id: int, reason: str = "LOGOUT: logged out from the phone"
) -> ConnectionEvent:
    """A ``disconnected`` that needs a re-pair."""
    return ConnectionEvent(
        account_id, ConnectionState.NEEDS_REPAIR, needs_repair=True, reason=reason
    )


class _InLoopServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test process owns its signals
        yield


@contextlib.asynccontextmanager
async def serve_in_loop(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` on loopback from the test's own event loop; yields its base URL.

    For the receiver: its sink and observers (the engine, ``adapter.observe``) then run on the
    loop the adapters and the engine live on, as in the desktop app.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1
    )
    server = _InLoopServer(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started or task.done(), interval=0.005)
        if task.done():
            task.result()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
