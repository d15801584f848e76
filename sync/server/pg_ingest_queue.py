"""Group commit for the team server: concurrent webhook POSTs share one Postgres transaction.

The server may answer a provider 200 only once the POST's events are committed (the provider then
forgets them). One transaction per POST caps the server at Postgres's commit rate (one WAL flush
each); so, as the desktop's ``IngestQueue`` does for its cache, POSTs that arrive while a commit
is under way wait together and the next commit takes all of them. An idle server commits a lone
POST at once; a busy one commits many per WAL flush.

A group that fails as a whole (one POST carries a value Postgres refuses) is retried POST by POST,
so one bad POST fails only its own caller (422), never its neighbours. Texts need no such
retry: ``apply_events`` cleans every one before writing (no NUL, U+FFFD for a lone surrogate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sync.domain.events import ProviderEvent
from sync.store.team.database import ServerDatabase
from sync.store.team.ingest import ingest_events_sync

log = logging.getLogger(__name__)

# Past this many events the next POSTs wait for the following commit (bounded transactions).
MAX_GROUP_EVENTS: Final = 5000
# Event-loop turns the flusher yields before taking a group: handlers whose bytes already arrived
# reach ``submit`` first and share this commit instead of paying for the next one.
GATHER_TURNS: Final = 5


@dataclass(slots=True)
class _Pending:
    events: Sequence[ProviderEvent]
    future: asyncio.Future[None]


class PgIngestQueue:
    """Commits the events of concurrent callers together; ``submit`` returns after the commit."""

    def __init__(self, db: ServerDatabase, *, max_group_events: int = MAX_GROUP_EVENTS) -> None:
        self._db = db
        self._max = max_group_events
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self.commits = 0  # transactions committed (for tests and benchmarks)

    def __repr__(self) -> str:
        return f"PgIngestQueue({self._db!r}, pending={len(self._pending)})"

    async def submit(self, events: Sequence[ProviderEvent]) -> None:
        """Persist ``events``; returns once committed. Raises ``UnstorableEvents`` for values
        Postgres refuses, anything else when the write failed (then nothing is stored)."""
        if self._closed:
            raise RuntimeError("the ingest queue is closed")
        if not events:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append(_Pending(events, future))
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush_all())
        # Shielded: a provider that hangs up does not cancel the write of what it sent.
        await asyncio.shield(future)

    __call__ = submit

    async def _flush_all(self) -> None:
        try:
            while self._pending:
                for _ in range(GATHER_TURNS):
                    await asyncio.sleep(0)
                group = self._take()
                try:
                    outcomes = await asyncio.to_thread(
                        _apply_group, self._db, [p.events for p in group]
                    )
                except BaseException as exc:
                    for pending in group:
                        _settle(pending.future, exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                stored = sum(o is None for o in outcomes)
                self.commits += 1 if stored == len(group) else stored
                for pending, outcome in zip(group, outcomes, strict=True):
                    _settle(pending.future, outcome)
        finally:
            self._flusher = None
            left, self._pending = self._pending, []
            for pending in left:
                _settle(pending.future, RuntimeError("the ingest queue stopped"))

    def _take(self) -> list[_Pending]:
        count = taken = 0
        for pending in self._pending:
            if taken and count + len(pending.events) > self._max:
                break
            count += len(pending.events)
            taken += 1
        group, self._pending = self._pending[:taken], self._pending[taken:]
        return group

    async def aclose(self) -> None:
        """Let the writes under way finish, then refuse new ones."""
        self._closed = True
        while self._flusher is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._flusher)


def _settle(future: asyncio.Future[None], outcome: BaseException | None) -> None:
    if future.done():
        return
    if outcome is None:
        future.set_result(None)
    else:
        future.set_exception(outcome)
        future.exception()  # the caller may be gone: no "never retrieved" warning


def _apply_group(
    db: ServerDatabase, groups: list[Sequence[ProviderEvent]]
) -> list[BaseException | None]:
    """Off the loop: every caller's events in one transaction, else each caller alone."""
    if len(groups) > 1:
        try:
            ingest_events_sync(db, [event for group in groups for event in group])
        except Exception:
            log.warning(
                "a group of %d webhook calls failed; committing them one by one", len(groups)
            )
        else:
            return [None] * len(groups)
    return [_apply_one(db, group) for group in groups]


def _apply_one(db: ServerDatabase, group: Sequence[ProviderEvent]) -> BaseException | None:
    try:
        ingest_events_sync(db, group)
        return None
    except Exception as exc:
        return exc
