"""The engine: wires adapters, ingest and the outbox dispatcher around one ``Database``.

It is the only writer of messages in solo mode. Every user action the desktop offers is one
awaitable method here (Anki's "one function per user action"), so the views stay thin and tests
call the same methods the buttons do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from sync import faults
from sync.domain.events import ProviderEvent
from sync.domain.messages import Message, TemplateRef
from sync.engine.pacing import Pacer, PacingConfig, pacing_for
from sync.providers.base import (
    AuthError,
    Capabilities,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    ProviderAdapter,
    RateLimited,
)
from sync.store.local import outbox, queries
from sync.store.local.database import Database
from sync.store.local.ingest import IngestResult, apply_events
from sync.wakeup import wait_event

log = logging.getLogger(__name__)

InboundListener = Callable[[IngestResult], Awaitable[None]]
# How a number is paced, from its adapter's capabilities (None: not paced).
PacingChoice = Callable[[Capabilities], PacingConfig | None] | None

# Transient failures back off exponentially with jitter, capped, so a provider outage never
# turns into a storm of retries.
_BACKOFF_BASE_S = 2.0
_BACKOFF_CAP_S = 300.0
_IDLE_POLL_S = 5.0


class Engine:
    """Ingest, outbox and adapters for a set of numbers sharing one database.

    ``clock`` (epoch seconds) dates what is queued and when a retry is due, and drives pacing;
    ``sleep`` is what the dispatcher waits on between passes (asyncio's by default). A test hands
    in a fake clock's ``now`` and ``sleep`` to move the dispatcher's time by hand. ``pacing``
    gives each number its limits from its adapter's capabilities (``pacing_for``, the team
    server's defaults: per number and per customer); None sends as fast as messages come.
    """

    def __init__(
        self,
        db: Database,
        adapters: Mapping[int, ProviderAdapter],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        pacing: PacingChoice = pacing_for,
    ) -> None:
        self._db = db
        self._adapters = dict(adapters)
        self._clock = clock
        self._sleep = sleep
        self._pacing = pacing
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._inbound_listeners: list[InboundListener] = []
        self._rng = random.Random()
        # Per number and per customer, as the team server paces (sync/engine/pacing.py).
        self.pacer = Pacer(clock=clock, rng=self._rng)
        for adapter in self._adapters.values():
            self._configure_pacing(adapter)
        self._passes = 0
        # (the first pass that may answer, its future): see ``idle``.
        self._idle_waiters: list[tuple[int, asyncio.Future[None]]] = []

    def __repr__(self) -> str:
        return f"Engine(accounts={sorted(self._adapters)})"

    @property
    def db(self) -> Database:
        """The database this engine writes to."""
        return self._db

    @property
    def passes(self) -> int:
        """How many passes the dispatcher has begun: each sends what is due, or finds nothing
        and waits. A test counts them (on a fake clock) to show the dispatcher does not spin."""
        return self._passes

    async def idle(self) -> None:
        """Return once the dispatcher has looked at the outbox after this call and found nothing
        it may send now.

        How a test proves that a message is *not* sent (held for a number that is offline, a
        second copy): everything due and sendable when this is called has been handed to its
        adapter by the time it returns, and the rest provably waits. It wakes the dispatcher, so
        the answer comes at once, not at the next idle poll. Raises ``RuntimeError`` when the
        engine is not running or stops meanwhile.
        """
        if self._dispatcher is None:
            raise RuntimeError("the engine is not running")
        waiter = asyncio.get_running_loop().create_future()
        # A pass already under way may have looked before the caller's last change: only a
        # pass that begins from now on can answer.
        self._idle_waiters.append((self._passes + 1, waiter))
        self._wake.set()
        await waiter

    def set_adapters(self, adapters: Mapping[int, ProviderAdapter]) -> None:
        """Give the engine its numbers (before ``start``)."""
        if self._dispatcher is not None:
            raise RuntimeError("adapters are set before the engine starts")
        self._adapters = dict(adapters)
        for adapter in self._adapters.values():
            self._configure_pacing(adapter)

    async def add_adapter(self, adapter: ProviderAdapter) -> None:
        """Add a number while running (the user just added it): started at once if we are."""
        self._adapters[adapter.account_id] = adapter
        self._configure_pacing(adapter)
        if self._dispatcher is not None:
            await adapter.start(self._sink)
            self._wake.set()

    def adapter(self, account_id: int) -> ProviderAdapter | None:
        """The adapter of ``account_id``, if the engine has one."""
        return self._adapters.get(account_id)

    def on_inbound(self, listener: InboundListener) -> None:
        """Call ``listener`` after each ingested batch (automations hook in here)."""
        self._inbound_listeners.append(listener)

    async def start(self) -> None:
        """Settle sends a crash interrupted, connect every adapter, start dispatching."""
        self._db.publish(await self._db.run(outbox.recover_interrupted))
        for adapter in self._adapters.values():
            await adapter.start(self._sink)
        self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch_forever())

    async def _sink(self, events: Sequence[ProviderEvent]) -> None:
        await self.ingest(events)

    async def ingest(self, events: Sequence[ProviderEvent]) -> IngestResult:
        """Persist provider events and tell listeners (the adapters' sink)."""
        result = await self._db.run(apply_events, events)
        self._db.publish(result.changes)
        for listener in self._inbound_listeners:
            await listener(result)
        if any(e.kind == "connection" for e in events):
            self._wake.set()  # a number came online: its waiting messages can go
        return result

    async def send_text(
        self, conversation_id: int, text: str, *, reply_to: str | None = None
    ) -> Message:
        """Queue a reply; it is safe on disk when this returns, and goes out when it can."""
        message, changes = await self._db.run(
            outbox.enqueue_text, conversation_id, text, reply_to=reply_to, now_ms=self._now_ms()
        )
        self._db.publish(changes)
        self._wake.set()
        return message

    async def send_template(
        self, conversation_id: int, template: TemplateRef, preview: str
    ) -> Message:
        """Queue an approved template (the only thing Meta sends once the 24-hour window closed)."""
        message, changes = await self._db.run(
            outbox.enqueue_template, conversation_id, template, preview, now_ms=self._now_ms()
        )
        self._db.publish(changes)
        self._wake.set()
        return message

    async def send_again(self, message_id: str) -> Message:
        """Queue a new copy of a message that failed or may not have been sent (agent's call)."""
        message, changes = await self._db.run(outbox.send_again, message_id, now_ms=self._now_ms())
        self._db.publish(changes)
        self._wake.set()
        return message

    async def mark_read(self, conversation_id: int) -> None:
        """The agent opened the conversation: clear its unread badge."""
        self._db.publish(await self._db.run(queries.mark_conversation_read, conversation_id))

    async def dispatch_once(self) -> bool:
        """Send the next due message, if any; True when one was handled."""
        blocked_numbers, blocked_pairs, _ = self.pacer.blocked()
        ready = self._ready_accounts() - blocked_numbers
        if not ready:
            return False
        claimed = await self._db.run(
            outbox.claim_next, now_ms=self._now_ms(), account_ids=ready, blocked=blocked_pairs
        )
        if claimed is None:
            return False
        if self._pacing is not None:
            # Counted when claimed, before the call: a send that fails still spent its slot.
            self.pacer.take(claimed.account_id, claimed.recipient)
        message = claimed.message
        self._db.publish(claimed.changes)
        faults.point("dispatch.after_claim")
        adapter = self._adapters[message.account_id]
        try:
            result = await adapter.send(message)
        except (RateLimited, NotSent) as exc:
            if isinstance(exc, RateLimited):
                delay = exc.retry_after
                # The provider asked the number to slow down: all of it waits, not one message.
                self.pacer.pause(message.account_id, delay)
            else:
                delay = self._backoff(claimed.attempts)
            changes = await self._db.run(
                outbox.reschedule, message.client_id, self._now_ms() + int(delay * 1000), exc.code
            )
        except (PermanentSendError, AuthError) as exc:
            changes = await self._db.run(
                outbox.complete_failed, message.client_id, f"{exc.code}: {exc.detail}"
            )
        except DeliveryUnknown as exc:
            changes = await self._db.run(outbox.mark_unknown, message.client_id, exc.detail)
        except asyncio.CancelledError:
            # Shutting down mid-call: the request may be out; never resend it blindly.
            await asyncio.shield(
                self._db.run(outbox.mark_unknown, message.client_id, "interrupted")
            )
            raise
        except Exception as exc:  # an adapter bug must not lose or double the message
            log.exception("send failed unexpectedly")
            changes = await self._db.run(outbox.mark_unknown, message.client_id, repr(exc))
        else:
            faults.point("dispatch.after_send")
            changes = await self._db.run(
                outbox.complete_sent, message.client_id, result.provider_message_id
            )
        self._db.publish(changes)
        return True

    def _configure_pacing(self, adapter: ProviderAdapter) -> None:
        config = self._pacing(adapter.capabilities) if self._pacing is not None else None
        if config is not None:
            self.pacer.configure(adapter.account_id, config)

    def _ready_accounts(self) -> frozenset[int]:
        return frozenset(aid for aid, a in self._adapters.items() if a.ready_to_send())

    def _backoff(self, attempts: int) -> float:
        ceiling = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2 ** (attempts - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    async def _dispatch_forever(self) -> None:
        while True:
            # Cleared as the pass begins, not as it ends: a wake-up that comes while it runs (a
            # message just queued, ``idle`` asking) makes another pass instead of being lost.
            self._wake.clear()
            self._passes += 1
            this_pass = self._passes
            try:
                if await self.dispatch_once():
                    continue
                blocked_numbers, blocked_pairs, freed_at = self.pacer.blocked()
                due = await self._db.run(
                    outbox.next_due_ms,
                    account_ids=self._ready_accounts() - blocked_numbers,
                    blocked=blocked_pairs,
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox dispatcher error")
                due = freed_at = None
            else:
                self._answer_idle(this_pass)
            timeout = _IDLE_POLL_S
            if due is not None:
                timeout = max(0.01, min(timeout, (due - self._now_ms()) / 1000))
            if freed_at is not None:  # a paced number or customer may send again then
                timeout = max(0.01, min(timeout, freed_at - self._clock()))
            await wait_event(self._wake, timeout, sleep=self._sleep)

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

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def aclose(self) -> None:
        """Stop dispatching and disconnect every adapter."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        for _, waiter in self._idle_waiters:
            if not waiter.done():
                waiter.set_exception(RuntimeError("the engine stopped"))
        self._idle_waiters = []
        for adapter in self._adapters.values():
            await adapter.aclose()
