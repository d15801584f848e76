"""A small Socket.IO client (protocol 5, over Engine.IO 4, WebSocket transport only) on httpx.

Evolution API can push its events over Socket.IO instead of webhooks (its
``websocket.controller.ts``): useful when the desktop has no public address for webhooks. Only
what that needs is here: connect to one namespace, answer the server's pings, receive events.
It runs over the caller's ``httpx.AsyncClient`` (``httpx-ws``), like every other HTTP call.

Wire format (socket.io-protocol v5, engine.io-protocol v4), one packet per WebSocket text frame:

- engine.io: ``0{json}`` open (``sid``, ``pingInterval``, ``pingTimeout`` in ms), ``2`` ping from
  the server (answer ``3`` pong), ``1`` close, ``4...`` a message carrying a socket.io packet;
- socket.io (after the ``4``): ``0/nsp,{json}`` connect (client: ask; server: accepted),
  ``1/nsp,`` disconnect, ``2/nsp,[name, args...]`` event (an ack id may sit before the ``[``),
  ``4/nsp,{"message": ...}`` connect refused. The main namespace ``/`` omits ``/nsp,``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

# Evolution's history syncs (messages.set) are the largest events; 16 MiB like the receiver.
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
_EVENT: Final = re.compile(r"^2(?:/(?P<nsp>[^,]*),)?(?P<ack>\d*)(?P<data>\[.*)$", re.DOTALL)


class SocketIOError(Exception):
    """The connection failed, was refused or closed, or the server spoke something else."""


class NamespaceRefused(SocketIOError):
    """The server refused the namespace (Socket.IO ``CONNECT_ERROR``: bad key, no instance)."""


@dataclass(frozen=True, slots=True)
class SocketEvent:
    """One event the server emitted: its name and first argument."""

    name: str
    data: Any


CONNECTED: Final = SocketEvent("connect", None)
"""Yielded once the server accepted the namespace (``connect`` is reserved by Socket.IO, so no
server event has that name)."""


def socket_url(base_url: str, query: dict[str, str], path: str = "/socket.io/") -> str:
    """The WebSocket URL of a Socket.IO server at ``base_url`` (``http`` → ``ws``)."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    params = {"EIO": "4", "transport": "websocket", **query}
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, urlencode(params), ""))


def _namespace_prefix(namespace: str) -> str:
    return "" if namespace in ("", "/") else f"{namespace},"


async def listen(
    http: httpx.AsyncClient,
    url: str,
    namespace: str,
    handle: Callable[[SocketEvent], Awaitable[None]],
    *,
    connect_timeout: float = 10.0,
) -> None:
    """Connect to ``namespace`` at ``url`` and hand each event to ``handle`` until it ends.

    The first event is ``CONNECTED``, once the server accepted the namespace. A callback, not
    an async generator: leaving a generator early would throw into httpx-ws's task group from
    outside it. To stop listening, cancel the task that awaits this.

    Raises ``NamespaceRefused`` when the server refuses the namespace and ``SocketIOError`` for
    anything else that ends the connection (the caller reconnects with backoff). Server pings
    are answered while the caller handles events, as long as it does not block the loop for
    longer than the server's ``pingTimeout``.
    """
    from httpx_ws import AsyncWebSocketSession, HTTPXWSException, WebSocketDisconnect, aconnect_ws

    if not namespace.startswith("/"):
        namespace = "/" + namespace
    prefix = _namespace_prefix(namespace)
    try:
        connection: AbstractAsyncContextManager[AsyncWebSocketSession] = aconnect_ws(
            url,
            http,
            max_message_size_bytes=MAX_MESSAGE_BYTES,
            # engine.io has its own heartbeat (server pings); no WebSocket-level pings.
            keepalive_ping_interval_seconds=None,
            session_class=AsyncWebSocketSession,
        )
        async with connection as ws:
            try:
                opening = await ws.receive_text(timeout=connect_timeout)
                if not opening.startswith("0"):
                    raise SocketIOError("not a Socket.IO server (no engine.io open packet)")
                try:
                    handshake = json.loads(opening[1:])
                    interval = float(handshake["pingInterval"]) / 1000
                    patience = float(handshake["pingTimeout"]) / 1000
                except (ValueError, KeyError, TypeError):
                    raise SocketIOError("malformed engine.io open packet") from None
                await ws.send_text(f"40{prefix}")
                joined = False
                while True:
                    # A server that stops pinging is gone: stop waiting after one missed ping.
                    timeout = interval + patience if joined else connect_timeout
                    try:
                        packet = await ws.receive_text(timeout=timeout)
                    except TimeoutError:
                        raise SocketIOError("the server stopped answering") from None
                    if packet == "2":
                        await ws.send_text("3")
                        continue
                    if packet.startswith("1"):
                        raise SocketIOError("the server closed the connection")
                    if not packet.startswith("4"):
                        continue  # noop (6), upgrade probes: nothing for us
                    body = packet[1:]
                    if body.startswith(f"0{prefix}"):
                        joined = True
                        await handle(CONNECTED)
                        continue
                    if body.startswith(f"4{prefix}"):
                        raise NamespaceRefused(_refusal(body[1 + len(prefix) :]))
                    if body.startswith(f"1{prefix}"):
                        raise SocketIOError("the server left the namespace")
                    event = _event(body, namespace)
                    if event is not None:
                        await handle(event)
            except WebSocketDisconnect as exc:
                raise SocketIOError(f"the connection closed ({exc.code})") from None
    except HTTPXWSException as exc:
        raise SocketIOError(f"WebSocket failed: {type(exc).__name__}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise SocketIOError(f"cannot reach the server: {type(exc).__name__}") from None
    except BaseExceptionGroup as group:  # httpx-ws wraps what escapes its task group
        inner = group.exceptions[0] if group.exceptions else group
        if isinstance(inner, SocketIOError):
            raise inner from None
        raise SocketIOError(f"WebSocket failed: {type(inner).__name__}") from None


def _refusal(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return "the server refused the connection"
    message = data.get("message") if isinstance(data, dict) else data
    return f"the server refused the connection: {str(message)[:200]}"


def _event(body: str, namespace: str) -> SocketEvent | None:
    match = _EVENT.match(body)
    if match is None:
        return None
    nsp = "/" + match.group("nsp") if match.group("nsp") is not None else "/"
    if nsp.lstrip("/") != namespace.lstrip("/") and not (nsp == "/" and namespace == "/"):
        return None
    try:
        args = json.loads(match.group("data"))
    except (ValueError, RecursionError):
        return None
    if not isinstance(args, list) or not args or not isinstance(args[0], str):
        return None
    return SocketEvent(args[0], args[1] if len(args) > 1 else None)
