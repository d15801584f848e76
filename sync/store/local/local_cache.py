"""The local encrypted cache: one SQLCipher file, opened with a raw 256-bit key.

Opening never runs a key derivation (the key is random, not a password), so it costs a few
milliseconds. The file, its WAL and the full-text index are all encrypted page by page.
One ``LocalCache`` is one connection and must be used from the thread that opened it; the
desktop and the engine reach it through ``sync.store.local.database.Database``'s single thread.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlcipher3
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from sync.settings import CACHE_FILE_NAME, CIPHER_PAGE_SIZE
from sync.store.local.cache_errors import CacheIncompatible, CacheOpenError, WrongCacheKey
from sync.store.local.cache_key import CacheKey
from sync.store.local.migrations import CacheTooNew, migrate

# Re-exported: callers catch these from here or, off the start-up path, from cache_errors.
__all__ = [
    "CACHE_FILE_NAME",
    "CIPHER_PAGE_SIZE",
    "CacheIncompatible",
    "CacheOpenError",
    "LocalCache",
    "WrongCacheKey",
]


# 64 MB page cache (negative = KiB), as the design asks; enough to keep the hot indexes of a
# 1M-message cache in memory without the process growing past its RSS budget.
_PAGE_CACHE_KIB = 64 * 1024


class LocalCache:
    """An open cache: one SQLAlchemy connection with the schema migrated to the newest version."""

    def __init__(self, path: Path, engine: Engine, conn: Connection, upgraded_from: int) -> None:
        self.path = path
        self.engine = engine
        self.conn = conn
        self.upgraded_from = upgraded_from

    def __repr__(self) -> str:
        return f"LocalCache({str(self.path)!r})"

    @classmethod
    def open(cls, path: Path, key: CacheKey, *, migrate_to: int | None = None) -> LocalCache:
        """Open (creating if needed) the cache at ``path`` and upgrade its schema in place.

        Raises ``WrongCacheKey`` when the key does not fit and ``CacheIncompatible`` when the
        file comes from a newer version.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        url = URL.create(
            "sqlite+pysqlcipher",
            password=key.sqlcipher_pragma_value(),
            database=str(path),
            # Set with the key on every open (SQLCipher cannot read it from the encrypted header).
            # 16 KiB pages halve the per-page HMAC and encryption work of bulk loads.
            query={"cipher_page_size": str(CIPHER_PAGE_SIZE)},
        )
        engine = create_engine(url, poolclass=NullPool)
        event.listen(engine, "connect", _on_connect)
        try:
            # AUTOCOMMIT: a read never leaves a transaction (and a WAL snapshot) open behind it;
            # writes say where their transaction starts and ends (``transaction`` below).
            conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError as exc:
            engine.dispose()
            if _is_not_a_database(exc.orig):
                raise WrongCacheKey(path) from None
            raise
        try:
            raw = conn.connection.dbapi_connection
            kwargs = {} if migrate_to is None else {"target": migrate_to}
            upgraded_from = migrate(raw, **kwargs)
        except CacheTooNew as exc:
            conn.close()
            engine.dispose()
            raise CacheIncompatible(str(exc)) from None
        except BaseException:
            conn.close()
            engine.dispose()
            raise
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
        return cls(path, engine, conn, upgraded_from)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction: everything inside commits together or not at all."""
        self.conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.exec_driver_sql("ROLLBACK")
            raise
        self.conn.exec_driver_sql("COMMIT")

    def raw_cursor(self) -> Any:
        """The DB-API cursor, for bulk paths where SQLAlchemy's per-row overhead matters."""
        return self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close."""
        if self.conn.closed:
            return
        if self.conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            self.conn.exec_driver_sql("ROLLBACK")
        with contextlib.suppress(DBAPIError):
            self.conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()
        self.engine.dispose()


def _is_not_a_database(exc: BaseException | None) -> bool:
    return isinstance(exc, sqlcipher3.DatabaseError) and "not a database" in str(exc)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # No implicit BEGINs from the driver: transactions are exactly what the writers say.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # SQLCipher would print its own errors on stderr for a wrong key; we report them better.
        cursor.execute("PRAGMA cipher_log_level = NONE")
        # The first statement after PRAGMA key reads page 1: a wrong key fails right here.
        cursor.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed "sending" mark must survive power loss, or a resend could duplicate.
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute(f"PRAGMA cache_size = -{_PAGE_CACHE_KIB:d}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA temp_store = MEMORY")
        cursor.execute("PRAGMA busy_timeout = 5000")
    finally:
        cursor.close()
