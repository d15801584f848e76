"""Why the local cache would not open: kept apart from ``local_cache`` so the app can catch
these without importing SQLAlchemy before its window is painted."""

from __future__ import annotations

from pathlib import Path


class CacheOpenError(Exception):
    """The cache could not be opened; the message is fit to show a user (no key material)."""


class WrongCacheKey(CacheOpenError):
    """The key does not open this file (or the file is not a Caixa cache)."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"The local cache at {path} could not be opened with the key that was found. "
            "The key is wrong, or the file is damaged or not a Caixa cache."
        )
        self.path = path


class CacheIncompatible(CacheOpenError):
    """The cache was made by a newer Caixa."""
