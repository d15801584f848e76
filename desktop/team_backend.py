"""Team mode's backend: a team's server does the work (``desktop.backend.Backend``).

The server holds the numbers' credentials, receives, sends and decides; this desktop keeps a
copy of what its user may see in its local cache, synced through the server's API
(``sync.client.team.TeamClient``), and queues commands there: they are pushed next, and offline
they wait. Built in ``desktop.app``, which also runs the dialogs around joining and logging in;
what is here needs no window.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from desktop.backend import Assignment, Features, NotOffered, provider_capabilities
from sync.store.local.database import Database

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from pathlib import Path

    import httpx

    from sync.backend.workspace import Workspace
    from sync.client.team import TeamClient
    from sync.domain.messages import Message, TemplateRef
    from sync.domain.models import Account
    from sync.providers.accounts import Secret
    from sync.providers.base import Capabilities
    from sync.providers.meta_cloud import TemplateInfo
    from sync.settings import Paths
    from sync.store.local.cache_key import CacheKey
    from sync.store.local.queries import Note, Teammate
    from sync.store.secrets import TeamTokenStore

# A team workspace's settings in its cache's meta table: where its server is, who logged in.
SERVER_URL_KEY = "team.server_url"
USERNAME_KEY = "team.username"

# How long ``assign`` waits for the server's verdict before leaving it to the next pull.
ASSIGN_WAIT_S = 10.0
_POLL_S = 0.05


def team_exists(paths: Paths) -> bool:
    """Whether this data folder holds a team workspace."""
    return paths.team_cache_path().exists()


def forget_team(paths: Paths) -> None:
    """Forget the team on this computer: its cache (with the cache's key) and the login token.

    The conversations stay on the team's server; joining again copies them back.
    """
    import shutil

    from sync.store.local.cache_key import KeyringKeyStore, NoKeyringAvailable
    from sync.store.secrets import TeamTokenStore

    cache_path = paths.team_cache_path()
    with contextlib.suppress(Exception):  # no keyring: nothing was kept there
        TeamTokenStore(cache_path, key_file=paths.key_file).delete()
    with contextlib.suppress(NoKeyringAvailable):
        KeyringKeyStore(cache_path).delete()
    shutil.rmtree(cache_path.parent, ignore_errors=True)


class TeamBackend:
    """The team cache and, once logged in, the client syncing it with the server."""

    def __init__(self, db: Database, *, server_url: str = "", key_file: Path | None = None) -> None:
        self.db = db
        self.server_url = server_url  # "" until read from the cache (``resume``)
        self.key_file = key_file  # where the login token goes when there is no keyring
        # Made by ``join`` or ``resume``: None while nobody is logged in.
        self.client: TeamClient | None = None
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"TeamBackend({self.db.path!s}, server={self.server_url!r})"

    @classmethod
    def create(
        cls, cache_path: Path, key: CacheKey, *, server_url: str, key_file: Path | None = None
    ) -> TeamBackend:
        """The backend over a team cache, not yet opened."""
        return cls(Database(cache_path, key), server_url=server_url, key_file=key_file)

    @property
    def workspace(self) -> Workspace | None:
        """None: the team's numbers are connected by its server."""
        return None

    # -- logging in ------------------------------------------------------------------------

    async def join(
        self, username: str, password: str, progress: Callable[[int, int], None]
    ) -> None:
        """Log in to ``server_url``, keep the token, copy everything the user may see.

        ``progress(done, total)`` may be called on the database thread.
        """
        from sync.store.local import queries

        client = self._client()
        token = await client.login(username, password)
        await self.db.run(self._tokens().save, token)
        await self.db.run(queries.set_meta, SERVER_URL_KEY, self.server_url)
        await self.db.run(queries.set_meta, USERNAME_KEY, username)
        await client.sync_now(progress)

    async def resume(self) -> bool:
        """Log in again with the kept token (no network); False when there is none to use."""
        from sync.store.local import queries

        server_url = await self.db.run(queries.get_meta, SERVER_URL_KEY) or ""
        token = await self.db.run(self._tokens().load)
        if not server_url or token is None:
            return False
        self.server_url = server_url
        self._client(token)
        return True

    async def last_login(self) -> tuple[str, str]:
        """The server and the user of the last login ("" when never)."""
        from sync.store.local import queries

        server_url = await self.db.run(queries.get_meta, SERVER_URL_KEY) or ""
        username = await self.db.run(queries.get_meta, USERNAME_KEY) or ""
        return server_url, username

    async def relogin(self, username: str, password: str) -> None:
        """Log in again after the server ended the session; sync resumes at once."""
        client = self._logged_in()
        token = await client.login(username, password)
        await self.db.run(self._tokens().save, token)
        if self._task is not None and self._task.done():
            self._task = None
            await self.start()
        client.wake()

    async def pending_count(self) -> int:
        """Commands written here that have not reached the server yet."""
        return 0 if self.client is None else await self.client.pending_count()

    def _client(self, token: Secret | None = None) -> TeamClient:
        """The team client (made on first use), over an HTTP client of its own."""
        if self.client is None:
            import httpx

            from sync.client.team import TeamClient

            self._http = httpx.AsyncClient(
                base_url=self.server_url, timeout=httpx.Timeout(30.0, connect=10.0)
            )
            self.client = TeamClient(self._http, self.db, token=token)
        return self.client

    def _logged_in(self) -> TeamClient:
        if self.client is None:
            raise RuntimeError("not logged in to the team's server")
        return self.client

    def _tokens(self) -> TeamTokenStore:
        """Where this team cache's login token is kept (``sync/store/secrets.py``, section 3)."""
        from sync.store.secrets import TeamTokenStore

        return TeamTokenStore(self.db.path, key_file=self.key_file)

    # -- life ------------------------------------------------------------------------------

    async def prepare(self, *, progress: Callable[[int], None] | None = None) -> None:
        """Open the team cache (its conversations come from the server, never seeded)."""
        await self.db.open()

    async def start(self) -> None:
        """Sync in the background: pull, push, follow the server's pokes."""
        import asyncio

        client = self._logged_in()
        self._task = asyncio.get_running_loop().create_task(client.run(), name="caixa-team")

    async def aclose(self) -> None:
        """Stop syncing, then close the cache."""
        if self._task is not None:
            import asyncio

            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.client is not None:
            await self.client.aclose()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self.db.aclose()

    # -- what it offers --------------------------------------------------------------------

    async def features(self) -> Features:
        """Everybody takes conversations and writes notes; a supervisor also assigns them and
        sends failed messages again (the reason is shown to the agent, the retry is the
        supervisor's call)."""
        user = None if self.client is None else await self.client.user()
        supervisor = user is not None and user.role == "supervisor"
        return Features(
            assignments=True,
            can_take=True,
            can_assign=supervisor,
            notes=True,
            can_send_again=supervisor,
        )

    def number_capabilities(self, account: Account) -> Capabilities | None:
        """What the number's provider declares (its adapter runs on the server)."""
        return provider_capabilities(account.provider)

    # -- messages --------------------------------------------------------------------------

    async def send_text(self, conversation_id: int, text: str) -> Message:
        """Queue a reply for the server, which sends it."""
        return await self._logged_in().send_text(conversation_id, text)

    async def list_templates(self, account_id: int) -> list[TemplateInfo]:
        """The number's approved templates: the server asks the provider (it holds the
        credentials)."""
        return await self._logged_in().list_templates(account_id)

    async def send_template(
        self, conversation_id: int, template: TemplateRef, preview: str
    ) -> Message:
        """Queue an approved template for the server, which sends it."""
        return await self._logged_in().send_template(conversation_id, template, preview)

    async def send_again(self, message_id: str) -> Message:
        """A new copy of a failed (or possibly unsent) message, for a supervisor."""
        from sync.domain.models import DeliveryStatus, Direction, MessageType
        from sync.store.local import queries
        from sync.store.local.outbox import OutboxError

        if not (await self.features()).can_send_again:
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
        return await self._logged_in().send_text(
            original.conversation_id, original.text, reply_to=original.reply_to
        )

    async def mark_read(self, conversation_id: int) -> None:
        """Read here at once, and for the team once pushed."""
        await self._logged_in().mark_read(conversation_id)

    # -- who has a conversation ------------------------------------------------------------

    async def assignment(self, conversation_id: int) -> Assignment | None:
        """Who has the conversation, as last synced."""
        from sync.store.local import queries

        user_id, name = await self.db.run(queries.assignment, conversation_id)
        if user_id is None:
            return None
        me = None if self.client is None else await self.client.user()
        return Assignment(name, me is not None and me.id == user_id)

    async def claim(self, conversation_id: int) -> None:
        """Take it, on the condition nobody changed its owner since this desktop saw it."""
        await self._logged_in().claim(conversation_id)

    async def teammates(self) -> list[Teammate]:
        """The team's active users, as last synced."""
        from sync.store.local import queries

        return await self.db.run(queries.teammates)

    async def assign(self, conversation_id: int, user_id: int | None) -> str | None:
        """The server decides (it checks the user may see this number, and that nobody changed
        the owner meanwhile); its refusal is returned once the command has been pushed.
        Offline, the command waits and the owner shown follows the next pull."""
        import asyncio

        client = self._logged_in()
        command_id = await client.assign(conversation_id, user_id)
        client.wake()
        for _ in range(int(ASSIGN_WAIT_S / _POLL_S)):
            outcome = await client.command_outcome(command_id)
            if outcome is not None:
                if outcome.get("result") not in ("ok", "conflict"):
                    return str(outcome.get("error") or outcome["result"])
                return None
            await asyncio.sleep(_POLL_S)
        return None

    # -- internal notes --------------------------------------------------------------------

    async def notes(self, conversation_id: int) -> list[Note]:
        """The conversation's notes, as last synced (with the ones written here)."""
        from sync.store.local import queries

        return await self.db.run(queries.notes, conversation_id)

    async def add_note(self, conversation_id: int, text: str) -> None:
        """Queue a note for the team; it shows here at once."""
        await self._logged_in().add_note(conversation_id, text)

    # -- numbers: the server's -------------------------------------------------------------

    async def receiver_settings(self) -> tuple[str, str]:
        """None here: the team's server receives the webhooks."""
        return "", ""

    async def set_receiver(self, listen: str, public_url: str) -> bool:
        """Not offered: the team's server receives the webhooks."""
        raise NotOffered("a team's webhooks go to its server")
