"""The one database thread: every read and write of the local cache runs here.

SQLite connections belong to the thread that opened them, and one writer at a time is all SQLite
allows anyway, so the desktop and the engine share a single worker thread (as Anki does) and
await its results. Nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from sync.domain.changes import ChangeSet

if TYPE_CHECKING:
    from sync.store.local.cache_key import CacheKey
    from sync.store.local.local_cache import LocalCache

T = TypeVar("T")
P = ParamSpec("P")
Listener = Callable[[ChangeSet], None]

log = logging.getLogger(__name__)


class Database:
    """Owns the cache connection and its thread; publishes what writes changed to listeners."""

    def __init__(self, path: Path, key: CacheKey) -> None:
        self.path = Path(path)
        self._key = key
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="caixa-db"
        )
        self._cache: LocalCache | None = None
        self._listeners: list[Listener] = []

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"

    def open_sync(self) -> None:
        """Open the cache on the database thread, blocking until done (raises its errors)."""
        self._executor.submit(self._open).result()

    async def open(self) -> None:
        """Open the cache on the database thread."""
        await asyncio.wrap_future(self._executor.submit(self._open))

    def _open(self) -> None:
        # Imported here, on the database thread: SQLAlchemy's import is the slowest part of
        # start-up, and the window can paint while it happens.
        from sync.store.local.local_cache import LocalCache

        self._cache = LocalCache.open(self.path, self._key)

    @property
    def cache(self) -> LocalCache:
        """The open cache; only to be touched from the database thread."""
        if self._cache is None:
            raise RuntimeError("the database is not open")
        return self._cache

    async def run(
        self, fn: Callable[Concatenate[LocalCache, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(cache, *args)`` on the database thread and return its result."""
        future = self._executor.submit(lambda: fn(self.cache, *args, **kwargs))
        return await asyncio.wrap_future(future)

    def run_sync(
        self, fn: Callable[Concatenate[LocalCache, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Blocking variant of ``run`` for scripts, the CLI and start-up."""
        return self._executor.submit(lambda: fn(self.cache, *args, **kwargs)).result()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every published change set; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def publish(self, changes: ChangeSet) -> None:
        """Tell listeners what changed. Call on the event loop thread after the write committed."""
        if not changes:
            return
        for listener in list(self._listeners):
            listener(changes)

    def close_sync(self) -> None:
        """Close the cache and stop the thread."""
        if self._cache is not None:
            self._executor.submit(self._cache.close).result()
            self._cache = None
        self._executor.shutdown(wait=True)

    async def aclose(self) -> None:
        """Close the cache and stop the thread, without blocking the loop."""
        await asyncio.get_running_loop().run_in_executor(None, self.close_sync)
