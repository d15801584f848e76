"""Solo mode's engine: the dispatcher, the ingest queue and the numbers' adapters over one
local cache.

It is the only writer of messages in solo mode. Every user action the desktop offers is one
awaitable method here (Anki's "one function per user action"), so the views stay thin and tests
call the same methods the buttons do. The rules are the engine's, shared with the team server:
sending in ``dispatcher.py``, storing in ``ingest_queue.py`` and the store (``LocalStore``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

from sync.domain.events import ProviderEvent
from sync.domain.messages import Message, TemplateRef
from sync.domain.outbox import IngestResult
from sync.engine.dispatcher import Dispatcher
from sync.engine.ingest_queue import IngestQueue
from sync.engine.pacing import Pacer, PacingConfig, pacing_for
from sync.providers.base import Capabilities, ProviderAdapter
from sync.store.local import outbox, queries
from sync.store.local.database import Database
from sync.store.local.store import LocalStore

# How a number is paced, from its adapter's capabilities (None: not paced).
PacingChoice = Callable[[Capabilities], PacingConfig | None] | None


class Engine:
    """Ingest, outbox and adapters for a set of numbers sharing one database.

    ``clock`` (epoch seconds) dates what is queued and when a retry is due, and drives pacing;
    ``sleep`` is what the dispatcher waits on between passes (asyncio's by default). A test hands
    in a fake clock's ``now`` and ``sleep`` to move the dispatcher's time by hand. ``pacing``
    gives each number its limits from its adapter's capabilities (``pacing_for``, the team
    server's defaults: per number and per customer); None sends as fast as messages come.
    ``rules`` are the ``Dispatcher``'s own options (backoff, attempts, polls), for tests.
    """

    def __init__(
        self,
        db: Database,
        adapters: Mapping[int, ProviderAdapter],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        pacing: PacingChoice = pacing_for,
        **rules: float,
    ) -> None:
        self._db = db
        self._clock = clock
        self._pacing = pacing
        self.store = LocalStore(db)
        # Every event that reaches the cache, from the receiver or an adapter's own link, is
        # group-committed here; the views repaint from what each commit changed.
        self.ingest_queue = IngestQueue(self.store)
        self.ingest_queue.add_listener(lambda result: db.publish(result.changes))
        self._dispatcher = Dispatcher(
            self.store,
            sole=True,  # the desktop's own cache: no other dispatcher sends from it
            clock=clock,
            sleep=sleep,
            on_changes=db.publish,
            **rules,  # type: ignore[arg-type]
        )
        self._started = False
        self.set_adapters(adapters)

    def __repr__(self) -> str:
        return f"Engine(accounts={sorted(self._dispatcher.adapters)})"

    @property
    def db(self) -> Database:
        """The database this engine writes to."""
        return self._db

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher sending this engine's outbox."""
        return self._dispatcher

    @property
    def pacer(self) -> Pacer:
        """The numbers' send limits."""
        return self._dispatcher.pacer

    @property
    def passes(self) -> int:
        """How many passes the dispatcher has begun (``Dispatcher.passes``)."""
        return self._dispatcher.passes

    async def idle(self) -> None:
        """Return once the dispatcher found nothing it may send now (``Dispatcher.idle``)."""
        await self._dispatcher.idle()

    def set_adapters(self, adapters: Mapping[int, ProviderAdapter]) -> None:
        """Give the engine its numbers (before ``start``)."""
        if self._started:
            raise RuntimeError("adapters are set before the engine starts")
        for account_id in list(self._dispatcher.adapters):
            self._dispatcher.remove_number(account_id)
        for adapter in adapters.values():
            self._dispatcher.set_number(adapter, self._pacing_of(adapter))

    async def add_adapter(self, adapter: ProviderAdapter) -> None:
        """Add a number while running (the user just added it): started at once if we are."""
        self._dispatcher.set_number(adapter, self._pacing_of(adapter))
        if self._started:
            await adapter.start(self._sink)

    def adapter(self, account_id: int) -> ProviderAdapter | None:
        """The adapter of ``account_id``, if the engine has one."""
        return self._dispatcher.adapter(account_id)

    async def start(self) -> None:
        """Settle sends a crash interrupted, connect every adapter, start dispatching."""
        await self._dispatcher.start()
        self._started = True
        for adapter in list(self._dispatcher.adapters.values()):
            await adapter.start(self._sink)

    async def ingest(self, events: Sequence[ProviderEvent]) -> IngestResult:
        """Persist provider events (the adapters' sink), then show them to the numbers."""
        result = await self.ingest_queue.submit(events)
        self.observe(events)
        return result

    async def _sink(self, events: Sequence[ProviderEvent]) -> None:
        await self.ingest(events)

    def observe(self, events: Sequence[ProviderEvent]) -> None:
        """Committed events reach their numbers' adapters (``Dispatcher.observe``)."""
        self._dispatcher.observe(events)

    async def send_text(
        self, conversation_id: int, text: str, *, reply_to: str | None = None
    ) -> Message:
        """Queue a reply; it is safe on disk when this returns, and goes out when it can."""
        return await self._queue(
            outbox.enqueue_text, conversation_id, text, reply_to=reply_to, now_ms=self._now_ms()
        )

    async def send_template(
        self, conversation_id: int, template: TemplateRef, preview: str
    ) -> Message:
        """Queue an approved template (the only thing Meta sends once the 24-hour window closed)."""
        return await self._queue(
            outbox.enqueue_template, conversation_id, template, preview, now_ms=self._now_ms()
        )

    async def send_again(self, message_id: str) -> Message:
        """Queue a new copy of a message that failed or may not have been sent (agent's call)."""
        return await self._queue(outbox.send_again, message_id, now_ms=self._now_ms())

    async def mark_read(self, conversation_id: int) -> None:
        """The agent opened the conversation: clear its unread badge."""
        self._db.publish(await self._db.run(queries.mark_conversation_read, conversation_id))

    async def dispatch_once(self) -> bool:
        """Send the next due message, if any; True when one was handled."""
        return await self._dispatcher.dispatch_once()

    async def _queue(self, write: Any, *args: Any, **kwargs: Any) -> Message:
        """Run one of the cache's queuing writes (``LocalStore``'s verbs, keeping the message
        the write made): the message comes back as its transaction wrote it, "queued", even if
        a dispatcher pass claims it a moment later; then the views and the dispatcher hear."""
        message, changes = await self._db.run(write, *args, **kwargs)
        self._db.publish(changes)
        self._dispatcher.wake()
        return cast(Message, message)

    def _pacing_of(self, adapter: ProviderAdapter) -> PacingConfig | None:
        return self._pacing(adapter.capabilities) if self._pacing is not None else None

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def aclose(self) -> None:
        """Stop dispatching, flush what is being stored, disconnect every adapter."""
        await self._dispatcher.aclose()
        await self.ingest_queue.aclose()
        for adapter in list(self._dispatcher.adapters.values()):
            await adapter.aclose()
        self._started = False
