"""What the store contract test needs besides the ``Store`` protocol: a number to send from, and
a look at what a store kept (a message's status, error, provider id and text; a conversation's
preview and unread count), read in each store's own dialect.

The contract drives a store through the protocol only; these probes read back, and make the
rows the protocol has no verb for (numbers). One ``StoreProbe`` per kind of store.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sync.store.local import queries
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.local.local_cache import CACHE_FILE_NAME
from sync.store.local.store import LocalStore
from sync.store.team.database import ServerDatabase
from sync.store.team.store import TeamStore
from tests.sync.server import seeding

if TYPE_CHECKING:
    from sync.engine.store import Store
    from sync.store.local.local_cache import LocalCache


@dataclass(frozen=True)
class Seen:
    """A message as a store kept it."""

    status: str
    error: str | None
    provider_id: str | None
    body: str
    conversation_id: int
    direction: str
    revoked: bool


@dataclass(frozen=True)
class Listed:
    """A conversation as the list shows it."""

    preview: str
    unread: int
    last_status: str | None


class StoreProbe(Protocol):
    """A store under test, and how to look inside it."""

    store: Store

    def number(self) -> int:
        """A new number (account id) to send from and receive on."""

    def message(self, message_id: str) -> Seen | None:
        """The live message with our id (None: none, or folded into another)."""

    def message_id(self, account_id: int, provider_id: str) -> str | None:
        """Our id of the live message the provider calls ``provider_id``."""

    def conversation(self, conversation_id: int) -> Listed:
        """The conversation's line in the list."""

    def count(self, account_id: int) -> int:
        """How many live messages the number has."""

    def reactions(self, account_id: int, target_id: str) -> dict[str, str]:
        """The reactions (sender → emoji) on the message the provider calls ``target_id``."""

    def queued(self) -> int:
        """How many outbox entries wait (pending or being sent)."""

    def another_store(self) -> Store:
        """A second store on the same data, as another task or process would have."""

    def down_store(self) -> Store:
        """A store on the same data that cannot reach it (a closed cache, a Postgres that
        refuses connections): every write fails with the driver's "unavailable" error."""


@contextlib.contextmanager
def open_probe(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreProbe]:
    """A fresh, empty store of ``kind`` ("local" or "team"), with its probe."""
    if kind == "local":
        key = CacheKey.generate()
        db = Database(tmp_path / CACHE_FILE_NAME, key)
        db.open_sync()
        local = LocalProbe(db, key)
        try:
            yield local
        finally:
            local.close()
            db.close_sync()
    else:
        # Postgres starts only for the team cases (and once per session).
        pg = request.getfixturevalue("pg_database")
        team = TeamProbe(request.getfixturevalue("server_db"), pg.app_url)
        try:
            yield team
        finally:
            team.close()


class LocalProbe:
    """The SQLCipher cache, through its one database thread."""

    def __init__(self, db: Database, key: CacheKey) -> None:
        self.db = db
        self.store: Store = LocalStore(db)
        self._key = key
        self._numbers = 0
        self._others: list[Database] = []

    def close(self) -> None:
        for other in self._others:
            other.close_sync()

    def _one(self, sql: str, *params: Any) -> Any:
        def read(cache: LocalCache) -> Any:
            return cache.conn.exec_driver_sql(sql, params).first()

        return self.db.run_sync(read)

    def number(self) -> int:
        self._numbers += 1
        return self.db.run_sync(
            queries.add_account, name=f"Loja {self._numbers}", provider="recording", phone=""
        )

    def message(self, message_id: str) -> Seen | None:
        row = self._one(
            "SELECT status, error, provider_message_id, body, conversation_id, direction,"
            " revoked_at IS NOT NULL FROM messages WHERE id = ?",
            message_id,
        )
        return None if row is None else Seen(*row[:6], revoked=bool(row[6]))

    def message_id(self, account_id: int, provider_id: str) -> str | None:
        row = self._one(
            "SELECT id FROM messages WHERE account_id = ? AND provider_message_id = ?",
            account_id,
            provider_id,
        )
        return None if row is None else str(row[0])

    def conversation(self, conversation_id: int) -> Listed:
        row = self._one(
            "SELECT last_preview, unread_count, last_status FROM conversations WHERE id = ?",
            conversation_id,
        )
        return Listed(*row)

    def count(self, account_id: int) -> int:
        return int(self._one("SELECT COUNT(*) FROM messages WHERE account_id = ?", account_id)[0])

    def reactions(self, account_id: int, target_id: str) -> dict[str, str]:
        def read(cache: LocalCache) -> dict[str, str]:
            found = cache.conn.exec_driver_sql(
                "SELECT sender, emoji FROM reactions WHERE account_id = ? AND target_id = ?",
                (account_id, target_id),
            )
            return {str(s): str(e) for s, e in found}

        return self.db.run_sync(read)

    def queued(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM outbox")[0])

    def another_store(self) -> Store:
        # Solo mode has one database thread per file, which serialises every claim: a second
        # store is a second object over that same thread.
        return LocalStore(self.db)

    def down_store(self) -> Store:
        # Its own thread and connection on the same file, closed under it: what a cache whose
        # connection broke raises (sqlcipher3's ProgrammingError), and not the probe's own.
        other = Database(self.db.path, self._key)
        other.open_sync()
        other.run_sync(lambda cache: cache.close())
        self._others.append(other)
        return LocalStore(other)


class TeamProbe:
    """The team's Postgres, read under the server's system scope (every workspace)."""

    def __init__(self, db: ServerDatabase, url: str) -> None:
        self.db = db
        self.store: Store = TeamStore(db)
        self._url = url
        self._others: list[ServerDatabase] = []
        with db.system() as conn:
            self._workspace = seeding.workspace(conn)

    def close(self) -> None:
        for other in self._others:
            other.dispose()

    def _one(self, sql: str, **params: Any) -> Any:
        with self.db.system() as conn:
            return conn.execute(text(sql), params).first()

    def number(self) -> int:
        with self.db.system() as conn:
            return seeding.number(
                conn, self._workspace, f"Loja {uuid.uuid4().hex[:6]}", state="connected"
            )

    def message(self, message_id: str) -> Seen | None:
        row = self._one(
            "SELECT status, error, provider_message_id, body, conversation_id, direction,"
            " revoked_at IS NOT NULL FROM messages WHERE id = :id AND NOT deleted",
            id=uuid.UUID(message_id),
        )
        return None if row is None else Seen(*row[:6], revoked=bool(row[6]))

    def message_id(self, account_id: int, provider_id: str) -> str | None:
        row = self._one(
            "SELECT id FROM messages WHERE account_id = :a AND provider_message_id = :p"
            " AND NOT deleted",
            a=account_id,
            p=provider_id,
        )
        return None if row is None else str(row[0])

    def conversation(self, conversation_id: int) -> Listed:
        row = self._one(
            "SELECT last_preview, unread_count, last_status FROM conversations WHERE id = :c",
            c=conversation_id,
        )
        return Listed(*row)

    def count(self, account_id: int) -> int:
        row = self._one(
            "SELECT count(*) FROM messages WHERE account_id = :a AND NOT deleted", a=account_id
        )
        return int(row[0])

    def reactions(self, account_id: int, target_id: str) -> dict[str, str]:
        with self.db.system() as conn:
            found = conn.execute(
                text(
                    "SELECT sender, emoji FROM reactions WHERE account_id = :a"
                    " AND target_id = :t AND NOT deleted"
                ),
                {"a": account_id, "t": target_id},
            )
            return {str(s): str(e) for s, e in found}

    def queued(self) -> int:
        return int(self._one("SELECT count(*) FROM outbox")[0])

    def another_store(self) -> Store:
        # Its own pool, so its claims run on other connections, as another server's would.
        other = ServerDatabase(self._url, pool_size=4)
        self._others.append(other)
        return TeamStore(other)

    def down_store(self) -> Store:
        # The same database, reached on a port nobody listens on: psycopg's OperationalError,
        # what a Postgres that is down or unreachable gives.
        dead = make_url(self._url).set(host="127.0.0.1", port=1).render_as_string(False)
        other = ServerDatabase(dead, pool_size=1)
        self._others.append(other)
        return TeamStore(other)
