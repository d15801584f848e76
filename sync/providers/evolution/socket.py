"""Evolution's events over Socket.IO, for a desktop no webhook can reach.

# WORKAROUND(evolution): webhooks need an address Evolution can reach; a desktop behind NAT has
# none, so it listens on Evolution's Socket.IO namespace ``/<instance>`` instead
# (src/api/integrations/event/websocket/websocket.controller.ts: emit() sends the webhook body to
# ``socket.of('/' + instanceName)``; allowRequest takes the key from ``?apikey=`` or from the
# ``apikey`` header).
# https://github.com/EvolutionAPI/evolution-api/blob/2.3.6/src/api/integrations/event/websocket/websocket.controller.ts
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from sync.providers.base import ProviderError
from sync.providers.evolution.account import EvolutionAccount
from sync.providers.evolution.connection import ReconnectPolicy
from sync.providers.evolution.errors import scrub

log = logging.getLogger(__name__)

# Evolution's history syncs (messages.set) are the largest events; 16 MiB like the receiver.
MAX_SOCKET_MESSAGE: Final = 16 * 1024 * 1024
SOCKET_CONNECT_TIMEOUT: Final = 10.0  # seconds for the handshake and the namespace's acceptance
SOCKET_CLOSE_TIMEOUT: Final = 2.0


class _SocketFailed(Exception):
    """The event socket could not connect, or its connection ended."""


class _SocketRefused(_SocketFailed):
    """The server refused the instance's namespace (a wrong key, an unknown instance)."""


class _SocketLog:
    """The logger handed to python-socketio and python-engineio: their INFO and DEBUG records
    dropped, the rest one level lower, the account's secrets masked.

    At INFO and DEBUG both libraries log every packet whole, and Evolution puts the instance's
    ``apikey`` in every event body (websocket.controller.ts, emit()), next to customers'
    messages: those records are dropped whatever the logging configuration says. Their warnings
    ("server sent close packet") come with every refused or dropped connection, which the
    adapter's loop reports itself, so they are details (INFO).
    """

    def __init__(self, account: EvolutionAccount) -> None:
        self._account = account
        self._log = log.getChild("socketio")

    def _emit(self, level: int, msg: object, args: tuple[object, ...], exc: bool) -> None:
        if not self._log.isEnabledFor(level):
            return
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(str(part) for part in (msg, *args))
        if exc:
            text += "\n" + traceback.format_exc()
        self._log.log(level, "%s", scrub(text, self._account))

    def debug(self, msg: object, *args: object, **kwargs: object) -> None:
        """Dropped: packet dumps."""

    def info(self, msg: object, *args: object, **kwargs: object) -> None:
        """Dropped: packet dumps and connection chatter."""

    def warning(self, msg: object, *args: object, **kwargs: object) -> None:
        """Logged at INFO, secrets masked."""
        self._emit(logging.INFO, msg, args, bool(kwargs.get("exc_info")))

    def error(self, msg: object, *args: object, **kwargs: object) -> None:
        """Logged at WARNING, secrets masked."""
        self._emit(logging.WARNING, msg, args, bool(kwargs.get("exc_info")))

    def exception(self, msg: object, *args: object, **kwargs: object) -> None:
        """Logged at ERROR with the traceback as text (masked too), not as ``exc_info``."""
        self._emit(logging.ERROR, msg, args, True)


class EventSocket:
    """One instance's events over Evolution's Socket.IO, for as long as ``run`` runs.

    The events are the very bodies webhooks carry; each goes to ``deliver`` in order.
    ``subscribe`` asks Evolution to emit them (``/websocket/set``): False when Socket.IO is off.
    """

    def __init__(
        self,
        account: EvolutionAccount,
        *,
        policy: ReconnectPolicy,
        sleep: Callable[[float], Awaitable[None]],
        rng: Callable[[], float],
        subscribe: Callable[[], Awaitable[bool]],
        deliver: Callable[[Any], Awaitable[None]],
    ) -> None:
        self._account = account
        self._base = account.base_url.rstrip("/")
        self._policy = policy
        self._sleep = sleep
        self._rng = rng
        self._subscribe = subscribe
        self._deliver = deliver
        self.connected = False  # a connection is open and accepted
        self.closed = False  # set by the adapter when it closes: the loop ends

    async def run(self) -> None:
        """Follow the instance's events, reconnecting with backoff and jitter, until closed."""
        attempts = 0
        while not self.closed:
            try:
                if not await self._subscribe():
                    log.warning(
                        "evolution %s: Socket.IO is off on the server; events need a webhook"
                        " address (Settings → Webhooks)",
                        self._account.instance,
                    )
                    return
                await self._follow()
                attempts = 0  # it was accepted, then ended: the backoff starts over
                log.info("evolution %s: event socket closed", self._account.instance)
            except _SocketRefused as exc:
                log.warning("evolution %s: %s", self._account.instance, exc)
            except (_SocketFailed, ProviderError) as exc:
                log.info(
                    "evolution %s: event socket: %s",
                    self._account.instance,
                    scrub(str(exc), self._account),
                )
            self.connected = False
            ceiling = min(self._policy.cap, self._policy.base * 2.0**attempts)
            attempts += 1
            await self._sleep(self._rng() * ceiling)

    async def _follow(self) -> None:
        """Listen on ``/<instance>`` until an accepted connection ends; raise if none was made.

        python-socketio's own reconnection is off: the loop above reconnects, on the adapter's
        clock, and asks ``/websocket/set`` again each time (the instance may be new).
        """
        # python-socketio pulls in aiohttp (its asyncio transport): loaded only by the numbers
        # that listen on a socket, never on the app's start-up path.
        import aiohttp
        import socketio

        namespace = f"/{self._account.instance}"
        key = self._account.instance_token or self._account.api_key
        base = urlsplit(self._base)
        events: asyncio.Queue[Any] = asyncio.Queue()
        ended = object()
        refusal: list[str] = []

        def on_event(_name: str, *args: Any) -> None:
            # Queued, then handled one at a time below: python-socketio runs each handler in a
            # task of its own, and a status must not overtake the message it is about.
            events.put_nowait(args[0] if args else None)

        def on_connect_error(*args: Any) -> None:
            data = args[0] if args else None
            if isinstance(data, dict):  # a CONNECT_ERROR packet: {"message": ...}
                refusal.append(str(data.get("message"))[:200])

        quiet = _SocketLog(self._account)
        connector = aiohttp.TCPConnector(ssl=httpx.create_ssl_context())  # httpx's trust store
        # Bounds the handshake only: aiohttp lifts the read timeout once the WebSocket is open
        # (engineio's pings then tell a dead server), and has no total timeout on it.
        timeout = aiohttp.ClientTimeout(
            total=None, connect=SOCKET_CONNECT_TIMEOUT, sock_read=SOCKET_CONNECT_TIMEOUT
        )
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, trust_env=True
        ) as session:
            client = socketio.AsyncClient(
                reconnection=False,
                handle_sigint=False,  # Ctrl+C belongs to the app, not to a library
                # How long closing waits for the server's close frame: quitting the app stops
                # this task, and a server that went silent must not hold the quit for long.
                request_timeout=SOCKET_CLOSE_TIMEOUT,
                logger=quiet,
                engineio_logger=quiet,
                http_session=session,
                # aiohttp's default is 4 MiB; a history sync event can be larger.
                websocket_extra_options={"max_msg_size": MAX_SOCKET_MESSAGE},
            )
            client.on("*", on_event, namespace=namespace)
            client.on("disconnect", lambda *_: events.put_nowait(ended), namespace=namespace)
            client.on("connect_error", on_connect_error, namespace=namespace)
            # The key rides in the ``apikey`` header, which allowRequest reads as well as the
            # query: a URL ends up in logs (engineio's, proxies', Evolution's), a header does not.
            try:
                try:
                    await client.connect(
                        f"{base.scheme}://{base.netloc}",
                        headers={"apikey": key.reveal()},
                        transports=["websocket"],
                        namespaces=[namespace],
                        # engineio keeps only the URL's host: a path prefix goes here.
                        socketio_path=base.path.rstrip("/") + "/socket.io",
                        wait_timeout=SOCKET_CONNECT_TIMEOUT,
                    )
                except socketio.exceptions.ConnectionError as exc:
                    if refusal:
                        raise _SocketRefused(
                            f"the server refused the connection: {refusal[0]}"
                        ) from None
                    raise _SocketFailed(str(exc)) from None
                # A drop between the namespace's acceptance and connect() returning fires no
                # "disconnect"; wait() ends then all the same.
                watcher = asyncio.ensure_future(client.wait())
                watcher.add_done_callback(lambda _: events.put_nowait(ended))
                try:
                    self.connected = True
                    while (body := await events.get()) is not ended:
                        await self._deliver(body)
                finally:
                    watcher.cancel()
            finally:
                # Also when cancelled mid-handshake: no engineio task outlives the session.
                await client.disconnect()
