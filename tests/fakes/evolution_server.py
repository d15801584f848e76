"""A fake Evolution API server (v2.3.x, WHATSAPP-BAILEYS instances), for tests over loopback.

Written from the Evolution API source (``EvolutionAPI/evolution-api``, tag 2.3.6):

- routes and status codes: ``src/api/routes/{instance,sendMessage,chat}.router.ts``,
  ``src/api/integrations/event/webhook/webhook.router.ts``;
- guards, in Evolution's order (``src/api/routes/index.router.ts``): the instance must exist
  (404), ``create`` must name a free instance (403), then ``apikey`` (401) — the global key
  anywhere, an instance's token on its own routes and on ``fetchInstances``
  (``src/api/guards/{instance,auth}.guard.ts``);
- error bodies ``{status, error, response: {message}}`` (``src/main.ts``,
  ``src/exceptions``); a closed WhatsApp socket fails a send with 500 "Connection Closed"
  (``whatsappNumber`` runs before ``sendMessageWithTyping``'s try), a number not on WhatsApp
  with 400 and the ``OnWhatsAppDto`` list;
- the instance lifecycle of ``src/api/controllers/instance.controller.ts`` (create with
  ``qrcode: true`` → connecting with a QR, connect, connectionState, restart, logout, delete);
- message records as ``prepareMessage`` builds them, ``findMessages`` pages, ``markMessageAsRead``
  and ``whatsappNumbers`` answers (``whatsapp.baileys.service.ts``);
- webhooks exactly as ``src/api/integrations/event/webhook/webhook.controller.ts`` posts them:
  body ``{event, instance, data, destination, date_time, sender, server_url, apikey}``, the
  instance's ``headers`` as HTTP headers, only the subscribed events, ``webhookByEvents`` adding
  ``/messages-upsert`` to the URL.

The test drives the phone's side: ``emit_qr`` (a new or refreshed QR), ``scan`` (the phone
links), ``drop(code)`` (a Baileys disconnect), ``reopen``, ``logout``, ``remove``,
``deliver_inbound``, ``ack`` (receipts), ``echo_sent`` and raw ``emit``. Webhooks that
Evolution would send on its own after an API call (``send.message``, ``logout.instance``...)
wait in ``pending`` until ``flush``. ``arrange`` injects the next send's failure.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import itertools
import json
import math
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.loopback import serve

# src/api/integrations/event/event.controller.ts: EventController.events
ALL_EVENTS = (
    "APPLICATION_STARTUP",
    "QRCODE_UPDATED",
    "MESSAGES_SET",
    "MESSAGES_UPSERT",
    "MESSAGES_EDITED",
    "MESSAGES_UPDATE",
    "MESSAGES_DELETE",
    "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE",
    "CONTACTS_SET",
    "CONTACTS_UPSERT",
    "CONTACTS_UPDATE",
    "PRESENCE_UPDATE",
    "CHATS_SET",
    "CHATS_UPSERT",
    "CHATS_UPDATE",
    "CHATS_DELETE",
    "GROUPS_UPSERT",
    "GROUP_UPDATE",
    "GROUP_PARTICIPANTS_UPDATE",
    "CONNECTION_UPDATE",
    "LABELS_EDIT",
    "LABELS_ASSOCIATION",
    "CALL",
    "TYPEBOT_START",
    "TYPEBOT_CHANGE_STATUS",
    "REMOVE_INSTANCE",
    "LOGOUT_INSTANCE",
    "INSTANCE_CREATE",
    "INSTANCE_DELETE",
    "STATUS_INSTANCE",
)
INTEGRATIONS = ("WHATSAPP-BUSINESS", "WHATSAPP-BAILEYS", "EVOLUTION")
# Evolution stops reconnecting on these and deletes the session (connectionUpdate).
TERMINAL_CODES = (401, 403, 402, 406)
_TINY_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAW"
    "jR9awAAAABJRU5ErkJggg=="
)
_CROCKFORD = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"  # Baileys' pairing-code alphabet


def upper_event(event: str) -> str:
    """``MESSAGES_UPSERT`` from ``messages.upsert`` (webhook.controller.ts: ``we``)."""
    return re.sub(r"[.-]", "_", event).upper()


def path_suffix(event: str) -> str:
    """``messages-upsert`` (webhook.controller.ts: ``transformedWe``)."""
    return upper_event(event).replace("_", "-").lower()


def dotted_event(event: str) -> str:
    """``messages.upsert`` from either spelling (src/api/types/wa.types.ts: ``Events``)."""
    special = {"GROUP_PARTICIPANTS_UPDATE": "group-participants.update"}
    upper = upper_event(event)
    if upper in special:
        return special[upper]
    if upper == "TYPEBOT_CHANGE_STATUS":
        return "typebot.change-status"
    head, _, tail = upper.lower().partition("_")
    return f"{head}.{tail.replace('_', '.')}" if tail else head


def create_jid(number: str) -> str:
    """Evolution's ``createJid`` (src/utils/createJid.ts), Brazil's ninth-digit rule included."""
    number = re.sub(r":\d+", "", number)
    if any(s in number for s in ("@g.us", "@s.whatsapp.net", "@lid", "@broadcast")):
        return number
    number = re.sub(r"[\s+()]", "", number).split(":")[0].split("@")[0]
    if "-" in number and len(number) >= 24:
        return re.sub(r"[^\d-]", "", number) + "@g.us"
    number = re.sub(r"\D", "", number)
    if len(number) >= 18:
        return number + "@g.us"
    if number[:2] in ("52", "54") and len(number) == 13:
        number = number[:2] + number[3:]
    match = re.fullmatch(r"(\d{2})(\d{2})\d(\d{8})", number)
    if match and match[1] == "55" and not (int(match[3][0]) < 7 or int(match[2]) < 31):
        number = match[1] + match[2] + match[3]
    return number + "@s.whatsapp.net"


def error_body(status: int, message: Any) -> dict[str, Any]:
    """The error answer of src/main.ts."""
    names = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        500: "Internal Server Error",
    }
    return {"status": status, "error": names.get(status, "Error"), "response": {"message": message}}


def _error(status: int, message: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def message_id() -> str:
    """A Baileys message id as ``generateMessageID`` makes them (``3EB0`` + 18 hex bytes)."""
    return "3EB0" + secrets.token_hex(9).upper()


def long_of(value: int) -> dict[str, Any]:
    """A protobuf uint64 as a Long object copied to JSON: ``{low, high, unsigned}``."""
    low = value & 0xFFFFFFFF
    if low >= 2**31:
        low -= 2**32
    return {"low": low, "high": value >> 32, "unsigned": True}


@dataclass
class FakeInstance:
    """One Evolution instance: a WhatsApp number's socket, session and webhook."""

    name: str
    token: str
    integration: str = "WHATSAPP-BAILEYS"
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: str = "close"  # open | connecting | close (InstanceConnectionStatus)
    owner_jid: str = ""
    profile_name: str = ""
    session: bool = False  # Baileys creds: a linked phone that can reconnect without a QR
    number: str = ""  # the phone a pairing code is made for
    qr_count: int = 0
    qr_code: str = ""
    pairing_code: str | None = None
    disconnection_code: int | None = None
    webhook: dict[str, Any] | None = None
    websocket: dict[str, Any] | None = None  # {enabled, events}: /websocket/set
    messages: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def qr(self) -> dict[str, Any]:
        """wa.QrCode, as ``instance.qrCode`` returns it."""
        return {
            "pairingCode": self.pairing_code,
            "code": self.qr_code or None,
            "base64": _TINY_PNG if self.qr_code else None,
            "count": self.qr_count,
        }


@dataclass
class Failure:
    """What the next matching call does instead of its work."""

    kind: str
    retry_after: int | None = None
    prefix: str = "/message/"


class FakeEvolution:
    """State + Starlette app. ``with fake.running() as base_url`` serves it on loopback."""

    def __init__(
        self,
        *,
        api_key: str = "evo-global-key",
        server_url: str = "http://evolution.test",
        expose_apikey: bool = True,
        websocket_enabled: bool = False,
    ) -> None:
        self.server_url = server_url
        self.expose_apikey = expose_apikey
        self._lock = threading.RLock()
        self._generation = 0  # bumped by release(): held requests of older ones end
        self._row_ids = itertools.count(1)
        self.websocket_enabled = websocket_enabled
        self.reset(api_key=api_key)
        self.starlette = Starlette(routes=self._routes())
        self.sio: Any = None
        self._sio_loop: asyncio.AbstractEventLoop | None = None
        self.socket_clients: Counter[str] = Counter()  # namespace -> connected clients
        self.socket_queries: list[str] = []  # the query string of each Socket.IO connection
        self.refuse_sockets = False  # refuse every namespace, as a wrong key would be
        self.app: Any = self.starlette
        if websocket_enabled:
            self.app = self._socketio_app()

    def reset(self, *, api_key: str | None = None) -> None:
        """Forget every instance, call and failure (a server shared by several tests)."""
        self.release()
        if api_key is not None:
            self.api_key = api_key
        self.instances: dict[str, FakeInstance] = {}
        self.removed: dict[str, FakeInstance] = {}
        self.unregistered: set[str] = set()  # numbers (digits) that are not on WhatsApp
        self.names: dict[str, str] = {}  # jid -> pushName known to whatsappNumbers
        self.calls: Counter[str] = Counter()  # "GET /instance/connect" -> count
        self.requests: list[tuple[str, str, dict[str, Any] | None]] = []
        self.sent: list[dict[str, Any]] = []  # bodies of the sends Evolution took
        self.reads: list[dict[str, Any]] = []
        self.pending: list[tuple[str, str, Any]] = []  # (instance, event, data) not yet posted
        self.webhook_log: list[dict[str, Any]] = []
        self._failures: list[Failure] = []

    # --- running ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        """Serve the fake on 127.0.0.1; yields its base URL. Hung requests end on exit."""
        with serve(self.app) as base_url:
            try:
                yield base_url
            finally:
                self.release()  # before the server stops: a held request must not delay it

    def release(self) -> None:
        """Let every request held by ``accept_then_hang`` end."""
        with self._lock:
            self._generation += 1

    # --- test-side setup ------------------------------------------------------------------------

    def add_instance(
        self,
        name: str,
        *,
        token: str | None = None,
        state: str = "open",
        phone: str = "5511988887777",
        profile_name: str = "Loja Centro",
        webhook: dict[str, Any] | None = None,
    ) -> FakeInstance:
        """An instance that already exists (linked and open unless told otherwise)."""
        instance = FakeInstance(name=name, token=token or str(uuid.uuid4()).upper())
        instance.state = state
        if state != "close" or phone:
            instance.owner_jid = f"{phone}@s.whatsapp.net" if phone else ""
            instance.session = bool(phone)
        instance.profile_name = profile_name if phone else ""
        instance.webhook = webhook
        with self._lock:
            self.instances[name] = instance
        return instance

    def arrange(
        self, failure: str, *, retry_after: int | None = None, prefix: str = "/message/"
    ) -> None:
        """The next call whose path starts with ``prefix`` fails as ``failure``:
        unauthorized, rate_limited, accept_then_hang, invalid_recipient, connection_closed,
        server_error, bad_request, not_json."""
        with self._lock:
            self._failures.append(Failure(failure, retry_after, prefix))

    def accepted(self) -> int:
        """How many sends Evolution took."""
        with self._lock:
            return len(self.sent)

    # --- the phone's side, as webhooks ----------------------------------------------------------

    async def emit(
        self,
        name: str,
        event: str,
        data: Any,
        *,
        casing: str = "dotted",
        by_events: bool | None = None,
        headers: dict[str, str] | None = None,
        body_instance: str | None = None,
    ) -> httpx.Response | None:
        """POST one event as Evolution does; None when the webhook does not subscribe to it.

        With Socket.IO on, the event also goes to the instance's namespace when subscribed.
        """
        await self.emit_socket(name, event, data)
        prepared = self.prepare_webhook(
            name,
            event,
            data,
            casing=casing,
            by_events=by_events,
            headers=headers,
            body_instance=body_instance,
        )
        if prepared is None:
            return None
        url, hdrs, body = prepared
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(url, json=body, headers=hdrs)
        self._log_webhook(url, hdrs, body, response.status_code)
        return response

    def emit_sync(self, name: str, event: str, data: Any, **options: Any) -> httpx.Response | None:
        """``emit`` for callers without an asyncio loop of their own (Qt tests)."""
        prepared = self.prepare_webhook(name, event, data, **options)
        if prepared is None:
            return None
        url, hdrs, body = prepared
        with httpx.Client(timeout=10) as client:
            response = client.post(url, json=body, headers=hdrs)
        self._log_webhook(url, hdrs, body, response.status_code)
        return response

    def prepare_webhook(
        self,
        name: str,
        event: str,
        data: Any,
        *,
        casing: str = "dotted",
        by_events: bool | None = None,
        headers: dict[str, str] | None = None,
        body_instance: str | None = None,
    ) -> tuple[str, dict[str, str], dict[str, Any]] | None:
        """(url, headers, body) of the POST Evolution would make, or None if not subscribed."""
        with self._lock:
            instance = self.instances.get(name) or self.removed.get(name)
            hook = copy.deepcopy(instance.webhook) if instance is not None else None
            owner = instance.owner_jid if instance is not None else ""
            token = instance.token if instance is not None else ""
        if not hook or not hook.get("enabled") or not str(hook.get("url", "")).startswith("http"):
            return None
        if upper_event(event) not in (hook.get("events") or []):
            return None
        by = hook.get("byEvents") if by_events is None else by_events
        url = str(hook["url"])
        if by:
            url = f"{url}/{path_suffix(event)}"
        # webhook.controller.ts: the body's event is the Events value ('messages.upsert');
        # 'MESSAGES_UPSERT' is the configuration spelling some setups forward.
        spelled = dotted_event(event) if casing == "dotted" else upper_event(event)
        # channel.service.ts sendDataWebhook: local time printed with a 'Z'.
        local = datetime.now().isoformat(timespec="milliseconds") + "Z"
        body = {
            "event": spelled,
            "instance": body_instance if body_instance is not None else name,
            "data": data,
            "destination": hook["url"],
            "date_time": local,
            "sender": owner or None,
            "server_url": self.server_url,
            "apikey": token if self.expose_apikey else None,
        }
        hdrs = {str(k): str(v) for k, v in (hook.get("headers") or {}).items()}
        hdrs.update(headers or {})
        return url, hdrs, body

    def _log_webhook(self, url: str, headers: dict[str, str], body: Any, status: int) -> None:
        with self._lock:
            self.webhook_log.append(
                {"url": url, "headers": headers, "body": body, "status": status}
            )

    async def flush(self, name: str | None = None) -> list[httpx.Response | None]:
        """Post the webhooks Evolution would have sent after earlier API calls."""
        with self._lock:
            due = [p for p in self.pending if name is None or p[0] == name]
            self.pending = [p for p in self.pending if p not in due]
        return [await self.emit(n, e, d) for n, e, d in due]

    def _queue(self, name: str, event: str, data: Any) -> None:
        self.pending.append((name, event, data))

    async def emit_qr(self, name: str) -> dict[str, Any]:
        """A new QR (the first, or the refresh Baileys makes every ~20 s)."""
        with self._lock:
            instance = self.instances[name]
            self._new_qr(instance)
            payload = {
                "qrcode": {
                    "instance": name,
                    "pairingCode": instance.pairing_code,
                    "code": instance.qr_code,
                    "base64": _TINY_PNG,
                }
            }
        await self.emit(name, "qrcode.updated", payload)
        return payload

    async def scan(
        self, name: str, *, phone: str = "5511988887777", profile_name: str = "Loja Centro"
    ) -> None:
        """The phone scans the QR (or types the pairing code): the link opens."""
        with self._lock:
            instance = self.instances[name]
            instance.owner_jid = f"{phone}@s.whatsapp.net"
            instance.profile_name = profile_name
            instance.session = True
            instance.state = "open"
            instance.disconnection_code = None
        await self.emit(name, "connection.update", self._open_payload(instance))

    async def reopen(self, name: str) -> None:
        """Evolution reconnected a known session."""
        with self._lock:
            instance = self.instances[name]
            instance.state = "open"
        await self.emit(name, "connection.update", self._open_payload(instance))

    def _open_payload(self, instance: FakeInstance) -> dict[str, Any]:
        return {
            "instance": instance.name,
            "wuid": instance.owner_jid,
            "profileName": instance.profile_name,
            "profilePictureUrl": None,
            "state": "open",
            "statusReason": 200,
        }

    async def drop(self, name: str, code: int = 428) -> None:
        """The WhatsApp socket closes with Baileys status ``code`` (DisconnectReason)."""
        with self._lock:
            instance = self.instances[name]
            instance.state = "close"
            terminal = code in TERMINAL_CODES
            if terminal:
                instance.session = False
                instance.disconnection_code = code
        await self.emit(
            name, "connection.update", {"instance": name, "state": "close", "statusReason": code}
        )
        if terminal:
            # monitor.service.ts: 'logout.instance' -> LOGOUT_INSTANCE with data null.
            await self.emit(name, "logout.instance", None)

    async def logout(self, name: str) -> None:
        """The user removed the linked device on the phone (Baileys loggedOut, 401)."""
        await self.drop(name, 401)

    async def remove(self, name: str) -> None:
        """The instance is deleted on the server (remove.instance, data null)."""
        await self.emit(name, "remove.instance", None)
        with self._lock:
            gone = self.instances.pop(name, None)
            if gone is not None:
                self.removed[name] = gone

    def record(
        self,
        name: str,
        *,
        text: str | None = "oi",
        message: dict[str, Any] | None = None,
        remote_jid: str | None = None,
        remote_jid_alt: str | None = None,
        participant: str | None = None,
        participant_alt: str | None = None,
        from_me: bool = False,
        push_name: str | None = "Ana",
        msg_id: str | None = None,
        timestamp: Any = None,
        context: dict[str, Any] | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        """A message record as ``prepareMessage`` builds it (stored for findMessages)."""
        with self._lock:
            instance = self.instances[name]
        jid = remote_jid or "5511977776666@s.whatsapp.net"
        key: dict[str, Any] = {"remoteJid": jid, "fromMe": from_me, "id": msg_id or message_id()}
        if remote_jid_alt is not None:
            key["remoteJidAlt"] = remote_jid_alt
        if participant is not None:
            key["participant"] = participant
        if participant_alt is not None:
            key["participantAlt"] = participant_alt
        # Baileys decode-wa-message.ts: addressing mode follows the sender's server.
        sender = participant or jid
        key["addressingMode"] = "lid" if sender.endswith("@lid") else "pn"
        content = message if message is not None else {"conversation": text}
        kind = next((k for k in content if k == "conversation" or "Message" in k), "unknown")
        record = {
            "key": key,
            "pushName": push_name if push_name is not None else ("Você" if from_me else None),
            "status": status or ("PENDING" if from_me else "DELIVERY_ACK"),
            "message": content,
            "contextInfo": context,
            "messageType": kind,
            "messageTimestamp": timestamp if timestamp is not None else int(time.time()),
            "instanceId": instance.instance_id,
            "source": "android" if not from_me else "web",
        }
        with self._lock:
            instance.messages.append(self._stored(record))
        return record

    def _stored(self, record: dict[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(record)
        stored["id"] = f"cm{next(self._row_ids):022d}"  # Prisma's cuid row id
        stored["MessageUpdate"] = []
        ts = stored["messageTimestamp"]
        stored["messageTimestamp"] = int(ts) if isinstance(ts, int | float | str) else ts
        return stored

    async def deliver_inbound(
        self, name: str, *, event: str = "messages.upsert", **record: Any
    ) -> dict[str, Any]:
        """A customer's message reaches the number: stored, then posted as messages.upsert."""
        data = self.record(name, **record)
        await self.emit(name, event, data)
        return data

    async def ack(
        self, name: str, key_id: str, status: str = "DELIVERY_ACK", *, remote_jid: str = ""
    ) -> None:
        """A receipt for a message (messages.update, ``keyId`` + Evolution's row ``messageId``)."""
        with self._lock:
            instance = self.instances[name]
            row = next((m for m in instance.messages if m["key"]["id"] == key_id), None)
            if row is not None:
                row["MessageUpdate"].append({"status": status})
        key = row["key"] if row is not None else {"remoteJid": remote_jid, "fromMe": True}
        data = {
            "keyId": key_id,
            "remoteJid": key.get("remoteJid") or remote_jid,
            "fromMe": key.get("fromMe", True),
            "participant": key.get("participant"),
            "status": status,
            "instanceId": instance.instance_id,
            "messageId": row["id"] if row is not None else f"cm{next(self._row_ids):022d}",
        }
        await self.emit(name, "messages.update", data)

    async def echo_sent(self, name: str, key_id: str) -> None:
        """The send.message webhook Evolution posts after a send through its API."""
        with self._lock:
            row = next(m for m in self.instances[name].messages if m["key"]["id"] == key_id)
            data = {k: v for k, v in row.items() if k not in ("id", "MessageUpdate")}
        await self.emit(name, "send.message", data)

    # --- HTTP ---------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        named = [
            ("/instance/create", "POST", self._create, False),
            ("/instance/fetchInstances", "GET", self._fetch_instances, False),
            ("/instance/connect/{name}", "GET", self._connect, True),
            ("/instance/connectionState/{name}", "GET", self._connection_state, True),
            ("/instance/restart/{name}", "POST", self._restart, True),
            ("/instance/logout/{name}", "DELETE", self._logout, True),
            ("/instance/delete/{name}", "DELETE", self._delete, True),
            ("/webhook/set/{name}", "POST", self._webhook_set, True),
            ("/webhook/find/{name}", "GET", self._webhook_find, True),
            ("/websocket/set/{name}", "POST", self._websocket_set, True),
            ("/message/sendText/{name}", "POST", self._send_text, True),
            ("/message/sendMedia/{name}", "POST", self._send_media, True),
            ("/message/sendWhatsAppAudio/{name}", "POST", self._send_audio, True),
            ("/message/sendSticker/{name}", "POST", self._send_sticker, True),
            ("/message/sendReaction/{name}", "POST", self._send_reaction, True),
            ("/chat/markMessageAsRead/{name}", "POST", self._mark_read, True),
            ("/chat/whatsappNumbers/{name}", "POST", self._whatsapp_numbers, True),
            ("/chat/findMessages/{name}", "POST", self._find_messages, True),
        ]
        return [
            Route(path, self._guarded(handler, path, method, per_instance), methods=[method])
            for path, method, handler, per_instance in named
        ]

    def _guarded(self, handler: Any, template: str, method: str, per_instance: bool) -> Any:
        route = f"{method} {template.replace('/{name}', '')}"

        async def endpoint(request: Request) -> Response:
            body: Any = None
            if method in ("POST", "PUT"):
                raw = await request.body()
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    return _error(400, ["Unexpected token in JSON"])
            with self._lock:
                self.calls[route] += 1
                self.requests.append((route, request.url.path, body))
            name = request.path_params.get("name", "")
            key = request.headers.get("apikey", "")
            # index.router.ts guards: instanceExistsGuard, instanceLoggedGuard, authGuard.
            if per_instance and name not in self.instances:
                return _error(404, [f'The "{name}" instance does not exist'])
            wanted = body.get("instanceName") if isinstance(body, dict) else None
            if route == "POST /instance/create" and wanted in self.instances:
                return _error(403, [f'This name "{body["instanceName"]}" is already in use.'])
            if not self._authorized(key, name, route):
                return _error(401, "Unauthorized")
            failure = self._take_failure(request.url.path)
            if failure is not None:
                early = await self._fail(failure, name, body)
                if early is not None:
                    return early
            return await handler(request, name, body)

        return endpoint

    def _authorized(self, key: str, name: str, route: str) -> bool:
        if not key:
            return False
        if secrets.compare_digest(key, self.api_key):
            return True
        if name:
            return secrets.compare_digest(key, self.instances[name].token)
        if route == "GET /instance/fetchInstances":
            return any(i.token == key for i in self.instances.values())
        return False

    def _take_failure(self, path: str) -> Failure | None:
        with self._lock:
            for i, failure in enumerate(self._failures):
                if path.startswith(failure.prefix):
                    return self._failures.pop(i)
        return None

    async def _fail(self, failure: Failure, name: str, body: Any) -> Response | None:
        kind = failure.kind
        if kind == "unauthorized":
            return _error(401, "Unauthorized")
        if kind == "rate_limited":
            # Evolution has no limiter of its own; a reverse proxy in front of it answers so.
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else None
            return JSONResponse({"message": "Too Many Requests"}, status_code=429, headers=headers)
        if kind == "invalid_recipient":
            number = str((body or {}).get("number", "")) if isinstance(body, dict) else ""
            return _error(
                400, [{"jid": create_jid(number or "0"), "exists": False, "number": number}]
            )
        if kind == "connection_closed":
            return _error(500, "Connection Closed")
        if kind == "server_error":
            return JSONResponse({"message": "upstream error"}, status_code=502)
        if kind == "bad_request":
            return _error(400, ["Error: Timed Out"])
        if kind == "not_json":
            return Response("<html>oops</html>", status_code=201, media_type="text/html")
        if kind == "accept_then_hang":
            with self._lock:
                self.sent.append({"name": name, "body": body, "hung": True})
            deadline = time.monotonic() + 30
            generation = self._generation
            while self._generation == generation and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            return _error(500, "released")
        raise ValueError(f"unknown failure {kind!r}")

    # --- instance routes ------------------------------------------------------------------------

    async def _create(self, request: Request, name: str, body: Any) -> Response:
        if not isinstance(body, dict) or not isinstance(body.get("instanceName"), str):
            return _error(400, ['instance requires property "instanceName"'])
        integration = body.get("integration") or "WHATSAPP-BAILEYS"
        if integration not in INTEGRATIONS:
            return _error(400, ["Invalid integration"])
        name = body["instanceName"]
        token = body.get("token") or str(uuid.uuid4()).upper()
        instance = FakeInstance(name=name, token=token, integration=integration)
        hook = body.get("webhook")
        if isinstance(hook, dict):
            # event.manager.ts setInstance -> webhook.set with enabled: true; no events = all.
            instance.webhook = {
                "enabled": True,
                "url": hook.get("url"),
                "headers": hook.get("headers"),
                "events": list(hook.get("events") or ALL_EVENTS),
                "webhookByEvents": bool(hook.get("byEvents")),
                "webhookBase64": bool(hook.get("base64")),
                "byEvents": bool(hook.get("byEvents")),
            }
        qrcode = None
        if body.get("qrcode") is True and integration == "WHATSAPP-BAILEYS":
            instance.number = str(body.get("number") or "")
            instance.state = "connecting"
            self._new_qr(instance)
            qrcode = instance.qr()
        with self._lock:
            self.instances[name] = instance
            self._queue(
                name, "instance.create", {"instanceName": name, "instanceId": instance.instance_id}
            )
        answer = {
            "instance": {
                "instanceName": name,
                "instanceId": instance.instance_id,
                "integration": integration,
                "webhookWaBusiness": None,
                "accessTokenWaBusiness": "",
                "status": instance.state,
            },
            "hash": token,
            "webhook": {
                "webhookUrl": (hook or {}).get("url") if isinstance(hook, dict) else None,
                "webhookHeaders": (hook or {}).get("headers") if isinstance(hook, dict) else None,
                "webhookByEvents": (hook or {}).get("byEvents") if isinstance(hook, dict) else None,
                "webhookBase64": (hook or {}).get("base64") if isinstance(hook, dict) else None,
            },
            "websocket": {},
            "rabbitmq": {},
            "nats": {},
            "sqs": {},
            "settings": {
                "rejectCall": False,
                "msgCall": "",
                "groupsIgnore": False,
                "alwaysOnline": False,
                "readMessages": False,
                "readStatus": False,
                "syncFullHistory": False,
                "wavoipToken": "",
            },
            "qrcode": qrcode,
        }
        return JSONResponse(answer, status_code=201)

    def _new_qr(self, instance: FakeInstance) -> None:
        instance.qr_count += 1
        parts = [secrets.token_urlsafe(24)] + [
            base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(3)
        ]
        instance.qr_code = "2@" + ",".join(parts)
        instance.pairing_code = (
            "".join(secrets.choice(_CROCKFORD) for _ in range(8)) if instance.number else None
        )
        instance.state = "connecting"

    def _row(self, instance: FakeInstance) -> dict[str, Any]:
        return {
            "id": instance.instance_id,
            "name": instance.name,
            "connectionStatus": instance.state,
            "ownerJid": instance.owner_jid or None,
            "profileName": instance.profile_name or None,
            "profilePicUrl": None,
            "integration": instance.integration,
            "number": instance.number or None,
            "businessId": None,
            "token": instance.token,
            "clientName": "evolution_exchange",
            "disconnectionReasonCode": instance.disconnection_code,
            "disconnectionObject": None,
            "disconnectionAt": None,
            "createdAt": instance.created_at,
            "updatedAt": instance.created_at,
            "Chatwoot": None,
            "Proxy": None,
            "Rabbitmq": None,
            "Nats": None,
            "Sqs": None,
            "Websocket": None,
            "Setting": None,
            "_count": {"Message": len(instance.messages), "Contact": 0, "Chat": 0},
        }

    async def _fetch_instances(self, request: Request, name: str, body: Any) -> Response:
        key = request.headers.get("apikey", "")
        wanted = request.query_params.get("instanceName")
        with self._lock:
            if key != self.api_key:  # instance.controller.ts fetchInstances: by token
                rows = [
                    self._row(i)
                    for i in self.instances.values()
                    if i.token == key and (not wanted or i.name == wanted)
                ]
                if not rows:
                    return _error(401, "Unauthorized")
                return JSONResponse(rows)
            if wanted:
                if wanted not in self.instances:
                    return _error(404, [f'Instance "{wanted}" not found'])
                return JSONResponse([self._row(self.instances[wanted])])
            return JSONResponse([self._row(i) for i in self.instances.values()])

    async def _connect(self, request: Request, name: str, body: Any) -> Response:
        number = request.query_params.get("number")
        with self._lock:
            instance = self.instances[name]
            if instance.state == "open":
                return JSONResponse({"instance": {"instanceName": name, "state": "open"}})
            if instance.state == "connecting":
                return JSONResponse(instance.qr())
            # close: connectToWhatsapp(number); a session reconnects without a QR.
            instance.state = "connecting"
            if number:
                instance.number = number
            if not instance.session:
                self._new_qr(instance)
            return JSONResponse(instance.qr())

    async def _connection_state(self, request: Request, name: str, body: Any) -> Response:
        with self._lock:
            state = self.instances[name].state
        return JSONResponse({"instance": {"instanceName": name, "state": state}})

    async def _restart(self, request: Request, name: str, body: Any) -> Response:
        with self._lock:
            instance = self.instances[name]
            if instance.state == "close":
                # restartInstance catches its own BadRequestException (a thrown plain object).
                return JSONResponse({"error": True, "message": "[object Object]"})
            if instance.state == "open":
                return JSONResponse({"instance": {"instanceName": name, "state": "open"}})
            return JSONResponse(instance.qr())

    async def _logout(self, request: Request, name: str, body: Any) -> Response:
        with self._lock:
            instance = self.instances[name]
            if instance.state == "close":
                return _error(400, [f'The "{name}" instance is not connected'])
            instance.state = "close"
            instance.session = False
            instance.disconnection_code = 401
            self._queue(
                name, "connection.update", {"instance": name, "state": "close", "statusReason": 401}
            )
            self._queue(name, "logout.instance", None)
        return JSONResponse(
            {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}}
        )

    async def _delete(self, request: Request, name: str, body: Any) -> Response:
        with self._lock:
            instance = self.instances.pop(name)
            self.removed[name] = instance  # its webhook still gets the last events
            if instance.state != "close":
                instance.state = "close"
                self._queue(name, "logout.instance", None)
            self._queue(
                name, "instance.delete", {"instanceName": name, "instanceId": instance.instance_id}
            )
            self._queue(name, "remove.instance", None)
        return JSONResponse(
            {"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}}
        )

    async def _webhook_set(self, request: Request, name: str, body: Any) -> Response:
        hook = body.get("webhook") if isinstance(body, dict) else None
        if not isinstance(hook, dict):
            return _error(400, ['instance requires property "webhook"'])
        problems = [f'webhook requires property "{p}"' for p in ("enabled", "url") if p not in hook]
        events = hook.get("events") or []
        problems += [
            f"webhook.events[{i}] is not one of enum values: {','.join(ALL_EVENTS)}"
            for i, e in enumerate(events)
            if e not in ALL_EVENTS
        ]
        if problems:
            return _error(400, problems)
        with self._lock:
            instance = self.instances[name]
            enabled = hook.get("enabled") is True
            instance.webhook = {
                "enabled": enabled,
                "url": hook.get("url"),
                "headers": hook.get("headers"),
                "events": (list(events) or list(ALL_EVENTS)) if enabled else [],
                "webhookByEvents": bool(hook.get("byEvents")),
                "webhookBase64": bool(hook.get("base64")),
                "byEvents": bool(hook.get("byEvents")),
            }
            row = self._webhook_row(instance)
        return JSONResponse(row, status_code=201)

    async def _websocket_set(self, request: Request, name: str, body: Any) -> Response:
        # websocket.router.ts + event.controller.ts set(): with WEBSOCKET_ENABLED=false Evolution
        # answers 201 with an empty body and stores nothing.
        if not self.websocket_enabled:
            return Response(status_code=201)
        sock = body.get("websocket") if isinstance(body, dict) else None
        if not isinstance(sock, dict) or "enabled" not in sock:
            return _error(400, ['websocket requires property "enabled"'])
        events = sock.get("events") or []
        with self._lock:
            instance = self.instances[name]
            enabled = sock.get("enabled") is True
            instance.websocket = {
                "enabled": enabled,
                "events": (list(events) or list(ALL_EVENTS)) if enabled else [],
            }
            row = {
                "id": f"ws{instance.instance_id[:8]}",
                "enabled": enabled,
                "events": instance.websocket["events"],
                "instanceId": instance.instance_id,
            }
        return JSONResponse(row, status_code=201)

    # --- Socket.IO (websocket.controller.ts) ------------------------------------------------

    def _socketio_app(self) -> Any:
        import socketio

        sio = socketio.AsyncServer(async_mode="asgi", namespaces="*", logger=False)
        self.sio = sio

        async def connect(
            namespace: str, sid: str, environ: dict[str, Any], auth: Any = None
        ) -> bool:
            # allowRequest: ?apikey= (or the apikey header) must be an instance token or the
            # global key; otherwise the handshake is refused.
            from urllib.parse import parse_qs

            self._sio_loop = asyncio.get_running_loop()
            self.socket_queries.append(environ.get("QUERY_STRING", ""))
            query = parse_qs(environ.get("QUERY_STRING", ""))
            key = (query.get("apikey") or [""])[0] or environ.get("HTTP_APIKEY", "")
            with self._lock:
                known = secrets.compare_digest(key, self.api_key) or any(
                    secrets.compare_digest(key, i.token) for i in self.instances.values()
                )
                if self.refuse_sockets:
                    return False
                if known:
                    self.socket_clients[namespace] += 1
            return bool(key) and known

        async def disconnect(namespace: str, sid: str, *args: Any) -> None:
            with self._lock:
                self.socket_clients[namespace] -= 1

        sio.on("connect", connect, namespace="*")
        sio.on("disconnect", disconnect, namespace="*")
        return socketio.ASGIApp(sio, other_asgi_app=self.starlette)

    async def emit_socket(self, name: str, event: str, data: Any) -> bool:
        """Emit one event to ``/{name}`` as Evolution does; False when not subscribed."""
        if self.sio is None or self._sio_loop is None:
            return False
        with self._lock:
            instance = self.instances.get(name) or self.removed.get(name)
            sock = copy.deepcopy(instance.websocket) if instance is not None else None
            owner = instance.owner_jid if instance is not None else ""
            token = instance.token if instance is not None else ""
        if not sock or not sock.get("enabled") or upper_event(event) not in sock["events"]:
            return False
        message = {
            "event": dotted_event(event),
            "instance": name,
            "data": data,
            "server_url": self.server_url,
            "date_time": datetime.now().isoformat(timespec="milliseconds") + "Z",
            "sender": owner or None,
            "apikey": token if self.expose_apikey else None,
        }
        future = asyncio.run_coroutine_threadsafe(
            self.sio.emit(dotted_event(event), message, namespace=f"/{name}"), self._sio_loop
        )
        await asyncio.wrap_future(future)
        return True

    async def disconnect_sockets(self, name: str) -> None:
        """The server drops every client of ``/{name}`` (a restart, a network cut)."""
        if self.sio is None or self._sio_loop is None:
            return
        sio = self.sio

        async def drop() -> None:
            for sid, _ in list(sio.manager.get_participants(f"/{name}", None)):
                await sio.disconnect(sid, namespace=f"/{name}")

        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(drop(), self._sio_loop))

    def _webhook_row(self, instance: FakeInstance) -> dict[str, Any]:
        hook = instance.webhook or {}
        return {
            "id": f"wh{instance.instance_id[:8]}",
            "url": hook.get("url"),
            "headers": hook.get("headers"),
            "enabled": hook.get("enabled"),
            "events": hook.get("events"),
            "webhookByEvents": hook.get("webhookByEvents"),
            "webhookBase64": hook.get("webhookBase64"),
            "createdAt": instance.created_at,
            "updatedAt": instance.created_at,
            "instanceId": instance.instance_id,
        }

    async def _webhook_find(self, request: Request, name: str, body: Any) -> Response:
        with self._lock:
            instance = self.instances[name]
            return JSONResponse(self._webhook_row(instance) if instance.webhook else None)

    # --- sends ----------------------------------------------------------------------------------

    def _pre_send(self, name: str, number: Any) -> Response | str:
        """whatsappNumber (outside sendMessageWithTyping's try), then the recipient's jid."""
        instance = self.instances[name]
        if instance.state != "open":
            return _error(500, "Connection Closed")
        if not isinstance(number, str) or not number:
            return _error(400, ['instance requires property "number"'])
        jid = create_jid(number)
        if jid.split("@")[0] in self.unregistered or number in self.unregistered:
            return _error(400, [{"jid": jid, "exists": False, "number": number}])
        return jid

    def _accept(
        self,
        name: str,
        route: str,
        body: dict[str, Any],
        jid: str,
        content: dict[str, Any],
    ) -> Response:
        quoted = body.get("quoted") if isinstance(body.get("quoted"), dict) else None
        context = None
        instance = self.instances[name]
        if quoted:
            target = str((quoted.get("key") or {}).get("id", ""))
            found = next((m for m in instance.messages if m["key"]["id"] == target), None)
            if found is not None:
                context = {
                    "stanzaId": target,
                    "participant": found["key"].get("participant") or found["key"]["remoteJid"],
                    "quotedMessage": found["message"],
                }
        record = {
            "key": {"remoteJid": jid, "fromMe": True, "id": message_id()},
            "pushName": "Você",
            "status": "PENDING",
            "message": content,
            "contextInfo": context,
            "messageType": next(iter(content)),
            "messageTimestamp": int(time.time()),
            "instanceId": instance.instance_id,
            "source": "web",
        }
        with self._lock:
            self.sent.append({"name": name, "route": route, "body": body, "answer": record})
            instance.messages.append(self._stored(record))
            self._queue(name, "send.message", record)
        return JSONResponse(record, status_code=201)

    async def _send_text(self, request: Request, name: str, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error(400, ["instance is not of a type(s) object"])
        missing = [f'instance requires property "{p}"' for p in ("number", "text") if p not in body]
        if missing:
            return _error(400, missing)
        if not isinstance(body["text"], str) or not body["text"].strip():
            return _error(400, ["Text is required"])
        jid = self._pre_send(name, body["number"])
        if isinstance(jid, Response):
            return jid
        return self._accept(name, "sendText", body, jid, {"conversation": body["text"]})

    def _media_ok(self, media: Any) -> bool:
        if not isinstance(media, str) or not media:
            return False
        if re.match(r"^https?://", media):
            return True
        try:
            base64.b64decode(media, validate=True)
        except ValueError:
            return False
        return True

    async def _send_media(self, request: Request, name: str, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error(400, ["instance is not of a type(s) object"])
        kind = body.get("mediatype")
        if kind not in ("image", "document", "video", "audio"):
            return _error(
                400, ["instance.mediatype is not one of enum values: image,document,video,audio"]
            )
        jid = self._pre_send(name, body.get("number"))
        if isinstance(jid, Response):
            return jid
        if not self._media_ok(body.get("media")):
            # prepareMediaMessage -> InternalServerErrorException(error.toString())
            return _error(500, ["Error: Input buffer contains unsupported image format"])
        if (
            kind == "document"
            and not body.get("fileName")
            and not re.match(r".*/(.+?)\.", str(body.get("media")))
        ):
            return _error(500, ["TypeError: Cannot read properties of null (reading '1')"])
        part: dict[str, Any] = {
            "url": "https://mmg.whatsapp.net/o1/v/t62.7118-24/fake.enc",
            "mimetype": body.get("mimetype") or "application/octet-stream",
            "fileLength": long_of(1234),
            "caption": body.get("caption"),
            "fileName": body.get("fileName"),
        }
        return self._accept(name, "sendMedia", body, jid, {f"{kind}Message": part})

    async def _send_audio(self, request: Request, name: str, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error(400, ["instance is not of a type(s) object"])
        jid = self._pre_send(name, body.get("number"))
        if isinstance(jid, Response):
            return jid
        if not self._media_ok(body.get("audio")):
            return _error(400, ["File buffer, URL, or base64 audio is required"])
        part = {"mimetype": "audio/ogg; codecs=opus", "ptt": True, "seconds": 3}
        return self._accept(name, "sendWhatsAppAudio", body, jid, {"audioMessage": part})

    async def _send_sticker(self, request: Request, name: str, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error(400, ["instance is not of a type(s) object"])
        jid = self._pre_send(name, body.get("number"))
        if isinstance(jid, Response):
            return jid
        if not self._media_ok(body.get("sticker")):
            return _error(500, ["Error: Input buffer contains unsupported image format"])
        part = {"mimetype": "image/webp", "isAnimated": False}
        return self._accept(name, "sendSticker", body, jid, {"stickerMessage": part})

    async def _send_reaction(self, request: Request, name: str, body: Any) -> Response:
        key = body.get("key") if isinstance(body, dict) else None
        problems = []
        if not isinstance(key, dict):
            problems.append('instance requires property "key"')
        else:
            problems += [
                f'instance.key requires property "{p}"'
                for p in ("id", "remoteJid", "fromMe")
                if p not in key
            ]
        if not isinstance(body, dict) or not isinstance(body.get("reaction"), str):
            problems.append('instance requires property "reaction"')
        if problems:
            return _error(400, problems)
        jid = self._pre_send(name, key["remoteJid"])
        if isinstance(jid, Response):
            return jid
        content = {"reactionMessage": {"key": key, "text": body["reaction"]}}
        return self._accept(name, "sendReaction", body, jid, content)

    # --- chat routes ----------------------------------------------------------------------------

    async def _mark_read(self, request: Request, name: str, body: Any) -> Response:
        reads = body.get("readMessages") if isinstance(body, dict) else None
        if not isinstance(reads, list) or not reads:
            return _error(400, ['instance requires property "readMessages"'])
        for i, read in enumerate(reads):
            for p in ("id", "fromMe", "remoteJid"):
                if not isinstance(read, dict) or p not in read:
                    return _error(400, [f'instance.readMessages[{i}] requires property "{p}"'])
        with self._lock:
            self.reads.extend(reads)
        return JSONResponse({"message": "Read messages", "read": "success"}, status_code=201)

    async def _whatsapp_numbers(self, request: Request, name: str, body: Any) -> Response:
        numbers = body.get("numbers") if isinstance(body, dict) else None
        if not isinstance(numbers, list):
            return JSONResponse(error_body(400, ["numbers is required"]), status_code=400)
        out = []
        for number in numbers:
            jid = create_jid(str(number))
            if jid.endswith("@lid"):
                out.append({"jid": jid, "exists": True, "number": number, "lid": "lid"})
                continue
            exists = jid.split("@")[0] not in self.unregistered and number not in self.unregistered
            row: dict[str, Any] = {"jid": jid, "exists": exists, "number": number}
            if jid in self.names:
                row["name"] = self.names[jid]
            out.append(row)
        return JSONResponse(out)

    async def _find_messages(self, request: Request, name: str, body: Any) -> Response:
        query = body if isinstance(body, dict) else {}
        where = query.get("where") if isinstance(query.get("where"), dict) else {}
        key = where.get("key") if isinstance(where.get("key"), dict) else {}
        offset = query.get("offset") or 50
        page = query.get("page") or 1
        if not isinstance(offset, int) or not isinstance(page, int) or offset <= 0 or page <= 0:
            return _error(500, "Invalid value for argument `take`")
        with self._lock:
            rows = [copy.deepcopy(m) for m in self.instances[name].messages]
        if key.get("id"):
            rows = [r for r in rows if r["key"].get("id") == key["id"]]
        if key.get("remoteJid"):
            rows = [
                r
                for r in rows
                if key["remoteJid"] in (r["key"].get("remoteJid"), r["key"].get("remoteJidAlt"))
            ]
        if key.get("fromMe"):
            rows = [r for r in rows if r["key"].get("fromMe") is True]
        rows.sort(key=lambda r: -_seconds(r["messageTimestamp"]))
        total = len(rows)
        chunk = rows[offset * (page - 1) : offset * page]
        for row in chunk:
            row.pop("status", None)  # fetchMessages selects no status column
        return JSONResponse(
            {
                "messages": {
                    "total": total,
                    "pages": math.ceil(total / offset),
                    "currentPage": page,
                    "records": chunk,
                }
            }
        )


def _seconds(value: Any) -> float:
    if isinstance(value, dict):
        return float((value.get("high", 0) << 32) + (value.get("low", 0) & 0xFFFFFFFF))
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
