"""The headless services one window works with, built in one place (``desktop.app``).

Kept apart from ``app.py`` so tests build the very same services without running ``main``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sync.engine.demo_workspace import DemoShape, demo_adapters, seed_demo_workspace
from sync.engine.service import Engine
from sync.providers.demo import DemoTiming
from sync.store.cache_key import CacheKey
from sync.store.database import Database


@dataclass
class Services:
    """The database thread and the engine over it."""

    db: Database
    engine: Engine
    demo: bool

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
        """Open the cache (seeding the demo workspace on its first run) and build the engine."""
        db = Database(cache_path, key)
        await db.open()
        try:
            if demo:
                await db.run(seed_demo_workspace, shape=shape, progress=progress)
            adapters = await db.run(demo_adapters, timing=timing, live=live)
        except BaseException:
            await db.aclose()
            raise
        return cls(db, Engine(db, adapters), demo)

    async def start(self) -> None:
        """Connect the numbers and start sending."""
        await self.engine.start()

    async def aclose(self) -> None:
        """Stop the engine, then close the cache."""
        await self.engine.aclose()
        await self.db.aclose()
