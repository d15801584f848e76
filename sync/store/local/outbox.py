"""The outbox: a typed message is never lost and never handed to a provider twice.

The life of an outgoing message, each arrow one committed transaction:

1. ``enqueue``: the message row (status ``queued``, a client-made UUIDv7) and its outbox entry,
   together. Until this commits the app has not acknowledged the message; after, it survives
   any crash.
2. ``claim_next``: the entry becomes ``sending`` and the message ``sending``, committed
   *before* the provider is called.
3. ``complete_sent`` / ``complete_failed`` / ``reschedule`` / ``mark_unknown``: the outcome.

If the app dies between 2 and 3 nobody knows whether the provider got the message, so on the
next start ``recover_interrupted`` marks it ``unknown`` instead of sending it again; a status
event carrying our id (or the provider's) settles it later, or ``settle_unconfirmed`` marks it
failed once nothing did for long. Entries of one conversation go out one at a time in the order
they were written, so replies typed offline arrive in order, while the number's other
conversations go ahead (as on the team server: ``sync/store/team/outbox.py``).

These are the module functions ``LocalStore`` (``store.py``) calls on the database thread; the
engine's ``Store`` protocol (``sync/engine/store.py``) documents the contract they keep.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from sync import faults
from sync.domain.changes import ChangeSet
from sync.domain.ids import uuid7
from sync.domain.messages import Message, OutgoingMessage, TemplateRef, template_media, template_of
from sync.domain.models import DeliveryStatus, Direction, MessageType, preview_of
from sync.domain.outbox import (
    INTERRUPTED_REASON,
    UNCONFIRMED_REASON,
    Admit,
    Claim,
    Outcome,
    SendRefused,
    check_resendable,
    text_to_send,
)
from sync.domain.text import clean_text
from sync.store.local.search import index_message, unindex_message

if TYPE_CHECKING:
    from sync.store.local.local_cache import LocalCache


class OutboxError(SendRefused):
    """A message could not be queued (the message says why, in English, for the log).

    ``code`` names the reason for the interface (see ``SendRefused``).
    """


def _now_ms() -> int:
    return int(time.time() * 1000)


def send_again(
    cache: LocalCache,
    message_id: str,
    *,
    now_ms: int | None = None,
    client_id: str | None = None,
) -> tuple[Message, ChangeSet]:
    """Queue a new copy (``client_id``, made here if None) of an outgoing text message that
    failed or may not have been sent.

    The original stays as it is ("failed", or "unknown" until a receipt settles it): sending
    again is the agent's decision, never the engine's, because an "unknown" message may well
    have reached the customer.
    """
    row = cache.conn.exec_driver_sql(
        "SELECT conversation_id, direction, type, body, status, reply_to FROM messages"
        " WHERE id = ?",
        (message_id,),
    ).first()
    if row is None:
        raise OutboxError("that message no longer exists", "gone")
    conversation_id, direction, type_, body, status, reply_to = row
    check_resendable(direction, status, type_, body, OutboxError)
    return enqueue_text(
        cache, conversation_id, body, reply_to=reply_to, now_ms=now_ms, client_id=client_id
    )


def enqueue_text(
    cache: LocalCache,
    conversation_id: int,
    text: str,
    *,
    reply_to: str | None = None,
    now_ms: int | None = None,
    client_id: str | None = None,
) -> tuple[Message, ChangeSet]:
    """Write an outgoing text message and its outbox entry in one transaction.

    The text is cleaned first (``clean_text``: no NUL, U+FFFD for a lone surrogate, as every
    stored text), so a text of nothing but NUL is refused as empty.
    """
    text = text_to_send(text, OutboxError)
    return _enqueue(
        cache,
        conversation_id,
        MessageType.TEXT,
        text,
        reply_to=reply_to,
        now_ms=now_ms,
        client_id=client_id,
    )


def enqueue_template(
    cache: LocalCache,
    conversation_id: int,
    template: TemplateRef,
    preview: str,
    *,
    now_ms: int | None = None,
    client_id: str | None = None,
) -> tuple[Message, ChangeSet]:
    """Write an outgoing template message (what Meta allows once the 24-hour window closed).

    ``preview`` is the text the customer will read (the template with its parameters filled):
    the bubble, the conversation list and search show it. The template itself is kept in the
    message's ``media`` JSON (``{"template": {...}}``) for the dispatcher.
    """
    if not template.name or not template.language:
        raise OutboxError("a template needs its name and language")
    return _enqueue(
        cache,
        conversation_id,
        MessageType.TEMPLATE,
        text_to_send(preview, OutboxError),
        media=template_media(template),
        now_ms=now_ms,
        client_id=client_id,
    )


def _enqueue(
    cache: LocalCache,
    conversation_id: int,
    type_: MessageType,
    text: str,
    *,
    reply_to: str | None = None,
    media: str | None = None,
    now_ms: int | None = None,
    client_id: str | None = None,
) -> tuple[Message, ChangeSet]:
    ts = _now_ms() if now_ms is None else now_ms
    message_id = client_id or uuid7(ts)
    cursor = cache.raw_cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            row = cursor.execute(
                "SELECT account_id FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                raise OutboxError(f"conversation {conversation_id} does not exist")
            (account_id,) = row
            if (
                client_id is not None
                and cursor.execute("SELECT 1 FROM messages WHERE id = ?", (client_id,)).fetchone()
            ):
                # Queued already by an earlier call with this id (a command made twice): the
                # first one stands, nothing is written again.
                cursor.execute("COMMIT")
                return _existing(cache, client_id), ChangeSet()
            seq = write_queued_message(
                cursor,
                message_id,
                account_id,
                conversation_id,
                type_,
                text,
                ts,
                reply_to=reply_to,
                media=media,
            )
            faults.point("outbox.enqueue.after_message")
            cursor.execute(
                "INSERT INTO outbox (message_id, account_id, state, created_at, next_attempt_at)"
                " VALUES (?, ?, 'pending', ?, ?)",
                (message_id, account_id, ts, ts),
            )
            faults.point("outbox.enqueue.before_commit")
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    finally:
        cursor.close()
    message = queued_message(
        seq, message_id, account_id, conversation_id, type_, text, ts, reply_to=reply_to
    )
    return message, ChangeSet.of_message(account_id, conversation_id, message_id)


def _existing(cache: LocalCache, message_id: str) -> Message:
    from sync.store.local.queries import messages_by_id

    (message,) = messages_by_id(cache, [message_id])
    return message


def write_queued_message(
    cursor: Any,
    message_id: str,
    account_id: int,
    conversation_id: int,
    type_: MessageType,
    text: str,
    ts: int,
    *,
    reply_to: str | None = None,
    media: str | None = None,
    author_user_id: int | None = None,
) -> int:
    """In the caller's transaction: an agent's outgoing message as "queued", in search and at
    the top of its conversation. Returns its ``seq``. What makes it go out (this desktop's
    outbox, or a team's send command) is the caller's."""
    cursor.execute(
        "INSERT INTO messages (id, account_id, conversation_id, direction, ts, type, body,"
        " reply_to, media, status, author_user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            account_id,
            conversation_id,
            Direction.OUT.value,
            ts,
            type_.value,
            text,
            reply_to,
            media,
            DeliveryStatus.QUEUED.value,
            author_user_id,
        ),
    )
    seq = int(cursor.lastrowid)
    index_message(cursor, seq, ts, text, account_id)
    cursor.execute(
        "UPDATE conversations SET last_message_at = ?, last_preview = ?,"
        " last_direction = 'out', last_status = 'queued', last_message_seq = ?,"
        " unread_count = 0 WHERE id = ?",
        (ts, preview_of(type_, text), seq, conversation_id),
    )
    return seq


def queued_message(
    seq: int,
    message_id: str,
    account_id: int,
    conversation_id: int,
    type_: MessageType,
    text: str,
    ts: int,
    *,
    reply_to: str | None = None,
) -> Message:
    """The ``Message`` that ``write_queued_message`` wrote (shown at once, before any re-read)."""
    return Message(
        seq=seq,
        id=message_id,
        account_id=account_id,
        conversation_id=conversation_id,
        provider_message_id=None,
        direction=Direction.OUT,
        timestamp_ms=ts,
        type=type_,
        text=text,
        sender_name="",
        reply_to=reply_to,
        status=DeliveryStatus.QUEUED,
        error=None,
    )


def recover_interrupted(cache: LocalCache, *, expired_by_ms: int | None = None) -> ChangeSet:
    """Entries left ``sending`` by a dispatcher that stopped become ``unknown``, never resent.

    Those whose lease ended before ``expired_by_ms`` (a claim without a lease counts as ended);
    with None, every one (the caller knows no dispatcher is running).
    """
    cursor = cache.raw_cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            rows = cursor.execute(
                "SELECT o.message_id, m.conversation_id, m.account_id FROM outbox o"
                " JOIN messages m ON m.id = o.message_id WHERE o.state = 'sending'"
                " AND (? IS NULL OR o.lease_until IS NULL OR o.lease_until < ?)",
                (expired_by_ms, expired_by_ms),
            ).fetchall()
            for message_id, conversation_id, _account in rows:
                _set_status(
                    cursor, message_id, conversation_id, DeliveryStatus.UNKNOWN, INTERRUPTED_REASON
                )
                cursor.execute("DELETE FROM outbox WHERE message_id = ?", (message_id,))
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    finally:
        cursor.close()
    return _changes_of(rows)


def renew_leases(cache: LocalCache, message_ids: Collection[str], until_ms: int) -> None:
    """Extend the leases of these claimed sends (those still ``sending``) to ``until_ms``."""
    if not message_ids:
        return
    with cache.transaction() as conn:
        conn.exec_driver_sql(
            "UPDATE outbox SET lease_until = ? WHERE state = 'sending'"
            f" AND message_id IN ({','.join('?' * len(message_ids))})",
            (until_ms, *message_ids),
        )


def settle_unconfirmed(cache: LocalCache, before_ms: int) -> ChangeSet:
    """Mark failed (``UNCONFIRMED_REASON``) the "unknown" sends without a provider id written
    before ``before_ms``: nothing confirmed them, so they never went (when that is safe to
    conclude is the engine's rule). A receipt that came meanwhile already settled the others."""
    cursor = cache.raw_cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            # Through the partial index of "unknown" messages (migration 8): never a scan of
            # the whole history.
            rows = cursor.execute(
                "SELECT id, conversation_id, account_id FROM messages WHERE status = 'unknown'"
                " AND direction = 'out' AND provider_message_id IS NULL AND ts < ?",
                (before_ms,),
            ).fetchall()
            for message_id, conversation_id, _account in rows:
                _set_status(
                    cursor, message_id, conversation_id, DeliveryStatus.FAILED, UNCONFIRMED_REASON
                )
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    finally:
        cursor.close()
    return _changes_of(rows)


def _changes_of(rows: Collection[tuple[str, int, int]]) -> ChangeSet:
    """The change set of (message id, conversation id, account id) rows."""
    return ChangeSet(
        accounts=frozenset(r[2] for r in rows),
        conversations=frozenset(r[1] for r in rows),
        messages=frozenset(r[0] for r in rows),
    )


# The entries a claim may take: each conversation's oldest entry (pending, or being sent: then
# its conversation waits), so a conversation's messages leave in the order they were written
# while the number's other conversations go ahead, as on the team server. The conversation is
# the message's (a LID merge moves messages, and the entry follows them for free); the outbox
# holds only what is not sent yet, so the joins stay small.
_HEADS = """
FROM outbox o
JOIN messages m ON m.id = o.message_id
JOIN conversations c ON c.id = m.conversation_id
WHERE o.state = 'pending'
  AND NOT EXISTS (
      SELECT 1 FROM outbox p JOIN messages pm ON pm.id = p.message_id
      WHERE pm.conversation_id = m.conversation_id AND p.rowid < o.rowid)
"""


def _head_filters(
    account_ids: Collection[int] | None, blocked: Collection[tuple[int, str]]
) -> tuple[str, list[Any]] | None:
    """The SQL (and its parameters) keeping the heads of ready numbers and unblocked
    recipients; None when no number is ready."""
    sql, params = "", list[Any]()
    if account_ids is not None:
        if not account_ids:
            return None
        sql += f" AND o.account_id IN ({','.join('?' * len(account_ids))})"
        params.extend(sorted(account_ids))
    if blocked:
        pairs = sorted(set(blocked))
        rows = ",".join(["(?, ?)"] * len(pairs))
        sql += f" AND (o.account_id, c.chat_key) NOT IN (VALUES {rows})"
        params.extend(value for pair in pairs for value in pair)
    return sql, params


def claim_next(
    cache: LocalCache,
    *,
    now_ms: int | None = None,
    account_ids: Collection[int] | None = None,
    blocked: Collection[tuple[int, str]] = (),
    lease_until_ms: int | None = None,
    admit: Admit | None = None,
) -> Claim | None:
    """Claim the next due entry (the head of its conversation) and commit ``sending``, leased
    until ``lease_until_ms`` (None: no lease, recovered as soon as anyone recovers).

    ``account_ids`` limits the claim to numbers whose provider is ready to send (None: every
    number), ``blocked`` leaves out (number, chat key) pairs that pacing holds back; their
    entries simply wait. The earliest due goes first, then the oldest. ``admit`` spends pacing
    in this transaction (see ``Store.claim_next``).
    """
    now = _now_ms() if now_ms is None else now_ms
    filters = _head_filters(account_ids, blocked)
    if filters is None:
        return None
    where, params = filters
    cursor = cache.raw_cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            row = cursor.execute(
                f"SELECT o.message_id, o.attempts {_HEADS} {where} AND o.next_attempt_at <= ?"
                " ORDER BY o.next_attempt_at, o.rowid LIMIT 1",
                (*params, now),
            ).fetchone()
            if row is None:
                cursor.execute("COMMIT")
                return None
            message_id, attempts = row
            detail = cursor.execute(
                "SELECT m.account_id, m.conversation_id, c.customer_phone, c.chat_key, m.type,"
                " m.body, m.reply_to, m.media FROM messages m JOIN conversations c"
                " ON c.id = m.conversation_id WHERE m.id = ?",
                (message_id,),
            ).fetchone()
            account_id, conversation_id, phone, chat_key, type_, body, reply_to, media = detail
            if admit is not None and not _admitted(cursor, admit, account_id, chat_key):
                cursor.execute("COMMIT")
                return None
            cursor.execute(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_until = ?"
                " WHERE message_id = ?",
                (lease_until_ms, message_id),
            )
            _set_status(cursor, message_id, conversation_id, DeliveryStatus.SENDING, None)
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    finally:
        cursor.close()
    return Claim(
        OutgoingMessage(
            client_id=message_id,
            account_id=account_id,
            to_phone=phone,
            chat_key=chat_key,
            type=MessageType(type_),
            text=body,
            reply_to=reply_to,
            template=template_of(media) if type_ == MessageType.TEMPLATE.value else None,
        ),
        conversation_id=conversation_id,
        recipient=chat_key,
        attempts=attempts + 1,
    )


def _admitted(cursor: Any, admit: Admit, account_id: int, recipient: str) -> bool:
    """Ask pacing whether this send may go now, and write the times it spends if so."""
    times = dict(
        cursor.execute(
            "SELECT recipient, tat FROM pacing WHERE account_id = ? AND recipient IN ('', ?)",
            (account_id, recipient),
        ).fetchall()
    )
    admission = admit(account_id, recipient, times.get(""), times.get(recipient))
    if admission is None:
        return False
    for key, tat in (("", admission[0]), (recipient, admission[1])):
        if tat is not None:
            cursor.execute(
                "INSERT INTO pacing (account_id, recipient, tat) VALUES (?, ?, ?)"
                " ON CONFLICT (account_id, recipient) DO UPDATE SET tat = excluded.tat",
                (account_id, key, tat),
            )
    return True


def pacing_state(
    cache: LocalCache, accounts: Collection[int], after: float
) -> dict[tuple[int, str], float]:
    """The pacing times of ``accounts`` later than ``after`` (``Store.pacing_state``)."""
    if not accounts:
        return {}
    rows = cache.conn.exec_driver_sql(
        "SELECT account_id, recipient, tat FROM pacing WHERE tat > ?"
        f" AND account_id IN ({','.join('?' * len(accounts))})",
        (after, *accounts),
    ).fetchall()
    return {(int(a), str(r)): float(t) for a, r, t in rows}


def hold_pacing(cache: LocalCache, account_id: int, until: float, recipient: str = "") -> None:
    """A pacing time becomes at least ``until`` (``Store.hold_pacing``)."""
    with cache.transaction() as conn:
        conn.exec_driver_sql(
            "INSERT INTO pacing (account_id, recipient, tat) VALUES (?, ?, ?)"
            " ON CONFLICT (account_id, recipient) DO UPDATE SET tat = max(tat, excluded.tat)",
            (account_id, recipient, until),
        )


def forget_pacing(cache: LocalCache, before: float) -> None:
    """Drop the pacing times earlier than ``before`` (``Store.forget_pacing``)."""
    with cache.transaction() as conn:
        conn.exec_driver_sql("DELETE FROM pacing WHERE tat < ?", (before,))


def record_outcome(
    cache: LocalCache, claim: Claim, outcome: Outcome, *, now_ms: int | None = None
) -> ChangeSet:
    """Write what came of a claimed send (one transaction); ``retry`` is due ``delay_s``
    after ``now_ms``. See ``Store.record_outcome`` for the contract."""
    now = _now_ms() if now_ms is None else now_ms
    return _record(cache, claim.message_id, outcome, now + round(outcome.delay_s * 1000))


def _record(cache: LocalCache, message_id: str, outcome: Outcome, retry_at_ms: int) -> ChangeSet:
    """``record_outcome`` by message id; ``retry_at_ms`` is when a retry is due (read only
    for a retry)."""
    # The reason is the provider's own words (an error body): cleaned like every stored text.
    error = clean_text(outcome.reason) if outcome.reason else outcome.reason
    cursor = cache.raw_cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            row = cursor.execute(
                "SELECT conversation_id, account_id, status, provider_message_id FROM messages"
                " WHERE id = ?",
                (message_id,),
            ).fetchone()
            if row is None:
                cursor.execute("COMMIT")
                return ChangeSet()
            conversation_id, account_id, status, provider_id = row
            entry = cursor.execute(
                "SELECT state FROM outbox WHERE message_id = ?", (message_id,)
            ).fetchone()
            touched = {message_id}
            if entry is None or entry[0] != "sending":
                # Not ours any more (recovery marked it unknown meanwhile): only a "sent" is
                # news, for the provider's id it teaches.
                if outcome.kind != "sent" or outcome.provider_message_id is None:
                    cursor.execute("COMMIT")
                    return ChangeSet()
                touched |= _settle_sent(
                    cursor, message_id, account_id, conversation_id, outcome.provider_message_id
                )
            elif (
                outcome.kind == "retry"
                and provider_id is None
                and status in (DeliveryStatus.SENDING.value, DeliveryStatus.QUEUED.value)
            ):
                cursor.execute(
                    "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ?"
                    " WHERE message_id = ?",
                    (retry_at_ms, error, message_id),
                )
                _set_status(
                    cursor, message_id, conversation_id, DeliveryStatus.QUEUED, error, force=True
                )
            else:
                # Done with it, whatever came: a retry of a message a receipt or an echo
                # already proved the provider took is never sent again.
                cursor.execute("DELETE FROM outbox WHERE message_id = ?", (message_id,))
                if outcome.kind == "sent" and outcome.provider_message_id is not None:
                    touched |= _settle_sent(
                        cursor,
                        message_id,
                        account_id,
                        conversation_id,
                        outcome.provider_message_id,
                    )
                elif outcome.kind == "failed":
                    _set_status(cursor, message_id, conversation_id, DeliveryStatus.FAILED, error)
                elif outcome.kind == "unknown":
                    _set_status(cursor, message_id, conversation_id, DeliveryStatus.UNKNOWN, error)
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    finally:
        cursor.close()
    return ChangeSet(
        accounts=frozenset({account_id}),
        conversations=frozenset({conversation_id}),
        messages=frozenset(touched),
    )


def _settle_sent(
    cursor: Any, message_id: str, account_id: int, conversation_id: int, provider_id: str
) -> set[str]:
    """Give our message the provider's id and "sent"; returns the ids touched."""
    echo = _absorb_echo(cursor, message_id, account_id, provider_id)
    cursor.execute(
        "UPDATE messages SET provider_message_id = ? WHERE id = ?", (provider_id, message_id)
    )
    _set_status(cursor, message_id, conversation_id, DeliveryStatus.SENT, None)
    if echo is None:
        return set()
    # Receipts may have reached the echo first.
    _set_status(cursor, message_id, conversation_id, echo[1], None)
    return {echo[0]}


def _absorb_echo(
    cursor: Any, message_id: str, account_id: int, provider_message_id: str
) -> tuple[str, DeliveryStatus] | None:
    """Merge a copy of our own message that the provider echoed before the send returned.

    QR-linked providers report our outgoing messages as "from me" webhooks, sometimes before
    the send call answers; ingest then stored the echo as a message of its own. Ours is the row
    the agent wrote, so the echo goes (index entry included) and lends it its receipts.
    """
    row = cursor.execute(
        "SELECT id, seq, status, body, ts FROM messages"
        " WHERE account_id = ? AND provider_message_id = ? AND id != ?",
        (account_id, provider_message_id, message_id),
    ).fetchone()
    if row is None:
        return None
    echo_id, echo_seq, echo_status, echo_body, echo_ts = row
    if echo_body:
        unindex_message(cursor, echo_seq, echo_ts, echo_body, account_id)
    cursor.execute("DELETE FROM messages WHERE id = ?", (echo_id,))
    cursor.execute(
        "UPDATE conversations SET last_message_seq = (SELECT seq FROM messages WHERE id = ?)"
        " WHERE last_message_seq = ?",
        (message_id, echo_seq),
    )
    return echo_id, DeliveryStatus(echo_status)


def complete_sent(cache: LocalCache, message_id: str, provider_message_id: str) -> ChangeSet:
    """The provider accepted the message and gave it this id."""
    return _record(cache, message_id, Outcome("sent", provider_message_id), 0)


def complete_failed(cache: LocalCache, message_id: str, reason: str) -> ChangeSet:
    """The provider refused the message for good; the agent sees ``reason``."""
    return _record(cache, message_id, Outcome("failed", reason=reason), 0)


def mark_unknown(cache: LocalCache, message_id: str, reason: str) -> ChangeSet:
    """The provider was called but its answer was lost: never resend blindly."""
    return _record(cache, message_id, Outcome("unknown", reason=reason), 0)


def reschedule(cache: LocalCache, message_id: str, retry_at_ms: int, reason: str) -> ChangeSet:
    """The provider certainly did not take the message (refused before sending): try later."""
    return _record(cache, message_id, Outcome("retry", reason=reason), retry_at_ms)


def pending_count(cache: LocalCache) -> int:
    """How many messages wait in the outbox."""
    (count,) = cache.conn.exec_driver_sql("SELECT COUNT(*) FROM outbox").fetchone()  # type: ignore[misc]
    return int(count)


def next_due_ms(
    cache: LocalCache,
    *,
    account_ids: Collection[int] | None = None,
    blocked: Collection[tuple[int, str]] = (),
) -> int | None:
    """When the next claimable entry becomes due: None when nothing could be claimed.

    Only the head of each conversation's queue counts (the rest wait behind it), and with
    ``account_ids`` only numbers ready to send (``blocked`` as ``claim_next``), so the
    dispatcher sleeps instead of spinning while a number is offline or a head waits out a
    backoff.
    """
    filters = _head_filters(account_ids, blocked)
    if filters is None:
        return None
    where, params = filters
    row = cache.conn.exec_driver_sql(
        f"SELECT MIN(o.next_attempt_at) {_HEADS} {where}", tuple(params)
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _set_status(
    cursor: object,
    message_id: str,
    conversation_id: int,
    status: DeliveryStatus,
    error: str | None,
    *,
    force: bool = False,
) -> None:
    cur = cursor
    (current,) = cur.execute(  # type: ignore[attr-defined]
        "SELECT status FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    if not force and not DeliveryStatus(current).can_become(status):
        return  # a receipt already moved it further (e.g. "delivered" before our "sent")
    cur.execute(  # type: ignore[attr-defined]
        "UPDATE messages SET status = ?, error = ? WHERE id = ?", (status.value, error, message_id)
    )
    cur.execute(  # type: ignore[attr-defined]
        "UPDATE conversations SET last_status = ? WHERE id = ?"
        " AND last_message_seq = (SELECT seq FROM messages WHERE id = ?)",
        (status.value, conversation_id, message_id),
    )
