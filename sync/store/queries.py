"""Reads and small writes the views need: accounts, conversation lists, message pages.

All functions take the open ``LocalCache`` and run on the database thread. Lists use keyset
pagination (a cursor of the last row's sort key), so page 10,000 costs what page 1 costs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select, tuple_, update

from sync.domain.models import (
    Account,
    ConnectionState,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    MessageType,
)
from sync.store.changes import ChangeSet
from sync.store.local_cache import LocalCache
from sync.store.schema import accounts, conversations, messages, meta

ConversationCursor = tuple[int, int]  # (last_message_at, id) of the last row shown
MessageCursor = tuple[int, int]  # (ts, seq) of the oldest message shown


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
        result = conn.execute(
            accounts.insert().values(
                name=name,
                provider=provider,
                phone=phone,
                display_name=display_name,
                config=json.dumps(config or {}),
                sort_order=sort_order,
                state=str(state),
                created_at=int(time.time() * 1000),
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def list_accounts(cache: LocalCache) -> list[Account]:
    """Every number, in rail order."""
    rows = cache.conn.execute(select(accounts).order_by(accounts.c.sort_order, accounts.c.id))
    return [
        Account(
            id=r.id,
            name=r.name,
            provider=r.provider,
            phone=r.phone,
            display_name=r.display_name,
            state=ConnectionState(r.state),
            config=json.loads(r.config),
        )
        for r in rows
    ]


def unread_by_account(cache: LocalCache) -> dict[int, int]:
    """Unread customer messages per number (for the rail's badges)."""
    rows = cache.conn.execute(
        select(conversations.c.account_id, func.sum(conversations.c.unread_count))
        .where(conversations.c.unread_count > 0)
        .group_by(conversations.c.account_id)
    )
    return {account_id: int(total) for account_id, total in rows}


def set_account_state(
    cache: LocalCache, account_id: int, state: ConnectionState, reason: str = ""
) -> ChangeSet:
    """Record a number's connection state."""
    with cache.transaction() as conn:
        conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(state=str(state), state_reason=reason)
        )
    return ChangeSet(accounts=frozenset({account_id}))


def _conversation(r: Any) -> Conversation:
    return Conversation(
        id=r.id,
        account_id=r.account_id,
        chat_key=r.chat_key,
        customer_phone=r.customer_phone,
        customer_name=r.customer_name,
        last_message_at=r.last_message_at,
        last_preview=r.last_preview,
        last_direction=Direction(r.last_direction) if r.last_direction else None,
        last_status=DeliveryStatus(r.last_status) if r.last_status else None,
        unread_count=r.unread_count,
    )


def latest_conversations(
    cache: LocalCache,
    account_id: int | None = None,
    *,
    limit: int = 200,
    after: ConversationCursor | None = None,
) -> list[Conversation]:
    """Conversations, most recent first; ``after`` continues from a previous page's last row."""
    c = conversations.c
    query = select(conversations)
    if account_id is not None:
        query = query.where(c.account_id == account_id)
    if after is not None:
        query = query.where(tuple_(c.last_message_at, c.id) < tuple_(*after))
    query = query.order_by(c.last_message_at.desc(), c.id.desc()).limit(limit)
    return [_conversation(r) for r in cache.conn.execute(query)]


def conversations_by_id(cache: LocalCache, ids: Iterable[int]) -> list[Conversation]:
    """The current rows of the given conversations (missing ids are skipped)."""
    wanted = list(ids)
    if not wanted:
        return []
    query = select(conversations).where(conversations.c.id.in_(wanted))
    return [_conversation(r) for r in cache.conn.execute(query)]


def count_conversations(cache: LocalCache, account_id: int | None = None) -> int:
    """How many conversations a number (or all numbers) has."""
    query = select(func.count()).select_from(conversations)
    if account_id is not None:
        query = query.where(conversations.c.account_id == account_id)
    return int(cache.conn.execute(query).scalar_one())


def mark_conversation_read(cache: LocalCache, conversation_id: int) -> ChangeSet:
    """Clear a conversation's unread count (locally; telling the provider is the engine's job)."""
    with cache.transaction() as conn:
        row = conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id, conversations.c.unread_count > 0)
            .values(unread_count=0)
            .returning(conversations.c.account_id)
        ).first()
    if row is None:
        return ChangeSet()
    return ChangeSet(accounts=frozenset({row[0]}), conversations=frozenset({conversation_id}))


def _message(r: Any) -> Message:
    return Message(
        seq=r.seq,
        id=r.id,
        account_id=r.account_id,
        conversation_id=r.conversation_id,
        provider_message_id=r.provider_message_id,
        direction=Direction(r.direction),
        timestamp_ms=r.ts,
        type=MessageType(r.type),
        text=r.body,
        sender_name=r.sender_name,
        reply_to=r.reply_to,
        status=DeliveryStatus(r.status),
        error=r.error,
        media=json.loads(r.media) if r.media else None,
    )


def message_page(
    cache: LocalCache,
    conversation_id: int,
    *,
    before: MessageCursor | None = None,
    limit: int = 50,
) -> list[Message]:
    """Up to ``limit`` messages older than ``before`` (newest if None), in chronological order."""
    m = messages.c
    query = select(messages).where(m.conversation_id == conversation_id)
    if before is not None:
        query = query.where(tuple_(m.ts, m.seq) < tuple_(*before))
    query = query.order_by(m.ts.desc(), m.seq.desc()).limit(limit)
    rows = [_message(r) for r in cache.conn.execute(query)]
    rows.reverse()
    return rows


def messages_after(
    cache: LocalCache, conversation_id: int, after: MessageCursor, *, limit: int = 200
) -> list[Message]:
    """Messages newer than ``after``, chronological (to extend an open chat)."""
    m = messages.c
    query = (
        select(messages)
        .where(m.conversation_id == conversation_id, tuple_(m.ts, m.seq) > tuple_(*after))
        .order_by(m.ts, m.seq)
        .limit(limit)
    )
    return [_message(r) for r in cache.conn.execute(query)]


def messages_around(
    cache: LocalCache, message_id: str, *, before: int = 25, after: int = 25
) -> list[Message]:
    """The message with ``message_id`` and its neighbours, chronological (to open a search hit)."""
    anchor = cache.conn.execute(select(messages).where(messages.c.id == message_id)).first()
    if anchor is None:
        return []
    cursor = (anchor.ts, anchor.seq)
    older = message_page(cache, anchor.conversation_id, before=cursor, limit=before)
    newer = messages_after(cache, anchor.conversation_id, cursor, limit=after)
    return [*older, _message(anchor), *newer]


def messages_by_id(cache: LocalCache, ids: Sequence[str]) -> list[Message]:
    """The current rows of the given messages."""
    if not ids:
        return []
    query = select(messages).where(messages.c.id.in_(list(ids)))
    return [_message(r) for r in cache.conn.execute(query)]


def get_meta(cache: LocalCache, key: str) -> str | None:
    """A value from the cache's key/value table."""
    return cache.conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()


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
    query = select(func.count()).select_from(messages)
    if account_id is not None:
        query = query.where(messages.c.account_id == account_id)
    return int(cache.conn.execute(query).scalar_one())
