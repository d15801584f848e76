"""A quick read-only look at the cache for the first paint, without SQLAlchemy.

On a slow machine importing SQLAlchemy takes longer than painting a window, so the app paints
its first screen (the rail and the latest conversations) from a short-lived plain ``sqlcipher3``
connection, through the very same query functions, while the database thread opens the cache
properly. Anything unusual (no cache yet, a wrong key, a schema to upgrade) returns None and the
normal path takes over, with its error handling.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sync.domain.models import Account, Conversation
from sync.settings import CIPHER_PAGE_SIZE
from sync.store.local import queries
from sync.store.local.migrations import LATEST_VERSION

if TYPE_CHECKING:
    from sync.store.local.cache_key import CacheKey
    from sync.store.local.local_cache import LocalCache


class FirstScreen(NamedTuple):
    """What the main window shows before anything else has loaded.

    A named tuple, not a dataclass: on this path every millisecond counts, and generating a
    frozen dataclass's methods costs about half of one.
    """

    accounts: list[Account]
    unread: dict[int, int]
    conversations: list[Conversation]


class _PlainConnection:
    """The one method of SQLAlchemy's ``Connection`` that the read queries use."""

    def __init__(self, dbapi_connection: Any) -> None:
        self._dbapi = dbapi_connection

    def exec_driver_sql(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._dbapi.execute(sql, tuple(params))


class _PlainCache:
    def __init__(self, dbapi_connection: Any) -> None:
        self.conn = _PlainConnection(dbapi_connection)


def read_first_screen(
    path: Path, key: CacheKey, *, account_id: int | None = None, limit: int = 60
) -> FirstScreen | None:
    """The rail and the latest ``limit`` conversations, or None when the fast path cannot help."""
    if not path.exists():
        return None
    import sqlcipher3

    dbapi = sqlcipher3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        dbapi.execute(f'PRAGMA key = "{key.sqlcipher_pragma_value()}"')
        dbapi.execute(f"PRAGMA cipher_page_size = {CIPHER_PAGE_SIZE:d}")
        dbapi.execute("PRAGMA cipher_log_level = NONE")
        dbapi.execute("PRAGMA query_only = 1")
        (version,) = dbapi.execute("PRAGMA user_version").fetchone()
        if version != LATEST_VERSION:
            return None
        cache: LocalCache = _PlainCache(dbapi)  # type: ignore[assignment]
        return FirstScreen(
            accounts=queries.list_accounts(cache),
            unread=queries.unread_by_account(cache),
            conversations=queries.latest_conversations(cache, account_id, limit=limit),
        )
    except sqlcipher3.DatabaseError:
        return None
    finally:
        dbapi.close()
