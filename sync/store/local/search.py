"""Full-text search over every message of every number.

The index folds case and accents (``unicode61 remove_diacritics 2``): "acucar" finds "açúcar".
What the user types is never passed to FTS5 as syntax: it is split into words, each quoted, and
the last word is a prefix so results follow the typing ("encomend" finds "encomendas").
Hits come newest first, in index order (the index's rowid is a time-ordered key, migration v5),
so a common word costs the same as a rare one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sync.domain.models import Direction

if TYPE_CHECKING:
    from sync.store.local.local_cache import LocalCache

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One message that matched, with what the results list shows."""

    message_id: str
    conversation_id: int
    account_id: int
    customer_name: str
    customer_phone: str
    timestamp_ms: int
    text: str
    direction: Direction


def build_match(query: str) -> str | None:
    """Turn typed text into a safe FTS5 MATCH expression, or None when it has no words."""
    words = _WORD.findall(query)
    if not words:
        return None
    terms = [f'"{w}"' for w in words]
    terms[-1] += "*"
    return " ".join(terms)


_SQL = """
SELECT m.id, m.conversation_id, m.account_id, c.customer_name, c.customer_phone,
       m.ts, m.body, m.direction
FROM message_fts AS f
JOIN messages AS m ON m.seq = (f.rowid & 4294967295)
JOIN conversations AS c ON c.id = m.conversation_id
WHERE message_fts MATCH ?
ORDER BY f.rowid DESC
LIMIT ?
"""


def search_messages(
    cache: LocalCache, query: str, *, account_id: int | None = None, limit: int = 50
) -> list[SearchHit]:
    """Messages matching ``query``, newest first, across all numbers or one."""
    match = build_match(query)
    if match is None:
        return []
    if account_id is not None:
        # The index itself narrows to the number (its second column); see migration v4.
        match = f'body:({match}) AND account_id:"{int(account_id):d}"'
    rows = cache.conn.exec_driver_sql(_SQL, (match, limit))
    return [
        SearchHit(
            message_id=r[0],
            conversation_id=r[1],
            account_id=r[2],
            customer_name=r[3],
            customer_phone=r[4],
            timestamp_ms=r[5],
            text=r[6],
            direction=Direction(r[7]),
        )
        for r in rows
    ]


_EPOCH_S = 1_500_000_000  # keys count seconds from here (2017-07-14): room until 2085
_KEY_SQL = "(((ts / 1000) - 1500000000) << 32) | seq"  # the same, for statements (migration v5)


def index_key(ts_ms: int, seq: int) -> int:
    """The index rowid of a message: newer messages have larger keys (see migration v5)."""
    return ((ts_ms // 1000 - _EPOCH_S) << 32) | seq


def index_messages_from(cursor: object, first_seq: int) -> None:
    """Add messages with ``seq >= first_seq`` to the index in one statement (bulk loads).

    In key order: FTS5 flushes its in-memory segment whenever a rowid is not larger than the
    previous one, and a history loaded conversation by conversation is not in time order.
    """
    cursor.execute(  # type: ignore[attr-defined]
        f"INSERT INTO message_fts(rowid, body, account_id) SELECT {_KEY_SQL}, body, account_id"
        " FROM messages WHERE seq >= ? AND body != '' ORDER BY 1",
        (first_seq,),
    )


def index_message(cursor: Any, seq: int, ts_ms: int, body: str, account_id: int) -> None:
    """Add one message to the index (the writers feed it explicitly, in their transaction)."""
    cursor.execute(
        "INSERT INTO message_fts(rowid, body, account_id) VALUES (?, ?, ?)",
        (index_key(ts_ms, seq), body, account_id),
    )


def unindex_message(cursor: Any, seq: int, ts_ms: int, body: str, account_id: int) -> None:
    """Remove one message from the index; external-content FTS5 needs the indexed values."""
    cursor.execute(
        "INSERT INTO message_fts(message_fts, rowid, body, account_id) VALUES ('delete', ?, ?, ?)",
        (index_key(ts_ms, seq), body, account_id),
    )
