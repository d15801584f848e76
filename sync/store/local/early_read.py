"""The first screen's data: the cache key when no question is needed, and a quick read.

Kept free of Qt and light to import: the desktop app calls it before its window exists. (Doing it
on a thread while Qt imports was measured: no gain. The import holds the GIL for most of its
time, and any other Python thread makes it wait for the GIL at each release: slower, not faster.)

Anything unusual (no cache, a key that needs the user, a wrong key, a schema to upgrade) ends
in None, and the app's normal start, with its dialogs and messages, takes over.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from sync.settings import Paths
    from sync.store.local.cache_key import CacheKey
    from sync.store.local.first_screen import FirstScreen


# Conversations read for the first paint: more than a maximised window shows on a tall screen
# (40 rows of 68 px), and a fifth of a full page, because each row costs the decryption of a page
# of the cache. The full first page replaces them as soon as the cache is open (presenter.load).
FIRST_SCREEN_ROWS = 40


class EarlyRead(NamedTuple):
    """The cache the first screen came from, its key, and what it showed."""

    cache_path: Path
    key: CacheKey
    screen: FirstScreen


def read_early(paths: Paths, *, demo: bool, limit: int = FIRST_SCREEN_ROWS) -> EarlyRead | None:
    """The key and first screen of the workspace ``paths`` names, when no question is needed."""
    from sync.settings import DEFAULT_KEY_FILE_NAME
    from sync.store.local.cache_key import CacheKeyError, resolve_cache_key

    cache_path = paths.cache_path(demo=demo)
    if not cache_path.exists():
        return None
    key_file = paths.key_file
    default_file = cache_path.parent / DEFAULT_KEY_FILE_NAME
    if key_file is None and default_file.exists():
        key_file = default_file
    try:
        key = resolve_cache_key(cache_path, key_file=key_file, create=False)
    except CacheKeyError:
        return None  # a passcode to ask, no keyring, no key: the app's dialogs handle it
    from sync.store.local.first_screen import read_first_screen

    screen = read_first_screen(cache_path, key, limit=limit)
    return None if screen is None else EarlyRead(cache_path, key, screen)
