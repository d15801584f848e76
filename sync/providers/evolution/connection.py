"""The state of one instance's WhatsApp link, and when to ask Evolution to reconnect it.

Baileys (``src/Types/index.ts``, ``DisconnectReason``) says why a socket closed; Evolution
(``whatsapp.baileys.service.ts``, ``connectionUpdate``) reconnects by itself on most closes.
``EvolutionLink`` follows what webhooks, the event socket and polls say, nudges Evolution with
backoff when the link stays down, and stops when only the user can help (a new pairing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sync.domain.events import AccountRemovedEvent, ConnectionEvent, ProviderEvent, QrEvent
from sync.domain.models import ConnectionState
from sync.providers.base import AuthError, ProviderError
from sync.providers.evolution.errors import why

log = logging.getLogger(__name__)

# # Baileys (src/Types/index.ts, DisconnectReason): loggedOut 401, forbidden 403, connectionReplaced
# 440, badSession 500, restartRequired 515, multideviceMismatch 411, timedOut/connectionLost 408,
# connectionClosed 428, unavailableService 503. Evolution reconnects by itself on every close but
# loggedOut, forbidden, 402 and 406 (whatsapp.baileys.service.ts, connectionUpdate:
# ``codesToNotReconnect``); for those it deletes the session, so only a new pairing helps.

REPAIR_REASONS: Final[dict[int, tuple[ConnectionState, str]]] = {
    401: (ConnectionState.NEEDS_REPAIR, "logged out: the phone removed this linked device"),
    403: (ConnectionState.BLOCKED, "WhatsApp refused this number (banned or restricted)"),
    402: (ConnectionState.NEEDS_REPAIR, "WhatsApp ended the session (code 402)"),
    406: (ConnectionState.NEEDS_REPAIR, "WhatsApp ended the session (code 406)"),
    # "Multi-device beta not joined" (Baileys socket.ts): reconnecting can never succeed.
    411: (ConnectionState.NEEDS_REPAIR, "the phone's WhatsApp does not support linked devices"),
    # badSession: the stored session keys are unusable. Baileys' own guidance for it is to delete
    # the session and scan again; reconnecting on the same keys only fails again, so the user is
    # asked to pair at once, as for a logout.
    500: (ConnectionState.NEEDS_REPAIR, "the session is broken (bad session): pair again"),
}
# Reconnectable closes. 440 means another connection took over the same session; Evolution itself
# reconnects on it, as Baileys' README example does.
TRANSIENT_REASONS: Final[dict[int, str]] = {
    408: "the connection timed out",
    428: "the connection was closed",
    440: "another connection replaced this session",
    503: "WhatsApp is unavailable",
}
REASON_BAD_SESSION: Final = REPAIR_REASONS[500][1]
REASON_LOGGED_OUT: Final = "logged out (Evolution ended the session)"
REASON_QR_EXPIRED: Final = "the QR code expired before the phone scanned it: pair again"
REASON_QR_UNASKED: Final = "WhatsApp asks for a new QR scan: pair again"
REASON_NOT_LINKED: Final = "no phone is linked to this instance yet: pair it"
# How long after request_pairing QRs are expected: Evolution gives up after QRCODE_LIMIT codes
# (30 by default, each valid for about 20-60 s), so a dialog left open is over by then.
PAIRING_WINDOW: Final = 15 * 60.0


def close_event(account_id: int, code: int | None) -> ConnectionEvent:
    """What a ``close`` with Baileys status ``code`` means for the number."""
    if code in REPAIR_REASONS:
        state, reason = REPAIR_REASONS[code]
        return ConnectionEvent(account_id, state, needs_repair=True, reason=reason)
    if code == 515:
        # restartRequired: sent right after a scan; Evolution opens a new socket at once.
        return ConnectionEvent(account_id, ConnectionState.CONNECTING, reason="restarting")
    reason = TRANSIENT_REASONS.get(code or 0, "the connection was closed")
    if code and code not in TRANSIENT_REASONS:
        reason = f"{reason} (code {code})"
    return ConnectionEvent(account_id, ConnectionState.OFFLINE, reason=reason)


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential backoff with full jitter: attempt ``n`` waits ``rng() * min(cap, base * 2**n)``.

    Attempts reset once a connection has stayed open ``stable_seconds`` (a flapping link keeps
    backing off); after ``max_attempts`` the adapter stops and says so.
    """

    base: float = 2.0
    cap: float = 300.0
    max_attempts: int = 12
    stable_seconds: float = 30.0


class EvolutionLink:
    """What the adapter knows of its instance's WhatsApp link, and the reconnect policy.

    Fed with connection events (``apply``: webhooks, the event socket, the adapter's own checks).
    When the link drops, one reconnect loop at most asks Evolution again, backing off with
    jitter; it stops once the link is open, or when only the user can help (logout, ban, removed
    instance, a QR nobody asked for). What it learns it reports with ``push``.
    """

    def __init__(
        self,
        account_id: int,
        instance: str,
        *,
        policy: ReconnectPolicy,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        rng: Callable[[], float],
        poll: Callable[[], Awaitable[str]],
        reopen: Callable[[], Awaitable[object]],
        push: Callable[[Sequence[ProviderEvent]], Coroutine[Any, Any, None]],
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None] | None],
        on_linked: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        """``poll`` reads the instance's state (open, connecting, close); ``reopen`` asks
        Evolution to connect; ``spawn`` runs background work the adapter cancels on close;
        ``on_linked`` runs once a pairing the user asked for has linked the phone."""
        self.account_id = account_id
        self._instance = instance
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._poll = poll
        self._reopen = reopen
        self._push = push
        self._spawn = spawn
        self._on_linked = on_linked
        self.state = ConnectionState.OFFLINE
        self.reason = ""  # why it is not connected, in English ("" when connected)
        self.needs_repair = False  # only a new pairing can bring the number back
        self.phone = ""  # the linked phone's digits, once known
        self.closed = False
        self.reconnect_task: asyncio.Task[None] | None = None
        self._attempts = 0
        self._opened_at: float | None = None
        self._pairing_until: float | None = None

    def snapshot(self) -> ConnectionEvent:
        """The link as an event, for the sink."""
        return ConnectionEvent(
            self.account_id,
            self.state,
            needs_repair=self.needs_repair,
            phone=self.phone if self.state is ConnectionState.CONNECTED else "",
            reason=self.reason,
        )

    @property
    def pairing(self) -> bool:
        """A pairing the user asked for is under way (QRs are expected, not a lost session)."""
        return self._pairing_until is not None and self._clock() < self._pairing_until

    def begin_pairing(self) -> None:
        """The user asked to pair: QRs are expected for ``PAIRING_WINDOW``."""
        self._pairing_until = self._clock() + PAIRING_WINDOW

    def end_pairing(self) -> None:
        """Nothing to scan after all (the link was already open)."""
        self._pairing_until = None

    def apply(self, event: ConnectionEvent | QrEvent | AccountRemovedEvent) -> None:
        """Follow one event: the reconnect policy (see the class)."""
        now = self._clock()
        if isinstance(event, AccountRemovedEvent):
            self.enter(ConnectionState.NEEDS_REPAIR, event.reason, repair=True)
            return
        if isinstance(event, QrEvent):
            if self.pairing:
                self.enter(ConnectionState.WAITING_FOR_QR, "", repair=False)
            else:
                # Evolution only shows a QR when the session is gone (it reconnects a live one
                # by itself): nobody is looking at this QR, the user has to pair again.
                self.enter(ConnectionState.NEEDS_REPAIR, REASON_QR_UNASKED, repair=True)
                self._spawn(self._push([self.snapshot()]))
            return
        if event.state is ConnectionState.CONNECTED:
            self._opened_at = now
            if event.phone:
                self.phone = event.phone
            self.enter(ConnectionState.CONNECTED, "", repair=False)
            if self.pairing:
                self._pairing_until = None
                self._attempts = 0
                self._spawn(self._on_linked())
            return
        # Any state but open: was the last open stable? Then this is a fresh outage.
        if self._opened_at is not None and now - self._opened_at >= self._policy.stable_seconds:
            self._attempts = 0
        self._opened_at = None
        if event.needs_repair or event.state in (
            ConnectionState.NEEDS_REPAIR,
            ConnectionState.BLOCKED,
        ):
            self.enter(event.state, event.reason, repair=True)
            return
        if self.needs_repair and not self.pairing:
            return  # sticky: only a new pairing or an open link clears it (late closes don't)
        if event.state is not ConnectionState.OFFLINE:
            # connecting / waiting for QR: Evolution is at work, no nudge needed.
            self.enter(event.state, event.reason, repair=False)
            return
        self.enter(ConnectionState.OFFLINE, event.reason, repair=False)
        self._ensure_reconnecting()

    def reconnect_now(self) -> None:
        """Start reconnecting again from the shortest delay (after the loop gave up)."""
        self._attempts = 0
        if self._offline():
            self._ensure_reconnecting()

    def enter(self, state: ConnectionState, reason: str, *, repair: bool) -> None:
        """Take ``state``; an open link or one only the user can fix stops reconnecting."""
        self.state = state
        self.reason = reason
        self.needs_repair = repair
        if state is ConnectionState.CONNECTED or repair:
            self._stop_reconnecting()

    def close(self) -> None:
        """Reconnect no more (the adapter is closing and cancels what it spawned)."""
        self.closed = True
        self.reconnect_task = None

    def _offline(self) -> bool:
        return self.state is ConnectionState.OFFLINE and not self.needs_repair

    def _ensure_reconnecting(self) -> None:
        running = self.reconnect_task is not None and not self.reconnect_task.done()
        if self.closed or running:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # observed outside a loop (a CLI parse): nothing to run
        self.reconnect_task = self._spawn(self._reconnect_loop())

    def _stop_reconnecting(self) -> None:
        task, self.reconnect_task = self.reconnect_task, None
        if task is not None and task is not _current_task():
            task.cancel()

    async def _reconnect_loop(self) -> None:
        policy = self._policy
        while self._offline():
            if self._attempts >= policy.max_attempts:
                self.reason = f"gave up reconnecting after {policy.max_attempts} attempts"
                log.warning("evolution %s: %s", self._instance, self.reason)
                await self._push([self.snapshot()])
                return
            delay = self._rng() * min(policy.cap, policy.base * 2**self._attempts)
            self._attempts += 1
            log.info(
                "evolution %s: reconnect attempt %d in %.1f s",
                self._instance,
                self._attempts,
                delay,
            )
            await self._sleep(delay)
            if not self._offline():
                return
            try:
                state = await self._poll()
                if state == "close":
                    await self._reopen()
                    continue
                if state == "open":
                    self.apply(ConnectionEvent(self.account_id, ConnectionState.CONNECTED))
                    await self._push([self.snapshot()])
                    return
            except AuthError as exc:
                self.reason = why(exc)
                await self._push([self.snapshot()])
                return
            except ProviderError as exc:
                log.info("evolution %s: reconnect attempt failed: %s", self._instance, exc)


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
