"""Group commit: many webhook calls, one transaction, each call answered after it.

The receiver may answer a provider 200 only once the call's events are durably stored: the
provider then forgets them, so a crash right after the 200 must not lose them. One commit per
call would cap the receiver at the store's commit rate (the cache's fsync of its WAL with
``synchronous = FULL``; Postgres's WAL flush). So calls that arrive while a commit is under way
wait together, and the next commit takes all of them at once (classic group commit, as
databases do for their logs): an idle receiver commits a lone call after a few event-loop turns
(microseconds), a busy one commits dozens per flush.

Written once for every store, through the engine's ``Store.ingest`` only: the solo cache
(desktop workspace, ``caixa receive``) and the team's Postgres (``caixa-server``) share these
rules. What an error means is the store's to say, and the queue needs no driver's exceptions:

- ``UnstorableEvents``: some call's events hold a value the store cannot take, and nothing of
  the batch was kept. The batch is written again call by call, so only the guilty call fails
  (the receiver answers it 422) and its neighbours are stored.
- anything else: the store could not write now (disk, connection, server going away), and
  nothing of the batch is known to be stored. Every caller of the batch gets that error (the
  receiver answers 503 and the provider retries later). The batch is not split then: each part
  would meet the same outage, and against an unreachable Postgres each try can cost a connect
  timeout.

A store's ``ingest`` dedupes by (number, provider message id) inside its transaction, so a
batch that holds the same message twice (a redelivery racing the original) stores it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from sync.domain.changes import ChangeSet
from sync.domain.events import ProviderEvent, UnstorableEvents
from sync.domain.outbox import IngestResult
from sync.engine.store import Store

log = logging.getLogger(__name__)

CommitListener = Callable[[IngestResult], None]

# A batch's events are written in one transaction; past this many the next calls wait for the
# following commit, which keeps each transaction (and the latency of its first call) bounded.
MAX_BATCH_EVENTS: Final = 5000
# Event-loop turns the flusher yields before taking a batch (see ``_flush_all``).
GATHER_TURNS: Final = 5


@dataclass(slots=True)
class _Pending:
    events: Sequence[ProviderEvent]
    future: asyncio.Future[IngestResult]


class IngestQueue:
    """Commits the events of concurrent callers together; ``submit`` returns after the commit."""

    def __init__(self, store: Store, *, max_batch_events: int = MAX_BATCH_EVENTS) -> None:
        self._store = store
        self._max_batch_events = max_batch_events
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._listeners: list[CommitListener] = []
        self._closed = False
        self.commits = 0  # transactions committed (for tests and benchmarks)

    def __repr__(self) -> str:
        return f"IngestQueue({self._store!r}, pending={len(self._pending)})"

    def add_listener(self, listener: CommitListener) -> Callable[[], None]:
        """Call ``listener`` (on the loop) with what each flush committed; returns an
        unsubscribe. Listeners run in the order they were added, after the callers' futures
        are settled; one that raises is logged and does not stop the others."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def submit(self, events: Sequence[ProviderEvent]) -> IngestResult:
        """Persist ``events``; returns once they are committed (their batch's result).

        Raises ``UnstorableEvents`` when these events hold a value the store cannot take, and
        what the store raised (disk full, database closed or unreachable) when the write
        failed: the events are then not stored and the caller must not acknowledge them.
        """
        if self._closed:
            raise RuntimeError("the ingest queue is closed")
        if not events:
            return IngestResult()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._pending.append(_Pending(events, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush_all())
        # Shielded: a caller that goes away (the provider hung up) does not take the write with
        # it; the events are still committed and simply acknowledged to nobody.
        return await asyncio.shield(future)

    async def __call__(self, events: Sequence[ProviderEvent]) -> IngestResult:
        """The queue is an ``EventSink``: ``await queue(events)`` is ``submit``."""
        return await self.submit(events)

    async def _flush_all(self) -> None:
        try:
            while self._pending:
                # Let the calls whose bytes already arrived reach ``submit`` first: a handler
                # needs a few loop turns from its data to here, and each caller that makes this
                # commit instead of the next saves a whole commit. Costs microseconds when idle;
                # halved the commits under load (measured, 16 clients).
                for _ in range(GATHER_TURNS):
                    await asyncio.sleep(0)
                batch = self._take_batch()
                try:
                    outcomes = await self._write([p.events for p in batch])
                except BaseException as exc:
                    # Cancelled mid-write: nothing of this batch is known to be stored.
                    for pending in batch:
                        _settle(pending.future, exc)
                    raise
                # A batch committed together shares one result object: count it once.
                committed = list(
                    {id(o): o for o in outcomes if isinstance(o, IngestResult)}.values()
                )
                self.commits += len(committed)
                for pending, outcome in zip(batch, outcomes, strict=True):
                    _settle(pending.future, outcome)
                if committed:
                    self._after_commit(committed)
        finally:
            self._flusher = None
            # Only a cancelled flusher gets here with work left: those callers must hear of it.
            left, self._pending = self._pending, []
            for pending in left:
                _settle(pending.future, RuntimeError("the ingest queue stopped"))

    async def _write(
        self, groups: list[Sequence[ProviderEvent]]
    ) -> list[IngestResult | BaseException]:
        """Every group in one transaction; each group alone when one of them is unstorable."""
        if len(groups) == 1:
            return [await self._write_one(groups[0])]
        try:
            result = await self._store.ingest([event for group in groups for event in group])
        except UnstorableEvents:
            log.warning(
                "a batch of %d webhook calls holds unstorable events; writing them one by one",
                len(groups),
            )
        except Exception as exc:
            # The store is down (see the module's docstring): every caller hears of it.
            return [exc for _ in groups]
        else:
            # Every group shares the one result: it is what their common commit changed.
            return [result for _ in groups]
        return [await self._write_one(group) for group in groups]

    async def _write_one(self, group: Sequence[ProviderEvent]) -> IngestResult | BaseException:
        """One caller's events in one transaction; the error (not raised) when that fails."""
        try:
            return await self._store.ingest(group)
        except Exception as exc:
            return exc

    def _take_batch(self) -> list[_Pending]:
        count = 0
        taken = 0
        for pending in self._pending:
            if taken and count + len(pending.events) > self._max_batch_events:
                break
            count += len(pending.events)
            taken += 1
        batch = self._pending[:taken]
        del self._pending[:taken]
        return batch

    def _after_commit(self, results: list[IngestResult]) -> None:
        # On the loop that called ``submit``: the desktop runs the queue on the app's loop, so
        # a listener that publishes to the views reaches them on the thread they live on.
        merged = IngestResult(ChangeSet.merge(r.changes for r in results))
        for result in results:
            merged.new_inbound.extend(result.new_inbound)
        for listener in list(self._listeners):
            try:
                listener(merged)
            except Exception:
                log.exception("ingest listener failed")

    async def aclose(self) -> None:
        """Let the writes under way (and those already submitted) finish, then refuse new
        ones."""
        self._closed = True
        while self._flusher is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._flusher)


def _settle(future: asyncio.Future[IngestResult], outcome: IngestResult | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, IngestResult):
        future.set_result(outcome)
    else:
        future.set_exception(outcome)
        # Nobody may be waiting any more (the caller was cancelled): do not warn about it.
        future.exception()
