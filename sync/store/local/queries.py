"""Reads and small writes the views need: accounts, conversation lists, message pages.

All functions take the open ``LocalCache`` and run on the database thread. Lists use keyset
pagination (a cursor of the last row's sort key), so page 10,000 costs what page 1 costs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sync.domain.changes import ChangeSet
from sync.domain.models import (
    Account,
    ConnectionState,
    Conversation,
    DeliveryStatus,
    Direction,
    MessageType,
)

# Plain SQL through the cache's connection: this module sits on the path to the first painted
# window, and SQLAlchemy's expression language alone costs most of a second to import on a slow
# machine. The connection (and so SQLAlchemy) is loaded on the database thread, off that path.
if TYPE_CHECKING:
    from sync.domain.messages import Message
    from sync.store.local.local_cache import LocalCache

ConversationCursor = tuple[int, int]  # (last_message_at, id) of the last row shown
MessageCursor = tuple[int, int]  # (ts, seq) of the oldest message shown

_CONVERSATION_COLUMNS = (
    "id, account_id, chat_key, customer_phone, customer_name, last_message_at, last_preview,"
    " last_direction, last_status, unread_count"
)
_MESSAGE_COLUMNS = (
    "seq, id, account_id, conversation_id, provider_message_id, direction, ts, type, body,"
    " sender_name, reply_to, status, error, media, edited_at IS NOT NULL, revoked_at IS NOT NULL,"
    " (SELECT group_concat(emoji, '') FROM reactions r"
    "  WHERE r.account_id = messages.account_id AND r.target_id = messages.provider_message_id)"
)


def _rows(cache: LocalCache, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    return list(cache.conn.exec_driver_sql(sql, tuple(params)))


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


def add_account(
    cache: LocalCache,
    *,
    name: str,
    provider: str,
    phone: str = "",
    display_name: str = "",
    config: dict[str, Any] | None = None,
    sort_order: int = 0,
    state: ConnectionState = ConnectionState.OFFLINE,
) -> int:
    """Add a number and return its id."""
    with cache.transaction() as conn:
        row = conn.exec_driver_sql(
            "INSERT INTO accounts (name, provider, phone, display_name, config, sort_order, state,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                name,
                provider,
                phone,
                display_name,
                json.dumps(config or {}),
                sort_order,
                state.value,
                int(time.time() * 1000),
            ),
        ).one()
    return int(row[0])


def list_accounts(cache: LocalCache) -> list[Account]:
    """Every number, in rail order."""
    rows = _rows(
        cache,
        "SELECT id, name, provider, phone, display_name, state, config, state_reason"
        " FROM accounts ORDER BY sort_order, id",
    )
    return [
        Account(
            id=r[0],
            name=r[1],
            provider=r[2],
            phone=r[3],
            display_name=r[4],
            state=ConnectionState(r[5]),
            config=json.loads(r[6]),
            state_reason=r[7],
        )
        for r in rows
    ]


def unread_by_account(cache: LocalCache) -> dict[int, int]:
    """Unread customer messages per number (for the rail's badges)."""
    rows = _rows(
        cache,
        "SELECT account_id, SUM(unread_count) FROM conversations WHERE unread_count > 0"
        " GROUP BY account_id",
    )
    return {account_id: int(total) for account_id, total in rows}


def _conversation(r: Any) -> Conversation:
    return Conversation(
        id=r[0],
        account_id=r[1],
        chat_key=r[2],
        customer_phone=r[3],
        customer_name=r[4],
        last_message_at=r[5],
        last_preview=r[6],
        last_direction=Direction(r[7]) if r[7] else None,
        last_status=DeliveryStatus(r[8]) if r[8] else None,
        unread_count=r[9],
    )


def latest_conversations(
    cache: LocalCache,
    account_id: int | None = None,
    *,
    limit: int = 200,
    after: ConversationCursor | None = None,
) -> list[Conversation]:
    """Conversations, most recent first; ``after`` continues from a previous page's last row."""
    where: list[str] = []
    params: list[Any] = []
    if account_id is not None:
        where.append("account_id = ?")
        params.append(account_id)
    if after is not None:
        where.append("(last_message_at, id) < (?, ?)")
        params.extend(after)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    params.append(limit)
    rows = _rows(
        cache,
        f"SELECT {_CONVERSATION_COLUMNS} FROM conversations {clause}"
        " ORDER BY last_message_at DESC, id DESC LIMIT ?",
        params,
    )
    return [_conversation(r) for r in rows]


def conversations_by_id(cache: LocalCache, ids: Iterable[int]) -> list[Conversation]:
    """The current rows of the given conversations (missing ids are skipped)."""
    wanted = list(ids)
    if not wanted:
        return []
    rows = _rows(
        cache,
        f"SELECT {_CONVERSATION_COLUMNS} FROM conversations"
        f" WHERE id IN ({_placeholders(len(wanted))})",
        wanted,
    )
    return [_conversation(r) for r in rows]


def count_conversations(cache: LocalCache, account_id: int | None = None) -> int:
    """How many conversations a number (or all numbers) has."""
    if account_id is None:
        return int(_rows(cache, "SELECT COUNT(*) FROM conversations")[0][0])
    return int(
        _rows(cache, "SELECT COUNT(*) FROM conversations WHERE account_id = ?", [account_id])[0][0]
    )


def mark_conversation_read(cache: LocalCache, conversation_id: int) -> ChangeSet:
    """Clear a conversation's unread count (locally; telling the provider is the engine's job)."""
    with cache.transaction() as conn:
        row = conn.exec_driver_sql(
            "UPDATE conversations SET unread_count = 0 WHERE id = ? AND unread_count > 0"
            " RETURNING account_id",
            (conversation_id,),
        ).first()
    if row is None:
        return ChangeSet()
    return ChangeSet(accounts=frozenset({row[0]}), conversations=frozenset({conversation_id}))


def _messages(rows: Iterable[Any]) -> list[Message]:
    # Imported here, once per read: the first paint reads conversations through this module
    # and should not pay for defining the message classes (sync.domain.messages).
    from sync.domain.messages import Message

    return [
        Message(
            seq=r[0],
            id=r[1],
            account_id=r[2],
            conversation_id=r[3],
            provider_message_id=r[4],
            direction=Direction(r[5]),
            timestamp_ms=r[6],
            type=MessageType(r[7]),
            text=r[8],
            sender_name=r[9],
            reply_to=r[10],
            status=DeliveryStatus(r[11]),
            error=r[12],
            media=json.loads(r[13]) if r[13] else None,
            edited=bool(r[14]),
            revoked=bool(r[15]),
            reactions=r[16] or "",
        )
        for r in rows
    ]


def message_page(
    cache: LocalCache,
    conversation_id: int,
    *,
    before: MessageCursor | None = None,
    limit: int = 50,
) -> list[Message]:
    """Up to ``limit`` messages older than ``before`` (newest if None), in chronological order."""
    params: list[Any] = [conversation_id]
    cursor_clause = ""
    if before is not None:
        cursor_clause = "AND (ts, seq) < (?, ?)"
        params.extend(before)
    params.append(limit)
    rows = _rows(
        cache,
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? {cursor_clause}"
        " ORDER BY ts DESC, seq DESC LIMIT ?",
        params,
    )
    messages = _messages(rows)
    messages.reverse()
    return messages


def messages_after(
    cache: LocalCache, conversation_id: int, after: MessageCursor, *, limit: int = 200
) -> list[Message]:
    """Messages newer than ``after``, chronological (to extend an open chat)."""
    rows = _rows(
        cache,
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?"
        " AND (ts, seq) > (?, ?) ORDER BY ts, seq LIMIT ?",
        [conversation_id, *after, limit],
    )
    return _messages(rows)


def messages_around(
    cache: LocalCache, message_id: str, *, before: int = 25, after: int = 25
) -> list[Message]:
    """The message with ``message_id`` and its neighbours, chronological (to open a search hit)."""
    found = _rows(cache, f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", [message_id])
    if not found:
        return []
    (anchor,) = _messages(found[:1])
    cursor = (anchor.timestamp_ms, anchor.seq)
    older = message_page(cache, anchor.conversation_id, before=cursor, limit=before)
    newer = messages_after(cache, anchor.conversation_id, cursor, limit=after)
    return [*older, anchor, *newer]


def messages_by_id(cache: LocalCache, ids: Sequence[str]) -> list[Message]:
    """The current rows of the given messages."""
    if not ids:
        return []
    rows = _rows(
        cache,
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id IN ({_placeholders(len(ids))})",
        list(ids),
    )
    return _messages(rows)


def get_meta(cache: LocalCache, key: str) -> str | None:
    """A value from the cache's key/value table."""
    rows = _rows(cache, "SELECT value FROM meta WHERE key = ?", [key])
    return str(rows[0][0]) if rows else None


def set_meta(cache: LocalCache, key: str, value: str) -> None:
    """Store a value in the cache's key/value table."""
    with cache.transaction() as conn:
        conn.exec_driver_sql(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def count_messages(cache: LocalCache, account_id: int | None = None) -> int:
    """How many messages a number (or all numbers) has."""
    if account_id is None:
        return int(_rows(cache, "SELECT COUNT(*) FROM messages")[0][0])
    return int(
        _rows(cache, "SELECT COUNT(*) FROM messages WHERE account_id = ?", [account_id])[0][0]
    )


def last_inbound_ms(cache: LocalCache, conversation_id: int) -> int | None:
    """When the customer last wrote in this conversation (epoch ms), None if never.

    Walks the conversation's messages newest first on ``messages_conversation_time``: it stops
    at the first inbound one, which is one of the last few in any conversation being answered.
    """
    rows = _rows(
        cache,
        "SELECT ts FROM messages WHERE conversation_id = ? AND direction = 'in'"
        " ORDER BY ts DESC, seq DESC LIMIT 1",
        [conversation_id],
    )
    return int(rows[0][0]) if rows else None


class Note(NamedTuple):
    """A team's internal note on a conversation (never shown to the customer)."""

    id: str
    author: str  # the teammate's name ("" when unknown)
    body: str
    ts_ms: int


def notes(cache: LocalCache, conversation_id: int) -> list[Note]:
    """A team conversation's internal notes, oldest first."""
    rows = cache.conn.exec_driver_sql(
        "SELECT n.id, coalesce(nullif(t.display_name, ''), t.username, ''), n.body, n.ts"
        " FROM notes n LEFT JOIN teammates t ON t.id = n.author_user_id"
        " WHERE n.conversation_id = ? ORDER BY n.ts, n.id",
        (conversation_id,),
    )
    return [Note(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


class Teammate(NamedTuple):
    """Someone of the team (from the server's teammates table)."""

    id: int
    name: str
    role: str  # "agent" or "supervisor"


def teammates(cache: LocalCache) -> list[Teammate]:
    """The team's active users, by name."""
    rows = cache.conn.exec_driver_sql(
        "SELECT id, coalesce(nullif(display_name, ''), username), role FROM teammates"
        " WHERE NOT disabled ORDER BY 2 COLLATE NOCASE, id"
    )
    return [Teammate(int(r[0]), str(r[1]), str(r[2])) for r in rows]


def assignment(cache: LocalCache, conversation_id: int) -> tuple[int | None, str]:
    """Who a team conversation is assigned to: (user id, their name), or (None, "")."""
    row = cache.conn.exec_driver_sql(
        "SELECT c.assigned_user_id, coalesce(nullif(t.display_name, ''), t.username, '')"
        " FROM conversations c LEFT JOIN teammates t ON t.id = c.assigned_user_id"
        " WHERE c.id = ?",
        (conversation_id,),
    ).first()
    if row is None or row[0] is None:
        return None, ""
    return int(row[0]), str(row[1])
