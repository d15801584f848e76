"""The team server's outbox dispatcher: every queued message goes to its provider at most once.

The life of an outgoing message, each arrow one committed transaction (as in the solo
``sync/engine/outbox.py``, on Postgres):

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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from sync import faults
from sync.domain.events import ProviderEvent
from sync.domain.messages import OutgoingMessage
from sync.domain.models import DeliveryStatus, Direction, MessageType
from sync.domain.text import clean_text
from sync.engine.outbox import template_of
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
from sync.server.database import ServerDatabase
from sync.server.pacing import Pacer, PacingConfig
from sync.server.pg_ingest import (
    adopt_provider_id,
    enqueue_send,
    ingest_events,
    set_status,
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


class RetryRefused(ValueError):
    """A retry that may not be made (not a supervisor, wrong kind of message); says why."""


class _Principal(Protocol):
    workspace_id: int
    user_id: int

    @property
    def is_supervisor(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox entry claimed for sending (committed ``sending``)."""

    message_id: uuid.UUID
    workspace_id: int
    account_id: int
    conversation_id: int
    recipient: str
    attempts: int
    message: OutgoingMessage


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of one send."""

    kind: Literal["sent", "failed", "unknown", "retry"]
    provider_message_id: str | None = None
    reason: str | None = None
    delay_s: float = 0.0


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
        self._inflight: set[uuid.UUID] = set()
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

    def _recover_if_alone(self, inflight: frozenset[uuid.UUID]) -> int:
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
            rows = await asyncio.to_thread(_account_rows, self._db)
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
                    pacing = PacingConfig.default_for(
                        caps.sends_per_second, qr_linked=caps.needs_qr_link
                    ).with_overrides(pacing_settings)
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

    async def _send(self, claim: Claimed) -> Outcome:
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

    def _retry_or_fail(self, claim: Claimed, reason: str, delay: float | None) -> Outcome:
        if claim.attempts >= self._max_attempts:
            return Outcome("failed", reason=f"gave up after {claim.attempts} attempts: {reason}")
        if delay is None:
            ceiling = min(self._backoff_cap_s, self._backoff_base_s * 2 ** (claim.attempts - 1))
            delay = self._rng.uniform(ceiling / 2, ceiling)
        return Outcome("retry", reason=reason, delay_s=max(0.0, delay))

    async def _record(self, claim: Claimed, outcome: Outcome) -> None:
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

    async def retry(
        self, conn: Connection, message_id: uuid.UUID, principal: _Principal
    ) -> uuid.UUID:
        """A supervisor's "send again" of a failed (or unknown) message: a new queued copy.

        Written in ``conn``'s transaction; call ``wake()`` once it committed. See
        ``retry_message`` for why it is a copy.
        """
        return retry_message(conn, message_id, principal)


def _drop(conn: Connection) -> None:
    conn.invalidate()
    conn.close()


def _describe(exc: BaseException) -> str:
    from sync.providers.accounts import AccountConfigError
    from sync.server.credentials import ServerKeyError
    from sync.server.pacing import PacingConfigError

    if isinstance(exc, AccountConfigError | ServerKeyError | PacingConfigError):
        return str(exc)
    return type(exc).__name__


# --- the transactions ----------------------------------------------------------------------------


def _account_rows(
    db: ServerDatabase,
) -> list[tuple[int, str, str, dict[str, Any], bytes | None]]:
    with db.system() as conn:
        rows = conn.execute(
            text(
                "SELECT id, name, provider, config, secrets FROM accounts"
                " WHERE NOT deleted AND provider <> 'demo' ORDER BY id"
            )
        ).all()
    return [
        (int(r[0]), str(r[1]), str(r[2]), dict(r[3] or {}), bytes(r[4]) if r[4] else None)
        for r in rows
    ]


# Only the oldest entry of each conversation (pending or being sent) can be claimed: a
# conversation's messages leave in the order they were written. Ties (one push of several
# commands, one transaction) are broken by the client-made UUIDv7, increasing in typing order.
# ``o.state``/``o.next_attempt_at`` are tested on the locked table itself, so a row another
# dispatcher claimed after our snapshot is re-checked (and skipped) once we get its lock.
_HEADS = """
WITH heads AS MATERIALIZED (
    SELECT DISTINCT ON (conversation_id) message_id
    FROM outbox ORDER BY conversation_id, created_at, message_id
)
"""
_CLAIMABLE = """
    o.state = 'pending'
    AND o.account_id = ANY(CAST(:accounts AS bigint[]))
    AND NOT ((o.account_id::text || ':' || o.recipient) = ANY(CAST(:blocked AS text[])))
"""

_CLAIM = f"""
{_HEADS}, candidate AS (
    SELECT o.message_id FROM heads h JOIN outbox o ON o.message_id = h.message_id
    WHERE {_CLAIMABLE} AND o.next_attempt_at <= now()
    ORDER BY o.next_attempt_at, o.created_at, o.message_id
    LIMIT 1
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE outbox SET state = 'sending', attempts = outbox.attempts + 1
FROM candidate WHERE outbox.message_id = candidate.message_id AND outbox.state = 'pending'
RETURNING outbox.message_id, outbox.workspace_id, outbox.account_id, outbox.conversation_id,
    outbox.recipient, outbox.attempts
"""

_NEXT_DUE = f"""
{_HEADS}
SELECT EXTRACT(EPOCH FROM (min(o.next_attempt_at) - now()))
FROM heads h JOIN outbox o ON o.message_id = h.message_id WHERE {_CLAIMABLE}
"""


def claim_next(
    db: ServerDatabase, accounts: Sequence[int], blocked: Sequence[str]
) -> Claimed | None:
    """Claim the next due entry of ``accounts`` (recipients ``"account:recipient"`` in
    ``blocked`` excluded) and commit it ``sending``; None when nothing is due."""
    with db.system() as conn:
        row = conn.execute(
            text(_CLAIM), {"accounts": list(accounts), "blocked": list(blocked)}
        ).first()
        if row is None:
            return None
        message_id, ws, account_id, conversation_id, recipient, attempts = row
        detail = conn.execute(
            text(
                "SELECT m.type, m.body, m.reply_to, c.customer_phone, c.chat_key, m.media::text"
                " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.id = :id AND m.workspace_id = :ws AND c.workspace_id = :ws"
                " AND m.account_id = :a"
            ),
            {"id": message_id, "ws": ws, "a": account_id},
        ).one()
        type_, body, reply_to, phone, chat_key, media = detail
        set_status(conn, ws, message_id, DeliveryStatus.SENDING, None)
    return Claimed(
        message_id=message_id,
        workspace_id=int(ws),
        account_id=int(account_id),
        conversation_id=int(conversation_id),
        recipient=str(recipient),
        attempts=int(attempts),
        message=OutgoingMessage(
            client_id=str(message_id),
            account_id=int(account_id),
            to_phone=str(phone),
            chat_key=str(chat_key),
            type=MessageType(type_),
            text=str(body),
            reply_to=reply_to,
            # A template send carries its template as the desktops' outbox does (enqueue_send).
            template=template_of(media) if type_ == MessageType.TEMPLATE.value else None,
        ),
    )


def next_due_s(db: ServerDatabase, accounts: Sequence[int], blocked: Sequence[str]) -> float | None:
    """Seconds until the next claimable entry is due (<= 0: now); None when there is none."""
    with db.system() as conn:
        value = conn.execute(
            text(_NEXT_DUE), {"accounts": list(accounts), "blocked": list(blocked)}
        ).scalar()
    return None if value is None else float(value)


def record_outcome(db: ServerDatabase, claim: Claimed, outcome: Outcome) -> None:
    """Write what came of a claimed send (one transaction)."""
    if outcome.reason:
        # The reason quotes the provider's answer: cleaned like every stored text.
        outcome = replace(outcome, reason=clean_text(outcome.reason))
    ws = claim.workspace_id
    with db.system() as conn:
        entry = conn.execute(
            text(
                "SELECT state FROM outbox WHERE message_id = :id AND workspace_id = :ws FOR UPDATE"
            ),
            {"id": claim.message_id, "ws": ws},
        ).first()
        if entry is None or entry[0] != "sending":
            # Recovered meanwhile (marked unknown): a late "sent" still teaches us its id.
            if outcome.kind == "sent" and outcome.provider_message_id:
                _settle_sent(conn, claim, outcome.provider_message_id)
            return
        if outcome.kind == "retry":
            current = conn.execute(
                text(
                    "SELECT status, provider_message_id FROM messages"
                    " WHERE id = :id AND workspace_id = :ws"
                ),
                {"id": claim.message_id, "ws": ws},
            ).one()
            if current[1] is None and DeliveryStatus(current[0]) in (
                DeliveryStatus.SENDING,
                DeliveryStatus.QUEUED,
            ):
                conn.execute(
                    text(
                        "UPDATE outbox SET state = 'pending', last_error = :e,"
                        " next_attempt_at = now() + make_interval(secs => :d)"
                        " WHERE message_id = :id AND workspace_id = :ws"
                    ),
                    {"e": outcome.reason, "d": outcome.delay_s, "id": claim.message_id, "ws": ws},
                )
                set_status(
                    conn, ws, claim.message_id, DeliveryStatus.QUEUED, outcome.reason, force=True
                )
                return
            # A receipt or an echo already proved the provider took it: done, never resent.
        conn.execute(
            text("DELETE FROM outbox WHERE message_id = :id AND workspace_id = :ws"),
            {"id": claim.message_id, "ws": ws},
        )
        if outcome.kind == "sent" and outcome.provider_message_id:
            _settle_sent(conn, claim, outcome.provider_message_id)
        elif outcome.kind == "failed":
            set_status(conn, ws, claim.message_id, DeliveryStatus.FAILED, outcome.reason)
        elif outcome.kind == "unknown":
            set_status(conn, ws, claim.message_id, DeliveryStatus.UNKNOWN, outcome.reason)


def _settle_sent(conn: Connection, claim: Claimed, provider_id: str) -> None:
    ws = claim.workspace_id
    echo = adopt_provider_id(conn, ws, claim.account_id, claim.message_id, provider_id)
    set_status(conn, ws, claim.message_id, DeliveryStatus.SENT, None)
    if echo is not None:  # receipts may have reached the echo first
        set_status(conn, ws, claim.message_id, echo, None)


def recover_interrupted(
    db: ServerDatabase, inflight: Sequence[uuid.UUID] | frozenset[uuid.UUID]
) -> int:
    """Entries left ``sending`` (by a crashed dispatcher) become ``unknown``, never resent.

    Only safe while no other dispatcher is alive (the exclusive advisory lock); ``inflight``
    are this dispatcher's own sends in progress. Returns how many were settled.
    """
    with db.system() as conn:
        # A crashed process's half-done transaction holds its row until Postgres notices the
        # process is gone: wait for it (briefly) rather than skip the row.
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        rows = conn.execute(
            text(
                "SELECT message_id, workspace_id FROM outbox WHERE state = 'sending'"
                " AND NOT (message_id = ANY(CAST(:mine AS uuid[]))) FOR UPDATE"
            ),
            {"mine": list(inflight)},
        ).all()
        for message_id, ws in rows:
            conn.execute(
                text("DELETE FROM outbox WHERE message_id = :id AND workspace_id = :ws"),
                {"id": message_id, "ws": ws},
            )
            set_status(
                conn,
                int(ws),
                message_id,
                DeliveryStatus.UNKNOWN,
                "interrupted: the server stopped while sending",
            )
    if rows:
        log.warning("%d send(s) interrupted by a stop marked unknown", len(rows))
    return len(rows)


# A send whose answer was lost stays "unknown" until a receipt (status webhook, echo) settles it.
# One that nothing settles for this long, counted from when the server was up to hear about it,
# never reached the provider: Meta reports "sent" within seconds, Evolution and the gateway echo
# an outgoing message at once, and Meta retries undelivered webhooks, so a server that was down
# hears the backlog soon after it starts. It is then marked failed, with that reason, so the
# agent sees it was not sent and a supervisor can send it again: settled, never resent blindly.
UNCONFIRMED_AFTER_S: Final = 15 * 60.0
UNCONFIRMED_REASON: Final = (
    "the provider never confirmed this message: it was not sent (send it again if needed)"
)


def settle_unconfirmed(
    db: ServerDatabase, *, now_ms: int, up_since_ms: int, after_s: float = UNCONFIRMED_AFTER_S
) -> int:
    """Mark failed the "unknown" sends nothing confirmed within ``after_s`` of the server
    hearing webhooks (see ``UNCONFIRMED_AFTER_S``); returns how many."""
    cutoff = now_ms - int(after_s * 1000)
    if up_since_ms > cutoff:
        return 0  # not up long enough to have heard the receipts of older sends
    settled = 0
    with db.system() as conn:
        rows = conn.execute(
            text(
                "SELECT id, workspace_id FROM messages WHERE status = 'unknown'"
                " AND direction = 'out' AND provider_message_id IS NULL AND ts < :cutoff"
                " ORDER BY ts LIMIT 500 FOR UPDATE SKIP LOCKED"
            ),
            {"cutoff": cutoff},
        ).all()
        for message_id, ws in rows:
            if set_status(conn, int(ws), message_id, DeliveryStatus.FAILED, UNCONFIRMED_REASON):
                settled += 1
    if settled:
        log.warning("%d unconfirmed send(s) marked failed", settled)
    return settled


def retry_message(
    conn: Connection,
    message_id: uuid.UUID,
    principal: _Principal,
    *,
    ts_ms: int | None = None,
) -> uuid.UUID:
    """Queue a new copy of a failed or unknown outgoing text message; returns the copy's id.

    A copy, not a re-queue: "failed" is terminal and statuses never move backwards (every
    desktop already shows the failed bubble, with its reason), and an "unknown" original may
    still be settled by a late receipt, so it must keep its identity. The agent sees the old
    bubble and the new one, as in solo mode's "send again". Only supervisors may do it.
    """
    from sync.domain.ids import uuid7

    if not principal.is_supervisor:
        raise RetryRefused("only a supervisor may send a message again")
    row = conn.execute(
        text(
            "SELECT m.account_id, m.conversation_id, m.direction, m.type, m.body, m.status,"
            " m.reply_to, c.chat_key FROM messages m"
            " JOIN conversations c ON c.id = m.conversation_id"
            " WHERE m.id = :id AND m.workspace_id = :ws AND c.workspace_id = :ws"
            " AND NOT m.deleted"
        ),
        {"id": message_id, "ws": principal.workspace_id},
    ).first()
    if row is None:
        raise RetryRefused("that message does not exist")
    account_id, conversation_id, direction, type_, body, status, reply_to, chat_key = row
    if direction != Direction.OUT.value or status not in (
        DeliveryStatus.FAILED.value,
        DeliveryStatus.UNKNOWN.value,
    ):
        raise RetryRefused("only a message that failed or may not have been sent can be resent")
    if type_ != MessageType.TEXT.value or not body:
        raise RetryRefused("only text messages can be sent again")
    now = int(time.time() * 1000) if ts_ms is None else ts_ms
    copy = uuid.UUID(uuid7(now))
    enqueue_send(
        conn,
        message_id=copy,
        workspace_id=principal.workspace_id,
        account_id=int(account_id),
        conversation_id=int(conversation_id),
        recipient=str(chat_key),
        body=str(body),
        author_user_id=principal.user_id,
        reply_to=reply_to,
        ts_ms=now,
    )
    return copy
