"""The dispatcher: every queued message goes to its provider at most once, in both modes.

The rules of sending, written once over a ``Store`` (``store.py``): solo mode runs this over the
local cache (``service.Engine``), the team server over Postgres (``sync/server/dispatcher.py``,
which adds only where its numbers come from and how it knows no other server is sending).

The life of a send, each arrow one committed transaction of the store:

1. claim: a due message of a number that is ready to send and not held back by pacing, the
   oldest of its conversation, is committed "sending" *before* the provider is called.
2. the provider's answer becomes an ``Outcome``:
   - accepted: ``sent``, with the provider's id (receipts then move it forward);
   - certainly not taken (``NotSent``: refused connection, maintenance; ``RateLimited``): tried
     again with exponential backoff and jitter (a rate limit's own delay wins, and the whole
     number waits it out); after ``MAX_ATTEMPTS`` tries it fails, saying why;
   - refused for good (``PermanentSendError``, ``AuthError``): ``failed``, with the reason;
   - answer lost (``DeliveryUnknown``, an adapter's bug, a stop mid-call): ``unknown``, never
     resent blindly; a receipt or an echo carrying our id settles it.
3. upkeep, every ``UPKEEP_INTERVAL_S``: sends whose claim's lease ran out become ``unknown``
   (their dispatcher stopped: a crash, a kill; a live one renews a send's lease every third of
   ``LEASE_S`` while the provider call lasts), so any process settles another's while all keep
   running;
   ``unknown`` sends that nothing confirmed within ``UNCONFIRMED_AFTER_S`` of the dispatcher
   being up are failed, so the agent can send them again; adapters that can notice a silent
   link check it. A dispatcher that is its store's only one (``sole``: solo mode) settles every
   send left "sending" at once when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final

from sync import faults
from sync.domain.changes import ChangeSet
from sync.domain.events import MessageEvent, ProviderEvent
from sync.domain.models import Direction
from sync.domain.outbox import (
    INTERRUPTED_REASON,
    UNCONFIRMED_AFTER_S,
    Claim,
    Outcome,
    gave_up,
)
from sync.engine.pacing import FORGET_AFTER_S, NUMBER, Pacer, PacingConfig
from sync.engine.store import Store
from sync.providers.base import (
    AuthError,
    CheckedAdapter,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    ProviderAdapter,
    RateLimited,
    SendResult,
)
from sync.wakeup import wait_event

log = logging.getLogger(__name__)

# Transient failures back off exponentially with jitter, capped, so a provider outage never
# turns into a storm of retries.
BACKOFF_BASE_S: Final = 2.0
BACKOFF_CAP_S: Final = 300.0
# After this many tries a message that never got through is failed (hours, with the cap).
MAX_ATTEMPTS: Final = 50
# A dispatcher with nothing due looks again this often even if nobody wakes it.
IDLE_POLL_S: Final = 2.0
# A claim's lease: longer than a provider call may last between two renewals (a third of it),
# short enough that a stopped dispatcher's sends do not hold their conversations back for long.
LEASE_S: Final = 30.0
# Recovery, settling and liveness run this often: cheap (indexed, usually empty), often enough
# that a send whose lease ran out is settled within seconds, and as often as a gateway's
# watchdog needs (``sync/providers/gateway``'s ``LIVENESS_PERIOD_S``).
UPKEEP_INTERVAL_S: Final = 5.0
# On stop, sends in flight get this long to finish before they are cut short (and "unknown").
CLOSE_GRACE_S: Final = 5.0
# A store that cannot record an outcome is asked again this many times, then the entry stays
# "sending" and the next recovery settles it as "unknown" (never resent).
RECORD_TRIES: Final = 6

ChangesListener = Callable[[ChangeSet], None]
# What a dispatcher may send now: the numbers ready and not held back by pacing, the (number,
# recipient) pairs pacing holds back, and when the next of those frees up.
Sendable = tuple[list[int], set[tuple[int, str]], float | None]

# What an adapter raises by contract (``sync/providers/base.py``); anything else is its bug.
_PROVIDER_ERRORS: Final = (RateLimited, NotSent, PermanentSendError, AuthError, DeliveryUnknown)


def only_inbound_messages(events: Sequence[ProviderEvent]) -> bool:
    """Customers' messages only: nothing a dispatcher waits for (a receipt may settle a send or
    free a conversation, a connection a number), so no reason to wake it: at hundreds of webhooks
    a second a wake per call would be a good part of the store's work."""
    return all(isinstance(e, MessageEvent) and e.direction is Direction.IN for e in events)


class Dispatcher:
    """Sends the outbox of a store's numbers (see the module docstring).

    ``concurrency`` sends may be in flight at once (each its own conversation, each within its
    number's pacing); with 0, ``start`` runs no loop and the caller drives ``dispatch_once``.
    ``clock`` (epoch seconds) dates retries and drives pacing and upkeep; ``sleep`` is what an
    idle loop waits on (asyncio's by default); ``rng`` draws the jitter: a test hands in a fake
    clock's ``now`` and ``sleep`` and a seeded ``rng``. ``on_changes`` hears what each write
    changed (the desktop repaints from it). ``sole`` says no other dispatcher ever drives this
    store (the desktop's own cache): it may then settle every send left "sending" at start.
    """

    def __init__(
        self,
        store: Store,
        *,
        sole: bool = False,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        concurrency: int = 1,
        on_changes: ChangesListener | None = None,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        max_attempts: int = MAX_ATTEMPTS,
        idle_poll_s: float = IDLE_POLL_S,
        upkeep_interval_s: float = UPKEEP_INTERVAL_S,
        lease_s: float = LEASE_S,
        close_grace_s: float = CLOSE_GRACE_S,
    ) -> None:
        self._store = store
        self._sole = sole
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._concurrency = max(0, concurrency)
        self._on_changes = on_changes
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._max_attempts = max_attempts
        self._idle_poll_s = idle_poll_s
        self._upkeep_interval_s = upkeep_interval_s
        self._lease_s = lease_s
        self._close_grace_s = close_grace_s
        self.pacer = Pacer(rng=self._rng)
        self._adapters: dict[int, ProviderAdapter] = {}
        self._inflight: set[str] = set()  # our ids of the sends in progress
        self._claim_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._stopping = False
        self._up_since_ms = 0
        self._upkept_at = 0.0
        self._passes = 0
        # Claims and completed sends so far: a pass that saw this unchanged and nothing in
        # flight looked at a quiet outbox (see ``idle``).
        self._moves = 0
        # (the first pass that may answer, its future): see ``idle``.
        self._idle_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.recovered = 0  # sends found "sending" after a crash and made "unknown"

    def __repr__(self) -> str:
        return (
            f"Dispatcher(numbers={sorted(self._adapters)}, in_flight={len(self._inflight)},"
            f" running={bool(self._workers)})"
        )

    # -- numbers --------------------------------------------------------------------------------

    def set_number(self, adapter: ProviderAdapter, pacing: PacingConfig | None) -> None:
        """Send from ``adapter``'s number, within ``pacing`` (None: as fast as messages come)."""
        self._adapters[adapter.account_id] = adapter
        self.pacer.configure(adapter.account_id, pacing)
        self.wake()

    def remove_number(self, account_id: int) -> ProviderAdapter | None:
        """Stop sending from a number; returns its adapter (its owner closes it)."""
        self.pacer.configure(account_id, None)
        return self._adapters.pop(account_id, None)

    def adapter(self, account_id: int) -> ProviderAdapter | None:
        """The adapter of a number this dispatcher sends from."""
        return self._adapters.get(account_id)

    @property
    def adapters(self) -> Mapping[int, ProviderAdapter]:
        """Every number's adapter, by account id."""
        return self._adapters

    def observe(self, events: Sequence[ProviderEvent]) -> None:
        """Show committed events to their numbers' adapters (connection state, heartbeats: a
        QR-linked number is ready to send only once its adapter saw it connected), and look at
        the outbox again when one of them may free a send."""
        by_account: dict[int, list[ProviderEvent]] = {}
        for event in events:
            by_account.setdefault(event.account_id, []).append(event)
        for account_id, own in by_account.items():
            adapter = self._adapters.get(account_id)
            if isinstance(adapter, CheckedAdapter):
                try:
                    adapter.observe(own)
                except Exception:  # one adapter's bug must not stop the others hearing theirs
                    log.exception("number %d failed to observe its events", account_id)
        if not only_inbound_messages(events):
            self.wake()

    # -- life -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Settle what a stopped dispatcher left "sending", then start the send loops."""
        if self._workers:
            raise RuntimeError("the dispatcher is already running")
        self._stopping = False
        self._up_since_ms = self._now_ms()
        await self._recover(None if self._sole else self._now_ms())
        self._upkept_at = self._clock()
        loop = asyncio.get_running_loop()
        self._workers = [
            loop.create_task(self._work(), name=f"caixa-dispatch-{i}")
            for i in range(self._concurrency)
        ]

    async def aclose(self) -> None:
        """Stop: sends in flight get ``close_grace_s`` to finish, then are cut short (and so
        "unknown"). The adapters are their owner's to close."""
        self._stopping = True
        self.wake()
        if self._workers:
            _, pending = await asyncio.wait(self._workers, timeout=self._close_grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
            self._workers = []
        for _, waiter in self._idle_waiters:
            if not waiter.done():
                waiter.set_exception(RuntimeError("the dispatcher stopped"))
        self._idle_waiters = []

    def wake(self) -> None:
        """Look at the outbox now (a message was queued, a receipt came, a number connected).

        Call it on the event loop, after the write that made a send possible committed.
        """
        event, self._wake = self._wake, asyncio.Event()
        event.set()

    @property
    def passes(self) -> int:
        """How many passes the loops have begun: each sends what is due, or finds nothing and
        waits. A test counts them (on a fake clock) to show a dispatcher does not spin."""
        return self._passes

    async def idle(self) -> None:
        """Return once a pass that began after this call found nothing it may send now, with
        no send in flight.

        How a test proves that a message is *not* sent (held for a number that is offline, a
        second copy): everything due and sendable when this is called has been handed to its
        adapter by the time it returns, and the rest provably waits. It wakes the loops, so the
        answer comes at once. Raises ``RuntimeError`` when the dispatcher has no loop running
        or stops meanwhile.
        """
        if not self._workers:
            raise RuntimeError("the dispatcher is not running")
        waiter = asyncio.get_running_loop().create_future()
        # A pass already under way may have looked before the caller's last change: only a
        # pass that begins from now on can answer.
        self._idle_waiters.append((self._passes + 1, waiter))
        self.wake()
        await waiter

    # -- sending --------------------------------------------------------------------------------

    async def dispatch_once(self) -> bool:
        """Send the next claimable message, if any; True when one was handled."""
        handled, _ = await self._dispatch()
        return handled

    async def _dispatch(self) -> tuple[bool, Sendable]:
        """``dispatch_once``, with what pacing and readiness allowed when it looked (an idle
        loop then sleeps on that look, not on a second one)."""
        async with self._claim_lock:
            view = await self._sendable()
            ready, blocked_pairs, _ = view
            if not ready:
                return False, view
            now_ms = self._now_ms()
            paced = self.pacer.paced.intersection(ready)
            claim = await self._store.claim_next(
                ready,
                blocked_pairs,
                now_ms=now_ms,
                lease_until_ms=now_ms + int(self._lease_s * 1000),
                # Pacing is spent in the claim's transaction: shared by every dispatcher.
                admit=self._admit if paced else None,
            )
            if claim is None:
                return False, view
            self._inflight.add(claim.message_id)
            self._moves += 1
        try:
            self._publish(claim.changes)
            outcome = await self._send(claim)
            await self._record(claim, outcome)
        finally:
            self._inflight.discard(claim.message_id)
            self._moves += 1
        self.wake()  # the conversation's next message, or a freed pacing slot
        return True, view

    async def _sendable(self) -> Sendable:
        """(the numbers ready to send and not held back by pacing, the (number, recipient)
        pairs pacing holds back, and when the next of those frees up), from the store's
        pacing state now."""
        ready = self._ready_numbers()
        paced = self.pacer.paced.intersection(ready)
        now = self._clock()
        state = await self._store.pacing_state(paced, after=now) if paced else {}
        blocked_numbers, blocked_pairs, freed_at = self.pacer.blocked(state, now)
        return [a for a in ready if a not in blocked_numbers], blocked_pairs, freed_at

    def _admit(
        self, account_id: int, recipient: str, number: float | None, pair: float | None
    ) -> tuple[float | None, float | None] | None:
        # Called by the store inside its claim transaction (maybe on its thread), under this
        # dispatcher's claim lock: one at a time.
        return self.pacer.admit(account_id, recipient, number, pair, self._clock())

    def _outcome_of(self, claim: Claim, error: Exception) -> Outcome:
        """What a provider's error means for this claim (the rules of the module docstring)."""
        if isinstance(error, RateLimited):
            return self._retry_or_fail(claim, f"{error.code}: {error.detail}", error.retry_after)
        if isinstance(error, NotSent):
            return self._retry_or_fail(claim, f"{error.code}: {error.detail}", None)
        if isinstance(error, PermanentSendError | AuthError):
            return Outcome("failed", reason=f"{error.code}: {error.detail}")
        if isinstance(error, DeliveryUnknown):
            return Outcome("unknown", reason=error.detail or error.code)
        # An adapter's bug must not lose or double the message; its text may hold anything, so
        # only its type is kept.
        return Outcome("unknown", reason=f"unexpected error: {type(error).__name__}")

    async def _send(self, claim: Claim) -> Outcome:
        faults.point("dispatch.after_claim")
        adapter = self._adapters.get(claim.account_id)
        if adapter is None:  # removed between the claim and now: certainly not sent
            return self._retry_or_fail(claim, "not_sent: the number is not loaded", None)
        try:
            result = await self._call(adapter, claim)
        except asyncio.CancelledError:
            # Stopping mid-call: the request may be out; never resend it blindly.
            await asyncio.shield(self._record(claim, Outcome("unknown", reason=INTERRUPTED_REASON)))
            raise
        except Exception as exc:
            if not isinstance(exc, _PROVIDER_ERRORS):
                log.error("send failed unexpectedly: %s", type(exc).__name__)
            if isinstance(exc, RateLimited):
                await self._hold(claim, exc.retry_after, per_recipient=exc.per_recipient)
            return self._outcome_of(claim, exc)
        faults.point("dispatch.after_send")
        return Outcome("sent", provider_message_id=result.provider_message_id)

    async def _call(self, adapter: ProviderAdapter, claim: Claim) -> SendResult:
        """The provider call, the claim's lease renewed every third of it while the call lasts
        (a slow provider is not mistaken for a stopped dispatcher)."""
        call = asyncio.ensure_future(adapter.send(claim.message))
        done = asyncio.Event()
        call.add_done_callback(lambda _: done.set())
        try:
            while not await wait_event(done, self._lease_s / 3, sleep=self._sleep):
                until = self._now_ms() + int(self._lease_s * 1000)
                try:
                    await self._store.renew_leases([claim.message_id], until_ms=until)
                except Exception:  # the store is away: the lease may run out, never a resend
                    log.warning("could not renew a send's lease", exc_info=True)
            return call.result()
        finally:
            if not call.done():  # cancelled meanwhile: the call goes too
                call.cancel()
                with contextlib.suppress(BaseException):
                    await call

    async def _hold(self, claim: Claim, seconds: float, *, per_recipient: bool) -> None:
        """The provider asked the number (or its messages to this customer) to slow down: they
        all wait, for every dispatcher."""
        held = self.pacer.paused(
            claim.account_id,
            seconds,
            self._clock(),
            recipient=claim.recipient if per_recipient else NUMBER,
        )
        if held is None:
            return
        try:
            await self._store.hold_pacing(claim.account_id, held[1], recipient=held[0])
        except Exception:  # the message is retried later anyway; only the pause is lost
            log.warning("could not hold number %d's sends", claim.account_id, exc_info=True)

    def _retry_or_fail(self, claim: Claim, reason: str, delay: float | None) -> Outcome:
        if claim.attempts >= self._max_attempts:
            return Outcome("failed", reason=gave_up(claim.attempts, reason))
        if delay is None:
            ceiling = min(self._backoff_cap_s, self._backoff_base_s * 2 ** (claim.attempts - 1))
            delay = self._rng.uniform(ceiling / 2, ceiling)
        return Outcome("retry", reason=reason, delay_s=max(0.0, delay))

    async def _record(self, claim: Claim, outcome: Outcome) -> None:
        """Write the outcome; a store that cannot write now is asked a few times, then the
        entry is left "sending" for recovery (which makes it "unknown": never resent)."""
        for attempt in range(RECORD_TRIES):
            try:
                changes = await self._store.record_outcome(claim, outcome, now_ms=self._now_ms())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt == RECORD_TRIES - 1:
                    log.error("could not record a send's outcome: %s", type(exc).__name__)
                    return
                await asyncio.sleep(0.05 * 2**attempt)
            else:
                self._publish(changes)
                return

    def _ready_numbers(self) -> list[int]:
        ready = []
        for account_id, adapter in self._adapters.items():
            try:
                if adapter.ready_to_send():
                    ready.append(account_id)
            except Exception:
                log.exception("ready_to_send failed")
        return ready

    # -- the loops ------------------------------------------------------------------------------

    async def _work(self) -> None:
        while not self._stopping:
            event = self._wake  # a wake that comes during the pass is not lost
            self._passes += 1
            this_pass = self._passes
            moves = self._moves
            try:
                await self._upkeep_if_due()
                handled, view = await self._dispatch()
                if handled:
                    continue
                delay = await self._idle_delay(view)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox dispatcher error")
                delay = self._idle_poll_s
            else:
                # Nothing claimable, and no other loop's send began or ended meanwhile (which
                # could have freed its conversation's next message).
                if not self._inflight and self._moves == moves:
                    self._answer_idle(this_pass)
            await wait_event(event, delay, sleep=self._sleep)

    async def _idle_delay(self, view: Sendable) -> float:
        ready, blocked_pairs, freed_at = view
        delay = self._idle_poll_s
        if freed_at is not None:  # a paced number or customer may send again then
            delay = min(delay, freed_at - self._clock())
        if ready:
            due = await self._store.next_due(ready, blocked_pairs)
            if due is not None:
                delay = min(delay, (due - self._now_ms()) / 1000)
        return max(0.005, delay)

    def _answer_idle(self, this_pass: int) -> None:
        """Pass ``this_pass`` found nothing to send: the ``idle`` callers waiting for it return."""
        waiting = []
        for first, waiter in self._idle_waiters:
            if waiter.done():
                continue  # its caller gave up (cancelled)
            if first <= this_pass:
                waiter.set_result(None)
            else:
                waiting.append((first, waiter))
        self._idle_waiters = waiting

    # -- upkeep ---------------------------------------------------------------------------------

    async def _upkeep_if_due(self) -> None:
        if self._clock() - self._upkept_at < self._upkeep_interval_s:
            return
        self._upkept_at = self._clock()
        await self.upkeep()

    async def upkeep(self) -> None:
        """Recover, settle, check links (see the module docstring); the loops call it every
        ``upkeep_interval_s``, a test may call it directly."""
        await self._recover(self._now_ms())
        await self._store.forget_pacing(before=self._clock() - FORGET_AFTER_S)
        cutoff = self._now_ms() - int(UNCONFIRMED_AFTER_S * 1000)
        # Only once up long enough to have heard the receipts of the sends before the cutoff.
        if self._up_since_ms <= cutoff:
            self._publish(await self._store.settle_unconfirmed(before_ms=cutoff))
        for adapter in list(self._adapters.values()):
            check = getattr(adapter, "check_liveness", None)
            if check is None:
                continue
            try:
                check()
            except Exception:  # one adapter's bug must not stop the others' watchdog
                log.exception("liveness check failed")

    async def _recover(self, expired_by_ms: int | None) -> None:
        """Make "unknown" the sends whose lease ended before ``expired_by_ms`` (None: all)."""
        changes = await self._store.recover_interrupted(expired_by_ms=expired_by_ms)
        if changes:
            self.recovered += len(changes.messages)
            log.info("%d send(s) interrupted by a stop are now unknown", len(changes.messages))
            self._publish(changes)

    # -- helpers --------------------------------------------------------------------------------

    def _publish(self, changes: ChangeSet) -> None:
        if changes and self._on_changes is not None:
            try:
                self._on_changes(changes)
            except Exception:
                log.exception("a changes listener failed")

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)
