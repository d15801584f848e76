"""The self-hosted VPS gateway: a small Baileys script of the design, one number per instance.

There is no public repository for the gateway itself: its API is the one the design states
(issue 3), its events are named after whatsapp-web.js's client events, and what its socket does
is what Baileys does. The sources this module reads for every wire detail:

- whatsapp-web.js (``pedroslopez/whatsapp-web.js``): ``src/util/Constants.js`` (``Events``:
  ``qr``, ``authenticated``, ``auth_failure``, ``ready``, ``message``, ``disconnected``;
  ``WAState``), ``src/Client.js`` (``disconnected`` carries ``'LOGOUT'`` when the phone unlinks
  the device, a ``WAState`` such as ``CONFLICT``/``UNPAIRED``/``TOS_BLOCK`` when the page state
  leaves the accepted ones, or ``'Max qrcode retries reached'``; ``auth_failure`` carries a
  message; ``ready`` is emitted once ``client.info.wid`` is known), ``src/structures/Message.js``
  (``id``, ``from``, ``to``, ``author``, ``body``, ``type``, ``timestamp`` in seconds, ``fromMe``).
- Baileys (``WhiskeySockets/Baileys``): ``src/Types/index.ts`` (``DisconnectReason``: 401
  loggedOut, 403 forbidden, 408 connectionLost/timedOut, 411 multideviceMismatch, 428
  connectionClosed, 440 connectionReplaced, 500 badSession, 503 unavailableService, 515
  restartRequired), ``src/WABinary/jid-utils.ts`` (JIDs ``user[_agent][:device]@server`` with
  servers ``s.whatsapp.net``/``c.us`` (phone numbers), ``lid``, ``g.us`` (groups),
  ``broadcast`` (``status@broadcast``), ``newsletter``, ``hosted``/``hosted.lid``),
  ``src/Utils/messages.ts`` (``normalizeMessageContent``: the wrappers ephemeral/view-once/
  document-with-caption/edited) and ``WAProto/WAProto.proto`` (message content fields,
  ``ProtocolMessage.Type`` REVOKE = 0, MESSAGE_EDIT = 14).

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

Calls carry ``Authorization: Bearer <token>``. The gateway POSTs events to the receiver
(``/hooks/gateway/{instance}``) as ``{event, instanceId, data, timestamp}`` with
``Authorization: Bearer <instance token>``; ``parse_webhook`` below turns them into normalized
events, and ``GatewayAdapter.observe`` follows the connection ones (readiness, reconnects).

Where the design is silent this module accepts every reasonable shape (a field's aliases, ids as
strings or whatsapp-web.js objects, timestamps in seconds, milliseconds or ISO 8601) and says why
at each place; where it matters (tokens, which instance a call is for) it is strict.

Decisions the design leaves open, made here:

- Webhook tokens: the instance token, or the same account's master token (which controls every
  instance anyway, and is all a number added with the master token alone knows). The body's
  ``instanceId`` must be the path's (403 otherwise).
- A ``heartbeat`` becomes a ``ConnectionEvent`` (CONNECTED, reason ``HEARTBEAT_REASON``): a sign
  of life with no new event kind. One whose data says the socket is down becomes that state.
- ``disconnected``: a logout, an unlinked device, an exhausted QR, Baileys 401/402/406/500 need a
  re-pair (NEEDS_REPAIR); a ban (``TOS_BLOCK``, Baileys 403) is BLOCKED, also needing the user;
  everything else, ``CONFLICT``/440 included (the session is still valid), is OFFLINE and
  reconnected with backoff.
- One event per call: ``data`` is one object (the design's ``forwardToEngines`` posts each
  message as it comes), so a call whose ``data`` cannot be read is refused whole (400), and a
  parser bug on it too. There is no batch here in which one broken item could be skipped and
  its neighbours kept, as Meta's entries and Evolution's lists are; a ``data`` list is not the
  gateway's format and is refused like any other wrong shape.
- ``request_pairing`` on an instance already linked returns an empty ``QrEvent``.
- An instance the adapter creates with the master token comes back with its own token
  (``issued_instance_token``), for the caller to keep with the number.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Final
from urllib.parse import quote

import httpx

from sync.domain.events import (
    ConnectionEvent,
    EditEvent,
    MessageEvent,
    ProviderEvent,
    QrEvent,
    ReactionEvent,
    RevokeEvent,
)
from sync.domain.ids import chat_key_for_phone
from sync.domain.messages import OutgoingMessage
from sync.domain.models import ConnectionState, Direction, MessageType
from sync.providers.accounts import GatewayAccount, Secret
from sync.providers.base import (
    AccountInfo,
    AuthError,
    Capabilities,
    DeliveryUnknown,
    EventSink,
    NotSent,
    PermanentSendError,
    ProviderError,
    RateLimited,
    SendResult,
    WebhookAuthError,
    WebhookPayloadError,
    WebhookRequest,
    WebhookResult,
)

log = logging.getLogger(__name__)

# --- readiness and reconnects --------------------------------------------------------------------

# A Baileys socket that just opened may still be syncing keys and app state, and may close again
# at once (e.g. 515 restartRequired right after the first pairing, see Baileys' README "Summary of
# Events on First Connection"): a send is attempted only once it has stayed open this long.
OPEN_SETTLE_S: Final = 3.0
# The gateway sends a heartbeat while its socket is up; with none for this long the link is
# presumed dead (two missed beats of a 30 s heartbeat, plus slack), and nothing is sent.
HEARTBEAT_MAX_AGE_S: Final = 75.0
# Reconnects: exponential backoff with full jitter (delay = random() * min(cap, base * 2**n)),
# one attempt in flight at a time; after an attempt, give the socket this long to report
# ``ready`` before trying again. A socket that stayed open this long resets the backoff.
RECONNECT_BASE_S: Final = 2.0
RECONNECT_CAP_S: Final = 120.0
RECONNECT_WAIT_S: Final = 30.0
# How often the workspace asks each gateway number whether its heartbeats stopped.
LIVENESS_PERIOD_S: Final = 15.0
STABLE_OPEN_S: Final = 60.0
# Pairing: the QR appears a moment after ``connect`` (Baileys emits it from
# ``connection.update``), so ``/qrcode`` is asked again a few times before giving up.
QR_POLL_TRIES: Final = 15
QR_POLL_EVERY_S: Final = 1.0
# 429 without a Retry-After: the gateway documents no limit, so wait a little while.
DEFAULT_RETRY_AFTER_S: Final = 10.0

# WhatsApp clients cut a text at 65,536 characters; neither Baileys nor the gateway documents a
# lower limit, so longer texts are refused here, before any call.
MAX_TEXT_LENGTH: Final = 65536
# E.164: at most 15 digits with the country code; 7 covers the shortest real ones.
_PHONE_DIGITS = re.compile(r"^[0-9]{7,15}$")

_ERROR_DETAIL_MAX = 200
_MAX_QR_IMAGE = 1_000_000
_NOT_CONNECTED = re.compile(
    r"not\s*(?:connected|ready|open|logged)|disconnected|no\s+session|connection\s+closed"
    r"|socket\s+(?:is\s+)?(?:closed|not)|qr",
    re.IGNORECASE,
)
_INVALID_NUMBER = re.compile(
    r"invalid|not\s+(?:on|registered|exist)|doesn.?t\s+exist|does\s+not\s+exist|unknown\s+number",
    re.IGNORECASE,
)


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

    kind: ClassVar[str] = "gateway"
    # Text only: the design's ``/send`` takes ``{to, message}`` and nothing else (no media, no
    # quoted reply, no templates); ``reply_to`` is not carried. It echoes no client reference.
    # One send per second: Baileys has no limit of its own, but fast bursts from a linked
    # device are what gets numbers banned.
    capabilities: ClassVar[Capabilities] = Capabilities(
        templates=False,
        max_text_length=MAX_TEXT_LENGTH,
        sends_per_second=1.0,
        needs_qr_link=True,
        media=False,
        echoes_client_ref=False,
    )

    def __init__(
        self,
        account: GatewayAccount,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        webhook_url: str = "",
    ) -> None:
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
        self._closed = False
        # Link state, as far as the adapter knows it.
        self._open_since: float | None = None
        self._alive_at: float | None = None
        self._repair_reason = ""
        self._user_disconnected = False
        self._phone = ""
        # Reconnects.
        self._attempts = 0
        self._reconnect_task: asyncio.Task[None] | None = None
        self._emitting: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return (
            f"GatewayAdapter(kind={self.kind!r}, account_id={self.account_id}, "
            f"name={self._account.name!r})"
        )

    # --- what the engine and the UI read ---------------------------------------------------------

    def ready_to_send(self) -> bool:
        """Open for ``OPEN_SETTLE_S`` and alive within ``HEARTBEAT_MAX_AGE_S`` (see the class)."""
        if self._closed or self._repair_reason or self._open_since is None:
            return False
        now = self._clock()
        alive = self._alive_at if self._alive_at is not None else self._open_since
        return now - self._open_since >= OPEN_SETTLE_S and now - alive <= HEARTBEAT_MAX_AGE_S

    @property
    def needs_repair_reason(self) -> str:
        """Why the number must be paired again ("" while it need not)."""
        return self._repair_reason

    @property
    def phone(self) -> str:
        """The linked phone's digits, once the gateway said (``ready`` or a status)."""
        return self._phone

    @property
    def issued_instance_token(self) -> Secret | None:
        """The instance token the gateway returned when this adapter created the instance.

        The caller stores it (keyring) when the account had only the master token.
        """
        return self._issued_token

    @property
    def reconnecting(self) -> bool:
        """Whether a reconnect attempt is scheduled or running."""
        return self._reconnect_task is not None and not self._reconnect_task.done()

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        """Ask the gateway how the instance stands, tell ``sink``, reconnect if it dropped."""
        self._sink = sink
        self._closed = False
        try:
            info = await self.check()
        except AuthError as exc:
            self._repair_reason = f"the gateway refused the token ({exc.detail})"
            event = ConnectionEvent(
                self.account_id,
                ConnectionState.OFFLINE,
                needs_repair=True,
                reason=self._repair_reason,
            )
        except ProviderError as exc:
            event = ConnectionEvent(
                self.account_id, ConnectionState.OFFLINE, reason=f"gateway unreachable: {exc}"
            )
            self._schedule_reconnect()
        else:
            repair = info.state in (ConnectionState.NEEDS_REPAIR, ConnectionState.BLOCKED)
            event = ConnectionEvent(
                self.account_id, info.state, needs_repair=repair, phone=info.phone
            )
            if info.state is ConnectionState.OFFLINE:
                self._schedule_reconnect()
        await sink([event])

    async def aclose(self) -> None:
        """Stop reconnecting. The HTTP client belongs to the caller and stays open."""
        self._closed = True
        await self._cancel_reconnect()

    def observe(self, events: Sequence[ProviderEvent]) -> None:
        """Follow this instance's connection events as the receiver ingests them.

        ``ready`` (CONNECTED) opens the socket and starts the 3-second clock; a heartbeat
        (CONNECTED with reason ``heartbeat``) keeps it alive, or opens it when no ``ready`` was
        seen, but never undoes a logout or a needed re-pair (only ``ready`` does);
        ``authenticated`` (CONNECTING) and a QR close it; a transient ``disconnected`` (OFFLINE)
        closes it and schedules a reconnect; a logout, ban or auth failure (``needs_repair``)
        closes it for good until the next pairing.
        """
        for event in events:
            if event.account_id != self.account_id:
                continue
            if isinstance(event, QrEvent):
                self._socket_closed()
                self._stop_reconnecting()
            elif isinstance(event, ConnectionEvent):
                self._on_connection(event)

    def _on_connection(self, event: ConnectionEvent) -> None:
        now = self._clock()
        if event.needs_repair or event.state in (
            ConnectionState.NEEDS_REPAIR,
            ConnectionState.BLOCKED,
        ):
            self._socket_closed()
            self._repair_reason = event.reason or str(event.state)
            self._stop_reconnecting()
        elif event.state is ConnectionState.CONNECTED:
            if event.reason == HEARTBEAT_REASON:
                if self._repair_reason or self._user_disconnected:
                    return  # only a new link (``ready``) undoes a logout, a ban, a failed auth
                if self._open_since is None:
                    self._open_since = now
            else:
                self._open_since = now  # a new ``ready`` is a new socket: the clock restarts
            self._alive_at = now
            self._repair_reason = ""
            self._user_disconnected = False
            if event.phone:
                self._phone = event.phone
            self._stop_reconnecting()
        elif event.state is ConnectionState.OFFLINE:
            self._socket_closed()
            self._schedule_reconnect()
        else:  # CONNECTING (authenticated), WAITING_FOR_QR: the gateway is on its way
            self._socket_closed()
            if event.state is ConnectionState.WAITING_FOR_QR:
                self._stop_reconnecting()

    def check_liveness(self) -> bool:
        """The watchdog: a socket with no sign of life for ``HEARTBEAT_MAX_AGE_S`` is dropped.

        Called periodically by the workspace (``LIVENESS_PERIOD_S``). A gateway whose process
        hangs or whose network vanished stops both heartbeats and the ``disconnected`` event,
        so without this the rail would say "connected" forever. The number is shown offline with
        the reason, and a reconnect asks the gateway how the instance really stands (a status
        answering "connected" reopens it at once). True when it dropped the socket now.
        """
        if self._closed or self._open_since is None:
            return False
        alive = self._alive_at if self._alive_at is not None else self._open_since
        silent = self._clock() - alive
        if silent <= HEARTBEAT_MAX_AGE_S:
            return False
        self._socket_closed()
        reason = f"no heartbeat from the gateway for {int(silent)} s"
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return True
        task = loop.create_task(
            self._emit(ConnectionEvent(self.account_id, ConnectionState.OFFLINE, reason=reason))
        )
        self._emitting.add(task)  # the loop keeps only a weak reference to tasks
        task.add_done_callback(self._emitting.discard)
        self._schedule_reconnect()
        return True

    def _socket_closed(self) -> None:
        if self._open_since is not None and self._clock() - self._open_since >= STABLE_OPEN_S:
            self._attempts = 0  # it had been up for a while: start the backoff over
        self._open_since = None
        self._alive_at = None

    def _socket_opened(self) -> None:
        now = self._clock()
        if self._open_since is None:
            self._open_since = now
        self._alive_at = now
        self._repair_reason = ""

    # --- reconnects ------------------------------------------------------------------------------

    def _schedule_reconnect(self) -> None:
        if self._closed or self._repair_reason or self._user_disconnected or self.reconnecting:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # observed outside the loop (a synchronous caller): nothing to run
            return
        self._reconnect_task = loop.create_task(self._reconnect_loop())

    def _stop_reconnecting(self) -> None:
        task = self._reconnect_task
        if task is None or task.done():
            self._reconnect_task = None
        elif task is not _current_task():
            task.cancel()
            self._reconnect_task = None
        # From inside the loop itself (a sink that observes): it ends at its next check.

    async def _cancel_reconnect(self) -> None:
        task = self._reconnect_task
        self._reconnect_task = None
        if task is not None and not task.done() and task is not _current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _gave_up(self) -> bool:
        return (
            self._closed
            or bool(self._repair_reason)
            or self._user_disconnected
            or self._open_since is not None
        )

    async def _reconnect_loop(self) -> None:
        try:
            while not self._gave_up():
                ceiling = min(RECONNECT_CAP_S, RECONNECT_BASE_S * 2.0**self._attempts)
                self._attempts += 1
                await self._sleep(self._rng() * ceiling)
                if self._gave_up():
                    return
                if not await self._reconnect_once():
                    return
                await self._sleep(RECONNECT_WAIT_S)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not kill the loop silently
            log.exception("gateway reconnect failed unexpectedly")

    async def _reconnect_once(self) -> bool:
        """One attempt; False when there is nothing more to try."""
        try:
            status = await self._status()
        except AuthError as exc:
            await self._needs_repair(f"the gateway refused the token ({exc.detail})")
            return False
        except _InstanceGone:
            await self._needs_repair("the instance no longer exists on the gateway")
            return False
        except ProviderError:
            return True  # the gateway is unreachable: try again later
        state = status.state
        if state is ConnectionState.CONNECTED:
            self._socket_opened()
            await self._emit(ConnectionEvent(self.account_id, state, phone=status.phone))
            return False
        if state in (ConnectionState.NEEDS_REPAIR, ConnectionState.BLOCKED):
            await self._needs_repair(status.reason or str(state), state)
            return False
        if state is ConnectionState.WAITING_FOR_QR:
            await self._needs_repair("the gateway shows a QR code: scan it to link again")
            return False
        if state is ConnectionState.CONNECTING:
            return True  # the gateway is already on it; look again later
        await self._emit(
            ConnectionEvent(self.account_id, ConnectionState.CONNECTING, reason="reconnecting")
        )
        try:
            await self._call("POST", f"{self._path}/connect", self._instance_token())
        except AuthError as exc:
            await self._needs_repair(f"the gateway refused the token ({exc.detail})")
            return False
        except _InstanceGone:
            await self._needs_repair("the instance no longer exists on the gateway")
            return False
        except ProviderError:
            pass
        return True

    async def _needs_repair(
        self, reason: str, state: ConnectionState = ConnectionState.NEEDS_REPAIR
    ) -> None:
        self._socket_closed()
        self._repair_reason = reason
        await self._emit(ConnectionEvent(self.account_id, state, needs_repair=True, reason=reason))

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
            self._socket_opened()
            if status.phone:
                self._phone = status.phone
        elif status.state is not None:
            self._socket_closed()
            if status.state in (ConnectionState.NEEDS_REPAIR, ConnectionState.BLOCKED):
                self._repair_reason = status.reason or f"the gateway says {status.state}"
        return AccountInfo(
            phone=status.phone or self._phone,
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

    async def _status(self) -> _Status:
        response = await self._call("GET", f"{self._path}/status", self._instance_token())
        return _parse_status(_json_or_none(response))

    async def request_pairing(self, *, phone: str = "") -> QrEvent:
        """Create the instance if needed (master token), connect, and return the first QR.

        The design has no pairing-code call: ``phone`` is passed to ``connect`` for a gateway
        that supports it, and a ``pairingCode`` in its answers is returned. When the instance
        is already linked there is nothing to scan: the QR event comes back empty and the
        socket counts as open.
        """
        await self._cancel_reconnect()
        self._repair_reason = ""
        self._user_disconnected = False
        if self._account.master_token:
            await self._ensure_instance()
        body = {"phone": "".join(ch for ch in phone if ch.isdigit())} if phone else None
        answer = _json_or_none(
            await self._call("POST", f"{self._path}/connect", self._instance_token(), json=body)
        )
        from_connect = _qr_of(answer)
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
        except (_InstanceGone, _NotConnected):
            return None  # 404 "no QR yet" / 409 "not ready yet": ask again
        data = _json_or_none(response)
        qr_code, pairing_code = _qr_of(data)
        if qr_code or pairing_code:
            return QrEvent(self.account_id, qr_code=qr_code, pairing_code=pairing_code)
        if _parse_status(data).state is ConnectionState.CONNECTED:
            self._socket_opened()
            return QrEvent(self.account_id)
        return None

    async def _ensure_instance(self) -> None:
        master = self._account.master_token
        listing = _json_or_none(await self._call("GET", "/api/instances", master))
        if self._account.instance in _instance_ids(listing):
            return
        body: dict[str, Any] = {"instanceId": self._account.instance}
        if self._webhook_url:
            body["webhookUrl"] = self._webhook_url
        try:
            created = await self._call("POST", "/api/instances", master, json=body)
        except _NotConnected as exc:
            if exc.status != 409:
                raise
            return  # made meanwhile (another window, another device): reuse it
        token = _find_str(_json_or_none(created), ("token",), ("instanceToken",), ("data", "token"))
        if token and not self._account.instance_token:
            self._issued_token = Secret(token)

    async def logout(self) -> None:
        """Unlink the phone (``POST .../disconnect``); no reconnect until the next pairing."""
        self._user_disconnected = True
        await self._cancel_reconnect()
        self._socket_closed()
        await self._call("POST", f"{self._path}/disconnect", self._instance_token())

    async def delete(self) -> None:
        """Delete the instance on the gateway (needs the master token)."""
        if not self._account.master_token:
            raise AuthError("deleting a gateway instance needs the master token")
        self._user_disconnected = True
        await self._cancel_reconnect()
        self._socket_closed()
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
            raise NotSent(self._not_ready_reason())
        try:
            response = await self._call(
                "POST",
                f"{self._path}/send",
                self._instance_token(),
                json={"to": to, "message": message.text},
                sending=True,
            )
        except _NotConnected as exc:
            # The gateway says its socket is not open: wait for it (and help it come back).
            # Transport failures say nothing about the socket and leave readiness alone.
            self._socket_closed()
            self._schedule_reconnect()
            raise NotSent(exc.detail) from None
        except _InstanceGone as exc:
            raise PermanentSendError(exc.detail) from None
        data = _json_or_none(response)
        if isinstance(data, Mapping) and data.get("success") is False:
            detail = self._scrub(_error_text(data) or "the gateway did not send it")
            if _NOT_CONNECTED.search(detail):
                self._socket_closed()
                self._schedule_reconnect()
                raise NotSent(detail)
            raise PermanentSendError(detail)
        provider_id = _message_id_of(data)
        if not provider_id:
            # It took the message (2xx) but did not name it: never resend it blindly.
            raise DeliveryUnknown("the gateway accepted the message without an id")
        return SendResult(provider_id)

    async def mark_read(self, chat_key: str, provider_message_ids: Sequence[str]) -> None:
        """Nothing to do: the gateway's API has no read-receipt call."""

    def _not_ready_reason(self) -> str:
        if self._repair_reason:
            return f"needs re-pairing: {self._repair_reason}"
        if self._open_since is None:
            return "the gateway's WhatsApp link is not open"
        if self._clock() - self._open_since < OPEN_SETTLE_S:
            return "the gateway's WhatsApp link just opened"
        return "no heartbeat from the gateway lately"

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
        return text[:_ERROR_DETAIL_MAX]

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
        detail = self._scrub(_error_text(_json_or_none(response)) or f"HTTP {status}")
        if status in (401, 403):
            raise AuthError(f"HTTP {status}: {detail}")
        if status == 429:
            raise RateLimited(f"HTTP 429: {detail}", retry_after=_retry_after(response))
        if status == 404:
            raise _InstanceGone(f"HTTP 404: {detail}")
        if status in (409, 425, 503) or (status < 500 and _NOT_CONNECTED.search(detail)):
            raise _NotConnected(f"HTTP {status}: {detail}", status)
        if status < 500:
            if _INVALID_NUMBER.search(detail):
                raise PermanentSendError(f"invalid recipient: {detail}")
            raise PermanentSendError(f"HTTP {status}: {detail}")
        if sending:  # a 500 may come after the socket relayed the message
            raise DeliveryUnknown(f"HTTP {status}: {detail}")
        raise NotSent(f"HTTP {status}: {detail}")


class _NotConnected(NotSent):
    """The gateway answered that its WhatsApp socket is not open (409, 425, 503 or its words).

    409 also answers creating an instance that exists: ``status`` tells them apart.
    """

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.status = status


class _InstanceGone(PermanentSendError):
    """404: no such instance (or, for ``/qrcode``, no QR yet)."""


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _recipient(message: OutgoingMessage) -> str:
    """What ``/send`` gets as ``to``: the phone's digits, else a group or LID JID."""
    digits = "".join(ch for ch in message.to_phone if ch.isdigit())
    if digits:
        if not _PHONE_DIGITS.match(digits):
            raise PermanentSendError("invalid recipient: not a phone number with country code")
        return digits
    jid = _parse_jid(message.chat_key)
    if jid is not None and (jid.is_group or jid.is_lid):
        return jid.normalized
    if jid is not None and jid.is_phone and _PHONE_DIGITS.match(jid.user):
        return jid.user
    raise PermanentSendError("invalid recipient: no phone number or chat id")


def _retry_after(response: httpx.Response) -> float:
    """Retry-After in seconds (RFC 9110 §10.2.3: delay-seconds or an HTTP date)."""
    value = response.headers.get("retry-after", "").strip()
    if value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                seconds = math.nan
            else:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                seconds = (when - datetime.now(UTC)).total_seconds()
        if math.isfinite(seconds):
            return max(seconds, 0.0)
    body = _json_or_none(response)
    if isinstance(body, Mapping):
        for key in ("retryAfter", "retry_after"):
            raw = body.get(key)
            if isinstance(raw, int | float) and not isinstance(raw, bool) and 0 <= raw < 86400:
                return float(raw)
    return DEFAULT_RETRY_AFTER_S


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _error_text(data: Any) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, Mapping):
        for key in ("error", "message", "detail", "reason", "msg"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, Mapping):
                nested = _error_text(value)
                if nested:
                    return nested
    return ""


def _find_str(data: Any, *paths: tuple[str, ...]) -> str:
    """The first non-empty string at one of ``paths`` (keys into nested objects)."""
    for path in paths:
        value = data
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _message_id_of(data: Any) -> str:
    """The id in a ``/send`` answer: ``messageId``, ``id``, or Baileys' ``key.id``.

    ``sock.sendMessage`` resolves to the sent ``WAMessage`` (``key.id``); whatsapp-web.js's
    ``Message.id`` is an object whose ``id`` is the same raw id (``_serialized`` adds the chat).
    """
    for root in (data, data.get("data") if isinstance(data, Mapping) else None):
        found = _find_str(
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
                name = _find_str(item, ("instanceId",), ("id",), ("name",), ("instance",))
                if name:
                    found.add(name)
    return found


def _qr_of(data: Any) -> tuple[str, str]:
    """``(qr text, pairing code)`` from a ``/qrcode`` or ``connect`` answer or a ``qr`` event.

    whatsapp-web.js emits ``qr`` with the QR's text (``ref,publicKey,identityKey,advSecret,
    platform``; Client.js); the gateway may name it ``qr``, ``qrcode`` or ``qrCode``. A data
    URL (``data:image/png;base64,...``) is taken only when no text form is there: it is what
    some gateways put in ``qrcode``, and the dialog can show it as an image.
    """
    if isinstance(data, str):
        return data.strip(), ""
    if not isinstance(data, Mapping):
        return "", ""
    candidates = [
        _find_str(data, (key,))
        for key in ("qr", "qrcode", "qrCode", "code", "base64")
        if not isinstance(data.get(key), bool)
    ]
    nested = data.get("data")
    if isinstance(nested, Mapping | str):
        candidates.append(_qr_of(nested)[0])
    texts = [c for c in candidates if c and not c.startswith("data:")]
    images = [c for c in candidates if c.startswith("data:image/")]
    qr = texts[0][:4096] if texts else (images[0][:_MAX_QR_IMAGE] if images else "")
    pairing = _find_str(data, ("pairingCode",), ("pairing_code",), ("data", "pairingCode"))
    return qr, pairing[:64]


@dataclass(frozen=True, slots=True)
class _Status:
    state: ConnectionState | None = None
    phone: str = ""
    name: str = ""
    reason: str = ""


_STATUS_WORDS: Final[dict[str, ConnectionState]] = {
    # whatsapp-web.js WAState (Constants.js) and Baileys' ``connection`` (open/connecting/close)
    "connected": ConnectionState.CONNECTED,
    "open": ConnectionState.CONNECTED,
    "ready": ConnectionState.CONNECTED,
    "online": ConnectionState.CONNECTED,
    "authenticated": ConnectionState.CONNECTING,
    "connecting": ConnectionState.CONNECTING,
    "opening": ConnectionState.CONNECTING,
    "initializing": ConnectionState.CONNECTING,
    "starting": ConnectionState.CONNECTING,
    "reconnecting": ConnectionState.CONNECTING,
    "pairing": ConnectionState.WAITING_FOR_QR,
    "qr": ConnectionState.WAITING_FOR_QR,
    "qrcode": ConnectionState.WAITING_FOR_QR,
    "scan_qr": ConnectionState.WAITING_FOR_QR,
    "waiting_for_qr": ConnectionState.WAITING_FOR_QR,
    "unpaired": ConnectionState.WAITING_FOR_QR,
    "unpaired_idle": ConnectionState.WAITING_FOR_QR,
    "disconnected": ConnectionState.OFFLINE,
    "close": ConnectionState.OFFLINE,
    "closed": ConnectionState.OFFLINE,
    "offline": ConnectionState.OFFLINE,
    "stopped": ConnectionState.OFFLINE,
    "timeout": ConnectionState.OFFLINE,
    "conflict": ConnectionState.OFFLINE,
    "logout": ConnectionState.NEEDS_REPAIR,
    "logged_out": ConnectionState.NEEDS_REPAIR,
    "loggedout": ConnectionState.NEEDS_REPAIR,
    "auth_failure": ConnectionState.NEEDS_REPAIR,
    "banned": ConnectionState.BLOCKED,
    "blocked": ConnectionState.BLOCKED,
    "tos_block": ConnectionState.BLOCKED,
    "smb_tos_block": ConnectionState.BLOCKED,
}


def _state_word(value: Any) -> ConnectionState | None:
    if isinstance(value, bool):
        return ConnectionState.CONNECTED if value else ConnectionState.OFFLINE
    if isinstance(value, str):
        return _STATUS_WORDS.get(value.strip().lower().replace("-", "_").replace(" ", "_"))
    return None


def _parse_status(data: Any) -> _Status:
    """A ``/status`` answer (or a heartbeat's data): ``{status|state|connection, phone, ...}``."""
    if isinstance(data, str):
        return _Status(_state_word(data))
    if not isinstance(data, Mapping):
        return _Status()
    roots = [data] + [data[k] for k in ("data", "instance") if isinstance(data.get(k), Mapping)]
    state: ConnectionState | None = None
    for root in roots:
        for key in ("status", "state", "connection", "connectionState", "connected", "isConnected"):
            state = _state_word(root.get(key))
            if state is not None:
                break
        if state is not None:
            break
    phone = ""
    name = ""
    for root in roots:
        phone = phone or _phone_of_me(root)
        name = name or _find_str(
            root, ("name",), ("pushName",), ("pushname",), ("user", "name"), ("me", "name")
        )
    reason = ""
    for root in roots:
        reason = reason or _find_str(root, ("reason",), ("error",))
    return _Status(state, phone, name[:200], reason[:200])


def _phone_of_me(data: Mapping[str, Any]) -> str:
    """The linked phone from ``wid`` (string or ``{user, server, _serialized}``), ``me``, ``user``.

    whatsapp-web.js' ``client.info.wid`` is a WID object (``_serialized`` like
    ``5511999999999@c.us``); Baileys' ``sock.user.id`` is ``5511999999999:12@s.whatsapp.net``
    (with the device). A LID (``...@lid``; whatsapp-web.js falls back to it, Client.js) gives no
    phone: a phone is never derived from LID digits. Bare digits count only under ``phone`` or
    ``number``.
    """
    if isinstance(data.get("server"), str) or isinstance(data.get("_serialized"), str):
        return _phone_of_wid(data)  # ``data`` is itself a WID
    for key in ("wid", "me", "user", "jid", "info", "phone", "number"):
        value = data.get(key)
        if isinstance(value, Mapping):
            found = _phone_of_me(value) if key == "info" else _phone_of_wid(value)
        elif isinstance(value, str) and ("@" in value or key in ("phone", "number")):
            jid = _parse_jid(value)
            found = jid.user if jid is not None and jid.is_phone else ""
        else:
            found = ""
        if found:
            return found
    return ""


def _phone_of_wid(wid: Mapping[str, Any]) -> str:
    server, user = wid.get("server"), wid.get("user")
    if isinstance(server, str) and isinstance(user, str):
        jid = _parse_jid(f"{user}@{server}")
    else:
        serialized = _find_str(wid, ("_serialized",), ("id",), ("jid",))
        jid = _parse_jid(serialized) if "@" in serialized else None
    return jid.user if jid is not None and jid.is_phone else ""


# --- JIDs ----------------------------------------------------------------------------------------

# Baileys' jidDecode (src/WABinary/jid-utils.ts): ``user[_agent][:device]@server``. Users are
# digits (phone numbers and LIDs), groups ``<digits>`` or the old ``<phone>-<time>`` form,
# ``status@broadcast`` the status feed.
_JID = re.compile(
    r"^(?P<user>[0-9]{1,40}(?:-[0-9]{1,20})?|status)(?:_(?P<agent>[0-9]{1,4}))?"
    r"(?::(?P<device>[0-9]{1,5}))?"
    r"@(?P<server>s\.whatsapp\.net|c\.us|g\.us|lid|hosted|hosted\.lid|broadcast|newsletter|bot)$"
)
# A bare phone number, as a gateway may pass ``from`` (digits, maybe formatted).
_BARE_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{3,30}$")
_PHONE_SERVERS: Final = frozenset({"s.whatsapp.net", "c.us", "hosted"})
_LID_SERVERS: Final = frozenset({"lid", "hosted.lid"})


@dataclass(frozen=True, slots=True)
class _Jid:
    user: str
    server: str
    raw: str

    @property
    def normalized(self) -> str:
        """Without agent or device, as Baileys' ``jidNormalizedUser`` (c.us kept as it came)."""
        return f"{self.user}@{self.server}"

    @property
    def is_phone(self) -> bool:
        return self.server in _PHONE_SERVERS and "-" not in self.user and self.user != "status"

    @property
    def is_lid(self) -> bool:
        return self.server in _LID_SERVERS

    @property
    def is_group(self) -> bool:
        return self.server == "g.us"

    @property
    def ignored(self) -> bool:
        """Status updates, broadcast lists and channels are not conversations."""
        return self.server in ("broadcast", "newsletter")


def _parse_jid(value: str) -> _Jid | None:
    text = value.strip()
    if "@" not in text:
        if _BARE_PHONE.match(text):
            digits = chat_key_for_phone(text)
            if 5 <= len(digits) <= 20:
                return _Jid(digits, "s.whatsapp.net", text)
        return None
    match = _JID.match(text.lower())
    if match is None:
        return None
    return _Jid(match["user"], match["server"], text)


# --- webhooks ------------------------------------------------------------------------------------

HEARTBEAT_REASON: Final = "heartbeat"
"""The ``reason`` of the CONNECTED ``ConnectionEvent`` a gateway heartbeat becomes.

A heartbeat is not a state change but a sign of life; it is carried as a ConnectionEvent (state
CONNECTED, this reason) rather than as a new event kind, so the store, the receiver's observers
and ``to_json`` need nothing new. ``GatewayAdapter.observe`` tells it from ``ready`` by it.
"""

# whatsapp-web.js ``disconnected`` reasons (Client.js: 'LOGOUT', a WAState, 'Max qrcode retries
# reached') and Baileys' DisconnectReason codes (src/Types/index.ts), sorted by what fixes them.
# Only the user can fix these (pair again): nothing reconnects.
_REPAIR_REASONS: Final[dict[str, str]] = {
    "logout": "logged out from the phone",
    "loggedout": "logged out from the phone",
    "logged_out": "logged out from the phone",
    "unpaired": "the device was unlinked",
    "unpaired_idle": "the device was unlinked",
    "deprecated_version": "the gateway's WhatsApp version is too old",
    "proxyblock": "WhatsApp blocked the gateway's proxy",
}
_BLOCKED_REASONS: Final[dict[str, str]] = {
    "tos_block": "the number was banned by WhatsApp",
    "smb_tos_block": "the number was banned by WhatsApp",
    "forbidden": "WhatsApp refused the number (banned or blocked)",
    "banned": "the number was banned by WhatsApp",
}
_REPAIR_CODES: Final[dict[int, str]] = {
    401: "logged out from the phone",  # loggedOut
    402: "WhatsApp refused the session (402)",  # not reconnected by Evolution either
    406: "WhatsApp refused the session (406)",
    # badSession: the stored session keys are unusable; Baileys' guidance is to delete the
    # session and scan again, so reconnecting on it can only fail again.
    500: "bad session: pair again",
}
_BLOCKED_CODES: Final[dict[int, str]] = {403: "WhatsApp refused the number (banned or blocked)"}
_TRANSIENT_CODES: Final[dict[int, str]] = {
    408: "connection lost",
    411: "multi-device mismatch",
    428: "connection closed",
    440: "connection replaced by another session",
    503: "WhatsApp unavailable",
    515: "restart required",
}
_QR_EXHAUSTED = re.compile(r"qr.*(retr|attempt)|(retr|attempt).*qr", re.IGNORECASE)
_LOGGED_OUT = re.compile(r"log(?:ged)?[\s_-]*out", re.IGNORECASE)
_BANNED = re.compile(r"\bbann?ed\b|tos[\s_-]*block", re.IGNORECASE)

_MAX_ID = 512
_MAX_TEXT = 200_000


def parse_webhook(request: WebhookRequest, accounts: Sequence[GatewayAccount]) -> WebhookResult:
    """Authenticate one gateway call and normalize its event (see the module's docstring).

    The account is the one whose ``instance`` is the path's; the bearer token must be that
    account's instance token or its master token (the master token already controls every
    instance of the gateway, so accepting it grants nothing more, and it is the only token a
    number added with the master token alone knows). A token of another instance is answered
    403; a missing or unknown one 401; a body whose ``instanceId`` is not the path's 403.
    Unknown events give no events (200). Never raises anything but ``WebhookRejected``.
    """
    try:
        return _parse(request, accounts)
    except (WebhookAuthError, WebhookPayloadError):
        raise
    except RecursionError:
        raise WebhookPayloadError("payload nested too deeply") from None
    except Exception as exc:
        # A bug in the normalization: refuse the call (4xx) rather than fail the receiver. The
        # message is not logged (it could quote the body); the type and place are.
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"line {tb.tb_lineno}" if tb is not None else "?"
        log.warning("gateway webhook normalization failed: %s at %s", type(exc).__name__, where)
        raise WebhookPayloadError("unreadable gateway payload") from None


def _parse(request: WebhookRequest, accounts: Sequence[GatewayAccount]) -> WebhookResult:
    if request.method.upper() != "POST":
        raise WebhookPayloadError("the gateway only POSTs its events")
    account = _authenticate(request, accounts)
    body = _load_json(request.body)
    if not isinstance(body, Mapping):
        raise WebhookPayloadError("the body must be a JSON object")
    instance_id = body.get("instanceId")
    if not isinstance(instance_id, str) or not instance_id:
        raise WebhookPayloadError("'instanceId' is missing")
    if instance_id != request.instance:
        raise WebhookAuthError("the body's instanceId is not the path's instance", forbidden=True)
    event = body.get("event")
    if not isinstance(event, str) or not event.strip():
        raise WebhookPayloadError("'event' is missing")
    sent_at = _epoch_seconds(body.get("timestamp"))
    data = body.get("data")
    return WebhookResult(events=tuple(_normalize(account, event, data, sent_at)))


def _authenticate(request: WebhookRequest, accounts: Sequence[GatewayAccount]) -> GatewayAccount:
    # Two gateways may both have an instance of this name: the token picks the account.
    named = [a for a in accounts if a.instance == request.instance]
    if not named or not request.instance:
        raise WebhookAuthError("unknown gateway instance")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise WebhookAuthError("missing bearer token")
    # Header values arrive decoded as ISO-8859-1 (webhook_request.py): back to the bytes sent.
    try:
        candidate = token.encode("latin-1")
    except UnicodeEncodeError:
        candidate = token.encode("utf-8", "surrogateescape")
    found: GatewayAccount | None = None
    for account in named:
        # Every comparison runs (no early exit), so timing does not tell which one matched.
        own = [s.matches(candidate) for s in (account.instance_token, account.master_token) if s]
        if any(own) and found is None:
            found = account
    if found is not None:
        return found
    others = [a.instance_token for a in accounts if a.instance != request.instance]
    if any([s.matches(candidate) for s in others if s]):
        raise WebhookAuthError("token of another instance", forbidden=True)
    raise WebhookAuthError("bad token")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WebhookPayloadError(f"the body is not JSON ({type(exc).__name__})") from None


def _epoch_seconds(value: Any) -> float | None:
    """A timestamp as epoch seconds, whatever unit it came in; None when there is none.

    Baileys' ``messageTimestamp`` and whatsapp-web.js' ``Message.timestamp`` are seconds; a
    JavaScript gateway stamping its envelope with ``Date.now()`` sends milliseconds, and
    ``new Date().toISOString()`` an ISO 8601 string. Numbers are told apart by size: below
    1e11 they are seconds (1e11 s is the year 5138), below 1e14 milliseconds (1e11 ms is 1973),
    below 1e17 microseconds. Baileys' protobuf ``Long`` serializes as ``{low, high, unsigned}``.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Mapping) and isinstance(value.get("low"), int):
        high = value.get("high", 0)
        if not isinstance(high, int) or isinstance(high, bool):
            return None
        value = ((high & 0xFFFFFFFF) << 32) | (value["low"] & 0xFFFFFFFF)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            seconds = parsed.timestamp()
            return seconds if seconds > 0 else None
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    if number < 1e11:
        return number
    if number < 1e14:
        return number / 1e3
    if number < 1e17:
        return number / 1e6
    return None


def _clean(value: Any, limit: int = _MAX_TEXT) -> str:
    """A string field cut at ``limit`` characters, or "" when it is not a string.

    NUL and lone surrogates are kept as they came: they are cleaned on the way into the stores
    (``sync.domain.text.clean_text``, applied by both ingests), for every provider alike.
    """
    if not isinstance(value, str):
        return ""
    return value[:limit] if len(value) > limit else value


def _normalize(
    account: GatewayAccount, event: str, data: Any, sent_at: float | None
) -> list[ProviderEvent]:
    name = event.strip().lower()
    aid = account.account_id
    if name in ("message", "message_create"):
        return _message_events(aid, data, sent_at)
    if name in ("qr", "qrcode", "qr_code"):  # whatsapp-web.js' name first; aliases a gateway uses
        qr_code, pairing = _qr_of(data)
        if not qr_code and not pairing:
            raise WebhookPayloadError("qr event without a QR code")
        return [QrEvent(aid, qr_code=_clean(qr_code), pairing_code=_clean(pairing))]
    if name == "code":  # whatsapp-web.js' pairing code event (Client.js, Events.CODE_RECEIVED)
        pairing = _find_str(data, ("code",), ("pairingCode",)) if isinstance(data, Mapping) else ""
        if isinstance(data, str):
            pairing = data.strip()
        if not pairing:
            raise WebhookPayloadError("code event without a pairing code")
        return [QrEvent(aid, pairing_code=_clean(pairing, 64))]
    if name == "authenticated":
        # whatsapp-web.js passes the auth strategy's payload (once the session itself): never
        # copied anywhere.
        return [ConnectionEvent(aid, ConnectionState.CONNECTING, reason="authenticated")]
    if name == "ready":
        phone = _phone_of_me(data) if isinstance(data, Mapping) else ""
        if not phone and isinstance(data, str):
            jid = _parse_jid(data)
            phone = jid.user if jid is not None and jid.is_phone else ""
        return [ConnectionEvent(aid, ConnectionState.CONNECTED, phone=phone)]
    if name == "auth_failure":
        message = data if isinstance(data, str) else _error_text(data)
        reason = (
            f"authentication failed: {_clean(message, 200)}"
            if message
            else ("authentication failed")
        )
        return [
            ConnectionEvent(aid, ConnectionState.NEEDS_REPAIR, needs_repair=True, reason=reason)
        ]
    if name == "disconnected":
        state, repair, reason = _classify_disconnect(data)
        return [ConnectionEvent(aid, state, needs_repair=repair, reason=reason)]
    if name == "heartbeat":
        status = _parse_status(data)
        if status.state in (None, ConnectionState.CONNECTED):
            return [
                ConnectionEvent(
                    aid, ConnectionState.CONNECTED, phone=status.phone, reason=HEARTBEAT_REASON
                )
            ]
        repair = status.state in (ConnectionState.NEEDS_REPAIR, ConnectionState.BLOCKED)
        return [
            ConnectionEvent(
                aid, status.state, needs_repair=repair, reason=f"heartbeat: {status.state}"
            )
        ]
    return []  # an event Caixa does not follow (change_state, call, ...): accepted, ignored


def _reason_parts(data: Any) -> tuple[str, int | None]:
    """``(text, code)`` of a ``disconnected`` payload: a string, a code, or an object."""
    if isinstance(data, bool) or data is None:
        return "", None
    if isinstance(data, int):
        return "", data
    if isinstance(data, float) and data.is_integer():
        return "", int(data)
    if isinstance(data, str):
        text = data.strip()
        return ("", int(text)) if text.isdigit() and len(text) <= 4 else (text, None)
    if not isinstance(data, Mapping):
        return "", None
    text = ""
    code: int | None = None
    for key in ("reason", "message", "error", "state", "status"):
        value = data.get(key)
        if isinstance(value, Mapping):
            nested_text, nested_code = _reason_parts(value)
            text = text or nested_text
            code = code if code is not None else nested_code
        elif isinstance(value, str) and value.strip() and not text:
            sub_text, sub_code = _reason_parts(value)
            text = sub_text
            code = code if code is not None else sub_code
        elif isinstance(value, int) and not isinstance(value, bool) and code is None:
            code = value
    for key in ("statusCode", "code"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and code is None:
            code = value
        elif isinstance(value, str) and value.isdigit() and len(value) <= 4 and code is None:
            code = int(value)
    # Baileys' lastDisconnect.error is a Boom: {output: {statusCode}}.
    for path in (("output", "statusCode"), ("error", "output", "statusCode")):
        value = data
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, int) and not isinstance(value, bool) and code is None:
            code = value
    return text, code


def _classify_disconnect(data: Any) -> tuple[ConnectionState, bool, str]:
    """State, needs-repair and reason of a ``disconnected`` event.

    Re-pair (no reconnect): whatsapp-web.js ``LOGOUT`` and ``UNPAIRED``/``UNPAIRED_IDLE``,
    Baileys 401 loggedOut and 500 badSession (and 402/406, which Evolution does not reconnect
    either), an exhausted QR ('Max qrcode retries reached'), a too-old version or a blocked
    proxy. Blocked: ``TOS_BLOCK``/``SMB_TOS_BLOCK`` and Baileys 403 forbidden (a ban).
    Everything else is transient and the adapter reconnects: 408/428 lost or closed, 515
    restartRequired (normal after the first pairing), 503, and ``CONFLICT``/440
    connectionReplaced (the session is still valid; Baileys' README and Evolution reconnect on
    it, and whatsapp-web.js takes over when told to).
    """
    text, code = _reason_parts(data)
    text = _clean(text, 200)
    word = text.strip().lower().replace(" ", "_").replace("-", "_")
    shown = text or (str(code) if code is not None else "")
    if code is not None and text:
        shown = f"{text} ({code})"
    if word in _BLOCKED_REASONS:
        return ConnectionState.BLOCKED, True, f"{shown}: {_BLOCKED_REASONS[word]}"
    if word in _REPAIR_REASONS:
        return ConnectionState.NEEDS_REPAIR, True, f"{shown}: {_REPAIR_REASONS[word]}"
    if _QR_EXHAUSTED.search(text):
        return ConnectionState.NEEDS_REPAIR, True, f"{shown}: the QR code was never scanned"
    if _BANNED.search(text):
        return ConnectionState.BLOCKED, True, f"{shown}: the number was banned by WhatsApp"
    if _LOGGED_OUT.search(text):
        return ConnectionState.NEEDS_REPAIR, True, f"{shown}: logged out from the phone"
    if code in _BLOCKED_CODES:
        return ConnectionState.BLOCKED, True, f"{shown}: {_BLOCKED_CODES[code]}"
    if code in _REPAIR_CODES:
        return ConnectionState.NEEDS_REPAIR, True, f"{shown}: {_REPAIR_CODES[code]}"
    if code in _TRANSIENT_CODES and not text:
        return ConnectionState.OFFLINE, False, f"{shown}: {_TRANSIENT_CODES[code]}"
    return ConnectionState.OFFLINE, False, shown or "disconnected"


# --- messages ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Content:
    """What a message carries, whatever form it came in."""

    type: MessageType = MessageType.TEXT
    text: str = ""
    caption: str = ""
    media: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] | None = None
    interactive: dict[str, Any] | None = None
    reply_to: str | None = None
    reaction: tuple[str, str] | None = None  # (target id, emoji)
    revoked: str | None = None  # target id
    edited: tuple[str, str] | None = None  # (target id, new text)
    extra: dict[str, Any] = field(default_factory=dict)


# Baileys content keys (WAProto.proto ``Message``) → our types.
_MEDIA_KEYS: Final[dict[str, MessageType]] = {
    "imageMessage": MessageType.IMAGE,
    "videoMessage": MessageType.VIDEO,
    "ptvMessage": MessageType.VIDEO,
    "audioMessage": MessageType.AUDIO,
    "documentMessage": MessageType.DOCUMENT,
    "stickerMessage": MessageType.STICKER,
}
# normalizeMessageContent's wrappers (src/Utils/messages.ts), unwrapped the same way.
_WRAPPERS: Final = (
    "ephemeralMessage",
    "viewOnceMessage",
    "documentWithCaptionMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "editedMessage",
    "associatedChildMessage",
    "groupStatusMessage",
    "groupStatusMessageV2",
)
# whatsapp-web.js Message.type (Constants.js MessageTypes) → our types.
_WWEBJS_TYPES: Final[dict[str, MessageType]] = {
    "chat": MessageType.TEXT,
    "text": MessageType.TEXT,
    "conversation": MessageType.TEXT,
    "image": MessageType.IMAGE,
    "video": MessageType.VIDEO,
    "audio": MessageType.AUDIO,
    "ptt": MessageType.AUDIO,
    "voice": MessageType.AUDIO,
    "document": MessageType.DOCUMENT,
    "sticker": MessageType.STICKER,
    "location": MessageType.LOCATION,
    "vcard": MessageType.CONTACTS,
    "multi_vcard": MessageType.CONTACTS,
    "contact": MessageType.CONTACTS,
    "buttons_response": MessageType.INTERACTIVE,
    "list_response": MessageType.INTERACTIVE,
    "template_button_reply": MessageType.INTERACTIVE,
}
_MEDIA_TYPES: Final = frozenset(
    {
        MessageType.IMAGE,
        MessageType.VIDEO,
        MessageType.AUDIO,
        MessageType.DOCUMENT,
        MessageType.STICKER,
    }
)


def _placeholder(provider_type: str) -> _Content:
    return _Content(type=MessageType.UNKNOWN, media={"provider_type": provider_type or "unknown"})


def _str_at(data: Any, *path: str) -> str:
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return _clean(data) if isinstance(data, str) else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _unwrap(content: Mapping[str, Any]) -> Mapping[str, Any]:
    for _ in range(5):  # as many levels as Baileys unwraps
        inner = next(
            (content[k].get("message") for k in _WRAPPERS if isinstance(content.get(k), Mapping)),
            None,
        )
        if not isinstance(inner, Mapping):
            break
        content = inner
    return content


def _baileys_content(content: Mapping[str, Any]) -> _Content:
    """A Baileys ``proto.IMessage`` (the ``message`` of a ``WAMessage``), normalized."""
    content = _unwrap(content)
    # getContentType: the first key that is 'conversation' or contains 'Message', except the
    # senderKeyDistributionMessage that rides along group messages.
    key = next(
        (
            k
            for k in content
            if (k == "conversation" or "Message" in k) and k != "senderKeyDistributionMessage"
        ),
        "",
    )
    value = content.get(key)
    if key == "conversation":
        return _Content(text=_clean(value))
    if not isinstance(value, Mapping):
        return _placeholder(key)
    reply_to = _str_at(value, "contextInfo", "stanzaId")[:_MAX_ID] or None
    if key == "extendedTextMessage":
        return _Content(text=_str_at(value, "text"), reply_to=reply_to)
    if key in _MEDIA_KEYS:
        type_ = _MEDIA_KEYS[key]
        media: dict[str, Any] = {"provider_type": key}
        for field_name, out in (("mimetype", "mime_type"), ("fileName", "filename")):
            found = _str_at(value, field_name)
            if found:
                media[out] = found[:300]
        if key == "audioMessage" and value.get("ptt") is True:
            media["voice"] = True
        seconds = _number(value.get("seconds"))
        if seconds is not None:
            media["seconds"] = seconds
        return _Content(
            type=type_, caption=_str_at(value, "caption"), media=media, reply_to=reply_to
        )
    if key in ("locationMessage", "liveLocationMessage"):
        lat, lng = _number(value.get("degreesLatitude")), _number(value.get("degreesLongitude"))
        if lat is None or lng is None:
            return _placeholder(key)
        location = {
            "latitude": lat,
            "longitude": lng,
            "name": _str_at(value, "name"),
            "address": _str_at(value, "address"),
        }
        return _Content(type=MessageType.LOCATION, location=location, reply_to=reply_to)
    if key == "contactMessage":
        contact = {"name": _str_at(value, "displayName"), "vcard": _str_at(value, "vcard")}
        return _Content(type=MessageType.CONTACTS, contacts=[contact], reply_to=reply_to)
    if key == "contactsArrayMessage":
        raw = value.get("contacts")
        contacts = [
            {"name": _str_at(c, "displayName"), "vcard": _str_at(c, "vcard")}
            for c in (raw if isinstance(raw, list) else [])[:100]
            if isinstance(c, Mapping)
        ]
        return _Content(type=MessageType.CONTACTS, contacts=contacts, reply_to=reply_to)
    if key == "buttonsResponseMessage":
        title = _str_at(value, "selectedDisplayText")
        interactive = {
            "type": "button_reply",
            "id": _str_at(value, "selectedButtonId"),
            "title": title,
        }
        return _Content(
            type=MessageType.INTERACTIVE, text=title, interactive=interactive, reply_to=reply_to
        )
    if key == "templateButtonReplyMessage":
        title = _str_at(value, "selectedDisplayText")
        interactive = {"type": "button_reply", "id": _str_at(value, "selectedId"), "title": title}
        return _Content(
            type=MessageType.INTERACTIVE, text=title, interactive=interactive, reply_to=reply_to
        )
    if key == "listResponseMessage":
        title = _str_at(value, "title")
        interactive = {
            "type": "list_reply",
            "id": _str_at(value, "singleSelectReply", "selectedRowId"),
            "title": title,
            "description": _str_at(value, "description"),
        }
        return _Content(
            type=MessageType.INTERACTIVE, text=title, interactive=interactive, reply_to=reply_to
        )
    if key == "reactionMessage":
        target = _str_at(value, "key", "id")[:_MAX_ID]
        if not target:
            return _placeholder(key)
        return _Content(reaction=(target, _str_at(value, "text")[:64]))
    if key == "protocolMessage":
        target = _str_at(value, "key", "id")[:_MAX_ID]
        kind = value.get("type")
        if target and kind in (0, "REVOKE"):
            return _Content(revoked=target)
        edited = value.get("editedMessage")
        if target and kind in (14, "MESSAGE_EDIT") and isinstance(edited, Mapping):
            new = _baileys_content(edited)
            return _Content(edited=(target, new.text or new.caption))
        return _Content(type=MessageType.UNKNOWN, extra={"skip": True})  # key shares, syncs
    return _placeholder(key)


def _wwebjs_content(data: Mapping[str, Any], body: str) -> _Content:
    """A whatsapp-web.js-style message: ``body`` plus ``type`` (Message.js)."""
    raw_type = data.get("type")
    type_name = raw_type.strip().lower() if isinstance(raw_type, str) else ""
    type_ = _WWEBJS_TYPES.get(type_name) if type_name else MessageType.TEXT
    if type_ is None:
        # A ``type`` we do not know may not be a content type at all (Baileys' upsert type is
        # "notify"): a text that came along is still the text.
        if body.strip():
            return _Content(text=body)
        return _placeholder(type_name)
    if type_ is MessageType.TEXT:
        if not body.strip():
            # The design's forwardToEngines passes the text only: an empty one means content it
            # did not pass on (media, a poll...). Kept as a placeholder, never dropped.
            return _placeholder(type_name if type_name not in ("", "chat", "text") else "")
        return _Content(text=body)
    if type_ in _MEDIA_TYPES:
        media: dict[str, Any] = {"provider_type": type_name}
        mime = _str_at(data, "mimetype") or _str_at(data, "mimeType")
        if mime:
            media["mime_type"] = mime[:300]
        name = _str_at(data, "filename") or _str_at(data, "fileName")
        if name:
            media["filename"] = name[:300]
        return _Content(type=type_, caption=body, media=media)
    if type_ is MessageType.LOCATION:
        loc = data.get("location")
        lat = _number(loc.get("latitude")) if isinstance(loc, Mapping) else None
        lng = _number(loc.get("longitude")) if isinstance(loc, Mapping) else None
        if lat is None or lng is None:
            return _placeholder(type_name)
        location = {
            "latitude": lat,
            "longitude": lng,
            "name": _str_at(loc, "name") or _str_at(loc, "description"),
            "address": _str_at(loc, "address"),
        }
        return _Content(type=type_, location=location)
    if type_ is MessageType.CONTACTS:
        cards = data.get("vCards")
        vcards = [c for c in cards if isinstance(c, str)][:100] if isinstance(cards, list) else []
        if not vcards and body:
            vcards = [body]
        return _Content(type=type_, contacts=[{"name": "", "vcard": _clean(v)} for v in vcards])
    interactive = {
        "type": type_name,
        "id": _str_at(data, "selectedButtonId") or _str_at(data, "selectedRowId"),
        "title": body,
    }
    return _Content(type=type_, text=body, interactive=interactive)


def _content_of(data: Mapping[str, Any], wa_message: Mapping[str, Any] | None) -> _Content:
    raw = data.get("message")
    if isinstance(raw, str):
        content = _wwebjs_content(data, _clean(raw))
    elif wa_message is not None and isinstance(wa_message.get("message"), Mapping):
        content = _baileys_content(wa_message["message"])
    elif (
        isinstance(raw, Mapping)
        and ("body" in raw or "type" in raw)
        and not any(k == "conversation" or "Message" in k for k in raw)
    ):
        body = raw.get("body")
        content = _wwebjs_content(raw, _clean(body) if isinstance(body, str) else "")
    elif isinstance(raw, Mapping):
        content = _baileys_content(raw)
    elif raw is None and isinstance(data.get("body"), str):
        content = _wwebjs_content(data, _clean(data["body"]))
    elif raw is None and isinstance(data.get("text"), str):
        content = _wwebjs_content(data, _clean(data["text"]))
    elif raw is None:
        content = _placeholder(_clean(data.get("type"), 60))
    else:
        raise WebhookPayloadError("'message' must be a string or an object")
    quoted = _str_at(data, "quotedMessageId") or _str_at(data, "quotedMsgId")
    if quoted and content.reply_to is None:
        content.reply_to = quoted[:_MAX_ID]
    return content


def _first_str(*values: Any) -> str:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _id_of(value: Any) -> str:
    """A message id: a string, or whatsapp-web.js' ``{fromMe, remote, id, _serialized}``."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Mapping):
        return _first_str(value.get("id"), value.get("_serialized"))
    return ""


def _message_events(aid: int, data: Any, sent_at: float | None) -> list[ProviderEvent]:
    """A ``message`` event: ``data: {from, message, messageId, pushName}`` (forwardToEngines).

    Liberal about the rest: ``message`` may be the text (the design), a Baileys content object
    or a whole Baileys ``WAMessage`` (``{key, message, messageTimestamp, pushName}``), or a
    whatsapp-web.js-like ``{body, type}``; ``fromMe`` makes it ours (``direction`` out).
    """
    if not isinstance(data, Mapping):
        raise WebhookPayloadError("a message event needs a 'data' object")
    raw_message = data.get("message")
    wa: Mapping[str, Any] | None = None
    if isinstance(raw_message, Mapping) and isinstance(raw_message.get("key"), Mapping):
        wa = raw_message  # a whole WAMessage
    elif isinstance(data.get("key"), Mapping):
        wa = data  # the WAMessage's fields at the top of data
    key: Mapping[str, Any] = wa["key"] if wa is not None else {}

    from_me_raw = data.get("fromMe", key.get("fromMe"))
    if isinstance(data.get("id"), Mapping) and from_me_raw is None:
        from_me_raw = data["id"].get("fromMe")
    # JavaScript booleans; a gateway that stringifies its fields sends "true".
    from_me = from_me_raw is True or from_me_raw == 1 or from_me_raw == "true"
    sender_raw = _first_str(
        data.get("from"), data.get("chatId"), data.get("remoteJid"), key.get("remoteJid")
    )
    to_raw = _first_str(data.get("to"))
    # whatsapp-web.js (Message.js): ``from`` is the sender, so for our own messages the chat is
    # ``to``; Baileys' ``key.remoteJid`` is always the chat. Take ``to`` only when it is a chat.
    chat_raw = to_raw if from_me and to_raw and _parse_jid(to_raw) is not None else sender_raw
    if not chat_raw:
        raise WebhookPayloadError("a message event needs 'from'")
    chat = _parse_jid(_clean(chat_raw, 200))
    if chat is None:
        raise WebhookPayloadError("'from' is not a WhatsApp chat id")
    if chat.ignored:
        return []  # status@broadcast, broadcast lists, channels: not conversations

    provider_id = _first_str(
        data.get("messageId"), _id_of(data.get("id")), key.get("id"), data.get("msgId")
    )
    provider_id = _clean(provider_id, _MAX_ID + 1)
    if not provider_id or len(provider_id) > _MAX_ID:
        raise WebhookPayloadError("a message event needs a 'messageId'")

    timestamp = (
        _epoch_seconds(data.get("timestamp"))
        or _epoch_seconds(data.get("messageTimestamp"))
        or _epoch_seconds(data.get("t"))
        or (_epoch_seconds(wa.get("messageTimestamp")) if wa is not None else None)
        or sent_at
        or time.time()  # nothing says when: the moment it arrived
    )
    push_name = _clean(
        _first_str(
            data.get("pushName"),
            data.get("notifyName"),
            data.get("pushname"),
            wa.get("pushName") if wa is not None else None,
        ),
        200,
    )

    # The phone: from a phone JID, or (LID chats) from an alternate phone JID the gateway passed
    # (Baileys 7 ``key.remoteJidAlt``); never from LID digits.
    chat_phone = chat.user if chat.is_phone else ""
    if chat.is_lid:
        for alt in (
            data.get("remoteJidAlt"),
            key.get("remoteJidAlt"),
            data.get("senderPn"),
            key.get("senderPn"),
            data.get("fromAlt"),
        ):
            alt_jid = _parse_jid(alt) if isinstance(alt, str) else None
            if alt_jid is not None and alt_jid.is_phone:
                chat_phone = alt_jid.user
                break
    if chat.is_group:
        chat_key = chat.normalized
    elif chat_phone:
        chat_key = chat_key_for_phone(chat_phone)
    else:
        chat_key = chat.normalized

    sender_phone = ""
    if chat.is_group:
        author_raw = _first_str(data.get("author"), data.get("participant"), key.get("participant"))
        author = _parse_jid(author_raw) if author_raw else None
        if author is not None and author.is_phone:
            sender_phone = author.user
        else:
            alt_raw = _first_str(
                data.get("participantAlt"),
                key.get("participantAlt"),
                data.get("participantPn"),
                key.get("participantPn"),
            )
            alt = _parse_jid(alt_raw) if alt_raw else None
            if alt is not None and alt.is_phone:
                sender_phone = alt.user
    elif not from_me:
        sender_phone = chat_phone

    direction = Direction.OUT if from_me else Direction.IN
    content = _content_of(data, wa)
    chat_jid = _clean(chat.raw, 200)
    if content.reaction is not None:
        target, emoji = content.reaction
        return [
            ReactionEvent(
                account_id=aid,
                provider_message_id=provider_id,
                target_message_id=target,
                emoji=emoji,
                chat_key=chat_key,
                chat_phone=chat_phone,
                direction=direction,
                timestamp=timestamp,
                sender_phone=sender_phone,
                sender_name="" if from_me else push_name,
                chat_jid=chat_jid,
                is_group=chat.is_group,
            )
        ]
    if content.revoked is not None:
        return [
            RevokeEvent(
                account_id=aid,
                target_message_id=content.revoked,
                chat_key=chat_key,
                chat_phone=chat_phone,
                timestamp=timestamp,
                provider_message_id=provider_id,
                direction=direction,
                chat_jid=chat_jid,
            )
        ]
    if content.edited is not None:
        target, text = content.edited
        return [
            EditEvent(
                account_id=aid,
                target_message_id=target,
                text=text,
                chat_key=chat_key,
                chat_phone=chat_phone,
                timestamp=timestamp,
                provider_message_id=provider_id,
                direction=direction,
                chat_jid=chat_jid,
            )
        ]
    if content.extra.get("skip"):
        return []  # protocol housekeeping (key shares, history sync notices): no bubble
    return [
        MessageEvent(
            account_id=aid,
            provider_message_id=provider_id,
            chat_key=chat_key,
            chat_phone=chat_phone,
            direction=direction,
            timestamp=timestamp,
            type=content.type,
            text=content.text,
            sender_name="" if from_me else push_name,
            sender_phone=sender_phone,
            is_group=chat.is_group,
            reply_to=content.reply_to,
            media=content.media,
            chat_jid=chat_jid,
            caption=content.caption,
            location=content.location,
            contacts=content.contacts,
            interactive=content.interactive,
        )
    ]


ADAPTER = GatewayAdapter
