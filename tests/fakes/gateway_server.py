"""A fake of the self-hosted Baileys VPS gateway of the design, for tests over real HTTP.

The gateway has no public repository; this fake implements the API issue 3 states, with the
semantics of the libraries it stands on (the same sources ``sync/providers/gateway/`` cites):

    GET    /health                              {"status": "ok", ...}               no token
    GET    /api/instances                       {"success", "instances": [...]}     master
    POST   /api/instances {instanceId, webhookUrl?}  201 {"success", "instanceId", "token"}
    GET    /api/instance/:id/status             {"success", "instanceId", "status", "phone"}
    POST   /api/instance/:id/connect            starts pairing: status "qr", a ``qr`` event
    POST   /api/instance/:id/disconnect         logs out: a ``disconnected`` (LOGOUT) event
    DELETE /api/instance/:id                    master
    GET    /api/instance/:id/qrcode             {"success", "qr", "status"} or 404
    POST   /api/instance/:id/send {to|phone, message}   {"success", "messageId", "to"}

Tokens (``Authorization: Bearer``): the master token may do everything; an instance token only
its own instance's status/connect/disconnect/qrcode/send. A missing or unknown token is 401; a
valid token used where it has no right (an instance token for listing, creating, deleting, or
for another instance) is 403. Errors are ``{"success": false, "error": "..."}``.

Instance states follow whatsapp-web.js' events: ``disconnected`` → (connect) ``qr`` →
(refreshed ``qr``...) → (scan) ``authenticated`` → ``ready`` (``connected``) → heartbeats →
``disconnected`` with a reason. An instance linked before keeps its session (Baileys' saved
creds): ``connect`` then goes ``connecting`` → ``authenticated`` → ``ready`` without a QR, until
a logout (``/disconnect``, or ``drop(..., keep_session=False)``) forgets it. The helpers
``show_qr``, ``scan``, ``restore``, ``heartbeat``, ``drop`` and ``emit`` POST the events to the
instance's receiver URL exactly as the gateway does: ``{event, instanceId, data, timestamp}``
(timestamp in milliseconds, as ``Date.now()``) with ``Authorization: Bearer <instance token>``.

Failure injection: ``arrange(failure)`` makes the next ``/send`` fail ("unauthorized",
"rate_limited", "accept_then_hang", "invalid_recipient", "not_connected", "unavailable",
"server_error", "accepted_without_id", "not_connected_400"); ``respond_next(route, status, body)``
answers the next call of a route with a canned answer; ``qr_after_polls`` delays the QR.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SEND_FAILURES = (
    "unauthorized",
    "rate_limited",
    "accept_then_hang",
    "invalid_recipient",
    "not_connected",
    "not_connected_400",
    "unavailable",
    "server_error",
    "accepted_without_id",
)


def new_qr() -> str:
    """A QR payload shaped like Baileys' (``ref,noiseKey,identityKey,advSecret``)."""
    parts = [f"2@{secrets.token_urlsafe(48)}"]
    parts += [base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(3)]
    return ",".join(parts)


def new_message_id() -> str:
    """An id like the ones Baileys gives the messages it sends (``3EB0`` + hex)."""
    return "3EB0" + secrets.token_hex(9).upper()


@dataclass
class FakeInstance:
    """One instance of the fake gateway."""

    id: str
    token: str
    state: str = "disconnected"  # disconnected | qr | authenticated | connected
    qr: str = ""
    qr_count: int = 0
    phone: str = ""
    name: str = ""
    webhook_url: str = ""
    qr_after_polls: int = 0  # /qrcode answers 404 this many times after a connect
    session: bool = False  # linked before: connect restores it without a QR (Baileys' creds)
    reconnect_fails: bool = False  # connect with a session leaves it disconnected (socket failed)


@dataclass
class _Canned:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class FakeGateway:
    """The gateway's API over in-memory instances; ``app`` is the Starlette app to serve."""

    def __init__(self, master_token: str = "", *, auto_events: bool = True) -> None:
        self.master_token = master_token or secrets.token_urlsafe(24)
        self.instances: dict[str, FakeInstance] = {}
        self.auto_events = auto_events
        self.calls: list[tuple[str, str, str]] = []  # (route, instance, who: master|instance|-)
        self.accepted: list[dict[str, Any]] = []  # every message /send took
        self.connects: defaultdict[str, int] = defaultdict(int)
        self.release_hangs = threading.Event()
        self._failures: deque[tuple[str, int | None]] = deque()
        self._canned: defaultdict[str, deque[_Canned]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._background: set[asyncio.Task[Any]] = set()
        self.app = Starlette(
            routes=[
                Route("/health", self._health, methods=["GET"]),
                Route("/api/instances", self._list, methods=["GET"]),
                Route("/api/instances", self._create, methods=["POST"]),
                Route("/api/instance/{id}/status", self._status, methods=["GET"]),
                Route("/api/instance/{id}/connect", self._connect, methods=["POST"]),
                Route("/api/instance/{id}/disconnect", self._disconnect, methods=["POST"]),
                Route("/api/instance/{id}", self._delete, methods=["DELETE"]),
                Route("/api/instance/{id}/qrcode", self._qrcode, methods=["GET"]),
                Route("/api/instance/{id}/send", self._send, methods=["POST"]),
            ]
        )

    def __repr__(self) -> str:
        return f"FakeGateway(instances={sorted(self.instances)})"

    # --- set-up and injection --------------------------------------------------------------------

    def add_instance(
        self,
        instance_id: str,
        *,
        token: str = "",
        state: str = "disconnected",
        phone: str = "",
        name: str = "",
        webhook_url: str = "",
    ) -> FakeInstance:
        """An instance as if created earlier."""
        instance = FakeInstance(
            id=instance_id,
            token=token or secrets.token_urlsafe(24),
            state=state,
            phone=phone,
            name=name,
            webhook_url=webhook_url,
            session=state == "connected",
        )
        self.instances[instance_id] = instance
        return instance

    def arrange(self, failure: str, *, retry_after: int | None = None) -> None:
        """The next ``/send`` fails as ``failure`` (one of ``SEND_FAILURES``)."""
        if failure not in SEND_FAILURES:
            raise ValueError(f"unknown failure {failure!r}")
        self._failures.append((failure, retry_after))

    def respond_next(
        self, route: str, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        """The next call of ``route`` (list, create, status, connect, disconnect, delete,
        qrcode, send, health) gets this answer, after the token check."""
        self._canned[route].append(_Canned(status, body, headers or {}))

    def calls_to(self, route: str) -> list[tuple[str, str, str]]:
        """The recorded calls of one route."""
        return [c for c in self.calls if c[0] == route]

    # --- the instance state machine, with the events it POSTs ------------------------------------

    async def emit(
        self,
        instance_id: str,
        event: str,
        data: Any = None,
        *,
        timestamp: Any = None,
        token: str | None = None,
        instance_field: str | None = None,
    ) -> httpx.Response:
        """POST one event to the instance's receiver exactly as the gateway does.

        ``token`` (default: the instance's) and ``instance_field`` (default: the instance's id)
        let a test forge what a stranger would send.
        """
        instance = self.instances[instance_id]
        if not instance.webhook_url:
            raise RuntimeError(f"instance {instance_id} has no webhook URL")
        body = {
            "event": event,
            "instanceId": instance_field if instance_field is not None else instance_id,
            "data": data if data is not None else {},
            "timestamp": timestamp if timestamp is not None else int(time.time() * 1000),
        }
        bearer = token if token is not None else instance.token
        headers = {"Content-Type": "application/json"}
        if bearer:  # token="" sends no Authorization header at all
            headers["Authorization"] = f"Bearer {bearer}"
        async with httpx.AsyncClient(timeout=5.0) as client:
            return await client.post(
                instance.webhook_url, content=json.dumps(body).encode(), headers=headers
            )

    async def show_qr(self, instance_id: str) -> httpx.Response | None:
        """A (new) QR code: the instance waits for a scan; a ``qr`` event when it has a URL."""
        instance = self.instances[instance_id]
        with self._lock:
            instance.state = "qr"
            instance.qr = new_qr()
            instance.qr_count += 1
        if instance.webhook_url:
            return await self.emit(instance_id, "qr", {"qr": instance.qr})
        return None

    async def scan(
        self, instance_id: str, phone: str = "5511988887777", name: str = "Loja"
    ) -> list[httpx.Response]:
        """The phone scanned the QR: ``authenticated``, then ``ready`` with the phone's WID."""
        instance = self.instances[instance_id]
        with self._lock:
            instance.state = "authenticated"
            instance.qr = ""
        answers = []
        if instance.webhook_url:
            answers.append(await self.emit(instance_id, "authenticated", {}))
        with self._lock:
            instance.state = "connected"
            instance.session = True
            instance.phone = phone
            instance.name = name
        if instance.webhook_url:
            # whatsapp-web.js' client.info.wid: {server, user, _serialized}
            wid = {"server": "c.us", "user": phone, "_serialized": f"{phone}@c.us"}
            answers.append(await self.emit(instance_id, "ready", {"wid": wid, "pushname": name}))
        return answers

    async def heartbeat(self, instance_id: str) -> httpx.Response:
        """The gateway's periodic sign of life while its socket is open."""
        instance = self.instances[instance_id]
        return await self.emit(instance_id, "heartbeat", {"status": instance.state})

    async def drop(
        self, instance_id: str, reason: Any = "NAVIGATION", *, keep_session: bool = True
    ) -> httpx.Response:
        """The socket closed: ``disconnected`` with ``reason`` (a WAState, 'LOGOUT', a code).

        ``keep_session=False`` for a logout or ban: the saved session is gone.
        """
        instance = self.instances[instance_id]
        with self._lock:
            instance.state = "disconnected"
            instance.session = instance.session and keep_session
        return await self.emit(instance_id, "disconnected", {"reason": reason})

    async def restore(self, instance_id: str) -> list[httpx.Response]:
        """A saved session came back after ``connect``: ``authenticated`` then ``ready``."""
        instance = self.instances[instance_id]
        return await self.scan(instance_id, instance.phone or "5511988887777", instance.name)

    # --- routes ----------------------------------------------------------------------------------

    def _who(self, request: Request, instance_id: str | None) -> str | Response:
        """``master`` / ``instance`` or the error answer (401 unknown, 403 not allowed)."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _error(401, "Missing or invalid authorization header")
        token = token.strip()
        if secrets.compare_digest(token.encode(), self.master_token.encode()):
            return "master"
        owner = next(
            (
                i
                for i in self.instances.values()
                if secrets.compare_digest(token.encode(), i.token.encode())
            ),
            None,
        )
        if owner is None:
            return _error(401, "Invalid token")
        if instance_id is None or owner.id != instance_id:
            return _error(403, "Token not allowed for this operation")
        return "instance"

    def _begin(
        self, route: str, request: Request, *, master_only: bool = False
    ) -> tuple[FakeInstance | None, str] | Response:
        instance_id = request.path_params.get("id")
        who = self._who(request, None if master_only else instance_id)
        self.calls.append((route, instance_id or "", who if isinstance(who, str) else "-"))
        if isinstance(who, Response):
            return who
        instance = self.instances.get(instance_id) if instance_id else None
        if instance_id and instance is None and route != "create":
            return _error(404, "Instance not found")
        canned = self._canned[route]
        if canned:
            answer = canned.popleft()
            return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)
        return instance, who

    async def _health(self, request: Request) -> Response:
        self.calls.append(("health", "", "-"))
        canned = self._canned["health"]
        if canned:
            answer = canned.popleft()
            return JSONResponse(answer.body, status_code=answer.status)
        return JSONResponse(
            {"status": "ok", "instances": len(self.instances), "uptime": time.monotonic()}
        )

    async def _list(self, request: Request) -> Response:
        begun = self._begin("list", request, master_only=True)
        if isinstance(begun, Response):
            return begun
        items = [
            {"instanceId": i.id, "status": i.state, "phone": i.phone or None}
            for i in self.instances.values()
        ]
        return JSONResponse({"success": True, "instances": items})

    async def _create(self, request: Request) -> Response:
        begun = self._begin("create", request, master_only=True)
        if isinstance(begun, Response):
            return begun
        body = await _json_body(request)
        name = body.get("instanceId") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            return _error(400, "instanceId is required")
        if name in self.instances:
            return _error(409, "Instance already exists")
        instance = self.add_instance(name, webhook_url=str(body.get("webhookUrl") or ""))
        return JSONResponse(
            {
                "success": True,
                "instanceId": name,
                "token": instance.token,
                "status": "disconnected",
            },
            status_code=201,
        )

    async def _status(self, request: Request) -> Response:
        begun = self._begin("status", request)
        if isinstance(begun, Response):
            return begun
        instance = begun[0]
        assert instance is not None
        return JSONResponse(
            {
                "success": True,
                "instanceId": instance.id,
                "status": instance.state,
                "phone": instance.phone or None,
                "name": instance.name or None,
            }
        )

    async def _connect(self, request: Request) -> Response:
        begun = self._begin("connect", request)
        if isinstance(begun, Response):
            return begun
        instance = begun[0]
        assert instance is not None
        self.connects[instance.id] += 1
        if instance.state == "connected":
            return JSONResponse({"success": True, "status": "connected"})
        if instance.session:
            # Baileys with saved creds reconnects without a QR: authenticated, then ready.
            if instance.reconnect_fails:
                return JSONResponse({"success": True, "status": "disconnected"})
            instance.state = "connecting"
            if self.auto_events and instance.webhook_url:
                self._spawn(self.restore(instance.id))
            return JSONResponse({"success": True, "status": "connecting"})
        with self._lock:
            instance.state = "qr"
            instance.qr = new_qr()
            instance.qr_count += 1
        if self.auto_events and instance.webhook_url:
            self._spawn(self.emit(instance.id, "qr", {"qr": instance.qr}))
        return JSONResponse({"success": True, "status": "qr"})

    def _spawn(self, coro: Any) -> None:
        """Run ``coro`` after the answer, as the gateway's socket events follow its calls."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _disconnect(self, request: Request) -> Response:
        begun = self._begin("disconnect", request)
        if isinstance(begun, Response):
            return begun
        instance = begun[0]
        assert instance is not None
        with self._lock:
            instance.state = "disconnected"
            instance.qr = ""
            instance.session = False  # a logout: the next connect shows a QR
        return JSONResponse({"success": True, "status": "disconnected"})

    async def _delete(self, request: Request) -> Response:
        begun = self._begin("delete", request, master_only=True)
        if isinstance(begun, Response):
            return begun
        instance = begun[0]
        assert instance is not None
        del self.instances[instance.id]
        return JSONResponse({"success": True})

    async def _qrcode(self, request: Request) -> Response:
        begun = self._begin("qrcode", request)
        if isinstance(begun, Response):
            return begun
        instance = begun[0]
        assert instance is not None
        if instance.state == "connected":
            return JSONResponse({"success": True, "qr": None, "status": "connected"})
        if instance.qr_after_polls > 0:
            instance.qr_after_polls -= 1
            return _error(404, "QR code not available yet")
        if instance.state != "qr" or not instance.qr:
            return _error(404, "QR code not available")
        return JSONResponse({"success": True, "qr": instance.qr, "status": "qr"})

    async def _send(self, request: Request) -> Response:
        begun = self._begin("send", request)
        if isinstance(begun, Response):
            return begun
        instance = begun[0]
        assert instance is not None
        body = await _json_body(request)
        if not isinstance(body, dict):
            return _error(400, "Invalid JSON body")
        failure, retry_after = self._failures.popleft() if self._failures else ("", None)
        if failure == "unauthorized":
            return _error(401, "Invalid token")
        if failure == "rate_limited":
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return _error(429, "Too many requests", headers)
        if failure == "invalid_recipient":
            return _error(400, "Invalid phone number: not registered on WhatsApp")
        if failure == "not_connected":
            return _error(409, "Instance not connected")
        if failure == "not_connected_400":
            return _error(400, "WhatsApp socket is not connected")
        if failure == "unavailable":
            return _error(503, "Service unavailable")
        if failure == "server_error":
            return _error(500, "Internal server error")
        to = body.get("to", body.get("phone"))
        message = body.get("message")
        if not isinstance(to, str) or not to:
            return _error(400, "to (or phone) is required")
        if not isinstance(message, str) or not message:
            return _error(400, "message is required")
        jid = _jid_for(to)
        if jid is None:
            return _error(400, "Invalid phone number")
        if instance.state != "connected":
            return _error(409, "Instance not connected")
        message_id = new_message_id()
        self.accepted.append(
            {"instance": instance.id, "to": jid, "message": message, "id": message_id}
        )
        if failure == "accept_then_hang":
            deadline = time.monotonic() + 30
            while not self.release_hangs.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            return _error(504, "hung")
        if failure == "accepted_without_id":
            return JSONResponse({"success": True})
        return JSONResponse(
            {
                "success": True,
                "messageId": message_id,
                "to": jid,
                "timestamp": int(time.time() * 1000),
            }
        )


def _jid_for(to: str) -> str | None:
    """Baileys' JID for a ``to``: digits → ``@s.whatsapp.net``; group/LID JIDs as they are."""
    if "@" in to:
        user, _, server = to.partition("@")
        if server in ("s.whatsapp.net", "c.us", "g.us", "lid") and user.replace("-", "").isdigit():
            return to
        return None
    digits = "".join(ch for ch in to if ch.isdigit())
    if not 7 <= len(digits) <= 15:
        return None
    return f"{digits}@s.whatsapp.net"


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError:
        return None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"success": False, "error": message}, status_code=status, headers=headers)
