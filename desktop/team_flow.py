"""A team's workspace on disk: whether this data folder has one, and forgetting it.

Joining and opening it are the app's (``desktop.app``, the one place that builds a workspace).
"""

from __future__ import annotations

import contextlib

from sync.settings import Paths


def team_exists(paths: Paths) -> bool:
    """Whether this data folder holds a team workspace."""
    return paths.team_cache_path().exists()


async def leave_team(paths: Paths) -> None:
    """Forget the team on this computer: its cache (with the cache's key) and the login token.

    The conversations stay on the team's server; joining again copies them back.
    """
    import shutil

    from sync.secrets import TeamTokenStore
    from sync.store.cache_key import KeyringKeyStore, NoKeyringAvailable

    cache_path = paths.team_cache_path()
    with contextlib.suppress(Exception):  # no keyring: nothing was kept there
        TeamTokenStore(cache_path, key_file=paths.key_file).delete()
    with contextlib.suppress(NoKeyringAvailable):
        KeyringKeyStore(cache_path).delete()
    shutil.rmtree(cache_path.parent, ignore_errors=True)
