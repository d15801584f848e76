"""Solo mode's backend: the whole engine in this process (``desktop.backend.Backend``).

This desktop talks to the providers itself, keeps everything in its local cache and sends from
its own outbox. Built in ``desktop.app``; tests build the very same one without running ``main``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.backend import Features, NotOffered, provider_capabilities
from sync.engine.service import Engine
from sync.store.local.database import Database

if TYPE_CHECKING:
    from collections.abc import Callable

    from desktop.backend import Assignment
    from sync.backend.workspace import Workspace
    from sync.domain.messages import Message, TemplateRef
    from sync.domain.models import Account
    from sync.engine.demo_workspace import DemoShape
    from sync.providers.base import Capabilities
    from sync.providers.demo import DemoTiming
    from sync.providers.meta_cloud import TemplateInfo
    from sync.store.local.cache_key import CacheKey
    from sync.store.local.queries import Note, Teammate


class SoloBackend:
    """The database thread, the engine over it and, with real numbers, their workspace."""

    # Settings kept in the cache's meta table (so they travel with the workspace).
    LISTEN_KEY = "receiver.listen"
    PUBLIC_URL_KEY = "receiver.public_url"

    def __init__(
        self, db: Database, engine: Engine, *, demo: bool, key_file: Path | None = None
    ) -> None:
        self.db = db
        self.engine = engine
        self.demo = demo
        self.key_file = key_file  # where account secrets may go when there is no keyring
        self.keep_alive: Any = None  # e.g. the throw-away folder of a demo without keyring
        # The real numbers: adapters, pairing, the webhook receiver. None on the demo workspace.
        self.workspace: Workspace | None = None

    def __repr__(self) -> str:
        return f"SoloBackend({self.db.path!s}, demo={self.demo})"

    @classmethod
    def create(
        cls, cache_path: Path, key: CacheKey, *, demo: bool, key_file: Path | None = None
    ) -> SoloBackend:
        """The backend, not yet opened: cheap, so the window can be built before any I/O."""
        db = Database(cache_path, key)
        return cls(db, Engine(db, {}), demo=demo, key_file=key_file)

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
    ) -> SoloBackend:
        """Create and prepare in one step."""
        backend = cls.create(cache_path, key, demo=demo)
        await backend.prepare(timing=timing, live=live, shape=shape, progress=progress)
        return backend

    # -- life ------------------------------------------------------------------------------

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
        from sync.backend.workspace import Workspace
        from sync.store.local import queries
        from sync.store.secrets import AccountSecrets

        public_url = await self.db.run(queries.get_meta, self.PUBLIC_URL_KEY) or ""
        secrets = AccountSecrets(self.db.path, key_file=self.key_file)
        self.workspace = Workspace(self.db, self.engine, secrets, public_url=public_url)
        return await self.workspace.load()

    async def start(self) -> None:
        """Connect the numbers, start sending, and receive webhooks if set up to."""
        await self.engine.start()
        if self.workspace is not None:
            listen, _ = await self.receiver_settings()
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

    # -- what it offers --------------------------------------------------------------------

    async def features(self) -> Features:
        """Alone, the user decides everything; nobody to assign to, nobody to leave notes for."""
        return Features(can_send_again=True, manages_numbers=self.workspace is not None)

    def number_capabilities(self, account: Account) -> Capabilities | None:
        """What the number's provider declares (the same as its adapter's, when it has one)."""
        return provider_capabilities(account.provider)

    # -- messages --------------------------------------------------------------------------

    async def send_text(self, conversation_id: int, text: str) -> Message:
        """Queue a reply in this desktop's outbox."""
        return await self.engine.send_text(conversation_id, text)

    async def list_templates(self, account_id: int) -> list[TemplateInfo]:
        """The number's approved templates, asked of its provider by its adapter."""
        lister = getattr(self.engine.adapter(account_id), "list_templates", None)
        if lister is None:  # not connected (secrets missing), or no templates after all
            return []
        return list(await lister())

    async def send_template(
        self, conversation_id: int, template: TemplateRef, preview: str
    ) -> Message:
        """Queue an approved template in this desktop's outbox."""
        return await self.engine.send_template(conversation_id, template, preview)

    async def send_again(self, message_id: str) -> Message:
        """A new copy of a failed (or possibly unsent) message (the outbox's rule)."""
        return await self.engine.send_again(message_id)

    async def mark_read(self, conversation_id: int) -> None:
        """Clear the conversation's unread badge."""
        await self.engine.mark_read(conversation_id)

    # -- a team's: never offered here (Features says so) -----------------------------------

    async def assignment(self, conversation_id: int) -> Assignment | None:
        """Nobody has a conversation: there is nobody else."""
        return None

    async def claim(self, conversation_id: int) -> None:
        """Not offered alone."""
        raise NotOffered("taking a conversation is a team's")

    async def teammates(self) -> list[Teammate]:
        """Nobody."""
        return []

    async def assign(self, conversation_id: int, user_id: int | None) -> str | None:
        """Not offered alone."""
        raise NotOffered("assigning a conversation is a team's")

    async def notes(self, conversation_id: int) -> list[Note]:
        """None: notes are for colleagues."""
        return []

    async def add_note(self, conversation_id: int, text: str) -> None:
        """Not offered alone."""
        raise NotOffered("internal notes are a team's")

    # -- this computer's numbers -----------------------------------------------------------

    async def receiver_settings(self) -> tuple[str, str]:
        """Where the webhook receiver listens ("" when it is off), and its public address."""
        from sync.store.local import queries

        listen = await self.db.run(queries.get_meta, self.LISTEN_KEY) or ""
        public_url = await self.db.run(queries.get_meta, self.PUBLIC_URL_KEY) or ""
        return listen, public_url

    async def set_receiver(self, listen: str, public_url: str) -> bool:
        """Save the receiver settings and apply them now; False when it cannot listen there."""
        from sync.store.local import queries

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
        from sync.ingress.listen import parse_listen

        host, port = parse_listen(listen)
        return await self.workspace.start_receiver(host, port)
