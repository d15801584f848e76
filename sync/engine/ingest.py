"""Ingest: normalized provider events become rows, once.

A message is stored once per (account, provider message id) however often it is redelivered.
A delivery status only moves forward (``DeliveryStatus.can_become``). Everything one batch of
events changes commits in one transaction, together with its full-text index entries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sync.domain.events import ConnectionEvent, MessageEvent, ProviderEvent, StatusEvent
from sync.domain.ids import uuid7
from sync.domain.models import DeliveryStatus, Direction
from sync.store.bulk import preview_of
from sync.store.changes import ChangeSet

if TYPE_CHECKING:
    from sync.store.local_cache import LocalCache


@dataclass(slots=True)
class IngestResult:
    """What one batch changed, and which inbound messages were new (for automations)."""

    changes: ChangeSet = field(default_factory=ChangeSet)
    new_inbound: list[str] = field(default_factory=list)


def apply_events(cache: LocalCache, events: Sequence[ProviderEvent]) -> IngestResult:
    """Persist a batch of provider events in one transaction."""
    accounts: set[int] = set()
    conversations: set[int] = set()
    messages: set[str] = set()
    new_inbound: list[str] = []
    cursor = cache.raw_cursor()
    try:
        cursor.execute("BEGIN")
        try:
            for event in events:
                if isinstance(event, MessageEvent):
                    stored = _store_message(cursor, event)
                    if stored is not None:
                        message_id, conversation_id = stored
                        messages.add(message_id)
                        conversations.add(conversation_id)
                        accounts.add(event.account_id)
                        if event.direction is Direction.IN:
                            new_inbound.append(message_id)
                elif isinstance(event, StatusEvent):
                    touched = _apply_status(cursor, event)
                    if touched is not None:
                        messages.add(touched[0])
                        conversations.add(touched[1])
                elif isinstance(event, ConnectionEvent):
                    cursor.execute(
                        "UPDATE accounts SET state = ?, state_reason = ?,"
                        " phone = CASE WHEN ? != '' THEN ? ELSE phone END WHERE id = ?",
                        (
                            str(event.state),
                            event.reason,
                            event.phone,
                            event.phone,
                            event.account_id,
                        ),
                    )
                    accounts.add(event.account_id)
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    finally:
        cursor.close()
    return IngestResult(
        ChangeSet(frozenset(accounts), frozenset(conversations), frozenset(messages)),
        new_inbound,
    )


def _store_message(cursor: Any, event: MessageEvent) -> tuple[str, int] | None:
    ts_ms = int(event.timestamp * 1000)
    preview = preview_of(event.type, event.text)
    # The customer's name only fills in, never blanks out: a receipt-less echo carries no name.
    (conversation_id,) = cursor.execute(
        "INSERT INTO conversations (account_id, chat_key, customer_phone, customer_name, is_group)"
        " VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (account_id, chat_key) DO UPDATE SET"
        " customer_name = CASE WHEN excluded.customer_name != '' AND excluded.customer_name"
        "   != conversations.customer_name THEN excluded.customer_name ELSE customer_name END,"
        " customer_phone = CASE WHEN customer_phone = '' THEN excluded.customer_phone"
        "   ELSE customer_phone END"
        " RETURNING id",
        (
            event.account_id,
            event.chat_key,
            event.chat_phone,
            event.sender_name if event.direction is Direction.IN and not event.is_group else "",
            int(event.is_group),
        ),
    ).fetchone()
    message_id = uuid7()
    status = DeliveryStatus.RECEIVED if event.direction is Direction.IN else DeliveryStatus.SENT
    cursor.execute(
        "INSERT OR IGNORE INTO messages (id, account_id, conversation_id, provider_message_id,"
        " direction, ts, type, body, sender_name, reply_to, media, status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            event.account_id,
            conversation_id,
            event.provider_message_id,
            event.direction.value,
            ts_ms,
            event.type.value,
            event.text,
            event.sender_name,
            event.reply_to,
            json.dumps(event.media) if event.media else None,
            status.value,
        ),
    )
    if cursor.rowcount != 1:
        return None  # a redelivery: already stored
    seq = cursor.lastrowid
    if event.text:
        cursor.execute("INSERT INTO message_fts(rowid, body) VALUES (?, ?)", (seq, event.text))
    if event.direction is Direction.IN:
        cursor.execute(
            "UPDATE conversations SET unread_count = unread_count + 1 WHERE id = ?",
            (conversation_id,),
        )
    # An older message arriving late (a backfill) must not replace the newer preview. A reply
    # sent from the phone means someone answered: the conversation counts as read.
    cursor.execute(
        "UPDATE conversations SET"
        " unread_count = CASE WHEN ? = 'out' THEN 0 ELSE unread_count END,"
        " last_message_at = ?, last_preview = ?, last_direction = ?, last_status = ?,"
        " last_message_seq = ?"
        " WHERE id = ? AND last_message_at <= ?",
        (
            event.direction.value,
            ts_ms,
            preview,
            event.direction.value,
            status.value,
            seq,
            conversation_id,
            ts_ms,
        ),
    )
    return message_id, conversation_id


def _apply_status(cursor: Any, event: StatusEvent) -> tuple[str, int] | None:
    row = cursor.execute(
        "SELECT id, conversation_id, status, provider_message_id, seq FROM messages"
        " WHERE account_id = ? AND provider_message_id = ?",
        (event.account_id, event.provider_message_id),
    ).fetchone()
    if row is None and event.client_ref:
        # A send whose answer was lost ("unknown"), or whose "sent" we have not written yet:
        # the provider echoed our own id, so we learn its id from the receipt.
        row = cursor.execute(
            "SELECT id, conversation_id, status, provider_message_id, seq FROM messages"
            " WHERE id = ? AND account_id = ?",
            (event.client_ref, event.account_id),
        ).fetchone()
    if row is None:
        return None
    message_id, conversation_id, current, provider_id, seq = row
    if not DeliveryStatus(current).can_become(event.status):
        if provider_id is None:
            cursor.execute(
                "UPDATE messages SET provider_message_id = ? WHERE id = ?",
                (event.provider_message_id, message_id),
            )
        return None
    # The error travels with the status: a receipt that settles an "unknown" message clears
    # the reason it was unknown.
    cursor.execute(
        "UPDATE messages SET status = ?, error = ?,"
        " provider_message_id = COALESCE(provider_message_id, ?) WHERE id = ?",
        (event.status.value, event.error, event.provider_message_id, message_id),
    )
    cursor.execute(
        "UPDATE conversations SET last_status = ? WHERE id = ? AND last_message_seq = ?",
        (event.status.value, conversation_id, seq),
    )
    return message_id, conversation_id
