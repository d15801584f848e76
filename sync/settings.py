"""Where Caixa keeps things, and what each setting means.

Precedence for every path: command-line flag, then environment variable, then the default.

- ``--data-dir`` / ``CAIXA_DATA_DIR``: the folder holding the local cache (default: the
  platform's user data folder, e.g. ``~/.local/share/Caixa`` or ``%LOCALAPPDATA%\\Caixa``).
  The real workspace's cache is ``<data dir>/caixa-cache.db``; the demo's is
  ``<data dir>/demo/caixa-cache.db``; a team's (after "Join a team") is
  ``<data dir>/team/caixa-cache.db``.
- ``--key-file`` / ``CAIXA_KEY_FILE``: keep the cache key in this file instead of the OS keyring
  (headless machines, scripts). See ``sync.store.local.cache_key`` for the keyring entry and
  formats.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

APP_NAME = "Caixa"
CACHE_FILE_NAME = "caixa-cache.db"
# The file the app offers when the OS has no keyring: beside the cache, protected by a passcode
# unless the user explicitly opted out.
DEFAULT_KEY_FILE_NAME = "cache-key.json"
# SQLCipher cannot read its page size from the encrypted header, so every opener must say it;
# changing it would make existing caches unreadable. 16 KiB halves the per-page HMAC work of
# bulk loads compared with the default 4 KiB.
CIPHER_PAGE_SIZE = 16384


def default_data_dir() -> Path:
    """The platform's per-user data folder for Caixa."""
    import platformdirs  # imported here: only needed when no folder was given

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class Paths(NamedTuple):
    """Resolved locations for one run.

    A named tuple, not a frozen dataclass: it is made on the way to the app's first paint,
    where defining a frozen dataclass costs over half a millisecond.
    """

    data_dir: Path
    key_file: Path | None

    def cache_path(self, *, demo: bool) -> Path:
        """The cache file of the demo or the real workspace."""
        return (self.data_dir / "demo" if demo else self.data_dir) / CACHE_FILE_NAME

    def team_cache_path(self) -> Path:
        """The cache file of the team workspace (a copy of the team server's conversations).

        Kept apart from the solo workspace's: joining a team never mixes a shop's own numbers
        with the team's, and leaving the team removes only this folder.
        """
        return self.data_dir / "team" / CACHE_FILE_NAME


def cache_files(cache_path: Path) -> tuple[Path, Path, Path]:
    """The cache file and the two SQLite keeps beside it while open (``-wal``, ``-shm``)."""
    return (
        cache_path,
        cache_path.with_name(cache_path.name + "-wal"),
        cache_path.with_name(cache_path.name + "-shm"),
    )


def remove_cache_files(cache_path: Path) -> None:
    """Delete a (closed) cache with its side files; missing ones are fine."""
    for path in cache_files(cache_path):
        path.unlink(missing_ok=True)


def resolve_paths(
    data_dir: str | os.PathLike[str] | None, key_file: str | os.PathLike[str] | None
) -> Paths:
    """Apply flag > environment > default to the data folder and the key file."""
    chosen_dir = data_dir or os.environ.get("CAIXA_DATA_DIR") or None
    chosen_key = key_file or os.environ.get("CAIXA_KEY_FILE") or None
    return Paths(
        data_dir=Path(chosen_dir).expanduser().resolve() if chosen_dir else default_data_dir(),
        key_file=Path(chosen_key).expanduser().resolve() if chosen_key else None,
    )
