"""The adapter of one number on the self-hosted Baileys gateway (one gateway "instance").

The gateway API (issue 3)::

    GET    /health                              liveness (no token needed)
    GET    /api/instances                       list            (master token)
    POST   /api/instances                       create          (master token)
    GET    /api/instance/:id/status             status          (instance or master token)
    POST   /api/instance/:id/connect            start the socket / pairing
    POST   /api/instance/:id/disconnect         stop and unlink
    DELETE /api/instance/:id                    delete          (master token)
    GET    /api/instance/:id/qrcode             the current QR
    POST   /api/instance/:id/send               {to | phone, message}: a text

Calls carry ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, Final
from urllib.parse import quote

import httpx

from sync.domain.events import ConnectionEvent, ProviderEvent, QrEvent
from sync.domain.messages import OutgoingMessage
from sync.domain.models import ConnectionState, MessageType
from sync.providers.accounts import Secret
from sync.providers.base import (
    AccountInfo,
    AuthError,
    Capabilities,
    DeliveryUnknown,
    EventObserver,
    EventSink,
    NotSent,
    PermanentSendError,
    ProviderError,
    RateLimited,
    SendResult,
)
from sync.providers.gateway.account import GatewayAccount
from sync.providers.gateway.connection import GatewayLink, Status, parse_status
from sync.providers.gateway.errors import (
    ERROR_DETAIL_MAX,
    INVALID_NUMBER,
    NOT_CONNECTED,
    InstanceGone,
    NotConnected,
    retry_wait,
)
from sync.providers.gateway.limits import MAX_TEXT_LENGTH
from sync.providers.gateway.provider import PROVIDER
from sync.providers.gateway.values import error_text, find_str, jid_of, qr_of
from sync.providers.http import json_value

log = logging.getLogger(__name__)

# Pairing: the QR appears a moment after ``connect`` (Baileys emits it from
# ``connection.update``), so ``/qrcode`` is asked again a few times before giving up.
QR_POLL_TRIES: Final = 15
QR_POLL_EVERY_S: Final = 1.0
# E.164: at most 15 digits with the country code; 7 covers the shortest real ones.
_PHONE_DIGITS = re.compile(r"^[0-9]{7,15}$")


class GatewayAdapter:
    """One number on the self-hosted Baileys gateway (one gateway "instance").

    Readiness: ``ready_to_send()`` is True only once the socket has stayed open for
    ``OPEN_SETTLE_S`` (counted from the ``ready`` event, or from a status poll or heartbeat
    saying connected when no ``ready`` was seen) and while the last sign of life (heartbeat,
    ``ready`` or a status poll saying connected) is at most ``HEARTBEAT_MAX_AGE_S`` old. The
    engine only dispatches to a ready adapter; ``send`` refuses (``NotSent``, without any call)
    when not ready, so a message waits in the outbox and goes out once.

    Reconnects: a transient ``disconnected`` makes the adapter ask the gateway to connect again
    (``POST .../connect``) with exponential backoff and full jitter, one attempt in flight.
    A logout, unpairing, ban or failed authentication instead marks the number as needing a
    re-pair (``needs_repair_reason``) and nothing reconnects until the user pairs again.

    ``clock`` (monotonic seconds), ``sleep`` and ``rng`` (uniform in [0, 1)) are injectable so
    tests drive time. ``webhook_url``, when given, is sent as ``webhookUrl`` when the adapter
    creates the instance (the design does not say how the gateway learns the receiver's
    address; a gateway configured otherwise ignores it).
    """

    kind: ClassVar[str] = PROVIDER.kind
    capabilities: ClassVar[Capabilities] = PROVIDER.capabilities

    def __init__(
        self,
        account: GatewayAccount,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        webhook_url: str = "",
        observer: EventObserver | None = None,
    ) -> None:
        # Every event of the gateway reaches Caixa through the receiver, whose observers see
        # it: ``observer`` is unused (see ``AdapterFactory``).
        del observer
        self.account_id = account.account_id
        self._account = account
        self._http = http
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._webhook_url = webhook_url
        self._base = account.base_url.rstrip("/")
        self._path = f"/api/instance/{quote(account.instance, safe='')}"
        self._issued_token: Secret | None = None
        self._sink: EventSink | None = None
        self._link = GatewayLink(
            account.account_id,
            clock=clock,
            sleep=sleep,
            rng=rng,
            status=self._status,
            connect=lambda: self._call("POST", f"{self._path}/connect", self._instance_token()),
            emit=self._emit,
        )

    def __repr__(self) -> str:
        return (
            f"GatewayAdapter(kind={self.kind!r}, account_id={self.account_id}, "
            f"name={self._account.name!r})"
        )

    # --- what the engine and the UI read ---------------------------------------------------------

    def ready_to_send(self) -> bool:
        """Open for ``OPEN_SETTLE_S`` and alive within ``HEARTBEAT_MAX_AGE_S`` (see the class)."""
        return self._link.ready()

    @property
    def needs_repair_reason(self) -> str:
        """Why the number must be paired again ("" while it need not)."""
        return self._link.repair_reason

    @property
    def phone(self) -> str:
        """The linked phone's digits, once the gateway said (``ready`` or a status)."""
        return self._link.phone

    @property
    def issued_secrets(self) -> dict[str, Secret]:
        """The account's secrets the gateway issued (the instance token, when this adapter made
        the instance with the master token), by field name, for the caller to keep."""
        return {"instance_token": self._issued_token} if self._issued_token else {}

    @property
    def issued_instance_token(self) -> Secret | None:
        """The instance token the gateway returned when this adapter created the instance.

        The caller stores it (keyring) when the account had only the master token.
        """
        return self._issued_token

    @property
    def reconnecting(self) -> bool:
        """Whether a reconnect attempt is scheduled or running."""
        return self._link.reconnecting

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        """Ask the gateway how the instance stands, tell ``sink``, reconnect if it dropped."""
        self._sink = sink
        self._link.closed = False
        try:
            info = await self.check()
        except AuthError as exc:
            self._link.repair_reason = f"the gateway refused the token ({exc.detail})"
            event = ConnectionEvent(
                self.account_id,
                ConnectionState.OFFLINE,
                needs_repair=True,
                reason=self._link.repair_reason,
            )
        except ProviderError as exc:
            event = ConnectionEvent(
                self.account_id, ConnectionState.OFFLINE, reason=f"gateway unreachable: {exc}"
            )
            self._link.schedule_reconnect()
        else:
            repair = info.state in (ConnectionState.NEEDS_REPAIR, ConnectionState.BLOCKED)
            event = ConnectionEvent(
                self.account_id, info.state, needs_repair=repair, phone=info.phone
            )
            if info.state is ConnectionState.OFFLINE:
                self._link.schedule_reconnect()
        await sink([event])

    async def aclose(self) -> None:
        """Stop reconnecting. The HTTP client belongs to the caller and stays open."""
        self._link.closed = True
        await self._link.cancel_reconnect()

    def observe(self, events: Sequence[ProviderEvent]) -> None:
        """Follow this instance's connection events as the receiver ingests them.

        ``ready`` (CONNECTED) opens the socket and starts the 3-second clock; a heartbeat
        (CONNECTED with reason ``heartbeat``) keeps it alive, or opens it when no ``ready`` was
        seen, but never undoes a logout or a needed re-pair (only ``ready`` does);
        ``authenticated`` (CONNECTING) and a QR close it; a transient ``disconnected`` (OFFLINE)
        closes it and schedules a reconnect; a logout, ban or auth failure (``needs_repair``)
        closes it for good until the next pairing.
        """
        self._link.observe(events)

    def check_liveness(self) -> bool:
        """The watchdog (see ``GatewayLink.check_liveness``), called every
        ``UPKEEP_INTERVAL_S`` by the dispatcher; True when it dropped the socket now."""
        return self._link.check_liveness()

    async def _emit(self, event: ProviderEvent) -> None:
        if self._sink is not None:
            try:
                await self._sink([event])
            except Exception:
                log.exception("gateway connection event not stored")

    # --- calls -----------------------------------------------------------------------------------

    async def check(self) -> AccountInfo:
        """Who the number is and how its link stands (``/health``, then ``/status``).

        A status saying connected counts as a sign of life and, when the socket was not known to
        be open, starts the 3-second clock. ``AuthError`` when the token is refused; another
        ``ProviderError`` when the gateway cannot be reached.
        """
        await self._health()
        status = await self._status()
        if status.state is ConnectionState.CONNECTED:
            self._link.socket_opened()
            if status.phone:
                self._link.phone = status.phone
        elif status.state is not None:
            self._link.socket_closed()
            if status.state in (ConnectionState.NEEDS_REPAIR, ConnectionState.BLOCKED):
                self._link.repair_reason = status.reason or f"the gateway says {status.state}"
        return AccountInfo(
            phone=status.phone or self._link.phone,
            display_name=status.name,
            state=status.state or ConnectionState.OFFLINE,
        )

    async def _health(self) -> None:
        try:
            response = await self._http.get(f"{self._base}/health")
        except httpx.HTTPError as exc:
            raise NotSent(f"gateway unreachable ({type(exc).__name__})") from None
        # An older gateway without /health answers 404: the status call below decides.
        if response.status_code >= 500:
            raise NotSent(f"gateway unhealthy (HTTP {response.status_code})")

    async def _status(self) -> Status:
        response = await self._call("GET", f"{self._path}/status", self._instance_token())
        return parse_status(json_value(response))

    async def request_pairing(self, *, phone: str = "") -> QrEvent:
        """Create the instance if needed (master token), connect, and return the first QR.

        The design has no pairing-code call: ``phone`` is passed to ``connect`` for a gateway
        that supports it, and a ``pairingCode`` in its answers is returned. When the instance
        is already linked there is nothing to scan: the QR event comes back empty and the
        socket counts as open.
        """
        await self._link.cancel_reconnect()
        self._link.repair_reason = ""
        self._link.user_disconnected = False
        if self._account.master_token:
            await self._ensure_instance()
        body = {"phone": "".join(ch for ch in phone if ch.isdigit())} if phone else None
        answer = json_value(
            await self._call("POST", f"{self._path}/connect", self._instance_token(), json=body)
        )
        from_connect = qr_of(answer)
        for attempt in range(QR_POLL_TRIES):
            qr = await self._qrcode()
            if qr is not None:
                return qr
            if attempt + 1 < QR_POLL_TRIES:
                await self._sleep(QR_POLL_EVERY_S)
        if from_connect[0] or from_connect[1]:
            return QrEvent(self.account_id, qr_code=from_connect[0], pairing_code=from_connect[1])
        raise NotSent("the gateway produced no QR code; try again")

    async def _qrcode(self) -> QrEvent | None:
        """The current QR, an empty event when already linked, None when not there yet."""
        try:
            response = await self._call("GET", f"{self._path}/qrcode", self._instance_token())
        except (InstanceGone, NotConnected):
            return None  # 404 "no QR yet" / 409 "not ready yet": ask again
        data = json_value(response)
        qr_code, pairing_code = qr_of(data)
        if qr_code or pairing_code:
            return QrEvent(self.account_id, qr_code=qr_code, pairing_code=pairing_code)
        if parse_status(data).state is ConnectionState.CONNECTED:
            self._link.socket_opened()
            return QrEvent(self.account_id)
        return None

    async def _ensure_instance(self) -> None:
        master = self._account.master_token
        listing = json_value(await self._call("GET", "/api/instances", master))
        if self._account.instance in _instance_ids(listing):
            return
        body: dict[str, Any] = {"instanceId": self._account.instance}
        if self._webhook_url:
            body["webhookUrl"] = self._webhook_url
        try:
            created = await self._call("POST", "/api/instances", master, json=body)
        except NotConnected as exc:
            if exc.status != 409:
                raise
            return  # made meanwhile (another window, another device): reuse it
        token = find_str(json_value(created), ("token",), ("instanceToken",), ("data", "token"))
        if token and not self._account.instance_token:
            self._issued_token = Secret(token)

    async def logout(self) -> None:
        """Unlink the phone (``POST .../disconnect``); no reconnect until the next pairing."""
        self._link.user_disconnected = True
        await self._link.cancel_reconnect()
        self._link.socket_closed()
        await self._call("POST", f"{self._path}/disconnect", self._instance_token())

    async def delete(self) -> None:
        """Delete the instance on the gateway (needs the master token)."""
        if not self._account.master_token:
            raise AuthError("deleting a gateway instance needs the master token")
        self._link.user_disconnected = True
        await self._link.cancel_reconnect()
        self._link.socket_closed()
        await self._call("DELETE", self._path, self._account.master_token)

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Post one text (``{to, message}``) and return the gateway's message id.

        Refused without any call when not ready (``NotSent``: the outbox keeps it), when the
        message is not a text, is empty or too long, or has no usable recipient
        (``PermanentSendError``).
        """
        to = _recipient(message)
        if message.type is not MessageType.TEXT:
            raise PermanentSendError(f"the gateway sends text only, not {message.type.value}")
        if not message.text.strip():
            raise PermanentSendError("empty message")
        if len(message.text) > MAX_TEXT_LENGTH:
            raise PermanentSendError(f"text longer than {MAX_TEXT_LENGTH} characters")
        if not self.ready_to_send():
            raise NotSent(self._link.not_ready_reason())
        try:
            response = await self._call(
                "POST",
                f"{self._path}/send",
                self._instance_token(),
                json={"to": to, "message": message.text},
                sending=True,
            )
        except NotConnected as exc:
            # The gateway says its socket is not open: wait for it (and help it come back).
            # Transport failures say nothing about the socket and leave readiness alone.
            self._link.socket_closed()
            self._link.schedule_reconnect()
            raise NotSent(exc.detail) from None
        except InstanceGone as exc:
            raise PermanentSendError(exc.detail) from None
        data = json_value(response)
        if isinstance(data, Mapping) and data.get("success") is False:
            detail = self._scrub(error_text(data) or "the gateway did not send it")
            if NOT_CONNECTED.search(detail):
                self._link.socket_closed()
                self._link.schedule_reconnect()
                raise NotSent(detail)
            raise PermanentSendError(detail)
        provider_id = _message_id_of(data)
        if not provider_id:
            # It took the message (2xx) but did not name it: never resend it blindly.
            raise DeliveryUnknown("the gateway accepted the message without an id")
        return SendResult(provider_id)

    async def mark_read(self, chat_key: str, provider_message_ids: Sequence[str]) -> None:
        """Nothing to do: the gateway's API has no read-receipt call."""

    def _instance_token(self) -> Secret:
        # Either token is enough for the instance's own calls; the instance token is narrower.
        if self._account.instance_token:
            return self._account.instance_token
        if self._issued_token is not None:
            return self._issued_token
        return self._account.master_token

    def _scrub(self, text: str) -> str:
        for secret in (
            self._account.master_token,
            self._account.instance_token,
            self._issued_token,
        ):
            if secret:
                text = text.replace(secret.reveal(), "***")
        return text[:ERROR_DETAIL_MAX]

    async def _call(
        self,
        method: str,
        path: str,
        token: Secret,
        *,
        json: Any = None,
        sending: bool = False,
    ) -> httpx.Response:
        """One authenticated call, its failures mapped to the errors of ``base.py``.

        Transport errors before the request was fully written (connect, connect timeout, pool
        timeout, write) are ``NotSent``; after (read timeout, dropped connection) they are
        ``DeliveryUnknown`` for a send and ``NotSent`` for the other calls, which are safe to
        repeat.
        """
        if not token:
            raise AuthError("no token for the gateway")
        headers = {"Authorization": f"Bearer {token.reveal()}", "Accept": "application/json"}
        try:
            response = await self._http.request(
                method, f"{self._base}{path}", headers=headers, json=json
            )
        except (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.PoolTimeout,
            httpx.WriteError,
            httpx.WriteTimeout,
            httpx.UnsupportedProtocol,
            httpx.InvalidURL,
        ) as exc:
            raise NotSent(f"gateway unreachable ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            if sending:
                raise DeliveryUnknown(
                    f"no answer from the gateway ({type(exc).__name__})"
                ) from None
            raise NotSent(f"no answer from the gateway ({type(exc).__name__})") from None
        status = response.status_code
        if status < 300:
            return response
        detail = self._scrub(error_text(json_value(response)) or f"HTTP {status}")
        if status in (401, 403):
            raise AuthError(f"HTTP {status}: {detail}")
        if status == 429:
            raise RateLimited(f"HTTP 429: {detail}", retry_after=retry_wait(response))
        if status == 404:
            raise InstanceGone(f"HTTP 404: {detail}")
        if status in (409, 425, 503) or (status < 500 and NOT_CONNECTED.search(detail)):
            raise NotConnected(f"HTTP {status}: {detail}", status)
        if status < 500:
            if INVALID_NUMBER.search(detail):
                raise PermanentSendError(f"invalid recipient: {detail}")
            raise PermanentSendError(f"HTTP {status}: {detail}")
        if sending:  # a 500 may come after the socket relayed the message
            raise DeliveryUnknown(f"HTTP {status}: {detail}")
        raise NotSent(f"HTTP {status}: {detail}")


def _recipient(message: OutgoingMessage) -> str:
    """What ``/send`` gets as ``to``: the phone's digits, else a group or LID JID."""
    digits = "".join(ch for ch in message.to_phone if ch.isdigit())
    if digits:
        if not _PHONE_DIGITS.match(digits):
            raise PermanentSendError("invalid recipient: not a phone number with country code")
        return digits
    jid = jid_of(message.chat_key)
    if jid is not None and (jid.is_group or jid.is_lid):
        return jid.normalized
    if jid is not None and _PHONE_DIGITS.match(jid.phone):
        return jid.phone
    raise PermanentSendError("invalid recipient: no phone number or chat id")


def _message_id_of(data: Any) -> str:
    """The id in a ``/send`` answer: ``messageId``, ``id``, or Baileys' ``key.id``.

    ``sock.sendMessage`` resolves to the sent ``WAMessage`` (``key.id``); whatsapp-web.js's
    ``Message.id`` is an object whose ``id`` is the same raw id (``_serialized`` adds the chat).
    """
    for root in (data, data.get("data") if isinstance(data, Mapping) else None):
        found = find_str(
            root,
            ("messageId",),
            ("message_id",),
            ("id",),
            ("key", "id"),
            ("id", "id"),
            ("id", "_serialized"),
            ("message", "key", "id"),
            ("result", "key", "id"),
        )
        if found:
            return found[:512]
    return ""


def _instance_ids(data: Any) -> set[str]:
    """Instance names in a ``GET /api/instances`` answer (a list, or ``{instances: [...]}``)."""
    items: Any = data
    if isinstance(data, Mapping):
        items = data.get("instances", data.get("data", []))
        if isinstance(items, Mapping):  # {"instances": {"<id>": {...}}}
            return {str(k) for k in items}
    found: set[str] = set()
    if isinstance(items, list):
        for item in items:
            if isinstance(item, str):
                found.add(item)
            else:
                name = find_str(item, ("instanceId",), ("id",), ("name",), ("instance",))
                if name:
                    found.add(name)
    return found
