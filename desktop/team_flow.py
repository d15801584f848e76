"""Team mode's start-up steps: join a team, open the team workspace, log in again.

- ``join_team``: the first time. Make the team cache (its key like any cache's), log in, keep
  the token (``sync/store/secrets.py``, section 3), copy every conversation the user may see, with
  progress. A join that fails leaves nothing behind: the new cache is removed.
- ``open_team``: later starts. Open the team cache and its token and show the inbox at once from
  the cache (offline first); sync runs in the background. With no token (logged out, refused),
  the "Log in again" dialog comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QWidget

from sync.settings import Paths, remove_cache_files

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from desktop.services import Services
    from desktop.views.join_team_dialog import Progress
    from sync.store.cache_key import CacheKey

SERVER_URL_KEY = "team.server_url"
USERNAME_KEY = "team.username"


def team_exists(paths: Paths) -> bool:
    """Whether this data folder holds a team workspace."""
    return paths.team_cache_path().exists()


async def join_team(
    paths: Paths,
    server_url: str,
    username: str,
    password: str,
    progress: Progress,
    *,
    key: CacheKey | None = None,
    keyring_backend: KeyringBackend | None = None,
) -> Services:
    """Join: new team cache, login, token kept, first sync. Raises with nothing left behind."""
    from desktop.services import Services
    from sync.store import queries

    cache_path = paths.team_cache_path()
    fresh = not cache_path.exists()
    if key is None:
        key = await _team_key(paths, keyring_backend)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    services = Services.create_team(cache_path, key, server_url=server_url, key_file=paths.key_file)
    loop = asyncio.get_running_loop()

    def report(done: int, total: int) -> None:  # may run on the database thread
        loop.call_soon_threadsafe(progress, done, total)

    try:
        await services.prepare()
        client = services.team_client()
        token = await client.login(username, password)
        tokens = services.team_tokens()
        await services.db.run(tokens.save, token)
        await services.db.run(queries.set_meta, SERVER_URL_KEY, server_url)
        await services.db.run(queries.set_meta, USERNAME_KEY, username)
        await client.sync_now(report)
    except BaseException:
        await services.aclose()
        if fresh:
            remove_cache_files(cache_path)
        raise
    return services


async def _team_key(paths: Paths, keyring_backend: KeyringBackend | None) -> CacheKey:
    from desktop.app import resolve_key_interactively
    from sync.store.cache_key import CacheKey

    found = await resolve_key_interactively(
        paths.team_cache_path(), paths.key_file, demo=False, keyring_backend=keyring_backend
    )
    if not isinstance(found, CacheKey):
        raise asyncio.CancelledError  # the user closed the key dialog: nothing to join with
    return found


async def open_team(
    paths: Paths,
    key: CacheKey,
    *,
    parent: QWidget | None = None,
) -> Services | None:
    """The team workspace, logged in (asking for the password again if needed); None = quit."""
    from desktop.services import Services
    from desktop.views.join_team_dialog import ask_to_join
    from sync.store import queries

    services = Services.create_team(
        paths.team_cache_path(), key, server_url="", key_file=paths.key_file
    )
    await services.prepare()
    server_url = await services.db.run(queries.get_meta, SERVER_URL_KEY) or ""
    username = await services.db.run(queries.get_meta, USERNAME_KEY) or ""
    token = await services.db.run(services.team_tokens().load)
    if server_url and token is not None:
        services.team_url = server_url
        services.team_client(token)
        return services
    await services.aclose()

    async def relogin(url: str, user: str, password: str, progress: Progress) -> Services:
        return await join_team(paths, url, user, password, progress, key=key)

    joined: Services | None = await ask_to_join(
        relogin, parent, server=server_url, username=username, relogin=bool(server_url)
    )
    return joined


async def leave_team(paths: Paths) -> None:
    """Forget the team on this computer: its cache (with the cache's key) and the login token.

    The conversations stay on the team's server; joining again copies them back.
    """
    import shutil

    from sync.store.cache_key import KeyringKeyStore, NoKeyringAvailable
    from sync.store.secrets import TeamTokenStore

    cache_path = paths.team_cache_path()
    with contextlib.suppress(Exception):  # no keyring: nothing was kept there
        TeamTokenStore(cache_path, key_file=paths.key_file).delete()
    with contextlib.suppress(NoKeyringAvailable):
        KeyringKeyStore(cache_path).delete()
    shutil.rmtree(cache_path.parent, ignore_errors=True)
