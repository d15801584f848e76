"""Fixtures of the server tests: for the receiver a real cache with the three test numbers; for
the team server's tests, see tests/sync/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sync.providers.accounts import ProviderAccount
from sync.store.local import queries
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.local.local_cache import LocalCache
from tests.sync.server.payloads import evolution_account, gateway_account, meta_account

if TYPE_CHECKING:
    pass


@dataclass
class Numbers:
    """The three test numbers, with the ids the cache gave them."""

    meta: ProviderAccount
    evolution: ProviderAccount
    gateway: ProviderAccount

    def all(self) -> list[ProviderAccount]:
        return [self.meta, self.evolution, self.gateway]


def add_numbers(cache: LocalCache) -> Numbers:
    """Rows for the three test numbers (the directory holds their settings and secrets)."""
    ids = [
        queries.add_account(cache, name=a.name, provider=a.provider)
        for a in (meta_account(), evolution_account(), gateway_account())
    ]
    return Numbers(
        meta=replace(meta_account(), account_id=ids[0]),
        evolution=replace(evolution_account(), account_id=ids[1]),
        gateway=replace(gateway_account(), account_id=ids[2]),
    )


@pytest.fixture
def db(cache_path: Path, cache_key: CacheKey) -> Iterator[Database]:
    """The database thread over a fresh cache."""
    database = Database(cache_path, cache_key)
    database.open_sync()
    try:
        yield database
    finally:
        database.close_sync()


@pytest.fixture
def numbers(db: Database) -> Numbers:
    """The three test numbers, added to the cache."""
    return db.run_sync(add_numbers)
