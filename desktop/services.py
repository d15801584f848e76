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
    from sync.engine.workspace import Workspace
    from sync.providers.demo import DemoTiming
    from sync.store.cache_key import CacheKey


@dataclass
class Services:
    """The database thread and the engine over it."""

    db: Database
    engine: Engine
    demo: bool
    keep_alive: Any = None  # e.g. the throw-away folder of a demo without keyring
    key_file: Path | None = None  # where account secrets may go when there is no keyring
    # The real numbers (solo mode): adapters, the webhook receiver. None on the demo workspace.
    workspace: Workspace | None = None

    # Settings kept in the cache's meta table (so they travel with the workspace).
    LISTEN_KEY = "receiver.listen"
    PUBLIC_URL_KEY = "receiver.public_url"

    @classmethod
    def create(
        cls, cache_path: Path, key: CacheKey, *, demo: bool, key_file: Path | None = None
    ) -> Services:
        """The services, not yet opened: cheap, so the window can be built before any I/O."""
        db = Database(cache_path, key)
        return cls(db, Engine(db, {}), demo, key_file=key_file)

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
            if not self.demo:
                adapters.update(await self._open_workspace())
        except BaseException:
            if self.workspace is not None:
                await self.workspace.aclose()
            await self.db.aclose()
            raise
        self.engine.set_adapters(adapters)

    async def _open_workspace(self) -> dict[int, Any]:
        from sync.engine.workspace import Workspace
        from sync.secrets import AccountSecrets
        from sync.store import queries

        public_url = await self.db.run(queries.get_meta, self.PUBLIC_URL_KEY) or ""
        secrets = AccountSecrets(self.db.path, key_file=self.key_file)
        self.workspace = Workspace(self.db, self.engine, secrets, public_url=public_url)
        return await self.workspace.load()

    async def listen_address(self) -> str:
        """Where the webhook receiver listens ("" when it is off)."""
        from sync.store import queries

        return await self.db.run(queries.get_meta, self.LISTEN_KEY) or ""

    async def set_receiver(self, listen: str, public_url: str) -> bool:
        """Save the receiver settings and apply them now; False when it cannot listen there."""
        from sync.store import queries

        await self.db.run(queries.set_meta, self.LISTEN_KEY, listen)
        await self.db.run(queries.set_meta, self.PUBLIC_URL_KEY, public_url)
        if self.workspace is None:
            return True
        self.workspace.public_url = public_url
        return await self._start_receiver(listen)

    async def _start_receiver(self, listen: str) -> bool:
        assert self.workspace is not None
        if not listen:
            await self.workspace.stop_receiver()
            return True
        from sync.commands.receive import parse_listen

        host, port = parse_listen(listen)
        return await self.workspace.start_receiver(host, port)

    async def start(self) -> None:
        """Connect the numbers and start sending."""
        await self.engine.start()
        if self.workspace is not None:
            self.workspace.start_watchdog()
            listen = await self.listen_address()
            if listen and not await self._start_receiver(listen):
                import logging

                logging.getLogger(__name__).warning("the webhook receiver could not listen")

    async def aclose(self) -> None:
        """Stop the receiver and the engine, then close the cache."""
        if self.workspace is not None:
            await self.workspace.stop_receiver()
        await self.engine.aclose()
        if self.workspace is not None:
            await self.workspace.aclose()
        await self.db.aclose()
