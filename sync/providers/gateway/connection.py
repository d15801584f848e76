"""The gateway's WhatsApp socket: what its events and status answers say, and reconnecting it.

whatsapp-web.js ``src/util/Constants.js`` (``WAState``) and ``src/Client.js`` (``disconnected``
carries ``'LOGOUT'`` when the phone unlinks the device, a ``WAState`` such as ``CONFLICT`` /
``UNPAIRED`` / ``TOS_BLOCK``, or ``'Max qrcode retries reached'``), and Baileys
``src/Types/index.ts`` (``DisconnectReason``) say what a state or a close means; ``GatewayLink``
follows them and decides when a send may go and when to ask the gateway to reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sync.domain.events import ConnectionEvent, ProviderEvent, QrEvent
from sync.domain.models import ConnectionState
from sync.providers.base import AuthError, ProviderError
from sync.providers.gateway.errors import InstanceGone
from sync.providers.gateway.values import clean, find_str, jid_of

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


@dataclass(frozen=True, slots=True)
class Status:
    """What a status answer or a heartbeat says of the instance."""

    state: ConnectionState | None = None
    phone: str = ""
    name: str = ""
    reason: str = ""


STATUS_WORDS: Final[dict[str, ConnectionState]] = {
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


def state_word(value: Any) -> ConnectionState | None:
    """The connection state a status word (or a boolean) names, or None."""
    if isinstance(value, bool):
        return ConnectionState.CONNECTED if value else ConnectionState.OFFLINE
    if isinstance(value, str):
        return STATUS_WORDS.get(value.strip().lower().replace("-", "_").replace(" ", "_"))
    return None


def parse_status(data: Any) -> Status:
    """A ``/status`` answer (or a heartbeat's data): ``{status|state|connection, phone, ...}``."""
    if isinstance(data, str):
        return Status(state_word(data))
    if not isinstance(data, Mapping):
        return Status()
    roots = [data] + [data[k] for k in ("data", "instance") if isinstance(data.get(k), Mapping)]
    state: ConnectionState | None = None
    for root in roots:
        for key in ("status", "state", "connection", "connectionState", "connected", "isConnected"):
            state = state_word(root.get(key))
            if state is not None:
                break
        if state is not None:
            break
    phone = ""
    name = ""
    for root in roots:
        phone = phone or phone_of_me(root)
        name = name or find_str(
            root, ("name",), ("pushName",), ("pushname",), ("user", "name"), ("me", "name")
        )
    reason = ""
    for root in roots:
        reason = reason or find_str(root, ("reason",), ("error",))
    return Status(state, phone, name[:200], reason[:200])


def phone_of_me(data: Mapping[str, Any]) -> str:
    """The linked phone from ``wid`` (string or ``{user, server, _serialized}``), ``me``, ``user``.

    whatsapp-web.js' ``client.info.wid`` is a WID object (``_serialized`` like
    ``5511999999999@c.us``); Baileys' ``sock.user.id`` is ``5511999999999:12@s.whatsapp.net``
    (with the device). A LID (``...@lid``; whatsapp-web.js falls back to it, Client.js) gives no
    phone: a phone is never derived from LID digits. Bare digits count only under ``phone`` or
    ``number``.
    """
    if isinstance(data.get("server"), str) or isinstance(data.get("_serialized"), str):
        return phone_of_wid(data)  # ``data`` is itself a WID
    for key in ("wid", "me", "user", "jid", "info", "phone", "number"):
        value = data.get(key)
        if isinstance(value, Mapping):
            found = phone_of_me(value) if key == "info" else phone_of_wid(value)
        elif isinstance(value, str) and ("@" in value or key in ("phone", "number")):
            jid = jid_of(value)
            found = jid.phone if jid is not None else ""
        else:
            found = ""
        if found:
            return found
    return ""


def phone_of_wid(wid: Mapping[str, Any]) -> str:
    """The phone of a whatsapp-web.js WID object (never a LID's digits)."""
    server, user = wid.get("server"), wid.get("user")
    if isinstance(server, str) and isinstance(user, str):
        jid = jid_of(f"{user}@{server}")
    else:
        serialized = find_str(wid, ("_serialized",), ("id",), ("jid",))
        jid = jid_of(serialized) if "@" in serialized else None
    return jid.phone if jid is not None else ""


def reason_parts(data: Any) -> tuple[str, int | None]:
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
            nested_text, nested_code = reason_parts(value)
            text = text or nested_text
            code = code if code is not None else nested_code
        elif isinstance(value, str) and value.strip() and not text:
            sub_text, sub_code = reason_parts(value)
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


def classify_disconnect(data: Any) -> tuple[ConnectionState, bool, str]:
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
    text, code = reason_parts(data)
    text = clean(text, 200)
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


class GatewayLink:
    """What the adapter knows of the gateway's WhatsApp socket: readiness, and reconnects.

    Readiness: ``ready()`` is True only once the socket has stayed open for ``OPEN_SETTLE_S``
    (counted from the ``ready`` event, or from a status poll or heartbeat saying connected when
    no ``ready`` was seen) and while the last sign of life (heartbeat, ``ready`` or a status poll
    saying connected) is at most ``HEARTBEAT_MAX_AGE_S`` old.

    Reconnects: a transient ``disconnected`` makes it ask the gateway to connect again
    (``connect``) with exponential backoff and full jitter, one attempt in flight, after asking
    how the instance stands (``status``). A logout, unpairing, ban or failed authentication
    instead records why the number needs a re-pair (``repair_reason``) and nothing reconnects
    until the user pairs again. What it learns it reports with ``emit``.
    """

    def __init__(
        self,
        account_id: int,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        rng: Callable[[], float],
        status: Callable[[], Awaitable[Status]],
        connect: Callable[[], Awaitable[object]],
        emit: Callable[[ProviderEvent], Coroutine[Any, Any, None]],
    ) -> None:
        self.account_id = account_id
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._status = status
        self._connect = connect
        self._emit = emit
        self.closed = False
        self.open_since: float | None = None  # when the socket was last seen opening
        self.alive_at: float | None = None  # its last sign of life
        self.repair_reason = ""  # why the number must be paired again ("" while it need not)
        self.user_disconnected = False  # the user unlinked it: no reconnect until a pairing
        self.phone = ""  # the linked phone's digits, once the gateway said
        self.reconnect_task: asyncio.Task[None] | None = None
        self._attempts = 0
        self._emitting: set[asyncio.Task[None]] = set()

    def ready(self) -> bool:
        """Open for ``OPEN_SETTLE_S`` and alive within ``HEARTBEAT_MAX_AGE_S`` (see the class)."""
        if self.closed or self.repair_reason or self.open_since is None:
            return False
        now = self._clock()
        alive = self.alive_at if self.alive_at is not None else self.open_since
        return now - self.open_since >= OPEN_SETTLE_S and now - alive <= HEARTBEAT_MAX_AGE_S

    def not_ready_reason(self) -> str:
        """Why a send would not be attempted now, in English."""
        if self.repair_reason:
            return f"needs re-pairing: {self.repair_reason}"
        if self.open_since is None:
            return "the gateway's WhatsApp link is not open"
        if self._clock() - self.open_since < OPEN_SETTLE_S:
            return "the gateway's WhatsApp link just opened"
        return "no heartbeat from the gateway lately"

    @property
    def reconnecting(self) -> bool:
        """Whether a reconnect attempt is scheduled or running."""
        return self.reconnect_task is not None and not self.reconnect_task.done()

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
                self.socket_closed()
                self.stop_reconnecting()
            elif isinstance(event, ConnectionEvent):
                self._on_connection(event)

    def _on_connection(self, event: ConnectionEvent) -> None:
        now = self._clock()
        if event.needs_repair or event.state in (
            ConnectionState.NEEDS_REPAIR,
            ConnectionState.BLOCKED,
        ):
            self.socket_closed()
            self.repair_reason = event.reason or str(event.state)
            self.stop_reconnecting()
        elif event.state is ConnectionState.CONNECTED:
            if event.reason == HEARTBEAT_REASON:
                if self.repair_reason or self.user_disconnected:
                    return  # only a new link (``ready``) undoes a logout, a ban, a failed auth
                if self.open_since is None:
                    self.open_since = now
            else:
                self.open_since = now  # a new ``ready`` is a new socket: the clock restarts
            self.alive_at = now
            self.repair_reason = ""
            self.user_disconnected = False
            if event.phone:
                self.phone = event.phone
            self.stop_reconnecting()
        elif event.state is ConnectionState.OFFLINE:
            self.socket_closed()
            self.schedule_reconnect()
        else:  # CONNECTING (authenticated), WAITING_FOR_QR: the gateway is on its way
            self.socket_closed()
            if event.state is ConnectionState.WAITING_FOR_QR:
                self.stop_reconnecting()

    def check_liveness(self) -> bool:
        """The watchdog: a socket with no sign of life for ``HEARTBEAT_MAX_AGE_S`` is dropped.

        Called periodically by the workspace (``LIVENESS_PERIOD_S``). A gateway whose process
        hangs or whose network vanished stops both heartbeats and the ``disconnected`` event,
        so without this the rail would say "connected" forever. The number is shown offline with
        the reason, and a reconnect asks the gateway how the instance really stands (a status
        answering "connected" reopens it at once). True when it dropped the socket now.
        """
        if self.closed or self.open_since is None:
            return False
        alive = self.alive_at if self.alive_at is not None else self.open_since
        silent = self._clock() - alive
        if silent <= HEARTBEAT_MAX_AGE_S:
            return False
        self.socket_closed()
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
        self.schedule_reconnect()
        return True

    def socket_closed(self) -> None:
        """The socket is known to be closed (a long-open one resets the backoff)."""
        if self.open_since is not None and self._clock() - self.open_since >= STABLE_OPEN_S:
            self._attempts = 0  # it had been up for a while: start the backoff over
        self.open_since = None
        self.alive_at = None

    def socket_opened(self) -> None:
        """The socket is known to be open: the settle clock starts if it was closed."""
        now = self._clock()
        if self.open_since is None:
            self.open_since = now
        self.alive_at = now
        self.repair_reason = ""

    # --- reconnects ------------------------------------------------------------------------------

    def schedule_reconnect(self) -> None:
        """Start the reconnect loop unless one runs or only the user can help."""
        if self.closed or self.repair_reason or self.user_disconnected or self.reconnecting:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # observed outside the loop (a synchronous caller): nothing to run
            return
        self.reconnect_task = loop.create_task(self._reconnect_loop())

    def stop_reconnecting(self) -> None:
        """Stop the reconnect loop (from inside it, it ends at its next check)."""
        task = self.reconnect_task
        if task is None or task.done():
            self.reconnect_task = None
        elif task is not _current_task():
            task.cancel()
            self.reconnect_task = None
        # From inside the loop itself (a sink that observes): it ends at its next check.

    async def cancel_reconnect(self) -> None:
        """Stop the reconnect loop and wait until it has stopped."""
        task = self.reconnect_task
        self.reconnect_task = None
        if task is not None and not task.done() and task is not _current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _gave_up(self) -> bool:
        return (
            self.closed
            or bool(self.repair_reason)
            or self.user_disconnected
            or self.open_since is not None
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
            await self.needs_repair(f"the gateway refused the token ({exc.detail})")
            return False
        except InstanceGone:
            await self.needs_repair("the instance no longer exists on the gateway")
            return False
        except ProviderError:
            return True  # the gateway is unreachable: try again later
        state = status.state
        if state is ConnectionState.CONNECTED:
            self.socket_opened()
            await self._emit(ConnectionEvent(self.account_id, state, phone=status.phone))
            return False
        if state in (ConnectionState.NEEDS_REPAIR, ConnectionState.BLOCKED):
            await self.needs_repair(status.reason or str(state), state)
            return False
        if state is ConnectionState.WAITING_FOR_QR:
            await self.needs_repair("the gateway shows a QR code: scan it to link again")
            return False
        if state is ConnectionState.CONNECTING:
            return True  # the gateway is already on it; look again later
        await self._emit(
            ConnectionEvent(self.account_id, ConnectionState.CONNECTING, reason="reconnecting")
        )
        try:
            await self._connect()
        except AuthError as exc:
            await self.needs_repair(f"the gateway refused the token ({exc.detail})")
            return False
        except InstanceGone:
            await self.needs_repair("the instance no longer exists on the gateway")
            return False
        except ProviderError:
            pass
        return True

    async def needs_repair(
        self, reason: str, state: ConnectionState = ConnectionState.NEEDS_REPAIR
    ) -> None:
        """Only a new pairing can help: say why, and stop reconnecting."""
        self.socket_closed()
        self.repair_reason = reason
        await self._emit(ConnectionEvent(self.account_id, state, needs_repair=True, reason=reason))


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
