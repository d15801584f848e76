"""Ingest on the team server: normalized provider events become Postgres rows, once.

The counterpart of ``sync/store/local/ingest.py`` (the solo cache), with the same rules:

- a message is stored once per (number, provider message id) however often it is redelivered;
- a delivery status only moves forward (``DeliveryStatus.can_become``), ``failed`` is terminal;
- a receipt carrying our own id (``client_ref``, Meta's ``biz_opaque_callback_data``) settles
  a send whose answer was lost ("unknown"), and teaches us the provider's id;
- a copy of our own message that a QR provider reports back ("from me") is recognised as ours
  instead of becoming a second bubble (``_adopt_echo``, like the solo ``_absorb_echo``);
- a batch of events commits in one transaction, so the webhook is answered only once it is safe.

Rows are never deleted: a conversation merged into another (a LID that turned out to be a known
phone) and an echo folded into our message become tombstones (``deleted = true``), which sync to
the desktops like any change. An event that changes nothing writes nothing, so a redelivered
webhook does not even re-stamp a row.

``enqueue_sends`` writes outgoing messages and their outbox entries in the caller's transaction
(the sync API's "send" commands, a batch at a time; ``enqueue_send`` for one); the dispatcher
(``dispatcher.py``) takes it from there.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from sqlalchemy import Connection, text
from sqlalchemy.exc import DataError, OperationalError

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
from sync.domain.models import (
    ConnectionState,
    DeliveryStatus,
    Direction,
    MessageType,
    preview_of,
)
from sync.domain.outbox import IngestResult, SendRefused, text_to_send
from sync.store.team.database import ServerDatabase

log = logging.getLogger(__name__)

# Statuses a send can have while the provider's id is still unknown to us: the provider may
# echo the message back before (or instead of) answering the send.
_AWAITING_ID = (DeliveryStatus.SENDING.value, DeliveryStatus.UNKNOWN.value)
# deadlock_detected, serialization_failure: the batch is simply written again.
_RETRYABLE = frozenset({"40P01", "40001"})
_TRIES = 3
# Errors that come from the events' values (psycopg's DataError: a number out of range, a value
# the column's type refuses; the driver's own ValueError/OverflowError/TypeError when binding):
# storing them again fails again, so they become ``UnstorableEvents`` (the receiver answers
# 422). Everything else (a connection refused or lost, a pool timeout, a server shutting down)
# means "not now" and is raised as it is (the receiver answers 503 and the provider retries).
_VALUE_ERRORS: Final[tuple[type[Exception], ...]] = (
    DataError,
    ValueError,
    OverflowError,
    TypeError,
)

# Every statement is parsed into a ``TextClause`` once per process, not once per call (the bind
# parameter scan is a regular expression: a sizeable share of an ingest's Python time).
_sql: Final = functools.cache(text)


class EnqueueError(SendRefused):
    """A message could not be queued (unknown conversation, empty text); says why, in English."""


async def ingest_events(db: ServerDatabase, events: Sequence[ProviderEvent]) -> IngestResult:
    """Persist a batch of provider events in one transaction (the webhook receiver's sink).

    Returns once the batch is committed, with what it changed. Raises ``UnstorableEvents`` for
    values Postgres refuses (the receiver answers 422: retrying cannot help); any other error
    means "retry later".
    """
    if not events:
        return IngestResult()
    return await asyncio.to_thread(ingest_events_sync, db, events)


def ingest_events_sync(db: ServerDatabase, events: Sequence[ProviderEvent]) -> IngestResult:
    """``ingest_events`` for a caller already off the event loop."""
    for attempt in range(_TRIES):
        try:
            with db.system() as conn:
                result = apply_events(conn, events)
            return result
        except _VALUE_ERRORS as exc:
            raise UnstorableEvents(
                f"the events hold a value the database refuses ({type(exc).__name__})"
            ) from None
        except OperationalError as exc:
            # Two transactions locking the same message and conversation in opposite orders
            # (a batch of receipts against the dispatcher's outcome): Postgres aborts one.
            code = getattr(exc.orig, "sqlstate", None)
            if code not in _RETRYABLE or attempt == _TRIES - 1:
                raise
    raise AssertionError("unreachable: the last try returns or raises")


@dataclass(slots=True)
class _Changed:
    """What a batch changed, gathered as its events are written (``IngestResult``)."""

    accounts: set[int] = field(default_factory=set)
    conversations: set[int] = field(default_factory=set)
    messages: set[str] = field(default_factory=set)
    new_inbound: list[str] = field(default_factory=list)

    def message(self, account_id: int, conversation_id: int, message_id: Any) -> None:
        self.accounts.add(int(account_id))
        self.conversations.add(int(conversation_id))
        self.messages.add(str(message_id))

    def result(self) -> IngestResult:
        changes = ChangeSet(
            frozenset(self.accounts), frozenset(self.conversations), frozenset(self.messages)
        )
        return IngestResult(changes, self.new_inbound)


def apply_events(conn: Connection, events: Sequence[ProviderEvent]) -> IngestResult:
    """Write a batch of events in the caller's (system) transaction.

    Events take effect in order. Consecutive plain inbound messages (see ``_plain_inbound``),
    the bulk of any busy number's webhooks, are written together: a handful of statements per
    run instead of four per message (``_store_inbound``), with the same outcome as one by one.

    Every text is cleaned first (``clean_event``: no NUL, U+FFFD for a lone surrogate), always
    and before the write: Postgres refuses both in ``text`` and ``jsonb``, and a refused batch
    would be answered 5xx and redelivered by the provider for days.

    Returns what changed (nothing for a redelivery) and the new customer messages. Raises
    ``UnstorableEvents`` for an event of a number that does not exist (or was removed).
    """
    events = [clean_event(event) for event in events]
    workspaces = _workspaces(conn, {e.account_id for e in events})
    missing = sorted({e.account_id for e in events} - workspaces.keys())
    if missing:
        # A number removed while its webhooks were on the way: the batch is refused before
        # anything is written, as the local cache does (the store contract), and the group
        # commit then fails only the call that carried it.
        raise UnstorableEvents(f"events for numbers that do not exist: {missing}")
    changed = _Changed()
    run: list[tuple[int, MessageEvent]] = []
    for event in events:
        ws = workspaces[event.account_id]
        if isinstance(event, MessageEvent) and _plain_inbound(event):
            run.append((ws, event))
            continue
        if run:
            _store_inbound(conn, run, changed)
            run = []
        if isinstance(event, MessageEvent):
            _store_message(conn, ws, event, changed)
        elif isinstance(event, StatusEvent):
            _apply_status(conn, ws, event, changed)
        elif isinstance(event, ConnectionEvent):
            updated = conn.execute(
                _sql(
                    "UPDATE accounts SET state = :state, state_reason = :reason,"
                    " phone = CASE WHEN :phone <> '' THEN :phone ELSE phone END"
                    " WHERE id = :a AND workspace_id = :ws AND (state <> :state"
                    " OR state_reason <> :reason OR (:phone <> '' AND phone <> :phone))"
                ),
                {
                    "state": event.state.value,
                    "reason": event.reason,
                    "phone": event.phone,
                    "a": event.account_id,
                    "ws": ws,
                },
            )
            if updated.rowcount:
                changed.accounts.add(event.account_id)
        else:
            _apply_other(conn, ws, event, changed)
    if run:
        _store_inbound(conn, run, changed)
    if any(isinstance(e, MessageEvent) for e in events):  # only a new message settles one
        _settle_pending_changes(conn, set(workspaces.values()), changed)
    return changed.result()


def _workspaces(conn: Connection, account_ids: set[int]) -> dict[int, int]:
    if not account_ids:
        return {}
    rows = conn.execute(
        _sql("SELECT id, workspace_id FROM accounts WHERE id = ANY(:ids) AND NOT deleted"),
        {"ids": sorted(account_ids)},
    ).all()
    return {int(r[0]): int(r[1]) for r in rows}


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


# --- messages --------------------------------------------------------------------------------


def _store_message(conn: Connection, ws: int, event: MessageEvent, changed: _Changed) -> None:
    account_id = event.account_id
    exists = conn.execute(
        _sql(
            "SELECT 1 FROM messages WHERE account_id = :a AND provider_message_id = :p"
            " AND workspace_id = :ws"
        ),
        {"a": account_id, "p": event.provider_message_id, "ws": ws},
    ).first()
    if exists is not None:
        return  # a redelivery (or the echo of a send whose answer we already have)
    chat_key = _chat_key(conn, ws, account_id, event.chat_key, event.chat_jid, event.chat_phone)
    inbound = event.direction is Direction.IN
    name = event.sender_name if inbound and not event.is_group else ""
    conversation_id = _conversation(
        conn, ws, account_id, chat_key, event.chat_phone, name, event.is_group
    )
    ts_ms = _ms(event.timestamp)
    body = event.text or event.caption
    if not inbound:
        adopted = _adopt_echo(conn, ws, account_id, conversation_id, event, body)
        if adopted is not None:
            changed.message(account_id, conversation_id, adopted)
            return
    status = DeliveryStatus.RECEIVED if inbound else DeliveryStatus.SENT
    inserted = conn.execute(
        _sql(
            "INSERT INTO messages (id, workspace_id, account_id, conversation_id,"
            " provider_message_id, direction, ts, type, body, sender_name, reply_to, media,"
            " status) VALUES (:id, :ws, :a, :c, :p, :dir, :ts, :type, :body, :sender, :reply,"
            " CAST(:media AS jsonb), :status)"
            " ON CONFLICT (account_id, provider_message_id) WHERE provider_message_id IS NOT NULL"
            " DO NOTHING RETURNING id"
        ),
        {
            "id": _new_id(ts_ms),
            "ws": ws,
            "a": account_id,
            "c": conversation_id,
            "p": event.provider_message_id,
            "dir": event.direction.value,
            "ts": ts_ms,
            "type": event.type.value,
            "body": body,
            "sender": event.sender_name,
            "reply": event.reply_to,
            "media": _media_json(event),
            "status": status.value,
        },
    ).first()
    if inserted is None:
        return  # stored by a concurrent batch a moment ago
    changed.message(account_id, conversation_id, inserted[0])
    if inbound:
        changed.new_inbound.append(str(inserted[0]))
    # An older message arriving late (a backfill) must not replace the newer preview. A reply
    # sent from the phone means someone answered: the conversation counts as read.
    conn.execute(
        _sql(
            "UPDATE conversations SET"
            " unread_count = CASE WHEN :inbound THEN unread_count + 1 ELSE 0 END,"
            " last_inbound_at = CASE WHEN :inbound THEN GREATEST(COALESCE(last_inbound_at, 0),"
            "   :ts) ELSE last_inbound_at END,"
            " last_message_at = CASE WHEN last_message_at <= :ts THEN :ts"
            "   ELSE last_message_at END,"
            " last_preview = CASE WHEN last_message_at <= :ts THEN :preview"
            "   ELSE last_preview END,"
            " last_direction = CASE WHEN last_message_at <= :ts THEN :dir"
            "   ELSE last_direction END,"
            " last_status = CASE WHEN last_message_at <= :ts THEN :status ELSE last_status END,"
            " deleted = false"
            " WHERE id = :c AND workspace_id = :ws"
        ),
        {
            "inbound": inbound,
            "ts": ts_ms,
            "preview": preview_of(event.type, body),
            "dir": event.direction.value,
            "status": status.value,
            "c": conversation_id,
            "ws": ws,
        },
    )


def _plain_inbound(event: MessageEvent) -> bool:
    """An incoming message that names its chat plainly: no LID to resolve or merge (those go
    one by one through ``_store_message``, as do our own messages echoed back)."""
    return (
        event.direction is Direction.IN
        and not event.chat_key.endswith("@lid")
        and not event.chat_jid.endswith("@lid")
    )


@dataclass(slots=True)
class _Chat:
    """What a run of new messages says about one conversation, folded in their order."""

    phone: str  # the first phone given (a phone only fills in)
    name: str  # the last name given (a name fills in or follows a change)
    is_group: bool  # as the first message says (kept from creation on)
    inbound: int = 0
    newest_ts: int = 0
    preview: str = ""


# One index probe per id, whatever the planner believes of the table (``= ANY(array)`` becomes a
# scan of the number's messages under a generic plan while the table's statistics are young).
_EXISTING: Final = text(
    "SELECT p.id FROM unnest(CAST(:ps AS text[])) AS p(id), LATERAL (SELECT 1 FROM messages m"
    " WHERE m.account_id = :a AND m.provider_message_id = p.id AND m.workspace_id = :ws"
    " LIMIT 1) AS stored"
)
# Created, or its name and phone filled in (only when that changes something); the ids of the
# conversations the upsert left alone are read in the same statement.
_UPSERT_CONVERSATIONS: Final = text(
    "WITH given AS (SELECT * FROM unnest(CAST(:keys AS text[]), CAST(:phones AS text[]),"
    "   CAST(:names AS text[]), CAST(:groups AS boolean[])) AS g(k, phone, name, grp)),"
    " upserted AS (INSERT INTO conversations (workspace_id, account_id, chat_key,"
    "   customer_phone, customer_name, is_group) SELECT :ws, :a, k, phone, name, grp FROM given"
    "   ON CONFLICT (account_id, chat_key) DO UPDATE SET"
    "   customer_name = CASE WHEN excluded.customer_name <> '' THEN excluded.customer_name"
    "     ELSE conversations.customer_name END,"
    "   customer_phone = CASE WHEN conversations.customer_phone = '' THEN excluded.customer_phone"
    "     ELSE conversations.customer_phone END"
    "   WHERE (excluded.customer_name <> '' AND excluded.customer_name <>"
    "     conversations.customer_name)"
    "   OR (conversations.customer_phone = '' AND excluded.customer_phone <> '')"
    "   RETURNING id, chat_key)"
    " SELECT id, chat_key FROM upserted UNION ALL SELECT c.id, c.chat_key FROM conversations c"
    " JOIN given ON c.chat_key = given.k WHERE c.account_id = :a AND c.workspace_id = :ws"
    " AND NOT EXISTS (SELECT 1 FROM upserted u WHERE u.chat_key = c.chat_key)"
)
_FIND_CONVERSATIONS: Final = text(
    "SELECT id, chat_key FROM conversations WHERE account_id = :a AND workspace_id = :ws"
    " AND chat_key = ANY(CAST(:keys AS text[]))"
)
_INSERT_INBOUND: Final = text(
    "INSERT INTO messages (id, workspace_id, account_id, conversation_id, provider_message_id,"
    " direction, ts, type, body, sender_name, reply_to, media, status)"
    " SELECT id, :ws, :a, c, p, 'in', ts, type, body, sender, reply, CAST(media AS jsonb),"
    " 'received' FROM unnest(CAST(:ids AS uuid[]), CAST(:cs AS bigint[]), CAST(:ps AS text[]),"
    " CAST(:ts AS bigint[]), CAST(:types AS text[]), CAST(:bodies AS text[]),"
    " CAST(:senders AS text[]), CAST(:replies AS text[]), CAST(:media AS text[]))"
    " AS m(id, c, p, ts, type, body, sender, reply, media)"
    " ON CONFLICT (account_id, provider_message_id) WHERE provider_message_id IS NOT NULL"
    " DO NOTHING RETURNING provider_message_id, id"
)
# As ``_store_message``'s update, once per conversation: ``ts`` and ``preview`` are those of the
# newest message of the run (the last of equals), ``n`` how many came in.
_SUMMARIZE_INBOUND: Final = text(
    "UPDATE conversations c SET unread_count = c.unread_count + v.n,"
    " last_inbound_at = GREATEST(COALESCE(c.last_inbound_at, 0), v.ts),"
    " last_message_at = CASE WHEN c.last_message_at <= v.ts THEN v.ts ELSE c.last_message_at END,"
    " last_preview = CASE WHEN c.last_message_at <= v.ts THEN v.preview ELSE c.last_preview END,"
    " last_direction = CASE WHEN c.last_message_at <= v.ts THEN 'in' ELSE c.last_direction END,"
    " last_status = CASE WHEN c.last_message_at <= v.ts THEN 'received' ELSE c.last_status END,"
    " deleted = false"
    " FROM unnest(CAST(:cs AS bigint[]), CAST(:ns AS integer[]), CAST(:ts AS bigint[]),"
    " CAST(:previews AS text[])) AS v(id, n, ts, preview)"
    " WHERE c.id = v.id AND c.workspace_id = :ws"
)


def _store_inbound(
    conn: Connection, run: Sequence[tuple[int, MessageEvent]], changed: _Changed
) -> None:
    """``_store_message`` for a run of plain inbound messages, in a few statements per number.

    The same outcome as storing them one at a time: a message already stored (or twice in the
    run: a redelivery racing its original) is skipped and touches nothing; each conversation is
    created or has its name filled in once; the new messages go in with one INSERT (a concurrent
    batch that stored one first wins it); each conversation's unread count and preview then
    follow the messages actually inserted, once per conversation.
    """
    by_number: dict[tuple[int, int], dict[str, MessageEvent]] = {}
    for ws, event in run:
        firsts = by_number.setdefault((ws, event.account_id), {})
        firsts.setdefault(event.provider_message_id, event)  # a repeat in the run is a redelivery
    for (ws, account_id), firsts in by_number.items():
        number = {"ws": ws, "a": account_id}
        stored = conn.execute(_EXISTING, {**number, "ps": list(firsts)}).scalars().all()
        for provider_id in stored:
            del firsts[provider_id]
        if firsts:
            _insert_inbound(conn, ws, account_id, list(firsts.values()), changed)


def _insert_inbound(
    conn: Connection,
    ws: int,
    account_id: int,
    events: Sequence[MessageEvent],
    changed: _Changed,
) -> None:
    number = {"ws": ws, "a": account_id}
    chats: dict[str, _Chat] = {}
    for event in events:
        name = "" if event.is_group else event.sender_name
        chat = chats.get(event.chat_key)
        if chat is None:
            chats[event.chat_key] = _Chat(event.chat_phone, name, event.is_group)
        else:
            chat.phone = chat.phone or event.chat_phone
            chat.name = name or chat.name
    keys = list(chats)
    given = {
        "keys": keys,
        "phones": [c.phone for c in chats.values()],
        "names": [c.name for c in chats.values()],
        "groups": [c.is_group for c in chats.values()],
    }
    conversation = {
        str(k): int(i) for i, k in conn.execute(_UPSERT_CONVERSATIONS, {**number, **given})
    }
    if len(conversation) < len(keys):
        # Created by a concurrent batch after this statement's snapshot was taken: now visible.
        found = conn.execute(_FIND_CONVERSATIONS, {**number, "keys": keys})
        conversation.update((str(k), int(i)) for i, k in found)
    ts = [_ms(event.timestamp) for event in events]
    bodies = [event.text or event.caption for event in events]
    inserted: dict[str, uuid.UUID] = {
        str(provider_id): new_id
        for provider_id, new_id in conn.execute(
            _INSERT_INBOUND,
            {
                **number,
                "ids": [_new_id(ts_ms) for ts_ms in ts],
                "cs": [conversation[event.chat_key] for event in events],
                "ps": [event.provider_message_id for event in events],
                "ts": ts,
                "types": [event.type.value for event in events],
                "bodies": bodies,
                "senders": [event.sender_name for event in events],
                "replies": [event.reply_to for event in events],
                "media": [_media_json(event) for event in events],
            },
        )
    }
    for event, ts_ms, body in zip(events, ts, bodies, strict=True):
        new_id = inserted.get(event.provider_message_id)
        if new_id is None:
            continue  # stored by a concurrent batch a moment ago
        changed.message(account_id, conversation[event.chat_key], new_id)
        changed.new_inbound.append(str(new_id))
        chat = chats[event.chat_key]
        chat.inbound += 1
        if chat.inbound == 1 or ts_ms >= chat.newest_ts:  # the last of the newest
            chat.newest_ts = ts_ms
            chat.preview = preview_of(event.type, body)
    # In id order: two transactions updating the same conversations lock them in one order.
    touched = sorted((conversation[k], c) for k, c in chats.items() if c.inbound)
    if touched:
        conn.execute(
            _SUMMARIZE_INBOUND,
            {
                "ws": ws,
                "cs": [i for i, _ in touched],
                "ns": [c.inbound for _, c in touched],
                "ts": [c.newest_ts for _, c in touched],
                "previews": [c.preview for _, c in touched],
            },
        )


def _new_id(ts_ms: int) -> uuid.UUID:
    from sync.domain.ids import uuid7

    # The message's own time orders ids like the timeline; a value out of range falls back to
    # now (the row still gets a valid id, and ``ts`` keeps what the provider said).
    return uuid.UUID(uuid7(ts_ms) if 0 <= ts_ms < 1 << 48 else uuid7())


def _conversation(
    conn: Connection,
    ws: int,
    account_id: int,
    chat_key: str,
    phone: str,
    name: str,
    is_group: bool,
) -> int:
    """The id of the conversation with ``chat_key``, created if new; names only fill in."""
    find = _sql(
        "SELECT id, customer_name, customer_phone FROM conversations"
        " WHERE account_id = :a AND chat_key = :k AND workspace_id = :ws"
    )
    params = {"a": account_id, "k": chat_key, "ws": ws}
    row = conn.execute(find, params).first()
    if row is None:
        created = conn.execute(
            _sql(
                "INSERT INTO conversations (workspace_id, account_id, chat_key, customer_phone,"
                " customer_name, is_group) VALUES (:ws, :a, :k, :phone, :name, :group)"
                " ON CONFLICT (account_id, chat_key) DO NOTHING RETURNING id"
            ),
            {**params, "phone": phone, "name": name, "group": is_group},
        ).first()
        if created is not None:
            return int(created[0])
        row = conn.execute(find, params).one()  # created by a concurrent batch
    conversation_id, current_name, current_phone = row
    # The customer's name only fills in or follows a change, never blanks out: a receipt-less
    # echo carries no name.
    new_name = name if name and name != current_name else current_name
    new_phone = phone if not current_phone and phone else current_phone
    if (new_name, new_phone) != (current_name, current_phone):
        conn.execute(
            _sql(
                "UPDATE conversations SET customer_name = :name, customer_phone = :phone"
                " WHERE id = :c AND workspace_id = :ws"
            ),
            {"name": new_name, "phone": new_phone, "c": conversation_id, "ws": ws},
        )
    return int(conversation_id)


def _adopt_echo(
    conn: Connection,
    ws: int,
    account_id: int,
    conversation_id: int,
    event: MessageEvent,
    body: str,
) -> uuid.UUID | None:
    """A "from me" message that is one of our own sends: it names that send, no new row.

    QR-linked providers report every message the number sends, ours included, sometimes before
    the send call answers, and for a send whose answer was lost ("unknown") that echo is all we
    will ever hear. Ours is the row the agent wrote: the oldest send of this conversation still
    waiting for its provider id, with the same text, takes the echo's id and counts as sent.
    Returns its id when it did.
    """
    if not body:
        return None
    row = conn.execute(
        _sql(
            "SELECT id, status FROM messages WHERE workspace_id = :ws AND account_id = :a"
            " AND conversation_id = :c AND direction = 'out' AND provider_message_id IS NULL"
            " AND status = ANY(:statuses) AND body = :body AND NOT deleted"
            " ORDER BY ts, id LIMIT 1 FOR UPDATE"
        ),
        {
            "ws": ws,
            "a": account_id,
            "c": conversation_id,
            "statuses": list(_AWAITING_ID),
            "body": body,
        },
    ).first()
    if row is None:
        return None
    message_id: uuid.UUID = row[0]
    settle = DeliveryStatus(row[1]).can_become(DeliveryStatus.SENT)
    conn.execute(
        _sql(
            "UPDATE messages SET provider_message_id = :p,"
            " status = CASE WHEN :settle THEN 'sent' ELSE status END,"
            " error = CASE WHEN :settle THEN NULL ELSE error END"
            " WHERE id = :id AND workspace_id = :ws"
        ),
        {"p": event.provider_message_id, "settle": settle, "id": message_id, "ws": ws},
    )
    if settle:
        _touch_last_status(conn, ws, message_id, DeliveryStatus.SENT)
    return message_id


def adopt_provider_id(
    conn: Connection, ws: int, account_id: int, message_id: uuid.UUID, provider_id: str
) -> tuple[uuid.UUID, DeliveryStatus] | None:
    """Give our message ``provider_id``; an echo already stored under it becomes a tombstone.

    Returns the echo's id and the status it had reached (its receipts went to it), if there
    was one.
    """
    echo = conn.execute(
        _sql(
            "SELECT id, status FROM messages WHERE account_id = :a AND provider_message_id = :p"
            " AND workspace_id = :ws AND id <> :id FOR UPDATE"
        ),
        {"a": account_id, "p": provider_id, "ws": ws, "id": message_id},
    ).first()
    folded: tuple[uuid.UUID, DeliveryStatus] | None = None
    if echo is not None:
        folded = (echo[0], DeliveryStatus(echo[1]))
        conn.execute(
            _sql(
                "UPDATE messages SET deleted = true, provider_message_id = NULL"
                " WHERE id = :id AND workspace_id = :ws"
            ),
            {"id": echo[0], "ws": ws},
        )
    conn.execute(
        _sql(
            "UPDATE messages SET provider_message_id = :p WHERE id = :id AND workspace_id = :ws"
            " AND provider_message_id IS DISTINCT FROM :p"
        ),
        {"p": provider_id, "id": message_id, "ws": ws},
    )
    return folded


def set_status(
    conn: Connection,
    ws: int,
    message_id: uuid.UUID,
    status: DeliveryStatus,
    error: str | None,
    *,
    force: bool = False,
) -> bool:
    """Move a message to ``status`` if that is progress (or ``force``); True when it moved."""
    froms = [s.value for s in DeliveryStatus] if force else _CAN_BECOME[status]
    row = conn.execute(
        _sql(
            "UPDATE messages SET status = :s, error = :e WHERE id = :id AND workspace_id = :ws"
            " AND status = ANY(:froms) AND (status <> :s OR error IS DISTINCT FROM :e)"
            " RETURNING conversation_id, ts"
        ),
        {"s": status.value, "e": error, "id": message_id, "ws": ws, "froms": froms},
    ).first()
    if row is None:
        return False
    # The conversation list shows the last message's ticks: follow them if it is this one.
    conn.execute(
        _sql(
            "UPDATE conversations SET last_status = :s WHERE id = :c AND workspace_id = :ws"
            " AND last_message_at = :ts AND last_direction = 'out'"
            " AND last_status IS DISTINCT FROM :s"
        ),
        {"s": status.value, "c": row[0], "ts": row[1], "ws": ws},
    )
    return True


# For each status, the statuses a message may move to it from (progress only).
_CAN_BECOME: dict[DeliveryStatus, list[str]] = {
    new: [old.value for old in DeliveryStatus if old.can_become(new)] for new in DeliveryStatus
}


def _touch_last_status(conn: Connection, ws: int, message_id: Any, status: DeliveryStatus) -> None:
    """The conversation list shows the last message's ticks: follow it if it is this one."""
    conn.execute(
        _sql(
            "UPDATE conversations c SET last_status = :s FROM messages m"
            " WHERE m.id = :id AND m.workspace_id = :ws AND c.id = m.conversation_id"
            " AND c.workspace_id = :ws AND c.last_message_at = m.ts AND c.last_direction = 'out'"
            " AND c.last_status IS DISTINCT FROM :s"
        ),
        {"s": status.value, "id": message_id, "ws": ws},
    )


def _apply_status(conn: Connection, ws: int, event: StatusEvent, changed: _Changed) -> None:
    select = (
        "SELECT id, conversation_id, provider_message_id FROM messages WHERE workspace_id = :ws"
        " AND account_id = :a AND {where} FOR UPDATE"
    )
    row = conn.execute(
        _sql(select.format(where="provider_message_id = :p")),
        {"ws": ws, "a": event.account_id, "p": event.provider_message_id},
    ).first()
    if row is None and event.client_ref:
        # A send whose answer was lost ("unknown"), or whose "sent" is not written yet: the
        # provider echoed our own id, so we learn its id from the receipt.
        ref = _uuid_or_none(event.client_ref)
        if ref is not None:
            row = conn.execute(
                _sql(select.format(where="id = :ref AND direction = 'out'")),
                {"ws": ws, "a": event.account_id, "ref": ref},
            ).first()
    if row is None:
        return  # a receipt for a message we never stored (sent from elsewhere): nothing to show
    message_id, conversation_id, provider_id = row
    touched = provider_id is None
    if touched:
        adopt_provider_id(conn, ws, event.account_id, message_id, event.provider_message_id)
    # The error travels with the status: a receipt that settles an "unknown" message clears
    # the reason it was unknown.
    if set_status(conn, ws, message_id, event.status, event.error) or touched:
        changed.message(event.account_id, conversation_id, message_id)


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


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


# --- LIDs and phones -----------------------------------------------------------------------------


def _chat_key(
    conn: Connection, ws: int, account_id: int, chat_key: str, chat_jid: str, chat_phone: str
) -> str:
    """The conversation key a chat is stored under, LIDs and phones made one (as solo ingest).

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
        _remember_alias(conn, ws, account_id, lid, chat_key)
        return chat_key
    row = conn.execute(
        _sql(
            "SELECT chat_key FROM chat_aliases WHERE account_id = :a AND alias = :lid"
            " AND workspace_id = :ws"
        ),
        {"a": account_id, "lid": lid, "ws": ws},
    ).first()
    return str(row[0]) if row else chat_key


def _remember_alias(conn: Connection, ws: int, account_id: int, alias: str, chat_key: str) -> None:
    conn.execute(
        _sql(
            "INSERT INTO chat_aliases (workspace_id, account_id, alias, chat_key)"
            " VALUES (:ws, :a, :alias, :k) ON CONFLICT (account_id, alias) DO UPDATE"
            " SET chat_key = excluded.chat_key WHERE chat_aliases.chat_key <> excluded.chat_key"
        ),
        {"ws": ws, "a": account_id, "alias": alias, "k": chat_key},
    )
    find = _sql(
        "SELECT id FROM conversations WHERE account_id = :a AND chat_key = :k"
        " AND workspace_id = :ws AND NOT deleted FOR UPDATE"
    )
    old = conn.execute(find, {"a": account_id, "k": alias, "ws": ws}).first()
    if old is None:
        return
    new = conn.execute(find, {"a": account_id, "k": chat_key, "ws": ws}).first()
    phone = "".join(ch for ch in chat_key if ch.isdigit()) if "@" not in chat_key else ""
    if new is None:
        conn.execute(
            _sql(
                "UPDATE conversations SET chat_key = :k, customer_phone = CASE"
                " WHEN customer_phone = '' THEN :phone ELSE customer_phone END"
                " WHERE id = :c AND workspace_id = :ws"
            ),
            {"k": chat_key, "phone": phone, "c": old[0], "ws": ws},
        )
        return
    # Both exist (the LID chat began before the phone was known): one conversation, newest
    # preview and summed unread kept; the LID one stays as a tombstone (desktops drop it).
    moved = {"old": old[0], "new": new[0], "ws": ws}
    for table in ("messages", "notes", "outbox"):
        conn.execute(
            _sql(
                f"UPDATE {table} SET conversation_id = :new"
                " WHERE conversation_id = :old AND workspace_id = :ws"
            ),
            moved,
        )
    conn.execute(
        _sql(
            "UPDATE conversations n SET unread_count = n.unread_count + o.unread_count,"
            " last_inbound_at = GREATEST(n.last_inbound_at, o.last_inbound_at),"
            " last_message_at = GREATEST(n.last_message_at, o.last_message_at),"
            " last_preview = CASE WHEN o.last_message_at > n.last_message_at"
            "   THEN o.last_preview ELSE n.last_preview END,"
            " last_direction = CASE WHEN o.last_message_at > n.last_message_at"
            "   THEN o.last_direction ELSE n.last_direction END,"
            " last_status = CASE WHEN o.last_message_at > n.last_message_at"
            "   THEN o.last_status ELSE n.last_status END"
            " FROM conversations o WHERE o.id = :old AND n.id = :new AND n.workspace_id = :ws"
        ),
        moved,
    )
    # The tombstone gives its key up (the unique key is the phone's now) so it cannot be found
    # again by its LID.
    conn.execute(
        _sql(
            "UPDATE conversations SET deleted = true, unread_count = 0,"
            " chat_key = chat_key || '#merged:' || id::text"
            " WHERE id = :old AND workspace_id = :ws"
        ),
        moved,
    )


# --- beyond messages and receipts ------------------------------------------------------------


def _apply_other(conn: Connection, ws: int, event: ProviderEvent, changed: _Changed) -> None:
    """Reactions, edits, deletions, contacts, QR and removal."""
    if isinstance(event, ReactionEvent):
        sender = (
            "me" if event.direction is Direction.OUT else (event.sender_phone or event.chat_key)
        )
        # An empty emoji is a removed reaction: kept as a row (a tombstone that syncs).
        reacted = conn.execute(
            _sql(
                "INSERT INTO reactions (workspace_id, account_id, target_id, sender, emoji, ts)"
                " VALUES (:ws, :a, :t, :s, :e, :ts)"
                " ON CONFLICT (account_id, target_id, sender) DO UPDATE"
                " SET emoji = excluded.emoji, ts = excluded.ts, deleted = excluded.emoji = ''"
                " WHERE excluded.ts >= reactions.ts"
                " AND (reactions.emoji, reactions.ts) IS DISTINCT FROM"
                " (excluded.emoji, excluded.ts)"
                " RETURNING (SELECT m.id FROM messages m WHERE m.account_id = reactions.account_id"
                "   AND m.provider_message_id = reactions.target_id"
                "   AND m.workspace_id = reactions.workspace_id),"
                " (SELECT m.conversation_id FROM messages m"
                "   WHERE m.account_id = reactions.account_id"
                "   AND m.provider_message_id = reactions.target_id"
                "   AND m.workspace_id = reactions.workspace_id)"
            ),
            {
                "ws": ws,
                "a": event.account_id,
                "t": event.target_message_id,
                "s": sender,
                "e": event.emoji,
                "ts": _ms(event.timestamp),
            },
        ).first()
        if reacted is not None and reacted[0] is not None:
            changed.message(event.account_id, reacted[1], reacted[0])
        elif reacted is not None:
            changed.accounts.add(event.account_id)  # a reaction to a message not stored
    elif isinstance(event, EditEvent):
        row = conn.execute(
            _sql(
                "UPDATE messages SET body = :body, edited_at = :at WHERE account_id = :a"
                " AND provider_message_id = :p AND workspace_id = :ws AND body <> :body"
                " AND revoked_at IS NULL RETURNING conversation_id, ts, id"
            ),
            {
                "body": event.text,
                "at": _ms(event.timestamp),
                "a": event.account_id,
                "p": event.target_message_id,
                "ws": ws,
            },
        ).first()
        if row is None:
            _keep_pending(conn, ws, event.account_id, event.target_message_id, "edit",
                          event.text, _ms(event.timestamp))  # fmt: skip
        else:
            _follow_in_list(conn, ws, row[0], row[1], event.text)
            changed.message(event.account_id, row[0], row[2])
    elif isinstance(event, RevokeEvent):
        # Deleted for everyone by its sender: the text goes, the bubble stays as "this message
        # was deleted".
        row = conn.execute(
            _sql(
                "UPDATE messages SET body = '', media = NULL, revoked_at = :at"
                " WHERE account_id = :a AND provider_message_id = :p AND workspace_id = :ws"
                " AND revoked_at IS NULL RETURNING conversation_id, ts, id"
            ),
            {
                "at": _ms(event.timestamp),
                "a": event.account_id,
                "p": event.target_message_id,
                "ws": ws,
            },
        ).first()
        if row is None:
            _keep_pending(conn, ws, event.account_id, event.target_message_id, "revoke", "",
                          _ms(event.timestamp))  # fmt: skip
        else:
            _follow_in_list(conn, ws, row[0], row[1], "")
            changed.message(event.account_id, row[0], row[2])
    elif isinstance(event, ContactEvent):
        if event.lid and event.phone:
            # Conversations may move or merge: the number's list is what changed.
            _remember_alias(conn, ws, event.account_id, event.lid, event.chat_key)
            changed.accounts.add(event.account_id)
        if event.name:
            named = conn.execute(
                _sql(
                    "UPDATE conversations SET customer_name = :name WHERE account_id = :a"
                    " AND chat_key = :k AND workspace_id = :ws AND customer_name = ''"
                    " AND NOT is_group"
                ),
                {"name": event.name, "a": event.account_id, "k": event.chat_key, "ws": ws},
            )
            if named.rowcount:
                changed.accounts.add(event.account_id)
    elif isinstance(event, QrEvent):
        waiting = conn.execute(
            _sql(
                "UPDATE accounts SET state = :s WHERE id = :a AND workspace_id = :ws"
                " AND state NOT IN (:s, :connected)"
            ),
            {
                "s": ConnectionState.WAITING_FOR_QR.value,
                "connected": ConnectionState.CONNECTED.value,
                "a": event.account_id,
                "ws": ws,
            },
        )
        if waiting.rowcount:
            changed.accounts.add(event.account_id)
    elif isinstance(event, AccountRemovedEvent):
        removed = conn.execute(
            _sql(
                "UPDATE accounts SET state = :s, state_reason = :r WHERE id = :a"
                " AND workspace_id = :ws AND (state <> :s OR state_reason <> :r)"
            ),
            {
                "s": ConnectionState.NEEDS_REPAIR.value,
                "r": event.reason or "removed",
                "a": event.account_id,
                "ws": ws,
            },
        )
        if removed.rowcount:
            changed.accounts.add(event.account_id)


# --- the outbox's entry point -------------------------------------------------------------------


def _keep_pending(
    conn: Connection, ws: int, account_id: int, target: str, kind: str, body: str, ts_ms: int
) -> None:
    """An edit or deletion whose message is not here (yet): kept until it comes (migration
    0005). Nothing is kept when the message is here and the change simply changed nothing."""
    conn.execute(
        _sql(
            "INSERT INTO pending_changes (workspace_id, account_id, target_id, kind, body, ts)"
            " SELECT :ws, :a, :t, :k, :b, :ts WHERE NOT EXISTS (SELECT 1 FROM messages"
            "  WHERE account_id = :a AND provider_message_id = :t AND workspace_id = :ws)"
            " ON CONFLICT (account_id, target_id, kind) DO UPDATE"
            " SET body = excluded.body, ts = excluded.ts WHERE excluded.ts >= pending_changes.ts"
        ),
        {"ws": ws, "a": account_id, "t": target, "k": kind, "b": body, "ts": ts_ms},
    )


# Applies every kept change whose message is now stored, in one statement: deletions first (a
# deleted message stays deleted), then the newest edit of the others, unless the message was
# edited later than that already.
_SETTLE: Final = _sql(
    "WITH ready AS ("
    " DELETE FROM pending_changes p USING messages m"
    " WHERE p.workspace_id = ANY(:ws) AND m.workspace_id = p.workspace_id"
    " AND m.account_id = p.account_id AND m.provider_message_id = p.target_id"
    " RETURNING m.id, p.kind, p.body, p.ts),"
    " revoked AS ("
    " UPDATE messages m SET body = '', media = NULL, revoked_at = r.ts FROM ready r"
    " WHERE r.kind = 'revoke' AND m.id = r.id AND m.revoked_at IS NULL"
    " RETURNING m.workspace_id, m.conversation_id, m.ts, m.account_id, m.id),"
    " edited AS ("
    " UPDATE messages m SET body = r.body, edited_at = r.ts FROM ready r"
    " WHERE r.kind = 'edit' AND m.id = r.id AND m.revoked_at IS NULL"
    " AND (m.edited_at IS NULL OR m.edited_at < r.ts) AND m.body <> r.body"
    " AND NOT EXISTS (SELECT 1 FROM ready x WHERE x.id = r.id AND x.kind = 'revoke')"
    " RETURNING m.workspace_id, m.conversation_id, m.ts, m.body, m.account_id, m.id)"
    " SELECT workspace_id, conversation_id, ts, body, account_id, id FROM edited"
    " UNION ALL SELECT workspace_id, conversation_id, ts, '', account_id, id FROM revoked"
)


def _settle_pending_changes(conn: Connection, workspaces: set[int], changed: _Changed) -> None:
    if workspaces:
        settled = conn.execute(_SETTLE, {"ws": sorted(workspaces)}).all()
        for ws, conversation_id, ts_ms, body, account_id, message_id in settled:
            _follow_in_list(conn, ws, conversation_id, ts_ms, body)
            changed.message(account_id, conversation_id, message_id)


def _follow_in_list(conn: Connection, ws: int, conversation_id: int, ts_ms: int, body: str) -> None:
    """An edited or deleted message that is its conversation's latest: the list's preview
    follows (a text deleted for everyone must not stay readable there)."""
    conn.execute(
        _sql(
            "UPDATE conversations SET last_preview = :p WHERE id = :c AND workspace_id = :ws"
            " AND last_message_at = :ts"
        ),
        {"p": preview_of(MessageType.TEXT, body), "c": conversation_id, "ts": ts_ms, "ws": ws},
    )


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """An outgoing message to queue (``enqueue_sends``): a text, or with ``template``
    (``{"name", "language", "body_parameters", "header_parameters"}``) an approved template
    whose text (``body``) is what the customer will read."""

    message_id: uuid.UUID
    account_id: int
    conversation_id: int
    recipient: str
    body: str
    author_user_id: int | None
    ts_ms: int
    reply_to: str | None = None
    template: dict[str, Any] | None = None


def enqueue_send(
    conn: Connection,
    *,
    message_id: uuid.UUID,
    workspace_id: int,
    account_id: int,
    conversation_id: int,
    recipient: str,
    body: str,
    author_user_id: int | None,
    reply_to: str | None = None,
    ts_ms: int,
    template: dict[str, Any] | None = None,
    due_ms: int | None = None,
) -> None:
    """Write an outgoing message (``queued``) and its outbox entry, in ``conn``'s transaction
    (``enqueue_sends`` with one message)."""
    message = OutgoingMessage(
        message_id=message_id,
        account_id=account_id,
        conversation_id=conversation_id,
        recipient=recipient,
        body=body,
        author_user_id=author_user_id,
        ts_ms=ts_ms,
        reply_to=reply_to,
        template=template,
    )
    enqueue_sends(conn, workspace_id, [message], due_ms=due_ms)


def enqueue_sends(
    conn: Connection,
    workspace_id: int,
    messages: Sequence[OutgoingMessage],
    *,
    due_ms: int | None = None,
) -> None:
    """Write outgoing messages (``queued``) and their outbox entries, in ``conn``'s transaction,
    in order, with a few statements however many they are (a push of many replies).

    The entries are due at ``due_ms`` (the server's clock; the database's now when None). Never
    a message's ``ts_ms``: that is the time the client says it wrote the message, and a client's
    clock may be hours off. Entries queued in one transaction share their ``created_at``; the
    dispatcher takes a conversation's entries in (``created_at``, message id) order, and a
    client's UUIDv7 ids follow the order it wrote them in.

    A template rides in the message's ``media`` JSON, as the desktop's own outbox keeps it.

    Idempotent on the message id: a message whose id is already stored (a command pushed again,
    or twice in ``messages``) is not queued again. Raises ``EnqueueError``, writing nothing, when
    a conversation is not this workspace's and number's (under an agent's scope: not one they
    may see) or a text is empty.

    Inside an agent's transaction, row-level security applies to every statement: the
    conversations are read, and the messages and outbox entries written, under the agent's own
    policies (an agent may queue a send only on a number they may see; migration 0002).
    """
    unique: dict[uuid.UUID, OutgoingMessage] = {}
    for message in messages:
        body = text_to_send(message.body, EnqueueError)
        if body != message.body:
            message = replace(message, body=body)
        unique.setdefault(message.message_id, message)
    if not unique:
        return
    wanted = {(m.conversation_id, m.account_id) for m in unique.values()}
    found = conn.execute(
        _sql(
            "SELECT id, account_id FROM conversations WHERE id = ANY(:c) AND workspace_id = :ws"
            " AND NOT deleted ORDER BY id FOR UPDATE"
        ),
        {"c": sorted({c for c, _ in wanted}), "ws": workspace_id},
    ).all()
    missing = wanted - {(row[0], row[1]) for row in found}
    if missing:
        raise EnqueueError(f"conversation {min(missing)[0]} is not one of this number's")
    # The rows travel as one JSON document (``json_to_recordset``): encoding it is one C call,
    # where arrays would be adapted element by element, a quarter of a large push's time.
    # (ASCII JSON: a value Postgres refuses, such as a NUL, is refused by Postgres, as DataError.)
    queued = list(unique.values())
    rows: list[dict[str, Any]] = [
        {
            "n": n,
            "id": str(m.message_id),
            "account_id": m.account_id,
            "conversation_id": m.conversation_id,
            "ts": m.ts_ms,
            "type": _type_of(m).value,
            "body": m.body,
            "reply_to": m.reply_to,
            "author_user_id": m.author_user_id,
            "media": None if m.template is None else {"template": m.template},
            "recipient": m.recipient,
        }
        for n, m in enumerate(queued)
    ]
    inserted = {
        str(row[0])
        for row in conn.execute(
            _sql(
                "INSERT INTO messages (id, workspace_id, account_id, conversation_id, direction,"
                " ts, type, body, reply_to, status, author_user_id, media)"
                " SELECT m.id, :ws, m.account_id, m.conversation_id, 'out', m.ts, m.type, m.body,"
                " m.reply_to, 'queued', m.author_user_id, m.media"
                " FROM json_to_recordset(CAST(:rows AS json)) AS m(n int, id uuid,"
                " account_id bigint, conversation_id bigint, ts bigint, type text, body text,"
                " reply_to text, author_user_id bigint, media jsonb)"
                " ORDER BY m.n ON CONFLICT (id) DO NOTHING RETURNING id"
            ),
            {"ws": workspace_id, "rows": json.dumps(rows)},
        )
    }
    new = [row for row in rows if row["id"] in inserted]  # the others were queued before
    if not new:
        return
    conn.execute(
        _sql(
            "INSERT INTO outbox (message_id, workspace_id, account_id, conversation_id,"
            " recipient, next_attempt_at)"
            " SELECT o.id, :ws, o.account_id, o.conversation_id, o.recipient,"
            " COALESCE(to_timestamp(CAST(:due AS double precision) / 1000), now())"
            " FROM json_to_recordset(CAST(:rows AS json)) AS o(n int, id uuid,"
            " account_id bigint, conversation_id bigint, recipient text) ORDER BY o.n"
        ),
        {
            "ws": workspace_id,
            "rows": json.dumps([{key: row[key] for key in _OUTBOX_KEYS} for row in new]),
            "due": due_ms,
        },
    )
    # Each conversation shows its latest message: of several, the one with the latest time and,
    # on a tie, the last queued (what queueing them one by one would have left).
    latest: dict[int, dict[str, Any]] = {}
    for row in new:
        shown = latest.get(row["conversation_id"])
        if shown is None or row["ts"] >= shown["ts"]:
            latest[row["conversation_id"]] = row
    conn.execute(
        _sql(
            "UPDATE conversations AS c SET last_message_at = l.ts, last_preview = l.preview,"
            " last_direction = 'out', last_status = 'queued', unread_count = 0, deleted = false"
            " FROM json_to_recordset(CAST(:rows AS json)) AS l(id bigint, ts bigint, preview text)"
            " WHERE c.id = l.id AND c.workspace_id = :ws AND c.last_message_at <= l.ts"
        ),
        {
            "rows": json.dumps(
                [
                    {
                        "id": row["conversation_id"],
                        "ts": row["ts"],
                        "preview": preview_of(MessageType(row["type"]), row["body"]),
                    }
                    for row in latest.values()
                ]
            ),
            "ws": workspace_id,
        },
    )


_OUTBOX_KEYS: Final = ("n", "id", "account_id", "conversation_id", "recipient")


def _type_of(message: OutgoingMessage) -> MessageType:
    return MessageType.TEXT if message.template is None else MessageType.TEMPLATE
