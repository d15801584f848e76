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
    import asyncio

    import httpx

    from sync.client.team import TeamClient
    from sync.domain.messages import Message
    from sync.engine.demo_workspace import DemoShape
    from sync.engine.workspace import Workspace
    from sync.providers.accounts import Secret
    from sync.providers.demo import DemoTiming
    from sync.secrets import TeamTokenStore
    from sync.store.cache_key import CacheKey


# A team workspace's settings in its cache's meta table: where its server is, who logged in.
SERVER_URL_KEY = "team.server_url"
USERNAME_KEY = "team.username"


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
    # Team mode: the server's address; the client syncing this cache with it (once logged in).
    team_mode: bool = False
    team_url: str = ""
    team: TeamClient | None = None
    _team_http: httpx.AsyncClient | None = None
    _team_task: asyncio.Task[None] | None = None

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
    def create_team(
        cls, cache_path: Path, key: CacheKey, *, server_url: str, key_file: Path | None = None
    ) -> Services:
        """Services over a team cache: no numbers of their own, everything through the server."""
        services = cls.create(cache_path, key, demo=False, key_file=key_file)
        services.team_mode = True
        services.team_url = server_url  # "" until read from the cache (``team_flow``)
        return services

    @property
    def is_team(self) -> bool:
        """Whether this workspace is a team's (the server sends; this desktop syncs)."""
        return self.team_mode

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

        if self.is_team:
            await self.db.open()
            return
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

    def team_client(self, token: Secret | None = None) -> TeamClient:
        """The team client (made on first use), over an HTTP client of its own."""
        if self.team is None:
            import httpx

            from sync.client.team import TeamClient

            self._team_http = httpx.AsyncClient(
                base_url=self.team_url, timeout=httpx.Timeout(30.0, connect=10.0)
            )
            self.team = TeamClient(self._team_http, self.db, token=token)
        return self.team

    def team_tokens(self) -> TeamTokenStore:
        """Where this team cache's login token is kept (``sync/secrets.py``, section 3)."""
        from sync.secrets import TeamTokenStore

        return TeamTokenStore(self.db.path, key_file=self.key_file)

    async def team_user_name(self) -> str:
        """The user this desktop logged in as ("" before any login)."""
        from sync.store import queries

        return await self.db.run(queries.get_meta, USERNAME_KEY) or ""

    async def relogin(self, username: str, password: str) -> None:
        """Log in again after the server ended the session; sync resumes at once."""
        assert self.team is not None
        token = await self.team.login(username, password)
        await self.db.run(self.team_tokens().save, token)
        if self._team_task is not None and self._team_task.done():
            self._team_task = None
            await self.start()
        self.team.wake()

    async def send_text(self, conversation_id: int, text: str) -> Message:
        """Queue a reply: to the team server in team mode, to this desktop's outbox otherwise."""
        if self.team is not None:
            return await self.team.send_text(conversation_id, text)
        return await self.engine.send_text(conversation_id, text)

    async def is_supervisor(self) -> bool:
        """Whether this desktop's user is a team's supervisor (never in solo mode)."""
        if self.team is None:
            return False
        user = await self.team.user()
        return user is not None and user.role == "supervisor"

    async def can_send_again(self) -> bool:
        """Whether this desktop's user may send a failed message again.

        In a team only a supervisor may (the reason is shown to the agent, the retry is a
        supervisor's call); alone, the user decides.
        """
        return self.team is None or await self.is_supervisor()

    async def send_again(self, message_id: str) -> Message:
        """A new copy of a failed (or possibly unsent) message, by the user's choice."""
        if self.team is not None:
            from sync.domain.models import DeliveryStatus, Direction, MessageType
            from sync.engine.outbox import OutboxError
            from sync.store import queries

            if not await self.can_send_again():
                raise OutboxError(
                    "only a supervisor can send a failed message again", "supervisor_only"
                )
            found = await self.db.run(queries.messages_by_id, [message_id])
            if not found:
                raise OutboxError("that message no longer exists", "gone")
            original = found[0]
            # The same rule as solo mode (outbox.send_again): the agent resends, never the app.
            if original.direction is not Direction.OUT or original.status not in (
                DeliveryStatus.UNKNOWN,
                DeliveryStatus.FAILED,
            ):
                raise OutboxError(
                    "only a message that failed or may not have been sent can be resent",
                    "not_resendable",
                )
            if original.type is not MessageType.TEXT or not original.text:
                raise OutboxError("only text messages can be sent again", "text_only")
            return await self.team.send_text(
                original.conversation_id, original.text, reply_to=original.reply_to
            )
        return await self.engine.send_again(message_id)

    async def mark_read(self, conversation_id: int) -> None:
        """The agent opened a conversation: read here at once, and for the team once pushed."""
        if self.team is not None:
            await self.team.mark_read(conversation_id)
        else:
            await self.engine.mark_read(conversation_id)

    async def start(self) -> None:
        """Connect the numbers and start sending."""
        if self.team is not None:
            import asyncio

            self._team_task = asyncio.get_running_loop().create_task(
                self.team.run(), name="caixa-team"
            )
            return
        await self.engine.start()
        if self.workspace is not None:
            self.workspace.start_watchdog()
            listen = await self.listen_address()
            if listen and not await self._start_receiver(listen):
                import logging

                logging.getLogger(__name__).warning("the webhook receiver could not listen")

    async def aclose(self) -> None:
        """Stop the receiver and the engine, then close the cache."""
        if self._team_task is not None:
            import asyncio
            import contextlib

            self._team_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._team_task
            self._team_task = None
        if self.team is not None:
            await self.team.aclose()
        if self._team_http is not None:
            await self._team_http.aclose()
            self._team_http = None
        if self.workspace is not None:
            await self.workspace.stop_receiver()
        await self.engine.aclose()
        if self.workspace is not None:
            await self.workspace.aclose()
        await self.db.aclose()
