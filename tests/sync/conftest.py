"""Fixtures of the core tests: a fresh encrypted cache per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.store.cache_key import CacheKey
from sync.store.local_cache import CACHE_FILE_NAME, LocalCache


@pytest.fixture
def cache_key() -> CacheKey:
    """A random key, as a first run makes."""
    return CacheKey.generate()


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    """Where the test's cache lives."""
    return tmp_path / CACHE_FILE_NAME


@pytest.fixture
def cache(cache_path: Path, cache_key: CacheKey) -> Iterator[LocalCache]:
    """An open, empty, migrated cache; closed after the test."""
    opened = LocalCache.open(cache_path, cache_key)
    try:
        yield opened
    finally:
        opened.close()
