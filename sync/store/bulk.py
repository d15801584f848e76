"""Bulk loading of history (the demo workspace, benchmarks, backfills) at full speed.

Rows go in through the DB-API's ``executemany`` in large transactions, and the full-text index
is fed once per batch with one ``INSERT ... SELECT`` instead of a trigger per row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from sync.domain.ids import uuid7_block
from sync.domain.models import DeliveryStatus, Direction, MessageType
from sync.store.changes import ChangeSet
from sync.store.local_cache import LocalCache
from sync.store.search import index_messages_from


class HistoryCustomer(Protocol):
    """The customer side of a loaded conversation."""

    @property
    def phone(self) -> str: ...
    @property
    def name(self) -> str: ...


class HistoryMessage(Protocol):
    """One message of a loaded conversation."""

    @property
    def direction(self) -> Direction: ...
    @property
    def timestamp_ms(self) -> int: ...
    @property
    def type(self) -> MessageType: ...
    @property
    def text(self) -> str: ...
    @property
    def media(self) -> dict[str, Any] | None: ...
    @property
    def status(self) -> DeliveryStatus: ...
    @property
    def error(self) -> str | None: ...


class HistoryConversation(Protocol):
    """A conversation with its messages in chronological order."""

    @property
    def customer(self) -> HistoryCustomer: ...
    @property
    def messages(self) -> Sequence[HistoryMessage]: ...
    @property
    def unread(self) -> int: ...


def chat_key_for_phone(phone: str) -> str:
    """The conversation key of a one-to-one chat: the customer's number, digits only."""
    return "".join(ch for ch in phone if ch.isdigit())


def preview_of(type_: MessageType, text: str) -> str:
    """The one-line preview a conversation list shows for a message."""
    line = text.replace("\n", " ").strip()
    if type_ is MessageType.TEXT or line:
        return line[:120]
    return f"[{type_.value}]"


_PLAIN: dict[object, str] = {
    member: member.value for enum in (Direction, MessageType, DeliveryStatus) for member in enum
}

_MESSAGE_INSERT = (
    "INSERT INTO messages (seq, id, account_id, conversation_id, provider_message_id, direction,"
    " ts, type, body, sender_name, reply_to, media, status, error)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', NULL, ?, ?, ?)"
)
_CONVERSATION_INSERT = (
    "INSERT INTO conversations (id, account_id, chat_key, customer_phone, customer_name,"
    " is_group, last_message_at, last_preview, last_direction, last_status, last_message_seq,"
    " unread_count) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)"
)


def load_history(
    cache: LocalCache,
    account_id: int,
    history: Iterable[HistoryConversation],
    *,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> ChangeSet:
    """Insert conversations with their messages; return a reset change set.

    Each batch of about ``batch_size`` messages commits on its own, so a crash mid-load keeps
    the whole conversations loaded so far. ``progress`` receives the running message count.
    """
    cursor = cache.raw_cursor()
    try:
        (next_conversation,) = cursor.execute(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM conversations"
        ).fetchone()
        (next_seq,) = cursor.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages").fetchone()
        conversation_rows: list[tuple[Any, ...]] = []
        message_rows: list[tuple[Any, ...]] = []
        batch_first_seq = next_seq
        loaded = 0

        def flush() -> None:
            nonlocal batch_first_seq, loaded
            if not conversation_rows:
                return
            cursor.execute("BEGIN")
            try:
                cursor.executemany(_CONVERSATION_INSERT, conversation_rows)
                cursor.executemany(_MESSAGE_INSERT, message_rows)
                index_messages_from(cursor, batch_first_seq)
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            loaded += len(message_rows)
            conversation_rows.clear()
            message_rows.clear()
            batch_first_seq = next_seq
            if progress is not None:
                progress(loaded)

        for conversation in history:
            conversation_id = next_conversation
            next_conversation += 1
            last: HistoryMessage | None = None
            # Enum members mapped to plain str through a dict: binding a str subclass goes
            # through the driver's slow adaptation path, and ``.value`` is a slow property.
            for message, message_id in zip(
                conversation.messages, uuid7_block(len(conversation.messages)), strict=True
            ):
                message_rows.append(
                    (
                        next_seq,
                        message_id,
                        account_id,
                        conversation_id,
                        f"hist.{account_id}.{next_seq:012d}",
                        _PLAIN[message.direction],
                        message.timestamp_ms,
                        _PLAIN[message.type],
                        message.text,
                        json.dumps(message.media) if message.media else None,
                        _PLAIN[message.status],
                        message.error,
                    )
                )
                next_seq += 1
                last = message
            customer = conversation.customer
            conversation_rows.append(
                (
                    conversation_id,
                    account_id,
                    chat_key_for_phone(customer.phone),
                    customer.phone,
                    customer.name,
                    last.timestamp_ms if last else 0,
                    preview_of(last.type, last.text) if last else "",
                    last.direction.value if last else None,
                    last.status.value if last else None,
                    next_seq - 1 if last else None,
                    conversation.unread,
                )
            )
            if len(message_rows) >= batch_size:
                flush()
        flush()
    finally:
        cursor.close()
    return ChangeSet(accounts=frozenset({account_id}), reset=True)
