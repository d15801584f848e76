"""Ingest: normalized provider events become rows, once.

A message is stored once per (account, provider message id) however often it is redelivered.
A delivery status only moves forward (``DeliveryStatus.can_become``). A copy of one of our own
sends that a QR provider reports back ("from me") names that send instead of becoming a second
bubble (``_adopt_echo``, as the team server's ingest does). Everything one batch of events
changes commits in one transaction, together with its full-text index entries.

A batch the cache cannot take (a value past SQLite's limits, an event for a number that does
not exist) raises ``UnstorableEvents`` with nothing written: the callers (the group commit, the
receiver) need no knowledge of sqlcipher3's exceptions to tell "bad input" from "retry later".
Anything else (disk full, database closed or locked) is raised as it is: the same events may be
stored once the cache is back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import sqlcipher3

from sync.domain.changes import ChangeSet
from sync.domain.events import (
    AccountRemovedEvent,
    ConnectionEvent,
    ContactEvent,
    EditEvent,
    MessageEvent,
    ProviderEvent,
    QrEvent,
    ReactionEvent,
    RevokeEvent,
    StatusEvent,
    UnstorableEvents,
    clean_event,
)
from sync.domain.ids import uuid7
from sync.domain.models import (
    ConnectionState,
    DeliveryStatus,
    Direction,
    MessageType,
    preview_of,
)
from sync.domain.outbox import IngestResult
from sync.store.local.search import index_message, unindex_message

if TYPE_CHECKING:
    from sync.store.local.local_cache import LocalCache

# Re-exported: the engine's callers import it from here (it lives with the data the engine and a
# store exchange, sync.domain.outbox).
__all__ = ["IngestResult", "apply_events"]

# Statuses a send can have while the provider's id is still unknown to us: the provider may echo
# the message back before (or instead of) answering the send.
_AWAITING_ID = (DeliveryStatus.SENDING.value, DeliveryStatus.UNKNOWN.value)

# Errors that come from the events' values, not from the disk or the database's state: storing
# the same events again fails again. (OverflowError: an integer past 64 bits; ValueError and
# TypeError: a value the driver cannot bind, an infinite timestamp; IntegrityError: a reference
# the schema refuses.) OperationalError ("database is locked", I/O) and ProgrammingError (closed)
# are left out on purpose: they mean "not now".
_VALUE_ERRORS: Final[tuple[type[Exception], ...]] = (
    ValueError,
    OverflowError,
    TypeError,
    sqlcipher3.IntegrityError,
    sqlcipher3.DataError,
)


def apply_events(cache: LocalCache, events: Sequence[ProviderEvent]) -> IngestResult:
    """Persist a batch of provider events in one transaction.

    Every text is cleaned first (``clean_event``: no NUL, U+FFFD for a lone surrogate), always
    and before the write: a value the cache cannot encode must never fail the batch, and a NUL
    must never reach the full-text index.

    Raises ``UnstorableEvents`` (nothing of the batch written) for a value the cache cannot take
    or an event of a number that does not exist; other errors as they are.
    """
    events = [clean_event(event) for event in events]
    accounts: set[int] = set()
    conversations: set[int] = set()
    messages: set[str] = set()
    new_inbound: list[str] = []
    cursor = cache.raw_cursor()
    try:
        cursor.execute("BEGIN")
        try:
            _require_numbers(cursor, {event.account_id for event in events})
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
                else:
                    touched_other = _apply_other(cursor, event)
                    if touched_other is not None:
                        accounts.add(event.account_id)
                        conv, msg = touched_other
                        if conv is not None:
                            conversations.add(conv)
                        if msg is not None:
                            messages.add(msg)
            cursor.execute("COMMIT")
        except _VALUE_ERRORS as exc:
            cursor.execute("ROLLBACK")
            raise UnstorableEvents(
                f"the events hold a value the cache refuses ({type(exc).__name__})"
            ) from exc
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    finally:
        cursor.close()
    return IngestResult(
        ChangeSet(frozenset(accounts), frozenset(conversations), frozenset(messages)),
        new_inbound,
    )


def _require_numbers(cursor: Any, account_ids: set[int]) -> None:
    """Refuse the batch when an event names a number the cache does not hold (removed while
    its webhooks were on the way): as the team's store does, and before anything is written,
    whatever the event's kind (a receipt or a connection event would otherwise vanish quietly
    while a message failed on its foreign key)."""
    if not account_ids:
        return
    wanted = sorted(account_ids)
    marks = ",".join("?" * len(wanted))
    found = {
        int(row[0])
        for row in cursor.execute(f"SELECT id FROM accounts WHERE id IN ({marks})", wanted)
    }
    missing = [a for a in wanted if a not in found]
    if missing:
        raise UnstorableEvents(f"events for numbers that do not exist: {missing}")


def _store_message(cursor: Any, event: MessageEvent) -> tuple[str, int] | None:
    ts_ms = int(event.timestamp * 1000)
    chat_key = _chat_key(cursor, event.account_id, event.chat_key, event.chat_jid, event.chat_phone)
    body = event.text or event.caption
    preview = preview_of(event.type, body)
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
            chat_key,
            event.chat_phone,
            event.sender_name if event.direction is Direction.IN and not event.is_group else "",
            int(event.is_group),
        ),
    ).fetchone()
    if event.direction is Direction.OUT and body:
        adopted = _adopt_echo(cursor, event, conversation_id, body)
        if adopted is not None:
            return adopted, conversation_id
    message_id = uuid7()
    status = DeliveryStatus.RECEIVED if event.direction is Direction.IN else DeliveryStatus.SENT
    media = _media_json(event)
    edited_at = revoked_at = None
    pending = _pending_changes(cursor, event.account_id, event.provider_message_id)
    if "revoke" in pending:  # deleted for everyone before it even reached us
        body, media, revoked_at = "", None, pending["revoke"][1]
        preview = preview_of(event.type, body)
    elif "edit" in pending:
        body, edited_at = pending["edit"]
        preview = preview_of(event.type, body)
    cursor.execute(
        "INSERT OR IGNORE INTO messages (id, account_id, conversation_id, provider_message_id,"
        " direction, ts, type, body, sender_name, reply_to, media, status, edited_at,"
        " revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            event.account_id,
            conversation_id,
            event.provider_message_id,
            event.direction.value,
            ts_ms,
            event.type.value,
            body,
            event.sender_name,
            event.reply_to,
            media,
            status.value,
            edited_at,
            revoked_at,
        ),
    )
    if cursor.rowcount != 1:
        return None  # a redelivery: already stored
    if pending:
        cursor.execute(
            "DELETE FROM pending_changes WHERE account_id = ? AND target_id = ?",
            (event.account_id, event.provider_message_id),
        )
    seq = cursor.lastrowid
    if body:
        index_message(cursor, seq, ts_ms, body, event.account_id)
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


def _adopt_echo(cursor: Any, event: MessageEvent, conversation_id: int, body: str) -> str | None:
    """A "from me" message that is one of our own sends: it names that send, no new row.

    QR-linked providers report every message the number sends, ours included, sometimes before
    the send call answers, and for a send whose answer was lost ("unknown") that echo is all we
    will ever hear. Ours is the row the agent wrote: the oldest send of this conversation still
    waiting for its provider id, with the same text, takes the echo's id and counts as sent.
    Returns its id when it did (None: not an echo of ours, or one already stored).
    """
    if cursor.execute(
        "SELECT 1 FROM messages WHERE account_id = ? AND provider_message_id = ?",
        (event.account_id, event.provider_message_id),
    ).fetchone():
        return None  # a redelivery: the echo was stored or adopted already
    row = cursor.execute(
        "SELECT id, status, seq FROM messages WHERE conversation_id = ? AND direction = 'out'"
        " AND provider_message_id IS NULL AND status IN (?, ?) AND body = ?"
        " ORDER BY ts, seq LIMIT 1",
        (conversation_id, *_AWAITING_ID, body),
    ).fetchone()
    if row is None:
        return None
    message_id, status, seq = row
    cursor.execute(
        "UPDATE messages SET provider_message_id = ? WHERE id = ?",
        (event.provider_message_id, message_id),
    )
    if DeliveryStatus(status).can_become(DeliveryStatus.SENT):
        # The error of an "unknown" send goes with it: the echo settles it.
        cursor.execute(
            "UPDATE messages SET status = ?, error = NULL WHERE id = ?",
            (DeliveryStatus.SENT.value, message_id),
        )
        cursor.execute(
            "UPDATE conversations SET last_status = ? WHERE id = ? AND last_message_seq = ?",
            (DeliveryStatus.SENT.value, conversation_id, seq),
        )
    return str(message_id)


# A change whose message never arrives is forgotten after this long.
PENDING_CHANGE_TTL_MS = 30 * 24 * 3600 * 1000


def _pending_changes(
    cursor: Any, account_id: int, provider_id: str | None
) -> dict[str, tuple[str, int]]:
    """Edits and deletions that arrived before the message ``provider_id`` (kind → text, ts)."""
    if not provider_id:
        return {}
    rows = cursor.execute(
        "SELECT kind, text, ts FROM pending_changes WHERE account_id = ? AND target_id = ?",
        (account_id, provider_id),
    ).fetchall()
    return {kind: (text, ts) for kind, text, ts in rows}


def _remember_pending(
    cursor: Any, account_id: int, target_id: str, kind: str, text: str, ts_ms: int
) -> None:
    """Keep an edit or deletion for a message not stored yet (the latest one wins)."""
    cursor.execute(
        "INSERT INTO pending_changes (account_id, target_id, kind, text, ts)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, target_id, kind) DO UPDATE"
        " SET text = excluded.text, ts = excluded.ts WHERE excluded.ts >= pending_changes.ts",
        (account_id, target_id, kind, text, ts_ms),
    )
    cursor.execute("DELETE FROM pending_changes WHERE ts < ?", (ts_ms - PENDING_CHANGE_TTL_MS,))


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


# --- beyond messages and receipts -----------------------------------------------------------------


def _media_json(event: MessageEvent) -> str | None:
    """What a bubble needs besides the text: media, location, contacts, buttons/lists."""
    extra: dict[str, Any] = dict(event.media or {})
    if event.location:
        extra["location"] = event.location
    if event.contacts:
        extra["contacts"] = event.contacts
    if event.interactive:
        extra["interactive"] = event.interactive
    return json.dumps(extra, ensure_ascii=False) if extra else None


def _chat_key(cursor: Any, account_id: int, chat_key: str, chat_jid: str, chat_phone: str) -> str:
    """The conversation key a chat is stored under, LIDs and phones made one.

    A LID whose phone is known is remembered as an alias of the phone's key, and a conversation
    that so far lived under the LID moves to the phone's key (merged into it when both exist);
    a LID whose phone is unknown finds the phone's conversation through a remembered alias.
    """
    lid = chat_jid if chat_jid.endswith("@lid") else ""
    if not lid and chat_key.endswith("@lid"):
        lid = chat_key
    if not lid:
        return chat_key
    if chat_phone and chat_key != lid:
        _remember_alias(cursor, account_id, lid, chat_key)
        return chat_key
    row = cursor.execute(
        "SELECT chat_key FROM chat_aliases WHERE account_id = ? AND alias = ?", (account_id, lid)
    ).fetchone()
    return str(row[0]) if row else chat_key


def _remember_alias(cursor: Any, account_id: int, alias: str, chat_key: str) -> None:
    cursor.execute(
        "INSERT INTO chat_aliases (account_id, alias, chat_key) VALUES (?, ?, ?)"
        " ON CONFLICT (account_id, alias) DO UPDATE SET chat_key = excluded.chat_key",
        (account_id, alias, chat_key),
    )
    old = cursor.execute(
        "SELECT id FROM conversations WHERE account_id = ? AND chat_key = ?", (account_id, alias)
    ).fetchone()
    if old is None:
        return
    new = cursor.execute(
        "SELECT id FROM conversations WHERE account_id = ? AND chat_key = ?",
        (account_id, chat_key),
    ).fetchone()
    phone = "".join(ch for ch in chat_key if ch.isdigit()) if "@" not in chat_key else ""
    if new is None:
        cursor.execute(
            "UPDATE conversations SET chat_key = ?,"
            " customer_phone = CASE WHEN customer_phone = '' THEN ? ELSE customer_phone END"
            " WHERE id = ?",
            (chat_key, phone, old[0]),
        )
        return
    # Both exist (the LID chat began before the phone was known): one conversation, newest
    # preview and summed unread kept.
    cursor.execute(
        "UPDATE messages SET conversation_id = ? WHERE conversation_id = ?", (new[0], old[0])
    )
    cursor.execute(
        "UPDATE conversations SET unread_count = unread_count"
        " + (SELECT unread_count FROM conversations WHERE id = ?) WHERE id = ?",
        (old[0], new[0]),
    )
    cursor.execute(
        "UPDATE conversations SET last_message_at = o.last_message_at,"
        " last_preview = o.last_preview, last_direction = o.last_direction,"
        " last_status = o.last_status, last_message_seq = o.last_message_seq"
        " FROM (SELECT * FROM conversations WHERE id = ?) AS o"
        " WHERE conversations.id = ? AND o.last_message_at > conversations.last_message_at",
        (old[0], new[0]),
    )
    cursor.execute("DELETE FROM conversations WHERE id = ?", (old[0],))


def _follow_in_list(cursor: Any, conversation_id: int, seq: int, text: str) -> None:
    """An edited or deleted message that is its conversation's latest: the list's preview
    follows (a text deleted for everyone must not stay readable there)."""
    cursor.execute(
        "UPDATE conversations SET last_preview = ? WHERE id = ? AND last_message_seq = ?",
        (preview_of(MessageType.TEXT, text), conversation_id, seq),
    )


def _message_row(cursor: Any, account_id: int, provider_id: str) -> Any:
    return cursor.execute(
        "SELECT id, conversation_id, seq, body, ts, revoked_at FROM messages"
        " WHERE account_id = ? AND provider_message_id = ?",
        (account_id, provider_id),
    ).fetchone()


def _apply_other(cursor: Any, event: ProviderEvent) -> tuple[int | None, str | None] | None:
    """Reactions, edits, deletions, contacts, QR and removal; None when nothing changed."""
    if isinstance(event, ReactionEvent):
        sender = (
            "me" if event.direction is Direction.OUT else (event.sender_phone or event.chat_key)
        )
        if event.emoji:
            cursor.execute(
                "INSERT INTO reactions (account_id, target_id, sender, emoji, ts)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, target_id, sender) DO UPDATE"
                " SET emoji = excluded.emoji, ts = excluded.ts WHERE excluded.ts >= reactions.ts",
                (
                    event.account_id,
                    event.target_message_id,
                    sender,
                    event.emoji,
                    int(event.timestamp * 1000),
                ),
            )
        else:
            cursor.execute(
                "DELETE FROM reactions WHERE account_id = ? AND target_id = ? AND sender = ?",
                (event.account_id, event.target_message_id, sender),
            )
        row = _message_row(cursor, event.account_id, event.target_message_id)
        return (row[1], row[0]) if row else (None, None)
    if isinstance(event, EditEvent):
        row = _message_row(cursor, event.account_id, event.target_message_id)
        if row is None:
            _remember_pending(
                cursor,
                event.account_id,
                event.target_message_id,
                "edit",
                event.text,
                int(event.timestamp * 1000),
            )
            return None
        message_id, conversation_id, seq, old_body, ts_ms, revoked_at = row
        # The same text again is no news; a message deleted for everyone stays deleted, or a
        # late edit would bring its text back (as on the team server).
        if old_body == event.text or revoked_at is not None:
            return None
        if old_body:
            unindex_message(cursor, seq, ts_ms, old_body, event.account_id)
        cursor.execute(
            "UPDATE messages SET body = ?, edited_at = ? WHERE id = ?",
            (event.text, int(event.timestamp * 1000), message_id),
        )
        if event.text:
            index_message(cursor, seq, ts_ms, event.text, event.account_id)
        _follow_in_list(cursor, conversation_id, seq, event.text)
        return conversation_id, message_id
    if isinstance(event, RevokeEvent):
        row = _message_row(cursor, event.account_id, event.target_message_id)
        if row is None:
            _remember_pending(
                cursor,
                event.account_id,
                event.target_message_id,
                "revoke",
                "",
                int(event.timestamp * 1000),
            )
            return None
        message_id, conversation_id, seq, old_body, ts_ms, revoked_at = row
        if revoked_at is not None:
            # Deleted already: the same deletion redelivered (or a second one) is no news, and
            # the time it was deleted stays the first one heard (as on the team server).
            return None
        # Deleted for everyone by its sender: the text goes (from search too), the bubble stays
        # as "this message was deleted".
        if old_body:
            unindex_message(cursor, seq, ts_ms, old_body, event.account_id)
        cursor.execute(
            "UPDATE messages SET body = '', media = NULL, revoked_at = ? WHERE id = ?",
            (int(event.timestamp * 1000), message_id),
        )
        _follow_in_list(cursor, conversation_id, seq, "")
        return conversation_id, message_id
    if isinstance(event, ContactEvent):
        if event.lid and event.phone:
            _remember_alias(cursor, event.account_id, event.lid, event.chat_key)
        if not event.name:
            return None
        cursor.execute(
            "UPDATE conversations SET customer_name = ? WHERE account_id = ? AND chat_key = ?"
            " AND customer_name = '' AND is_group = 0",
            (event.name, event.account_id, event.chat_key),
        )
        return (None, None) if cursor.rowcount else None
    if isinstance(event, QrEvent):
        cursor.execute(
            "UPDATE accounts SET state = ? WHERE id = ? AND state != ?",
            (
                ConnectionState.WAITING_FOR_QR.value,
                event.account_id,
                ConnectionState.CONNECTED.value,
            ),
        )
        return (None, None) if cursor.rowcount else None
    if isinstance(event, AccountRemovedEvent):
        cursor.execute(
            "UPDATE accounts SET state = ?, state_reason = ? WHERE id = ?",
            (ConnectionState.NEEDS_REPAIR.value, event.reason or "removed", event.account_id),
        )
        return None, None
    return None
