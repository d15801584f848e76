"""The team's outbox on Postgres: claim, record what came of a send, recover, settle.

Claims use ``FOR UPDATE SKIP LOCKED``, so several dispatchers (tasks of one server, or servers)
never take the same entry, and only the oldest entry of each conversation can be claimed, so a
conversation's messages go out in the order they were written. The rules of when to send and
what an outcome means are the dispatcher's (``sync/server/dispatcher.py``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, Protocol

from sqlalchemy import Connection, text

from sync.domain.messages import OutgoingMessage, template_of
from sync.domain.models import DeliveryStatus, Direction, MessageType
from sync.domain.text import clean_text
from sync.store.team.database import ServerDatabase
from sync.store.team.ingest import adopt_provider_id, enqueue_send, set_status

log = logging.getLogger(__name__)


class RetryRefused(ValueError):
    """A retry that may not be made (not a supervisor, wrong kind of message); says why."""


class Actor(Protocol):
    """Who asks (a signed-in user of a workspace)."""

    workspace_id: int
    user_id: int

    @property
    def is_supervisor(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox entry claimed for sending (committed ``sending``)."""

    message_id: uuid.UUID
    workspace_id: int
    account_id: int
    conversation_id: int
    recipient: str
    attempts: int
    message: OutgoingMessage


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of one send."""

    kind: Literal["sent", "failed", "unknown", "retry"]
    provider_message_id: str | None = None
    reason: str | None = None
    delay_s: float = 0.0


# --- the transactions ----------------------------------------------------------------------------


def account_rows(
    db: ServerDatabase,
) -> list[tuple[int, str, str, dict[str, Any], bytes | None]]:
    with db.system() as conn:
        rows = conn.execute(
            text(
                "SELECT id, name, provider, config, secrets FROM accounts"
                " WHERE NOT deleted AND provider <> 'demo' ORDER BY id"
            )
        ).all()
    return [
        (int(r[0]), str(r[1]), str(r[2]), dict(r[3] or {}), bytes(r[4]) if r[4] else None)
        for r in rows
    ]


# Only the oldest entry of each conversation (pending or being sent) can be claimed: a
# conversation's messages leave in the order they were written. Ties (one push of several
# commands, one transaction) are broken by the client-made UUIDv7, increasing in typing order.
# ``o.state``/``o.next_attempt_at`` are tested on the locked table itself, so a row another
# dispatcher claimed after our snapshot is re-checked (and skipped) once we get its lock.
_HEADS = """
WITH heads AS MATERIALIZED (
    SELECT DISTINCT ON (conversation_id) message_id
    FROM outbox ORDER BY conversation_id, created_at, message_id
)
"""
_CLAIMABLE = """
    o.state = 'pending'
    AND o.account_id = ANY(CAST(:accounts AS bigint[]))
    AND NOT ((o.account_id::text || ':' || o.recipient) = ANY(CAST(:blocked AS text[])))
"""

_CLAIM = f"""
{_HEADS}, candidate AS (
    SELECT o.message_id FROM heads h JOIN outbox o ON o.message_id = h.message_id
    WHERE {_CLAIMABLE} AND o.next_attempt_at <= now()
    ORDER BY o.next_attempt_at, o.created_at, o.message_id
    LIMIT 1
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE outbox SET state = 'sending', attempts = outbox.attempts + 1
FROM candidate WHERE outbox.message_id = candidate.message_id AND outbox.state = 'pending'
RETURNING outbox.message_id, outbox.workspace_id, outbox.account_id, outbox.conversation_id,
    outbox.recipient, outbox.attempts
"""

_NEXT_DUE = f"""
{_HEADS}
SELECT EXTRACT(EPOCH FROM (min(o.next_attempt_at) - now()))
FROM heads h JOIN outbox o ON o.message_id = h.message_id WHERE {_CLAIMABLE}
"""


def claim_next(
    db: ServerDatabase, accounts: Sequence[int], blocked: Sequence[str]
) -> Claimed | None:
    """Claim the next due entry of ``accounts`` (recipients ``"account:recipient"`` in
    ``blocked`` excluded) and commit it ``sending``; None when nothing is due."""
    with db.system() as conn:
        row = conn.execute(
            text(_CLAIM), {"accounts": list(accounts), "blocked": list(blocked)}
        ).first()
        if row is None:
            return None
        message_id, ws, account_id, conversation_id, recipient, attempts = row
        detail = conn.execute(
            text(
                "SELECT m.type, m.body, m.reply_to, c.customer_phone, c.chat_key, m.media::text"
                " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.id = :id AND m.workspace_id = :ws AND c.workspace_id = :ws"
                " AND m.account_id = :a"
            ),
            {"id": message_id, "ws": ws, "a": account_id},
        ).one()
        type_, body, reply_to, phone, chat_key, media = detail
        set_status(conn, ws, message_id, DeliveryStatus.SENDING, None)
    return Claimed(
        message_id=message_id,
        workspace_id=int(ws),
        account_id=int(account_id),
        conversation_id=int(conversation_id),
        recipient=str(recipient),
        attempts=int(attempts),
        message=OutgoingMessage(
            client_id=str(message_id),
            account_id=int(account_id),
            to_phone=str(phone),
            chat_key=str(chat_key),
            type=MessageType(type_),
            text=str(body),
            reply_to=reply_to,
            # A template send carries its template as the desktops' outbox does (enqueue_send).
            template=template_of(media) if type_ == MessageType.TEMPLATE.value else None,
        ),
    )


def next_due_s(db: ServerDatabase, accounts: Sequence[int], blocked: Sequence[str]) -> float | None:
    """Seconds until the next claimable entry is due (<= 0: now); None when there is none."""
    with db.system() as conn:
        value = conn.execute(
            text(_NEXT_DUE), {"accounts": list(accounts), "blocked": list(blocked)}
        ).scalar()
    return None if value is None else float(value)


def record_outcome(db: ServerDatabase, claim: Claimed, outcome: Outcome) -> None:
    """Write what came of a claimed send (one transaction)."""
    if outcome.reason:
        # The reason quotes the provider's answer: cleaned like every stored text.
        outcome = replace(outcome, reason=clean_text(outcome.reason))
    ws = claim.workspace_id
    with db.system() as conn:
        entry = conn.execute(
            text(
                "SELECT state FROM outbox WHERE message_id = :id AND workspace_id = :ws FOR UPDATE"
            ),
            {"id": claim.message_id, "ws": ws},
        ).first()
        if entry is None or entry[0] != "sending":
            # Recovered meanwhile (marked unknown): a late "sent" still teaches us its id.
            if outcome.kind == "sent" and outcome.provider_message_id:
                _settle_sent(conn, claim, outcome.provider_message_id)
            return
        if outcome.kind == "retry":
            current = conn.execute(
                text(
                    "SELECT status, provider_message_id FROM messages"
                    " WHERE id = :id AND workspace_id = :ws"
                ),
                {"id": claim.message_id, "ws": ws},
            ).one()
            if current[1] is None and DeliveryStatus(current[0]) in (
                DeliveryStatus.SENDING,
                DeliveryStatus.QUEUED,
            ):
                conn.execute(
                    text(
                        "UPDATE outbox SET state = 'pending', last_error = :e,"
                        " next_attempt_at = now() + make_interval(secs => :d)"
                        " WHERE message_id = :id AND workspace_id = :ws"
                    ),
                    {"e": outcome.reason, "d": outcome.delay_s, "id": claim.message_id, "ws": ws},
                )
                set_status(
                    conn, ws, claim.message_id, DeliveryStatus.QUEUED, outcome.reason, force=True
                )
                return
            # A receipt or an echo already proved the provider took it: done, never resent.
        conn.execute(
            text("DELETE FROM outbox WHERE message_id = :id AND workspace_id = :ws"),
            {"id": claim.message_id, "ws": ws},
        )
        if outcome.kind == "sent" and outcome.provider_message_id:
            _settle_sent(conn, claim, outcome.provider_message_id)
        elif outcome.kind == "failed":
            set_status(conn, ws, claim.message_id, DeliveryStatus.FAILED, outcome.reason)
        elif outcome.kind == "unknown":
            set_status(conn, ws, claim.message_id, DeliveryStatus.UNKNOWN, outcome.reason)


def _settle_sent(conn: Connection, claim: Claimed, provider_id: str) -> None:
    ws = claim.workspace_id
    echo = adopt_provider_id(conn, ws, claim.account_id, claim.message_id, provider_id)
    set_status(conn, ws, claim.message_id, DeliveryStatus.SENT, None)
    if echo is not None:  # receipts may have reached the echo first
        set_status(conn, ws, claim.message_id, echo, None)


def recover_interrupted(
    db: ServerDatabase, inflight: Sequence[uuid.UUID] | frozenset[uuid.UUID]
) -> int:
    """Entries left ``sending`` (by a crashed dispatcher) become ``unknown``, never resent.

    Only safe while no other dispatcher is alive (the exclusive advisory lock); ``inflight``
    are this dispatcher's own sends in progress. Returns how many were settled.
    """
    with db.system() as conn:
        # A crashed process's half-done transaction holds its row until Postgres notices the
        # process is gone: wait for it (briefly) rather than skip the row.
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        rows = conn.execute(
            text(
                "SELECT message_id, workspace_id FROM outbox WHERE state = 'sending'"
                " AND NOT (message_id = ANY(CAST(:mine AS uuid[]))) FOR UPDATE"
            ),
            {"mine": list(inflight)},
        ).all()
        for message_id, ws in rows:
            conn.execute(
                text("DELETE FROM outbox WHERE message_id = :id AND workspace_id = :ws"),
                {"id": message_id, "ws": ws},
            )
            set_status(
                conn,
                int(ws),
                message_id,
                DeliveryStatus.UNKNOWN,
                "interrupted: the server stopped while sending",
            )
    if rows:
        log.warning("%d send(s) interrupted by a stop marked unknown", len(rows))
    return len(rows)


# A send whose answer was lost stays "unknown" until a receipt (status webhook, echo) settles it.
# One that nothing settles for this long, counted from when the server was up to hear about it,
# never reached the provider: Meta reports "sent" within seconds, Evolution and the gateway echo
# an outgoing message at once, and Meta retries undelivered webhooks, so a server that was down
# hears the backlog soon after it starts. It is then marked failed, with that reason, so the
# agent sees it was not sent and a supervisor can send it again: settled, never resent blindly.
UNCONFIRMED_AFTER_S: Final = 15 * 60.0
UNCONFIRMED_REASON: Final = (
    "the provider never confirmed this message: it was not sent (send it again if needed)"
)


def settle_unconfirmed(
    db: ServerDatabase, *, now_ms: int, up_since_ms: int, after_s: float = UNCONFIRMED_AFTER_S
) -> int:
    """Mark failed the "unknown" sends nothing confirmed within ``after_s`` of the server
    hearing webhooks (see ``UNCONFIRMED_AFTER_S``); returns how many."""
    cutoff = now_ms - int(after_s * 1000)
    if up_since_ms > cutoff:
        return 0  # not up long enough to have heard the receipts of older sends
    settled = 0
    with db.system() as conn:
        rows = conn.execute(
            text(
                "SELECT id, workspace_id FROM messages WHERE status = 'unknown'"
                " AND direction = 'out' AND provider_message_id IS NULL AND ts < :cutoff"
                " ORDER BY ts LIMIT 500 FOR UPDATE SKIP LOCKED"
            ),
            {"cutoff": cutoff},
        ).all()
        for message_id, ws in rows:
            if set_status(conn, int(ws), message_id, DeliveryStatus.FAILED, UNCONFIRMED_REASON):
                settled += 1
    if settled:
        log.warning("%d unconfirmed send(s) marked failed", settled)
    return settled


def retry_message(
    conn: Connection,
    message_id: uuid.UUID,
    principal: Actor,
    *,
    ts_ms: int | None = None,
) -> uuid.UUID:
    """Queue a new copy of a failed or unknown outgoing text message; returns the copy's id.

    A copy, not a re-queue: "failed" is terminal and statuses never move backwards (every
    desktop already shows the failed bubble, with its reason), and an "unknown" original may
    still be settled by a late receipt, so it must keep its identity. The agent sees the old
    bubble and the new one, as in solo mode's "send again". Only supervisors may do it.
    """
    from sync.domain.ids import uuid7

    if not principal.is_supervisor:
        raise RetryRefused("only a supervisor may send a message again")
    row = conn.execute(
        text(
            "SELECT m.account_id, m.conversation_id, m.direction, m.type, m.body, m.status,"
            " m.reply_to, c.chat_key FROM messages m"
            " JOIN conversations c ON c.id = m.conversation_id"
            " WHERE m.id = :id AND m.workspace_id = :ws AND c.workspace_id = :ws"
            " AND NOT m.deleted"
        ),
        {"id": message_id, "ws": principal.workspace_id},
    ).first()
    if row is None:
        raise RetryRefused("that message does not exist")
    account_id, conversation_id, direction, type_, body, status, reply_to, chat_key = row
    if direction != Direction.OUT.value or status not in (
        DeliveryStatus.FAILED.value,
        DeliveryStatus.UNKNOWN.value,
    ):
        raise RetryRefused("only a message that failed or may not have been sent can be resent")
    if type_ != MessageType.TEXT.value or not body:
        raise RetryRefused("only text messages can be sent again")
    now = int(time.time() * 1000) if ts_ms is None else ts_ms
    copy = uuid.UUID(uuid7(now))
    enqueue_send(
        conn,
        message_id=copy,
        workspace_id=principal.workspace_id,
        account_id=int(account_id),
        conversation_id=int(conversation_id),
        recipient=str(chat_key),
        body=str(body),
        author_user_id=principal.user_id,
        reply_to=reply_to,
        ts_ms=now,
    )
    return copy
