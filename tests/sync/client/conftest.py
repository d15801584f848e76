"""Fixtures of the team client tests: a seeded server on loopback, and desktop caches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from sync.client.team import TeamClient
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.team.database import ServerDatabase
from tests.fakes.network import Switch
from tests.sync.client.team_server import Team, running_server, seed

if TYPE_CHECKING:
    from tests.conftest import PgDatabase


@pytest.fixture
def team(server_db: ServerDatabase) -> Team:
    return seed(server_db)


@pytest.fixture
def base_url(
    server_db: ServerDatabase, team: Team, pg_database: PgDatabase, postgres_cluster: Any
) -> Iterator[str]:
    with running_server(server_db, postgres_cluster.dsn(pg_database.name, app=True)) as url:
        yield url


Desktop = tuple[TeamClient, Database, Switch]


@pytest.fixture
async def desktops(base_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Desktop]]:
    """``make(name)``: a desktop (client, its cache, its cuttable transport)."""
    made: list[tuple[httpx.AsyncClient, Database]] = []

    def make(name: str, **kwargs: Any) -> Desktop:
        path = tmp_path / name / "cache.db"
        db = Database(path, CacheKey.generate())
        db.open_sync()
        switch = Switch()
        http = httpx.AsyncClient(base_url=base_url, transport=switch, timeout=30)
        made.append((http, db))
        return TeamClient(http, db, **kwargs), db, switch

    yield make
    for http, db in made:
        await http.aclose()
        await db.aclose()
