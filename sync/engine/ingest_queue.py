"""Group commit: many webhook POSTs, one transaction, one fsync, each POST answered after it.

The receiver may answer a provider 200 only once the POST's events are durably in the cache:
the provider then forgets them, so a crash right after the 200 must not lose them. The cache
commits with ``synchronous = FULL`` (one fsync of the WAL per commit), and one commit per POST
would cap the receiver at the disk's fsync rate. So POSTs that arrive while a commit is under way
wait together, and the next commit takes all of them at once (classic group commit, as database
servers do for their logs): an idle receiver commits a lone POST after a few event-loop turns
(microseconds), a busy one commits dozens per fsync.

Everything runs on the ``Database``'s single thread through ``Database.run``; ``apply_events``
dedupes by (account, provider message id) inside the transaction, so a batch that holds the
same message twice (a provider's redelivery racing the original) stores it once. If a batch
fails as a whole (one POST's events trip a constraint), each POST of it is retried alone, so
one bad POST fails only its own caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlcipher3

from sync.domain.changes import ChangeSet
from sync.domain.events import ProviderEvent, UnstorableEvents
from sync.store.local.ingest import IngestResult, apply_events

if TYPE_CHECKING:
    from sync.store.local.database import Database
    from sync.store.local.local_cache import LocalCache

log = logging.getLogger(__name__)

CommitListener = Callable[[IngestResult], None]


# Errors that come from the events' values, not from the disk or the database's state.
_DATA_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    OverflowError,
    TypeError,
    sqlcipher3.IntegrityError,
    sqlcipher3.DataError,
)

# A batch's events are written in one transaction; past this many the next POSTs wait for the
# following commit, which keeps each transaction (and the latency of its first POST) bounded.
MAX_BATCH_EVENTS = 5000
# Event-loop turns the flusher yields before taking a batch (see ``_flush_all``).
GATHER_TURNS = 5


@dataclass(slots=True)
class _Pending:
    events: Sequence[ProviderEvent]
    future: asyncio.Future[IngestResult]


class IngestQueue:
    """Commits the events of concurrent callers together; ``submit`` returns after the commit."""

    def __init__(self, db: Database, *, max_batch_events: int = MAX_BATCH_EVENTS) -> None:
        self._db = db
        self._max_batch_events = max_batch_events
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._listeners: list[CommitListener] = []
        self._closed = False
        self.commits = 0  # transactions committed (for tests and benchmarks)

    def __repr__(self) -> str:
        return f"IngestQueue({self._db!r}, pending={len(self._pending)})"

    def add_listener(self, listener: CommitListener) -> Callable[[], None]:
        """Call ``listener`` with each committed batch's result; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def submit(self, events: Sequence[ProviderEvent]) -> IngestResult:
        """Persist ``events``; returns once they are committed (their batch's result).

        Raises what the store raised (disk full, database closed) when the write failed: the
        events are then not stored and the caller must not acknowledge them.
        """
        if self._closed:
            raise RuntimeError("the ingest queue is closed")
        if not events:
            return IngestResult()
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(events, future))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_all())
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
                # commit instead of the next saves a whole commit (2 ms of page writes). Costs
                # microseconds when idle; halved the commits under load (measured, 16 clients).
                for _ in range(GATHER_TURNS):
                    await asyncio.sleep(0)
                batch = self._take_batch()
                try:
                    outcomes = await self._db.run(_apply_batch, [p.events for p in batch])
                except BaseException as exc:
                    # The database thread itself failed (closed, cancelled): nothing of this
                    # batch is known to be stored.
                    for pending in batch:
                        _settle(pending.future, exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
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
        # On the loop that called ``submit``: run the queue on the app's loop (as the desktop
        # does), so ``Database.publish`` reaches the views on the thread they live on.
        merged = IngestResult(ChangeSet.merge(r.changes for r in results))
        for result in results:
            merged.new_inbound.extend(result.new_inbound)
        self._db.publish(merged.changes)
        for listener in list(self._listeners):
            try:
                listener(merged)
            except Exception:
                log.exception("ingest listener failed")

    async def aclose(self) -> None:
        """Let the writes under way finish, then refuse new ones."""
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


def _apply_batch(
    cache: LocalCache, groups: list[Sequence[ProviderEvent]]
) -> list[IngestResult | BaseException]:
    """On the database thread: all groups in one transaction, else each group alone."""
    if len(groups) == 1:
        return [_apply_group(cache, groups[0])]
    try:
        result = apply_events(cache, [event for group in groups for event in group])
    except Exception:
        log.warning("a batch of %d webhook calls failed; committing them one by one", len(groups))
    else:
        # Every group shares the one result: it is what their common commit changed.
        return [result for _ in groups]
    return [_apply_group(cache, group) for group in groups]


def _apply_group(cache: LocalCache, group: Sequence[ProviderEvent]) -> IngestResult | BaseException:
    """One caller's events in one transaction; the error (not raised) when that fails."""
    try:
        return apply_events(cache, group)
    except _DATA_ERRORS as exc:
        return _unstorable(exc)
    except Exception as exc:
        return exc


def _unstorable(exc: BaseException) -> UnstorableEvents:
    error = UnstorableEvents(f"the events hold a value the cache refuses ({type(exc).__name__})")
    error.__cause__ = exc
    return error
