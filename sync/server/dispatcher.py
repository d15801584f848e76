"""The team server's outbox dispatcher: every queued message goes to its provider at most once.

The life of an outgoing message, each arrow one committed transaction (as in the solo
``sync/store/local/outbox.py``, on Postgres):

1. ``pg_ingest.enqueue_send``: the message (``queued``) and its outbox entry, together.
2. claim: the entry becomes ``sending`` and the message ``sending``, committed *before* the
   provider is called. Claims use ``FOR UPDATE SKIP LOCKED``, so several dispatchers (tasks of
   one server, or servers) never take the same entry, and only the oldest entry of each
   conversation can be claimed, so a conversation's messages go out in the order they were
   written (a later one waits while an earlier one is being sent or waits out a retry).
3. the outcome: ``sent`` (with the provider's id), ``failed`` (the reason, for the agent),
   ``unknown`` (the provider was called but its answer was lost: never resent; a receipt with
   our id, or a QR provider's echo, settles it later, see ``pg_ingest``), or back to ``queued``
   with a later ``next_attempt_at`` when the provider certainly did not take it (429, refused
   connection, maintenance): retried with exponential backoff and jitter.

An entry left ``sending`` by a crash is never sent again: at start the dispatcher marks its
message ``unknown``. To tell a crashed dispatcher's entries from a live one's, every dispatcher
holds a shared advisory lock for its lifetime; recovery runs only under the exclusive lock
(no other dispatcher alive), at start and then now and then.

Errors are classified as ``sync/engine/service.py`` does (the contract in
``sync/providers/base.py``). Pacing (``pacing.py``) decides which numbers and recipients may be
claimed now.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from sync import faults
from sync.domain.events import ProviderEvent
from sync.engine.pacing import Pacer, pacing_for
from sync.providers.base import (
    AuthError,
    CheckedAdapter,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    ProviderAdapter,
    RateLimited,
)
from sync.server.credentials import ServerKey, join_account
from sync.store.team.database import ServerDatabase
from sync.store.team.ingest import (
    ingest_events,
)
from sync.store.team.outbox import (
    Actor,
    Claim,
    Outcome,
    account_rows,
    claim_next,
    next_due_s,
    record_outcome,
    recover_interrupted,
    retry_message,
    settle_unconfirmed,
)
from sync.wakeup import wait_event

if TYPE_CHECKING:
    import httpx

    from sync.providers.accounts import ProviderAccount

log = logging.getLogger(__name__)

AdapterFactory = Callable[["ProviderAccount", "httpx.AsyncClient"], ProviderAdapter]

# Held shared by every live dispatcher, taken exclusive for recovery ("Caix").
ADVISORY_KEY: Final = 0x43616978
# Transient failures back off exponentially with jitter, capped (as the solo engine does).
BACKOFF_BASE_S: Final = 2.0
BACKOFF_CAP_S: Final = 300.0
# After this many tries a message that never got through is failed (hours, with the cap).
MAX_ATTEMPTS: Final = 50
IDLE_POLL_S: Final = 2.0
ACCOUNT_REFRESH_S: Final = 5.0
RECOVERY_INTERVAL_S: Final = 30.0
# How long start waits for the exclusive lock (a crashed predecessor's session may take a
# moment to end) before leaving recovery to a later pass.
RECOVERY_WAIT_S: Final = 2.0
CLOSE_GRACE_S: Final = 5.0
_RECORD_TRIES: Final = 6


@dataclass(slots=True)
class _Number:
    fingerprint: str
    adapter: ProviderAdapter


def default_adapter_factory(public_url: str = "") -> AdapterFactory:
    """Adapters as the solo workspace makes them (``build_adapter``), webhooks at ``public_url``."""

    def make(account: ProviderAccount, http: httpx.AsyncClient) -> ProviderAdapter:
        from sync.providers.registry import build_adapter

        return build_adapter(account, http, public_url=public_url)

    return make


class Dispatcher:
    """Sends the outbox of every number of every workspace (see the module docstring).

    ``concurrency`` sends may be in flight at once (each its own conversation, each within its
    number's pacing); with 0, ``start`` runs no loop and the caller drives ``dispatch_once``.
    ``clock`` drives pacing; ``rng`` the jitter (both injectable for tests).
    """

    def __init__(
        self,
        db: ServerDatabase,
        key: ServerKey,
        http: httpx.AsyncClient,
        *,
        adapter_factory: AdapterFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        concurrency: int = 4,
        public_url: str = "",
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        max_attempts: int = MAX_ATTEMPTS,
        idle_poll_s: float = IDLE_POLL_S,
        account_refresh_s: float = ACCOUNT_REFRESH_S,
        recovery_interval_s: float = RECOVERY_INTERVAL_S,
        recovery_wait_s: float = RECOVERY_WAIT_S,
    ) -> None:
        self._db = db
        self._key = key
        self._http = http
        self._factory = adapter_factory or default_adapter_factory(public_url)
        self._clock = clock
        self._rng = rng or random.Random()
        self._concurrency = max(0, concurrency)
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._max_attempts = max_attempts
        self._idle_poll_s = idle_poll_s
        self._account_refresh_s = account_refresh_s
        self._recovery_interval_s = recovery_interval_s
        self._recovery_wait_s = recovery_wait_s
        self.pacer = Pacer(clock=clock, rng=self._rng)
        self._numbers: dict[int, _Number] = {}
        self._inflight: set[str] = set()  # our ids of the sends in progress
        self._claim_lock = asyncio.Lock()
        self._refresh_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._presence: Connection | None = None
        self._stopping = False
        self._refreshed_at: float | None = None
        self._recovered_at = 0.0
        self.recovered = 0  # entries found "sending" after a crash and marked unknown
        self._up_since_ms = int(time.time() * 1000)

    def __repr__(self) -> str:
        return (
            f"Dispatcher(numbers={sorted(self._numbers)}, in_flight={len(self._inflight)},"
            f" running={bool(self._workers)})"
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def adapter(self, account_id: int) -> ProviderAdapter | None:
        """The adapter of a live number (for what desktops ask of its provider: templates)."""
        number = self._numbers.get(account_id)
        return None if number is None else number.adapter

    async def start(self) -> None:
        """Settle what a crash left ``sending``, load the numbers, start the send loops."""
        if self._workers:
            raise RuntimeError("the dispatcher is already running")
        self._stopping = False
        self._up_since_ms = int(time.time() * 1000)
        await asyncio.to_thread(self._join)
        await self._refresh_numbers()
        loop = asyncio.get_running_loop()
        self._workers = [
            loop.create_task(self._work(), name=f"caixa-dispatch-{i}")
            for i in range(self._concurrency)
        ]

    async def aclose(self) -> None:
        """Stop: sends in flight get a moment to finish, then are cancelled (and so "unknown")."""
        self._stopping = True
        self.wake()
        if self._workers:
            _, pending = await asyncio.wait(self._workers, timeout=CLOSE_GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
            self._workers = []
        for number in self._numbers.values():
            with contextlib.suppress(Exception):
                await number.adapter.aclose()
        self._numbers.clear()
        if self._presence is not None:
            presence, self._presence = self._presence, None
            # Closed for real, not returned to the pool: session advisory locks outlive a
            # transaction, and a pooled connection still holding ours would make the next
            # dispatcher on this pool believe another one is running.
            await asyncio.to_thread(_drop, presence)

    def wake(self) -> None:
        """Look at the outbox now (after a send was queued, a receipt came, a number connected).

        Call it on the event loop, after the transaction that queued the message committed.
        """
        event, self._wake = self._wake, asyncio.Event()
        event.set()

    def observe(self, events: Sequence[ProviderEvent]) -> None:
        """Show committed webhook events to the numbers' adapters (connection state, heartbeats).

        The team server's webhook receiver calls this (as its observer), as the solo workspace
        does: a QR-linked number is ready to send only once its adapter saw it connected.
        """
        connection = False
        for event in events:
            connection = connection or event.kind in ("connection", "account_removed")
            number = self._numbers.get(event.account_id)
            if number is not None and isinstance(number.adapter, CheckedAdapter):
                try:
                    number.adapter.observe([event])
                except Exception:
                    log.exception("adapter observe failed")
        if connection:
            self.wake()

    def _join(self) -> None:
        """Take the presence lock; recover a crashed predecessor's sends if nobody else runs."""
        conn = self._db.engine.connect()
        try:
            deadline = time.monotonic() + self._recovery_wait_s
            while True:
                alone = bool(
                    conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
                    ).scalar()
                )
                conn.commit()
                if alone or time.monotonic() >= deadline:
                    break
                time.sleep(0.02)
            if alone:
                self.recovered += recover_interrupted(self._db, ())
            conn.execute(text("SELECT pg_advisory_lock_shared(:k)"), {"k": ADVISORY_KEY})
            if alone:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            conn.commit()
        except BaseException:
            conn.close()
            raise
        self._presence = conn
        self._recovered_at = time.monotonic()
        if not alone:
            log.info("another dispatcher is running: crash recovery left to a later pass")

    def _recover_if_alone(self, inflight: frozenset[str]) -> int:
        conn = self._presence
        if conn is None:
            return 0
        alone = bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
        )
        conn.commit()
        if not alone:
            return 0
        try:
            return recover_interrupted(self._db, inflight)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            conn.commit()

    # -- numbers --------------------------------------------------------------------------------

    async def _sink(self, events: Sequence[ProviderEvent]) -> None:
        await ingest_events(self._db, events)
        self.observe(events)

    async def _refresh_numbers(self) -> None:
        """Build adapters for new or changed numbers, close those of removed ones."""
        async with self._refresh_lock:
            rows = await asyncio.to_thread(account_rows, self._db)
            seen: set[int] = set()
            for account_id, name, provider, config, sealed in rows:
                seen.add(account_id)
                fingerprint = hashlib.sha256(
                    json.dumps([name, provider, config], sort_keys=True).encode() + (sealed or b"")
                ).hexdigest()
                current = self._numbers.get(account_id)
                if current is not None and current.fingerprint == fingerprint:
                    continue
                settings = dict(config)
                pacing_settings = settings.pop("pacing", None)
                try:
                    account = join_account(
                        self._key,
                        account_id=account_id,
                        name=name,
                        provider=provider,
                        config=settings,
                        sealed=sealed,
                    )
                    adapter = self._factory(account, self._http)
                    caps = adapter.capabilities
                    pacing = pacing_for(caps).with_overrides(pacing_settings)
                except Exception as exc:
                    # Errors of accounts and the key name fields, never values.
                    log.warning("number %s cannot send: %s", account_id, _describe(exc))
                    if current is not None:
                        del self._numbers[account_id]
                        await current.adapter.aclose()
                    continue
                if current is not None:
                    await current.adapter.aclose()
                self._numbers[account_id] = _Number(fingerprint, adapter)
                self.pacer.configure(account_id, pacing)
                try:
                    await adapter.start(self._sink)
                except Exception as exc:
                    log.warning("number %s did not start: %s", account_id, _describe(exc))
            for gone in set(self._numbers) - seen:
                number = self._numbers.pop(gone)
                await number.adapter.aclose()
            self._refreshed_at = self._clock()

    def _ready_numbers(self, blocked: set[int]) -> list[int]:
        ready = []
        for account_id, number in self._numbers.items():
            if account_id in blocked:
                continue
            try:
                if number.adapter.ready_to_send():
                    ready.append(account_id)
            except Exception:
                log.exception("ready_to_send failed")
        return ready

    # -- dispatching ----------------------------------------------------------------------------

    async def dispatch_once(self) -> bool:
        """Send the next claimable message, if any; True when one was handled."""
        if self._refreshed_at is None or (
            self._clock() - self._refreshed_at >= self._account_refresh_s
        ):
            await self._refresh_numbers()
        async with self._claim_lock:
            blocked_numbers, blocked_pairs, _ = self.pacer.blocked()
            ready = self._ready_numbers(blocked_numbers)
            if not ready:
                return False
            claim = await asyncio.to_thread(
                claim_next, self._db, ready, [f"{a}:{r}" for a, r in blocked_pairs]
            )
            if claim is None:
                return False
            self.pacer.take(claim.account_id, claim.recipient)
            self._inflight.add(claim.message_id)
        try:
            outcome = await self._send(claim)
            await self._record(claim, outcome)
        finally:
            self._inflight.discard(claim.message_id)
        self.wake()  # the conversation's next message, or a freed pacing slot
        return True

    async def _send(self, claim: Claim) -> Outcome:
        faults.point("dispatch.after_claim")
        number = self._numbers.get(claim.account_id)
        if number is None:  # removed between the claim and now: certainly not sent
            return self._retry_or_fail(claim, "not_sent: the number is not loaded", None)
        try:
            result = await number.adapter.send(claim.message)
        except RateLimited as exc:
            return self._retry_or_fail(claim, f"{exc.code}: {exc.detail}", exc.retry_after)
        except NotSent as exc:
            return self._retry_or_fail(claim, f"{exc.code}: {exc.detail}", None)
        except (PermanentSendError, AuthError) as exc:
            return Outcome("failed", reason=f"{exc.code}: {exc.detail}")
        except DeliveryUnknown as exc:
            return Outcome("unknown", reason=exc.detail or exc.code)
        except asyncio.CancelledError:
            # Shutting down mid-call: the request may be out; never resend it blindly.
            await asyncio.shield(self._record(claim, Outcome("unknown", reason="interrupted")))
            raise
        except Exception as exc:  # an adapter bug must not lose or double the message
            log.error("send failed unexpectedly: %s", type(exc).__name__)
            return Outcome("unknown", reason=f"unexpected error: {type(exc).__name__}")
        faults.point("dispatch.after_send")
        return Outcome("sent", provider_message_id=result.provider_message_id)

    def _retry_or_fail(self, claim: Claim, reason: str, delay: float | None) -> Outcome:
        if claim.attempts >= self._max_attempts:
            return Outcome("failed", reason=f"gave up after {claim.attempts} attempts: {reason}")
        if delay is None:
            ceiling = min(self._backoff_cap_s, self._backoff_base_s * 2 ** (claim.attempts - 1))
            delay = self._rng.uniform(ceiling / 2, ceiling)
        return Outcome("retry", reason=reason, delay_s=max(0.0, delay))

    async def _record(self, claim: Claim, outcome: Outcome) -> None:
        """Write the outcome; a lost database is retried a few times, then left to recovery."""
        for attempt in range(_RECORD_TRIES):
            try:
                await asyncio.to_thread(record_outcome, self._db, claim, outcome)
                return
            except DBAPIError as exc:
                if attempt == _RECORD_TRIES - 1:
                    # The entry stays "sending": the next recovery pass marks it unknown.
                    log.error("could not record a send's outcome: %s", type(exc).__name__)
                    return
                await asyncio.sleep(0.05 * 2**attempt)

    async def _work(self) -> None:
        while not self._stopping:
            event = self._wake  # a wake during dispatch_once is not lost
            try:
                if await self.dispatch_once():
                    continue
                await self._maybe_recover()
                delay = await self._idle_delay()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox dispatcher error")
                delay = self._idle_poll_s
            await wait_event(event, delay)

    async def _maybe_recover(self) -> None:
        if time.monotonic() - self._recovered_at < self._recovery_interval_s:
            return
        async with self._claim_lock:
            if time.monotonic() - self._recovered_at < self._recovery_interval_s:
                return
            self._recovered_at = time.monotonic()
            self.recovered += await asyncio.to_thread(
                self._recover_if_alone, frozenset(self._inflight)
            )
            await asyncio.to_thread(
                settle_unconfirmed,
                self._db,
                now_ms=int(time.time() * 1000),
                up_since_ms=self._up_since_ms,
            )
        self._check_liveness()

    def _check_liveness(self) -> None:
        """Let adapters notice a silent link (a gateway whose heartbeats stopped)."""
        for number in list(self._numbers.values()):
            check = getattr(number.adapter, "check_liveness", None)
            if check is None:
                continue
            try:
                check()
            except Exception:  # one adapter's bug must not stop the dispatcher
                log.exception("liveness check failed")

    async def _idle_delay(self) -> float:
        blocked_numbers, blocked_pairs, soonest = self.pacer.blocked()
        delay = self._idle_poll_s
        if soonest is not None:
            delay = min(delay, soonest - self._clock())
        ready = self._ready_numbers(blocked_numbers)
        if ready:
            due = await asyncio.to_thread(
                next_due_s, self._db, ready, [f"{a}:{r}" for a, r in blocked_pairs]
            )
            if due is not None:
                delay = min(delay, due)
        return max(0.005, delay)

    # -- supervisors ----------------------------------------------------------------------------

    async def retry(self, conn: Connection, message_id: uuid.UUID, principal: Actor) -> uuid.UUID:
        """A supervisor's "send again" of a failed (or unknown) message: a new queued copy.

        Written in ``conn``'s transaction; call ``wake()`` once it committed. See
        ``retry_message`` for why it is a copy.
        """
        return retry_message(conn, message_id, principal)


def _drop(conn: Connection) -> None:
    conn.invalidate()
    conn.close()


def _describe(exc: BaseException) -> str:
    from sync.engine.pacing import PacingConfigError
    from sync.providers.accounts import AccountConfigError
    from sync.server.credentials import ServerKeyError

    if isinstance(exc, AccountConfigError | ServerKeyError | PacingConfigError):
        return str(exc)
    return type(exc).__name__
