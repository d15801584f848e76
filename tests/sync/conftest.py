"""Fixtures of the core tests: a fresh encrypted cache per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sync.store.local.cache_key import CacheKey
from sync.store.local.local_cache import CACHE_FILE_NAME, LocalCache

if TYPE_CHECKING:
    from sync.store.team.database import ServerDatabase
    from tests.sync.server.seeding import Seeded


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


@pytest.fixture
def seeded(server_db: ServerDatabase) -> Seeded:
    """A workspace with one Meta number, a supervisor and two agents (``seed_workspace``)."""
    from sync.server.credentials import ServerKey, generate_key
    from tests.sync.server.seeding import seed_workspace

    return seed_workspace(server_db, ServerKey(generate_key()))
