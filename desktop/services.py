"""The headless services one window works with, built in one place (``desktop.app``).

Kept apart from ``app.py`` so tests build the very same services without running ``main``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync.engine.service import Engine
from sync.store.database import Database

if TYPE_CHECKING:
    from sync.engine.demo_workspace import DemoShape
    from sync.providers.demo import DemoTiming
    from sync.store.cache_key import CacheKey


@dataclass
class Services:
    """The database thread and the engine over it."""

    db: Database
    engine: Engine
    demo: bool
    keep_alive: Any = None  # e.g. the throw-away folder of a demo without keyring

    @classmethod
    def create(cls, cache_path: Path, key: CacheKey, *, demo: bool) -> Services:
        """The services, not yet opened: cheap, so the window can be built before any I/O."""
        db = Database(cache_path, key)
        return cls(db, Engine(db, {}), demo)

    @classmethod
    async def open(
        cls,
        cache_path: Path,
        key: CacheKey,
        *,
        demo: bool,
        timing: DemoTiming | None = None,
        live: bool = True,
        shape: DemoShape | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Services:
        """Create and prepare in one step."""
        services = cls.create(cache_path, key, demo=demo)
        await services.prepare(timing=timing, live=live, shape=shape, progress=progress)
        return services

    async def prepare(
        self,
        *,
        timing: DemoTiming | None = None,
        live: bool = True,
        shape: DemoShape | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Open the cache (seeding the demo workspace on its first run) and give the engine
        its numbers. Raises the cache's errors (wrong key, newer schema) with the cache closed.
        """
        # The demo's content (a large corpus) loads here, after the first paint.
        from sync.engine.demo_workspace import demo_adapters, seed_demo_workspace

        try:
            await self.db.open()
            if self.demo:
                await self.db.run(seed_demo_workspace, shape=shape, progress=progress)
            adapters = await self.db.run(demo_adapters, timing=timing, live=live)
        except BaseException:
            await self.db.aclose()
            raise
        self.engine.set_adapters(adapters)

    async def start(self) -> None:
        """Connect the numbers and start sending."""
        await self.engine.start()

    async def aclose(self) -> None:
        """Stop the engine, then close the cache."""
        await self.engine.aclose()
        await self.db.aclose()
