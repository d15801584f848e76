"""The team's outbox on Postgres: claim, record what came of a send, recover, settle.

Claims use ``FOR UPDATE SKIP LOCKED``, so several dispatchers (tasks of one server, or servers)
never take the same entry, and only the oldest entry of each conversation can be claimed, so a
conversation's messages go out in the order they were written. The rules of when to send and
what an outcome means are the engine's dispatcher (``sync/engine/dispatcher.py``).

These are the module functions ``TeamStore`` (``store.py``) calls off the event loop; the
engine's ``Store`` protocol (``sync/engine/store.py``) documents the contract they keep. Times
are the caller's clock when given (``now_ms``), else Postgres's ``now()``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection
from dataclasses import replace
from typing import Any, Protocol

from sqlalchemy import Connection, text

from sync.domain.changes import ChangeSet
from sync.domain.messages import OutgoingMessage, template_of
from sync.domain.models import DeliveryStatus, MessageType
from sync.domain.outbox import (
    INTERRUPTED_REASON,
    UNCONFIRMED_REASON,
    Admit,
    Claim,
    Outcome,
    SendRefused,
    check_resendable,
)
from sync.domain.text import clean_text
from sync.store.team.database import ServerDatabase
from sync.store.team.ingest import adopt_provider_id, enqueue_send, set_status

log = logging.getLogger(__name__)


# Re-exported: the dispatcher and the tests name them from here.
__all__ = [
    "UNCONFIRMED_REASON",
    "Actor",
    "Claim",
    "Outcome",
    "RetryRefused",
    "account_rows",
    "claim_next",
    "copy_for_resend",
    "fail_unconfirmed",
    "next_due_ms",
    "record_outcome",
    "recover",
    "renew_leases",
    "retry_message",
]


class RetryRefused(SendRefused):
    """A retry that may not be made (not a supervisor, wrong kind of message); says why."""


class Actor(Protocol):
    """Who asks (a signed-in user of a workspace)."""

    workspace_id: int
    user_id: int

    @property
    def is_supervisor(self) -> bool: ...


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

# The caller's clock when it gives one (``now_ms``), else the database's.
_NOW = "COALESCE(to_timestamp(CAST(:now AS double precision) / 1000), now())"

_CANDIDATE = f"""
{_HEADS}
SELECT o.message_id, o.workspace_id, o.account_id, o.recipient
FROM heads h JOIN outbox o ON o.message_id = h.message_id
WHERE {_CLAIMABLE} AND o.next_attempt_at <= {_NOW}
ORDER BY o.next_attempt_at, o.created_at, o.message_id
LIMIT 1
FOR UPDATE OF o SKIP LOCKED
"""

_CLAIM = """
UPDATE outbox SET state = 'sending', attempts = attempts + 1,
    lease_until = to_timestamp(CAST(:lease AS double precision) / 1000)
WHERE message_id = :id AND state = 'pending'
RETURNING message_id, workspace_id, account_id, conversation_id, recipient, attempts
"""

_NEXT_DUE = f"""
{_HEADS}
SELECT EXTRACT(EPOCH FROM (min(o.next_attempt_at) - now())),
    EXTRACT(EPOCH FROM min(o.next_attempt_at)) * 1000
FROM heads h JOIN outbox o ON o.message_id = h.message_id WHERE {_CLAIMABLE}
"""


def blocked_keys(blocked: Collection[tuple[int, str]]) -> list[str]:
    """(number, recipient) pairs as the claim's SQL matches them (``"account:recipient"``)."""
    return [f"{account_id}:{recipient}" for account_id, recipient in blocked]


def claim_next(
    db: ServerDatabase,
    accounts: Collection[int],
    blocked: Collection[str],
    *,
    now_ms: int | None = None,
    lease_until_ms: int | None = None,
    admit: Admit | None = None,
) -> Claim | None:
    """Claim the next due entry of ``accounts`` (recipients ``"account:recipient"`` in
    ``blocked`` excluded, see ``blocked_keys``) and commit it ``sending``, leased until
    ``lease_until_ms`` (None: no lease); None when nothing is due by ``now_ms`` (the
    database's now when None), or when ``admit`` says its send must wait (see
    ``Store.claim_next``)."""
    with db.system() as conn:
        candidate = conn.execute(
            text(_CANDIDATE),
            {"accounts": list(accounts), "blocked": list(blocked), "now": now_ms},
        ).first()
        if candidate is None:
            return None
        if admit is not None and not _admitted(conn, admit, *candidate[1:]):
            return None
        row = conn.execute(text(_CLAIM), {"id": candidate[0], "lease": lease_until_ms}).first()
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
    return Claim(
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
        conversation_id=int(conversation_id),
        recipient=str(recipient),
        attempts=int(attempts),
        workspace_id=int(ws),
    )


def _admitted(conn: Connection, admit: Admit, ws: int, account_id: int, recipient: str) -> bool:
    """Ask pacing whether this send may go now, under the lock of its number's and its
    recipient's pacing rows (made first if missing, so that even a first send takes turns);
    write the times it spends if so."""
    keys = {"ws": ws, "a": account_id, "r": recipient}
    conn.execute(
        text(
            "INSERT INTO pacing (workspace_id, account_id, recipient) VALUES (:ws, :a, ''),"
            " (:ws, :a, :r) ON CONFLICT (account_id, recipient) DO NOTHING"
        ),
        keys,
    )
    times: dict[str, float | None] = dict(
        conn.execute(
            text(
                "SELECT recipient, tat FROM pacing WHERE account_id = :a"
                " AND recipient IN ('', :r) ORDER BY recipient FOR UPDATE"
            ),
            keys,
        ).all()
    )
    admission = admit(account_id, recipient, times.get(""), times.get(recipient))
    if admission is None:
        return False
    for key, tat in (("", admission[0]), (recipient, admission[1])):
        if tat is not None:
            conn.execute(
                text("UPDATE pacing SET tat = :t WHERE account_id = :a AND recipient = :r"),
                {"t": tat, "a": account_id, "r": key},
            )
    return True


def pacing_state(
    db: ServerDatabase, accounts: Collection[int], after: float
) -> dict[tuple[int, str], float]:
    """The pacing times of ``accounts`` later than ``after`` (``Store.pacing_state``)."""
    with db.system() as conn:
        rows = conn.execute(
            text(
                "SELECT account_id, recipient, tat FROM pacing"
                " WHERE account_id = ANY(CAST(:a AS bigint[])) AND tat > :after"
            ),
            {"a": list(accounts), "after": after},
        ).all()
    return {(int(a), str(r)): float(t) for a, r, t in rows}


def hold_pacing(db: ServerDatabase, account_id: int, until: float, recipient: str = "") -> None:
    """A pacing time becomes at least ``until`` (``Store.hold_pacing``)."""
    with db.system() as conn:
        conn.execute(
            text(
                "INSERT INTO pacing (workspace_id, account_id, recipient, tat)"
                " SELECT workspace_id, id, :r, :t FROM accounts WHERE id = :a"
                " ON CONFLICT (account_id, recipient)"
                " DO UPDATE SET tat = greatest(coalesce(pacing.tat, excluded.tat), excluded.tat)"
            ),
            {"a": account_id, "t": until, "r": recipient},
        )


def forget_pacing(db: ServerDatabase, before: float) -> None:
    """Drop the pacing times earlier than ``before`` (``Store.forget_pacing``)."""
    with db.system() as conn:
        conn.execute(text("DELETE FROM pacing WHERE tat < :b OR tat IS NULL"), {"b": before})


def _next_due(
    db: ServerDatabase, accounts: Collection[int], blocked: Collection[str]
) -> tuple[float, float] | None:
    with db.system() as conn:
        row = conn.execute(
            text(_NEXT_DUE), {"accounts": list(accounts), "blocked": list(blocked)}
        ).one()
    return None if row[0] is None else (float(row[0]), float(row[1]))


def next_due_ms(
    db: ServerDatabase, accounts: Collection[int], blocked: Collection[str]
) -> int | None:
    """When (epoch ms) the next claimable entry is due; None when there is none."""
    due = _next_due(db, accounts, blocked)
    return None if due is None else round(due[1])


def record_outcome(
    db: ServerDatabase, claim: Claim, outcome: Outcome, *, now_ms: int | None = None
) -> ChangeSet:
    """Write what came of a claimed send (one transaction); a retry is due ``delay_s`` after
    ``now_ms`` (the database's now when None). Returns what changed."""
    if outcome.reason:
        # The reason quotes the provider's answer: cleaned like every stored text.
        outcome = replace(outcome, reason=clean_text(outcome.reason))
    ws = claim.workspace_id
    message_id = uuid.UUID(claim.message_id)
    touched = {claim.message_id}
    with db.system() as conn:
        entry = conn.execute(
            text(
                "SELECT state FROM outbox WHERE message_id = :id AND workspace_id = :ws FOR UPDATE"
            ),
            {"id": message_id, "ws": ws},
        ).first()
        if entry is None or entry[0] != "sending":
            # Recovered meanwhile (marked unknown): a late "sent" still teaches us its id.
            if outcome.kind != "sent" or outcome.provider_message_id is None:
                return ChangeSet()
            touched |= _settle_sent(conn, claim, outcome.provider_message_id)
            return _changes(claim, touched)
        if outcome.kind == "retry":
            current = conn.execute(
                text(
                    "SELECT status, provider_message_id FROM messages"
                    " WHERE id = :id AND workspace_id = :ws"
                ),
                {"id": message_id, "ws": ws},
            ).one()
            if current[1] is None and DeliveryStatus(current[0]) in (
                DeliveryStatus.SENDING,
                DeliveryStatus.QUEUED,
            ):
                conn.execute(
                    text(
                        "UPDATE outbox SET state = 'pending', last_error = :e,"
                        f" next_attempt_at = {_NOW} + make_interval(secs => :d)"
                        " WHERE message_id = :id AND workspace_id = :ws"
                    ),
                    {
                        "e": outcome.reason,
                        "d": outcome.delay_s,
                        "now": now_ms,
                        "id": message_id,
                        "ws": ws,
                    },
                )
                set_status(conn, ws, message_id, DeliveryStatus.QUEUED, outcome.reason, force=True)
                return _changes(claim, touched)
            # A receipt or an echo already proved the provider took it: done, never resent.
        conn.execute(
            text("DELETE FROM outbox WHERE message_id = :id AND workspace_id = :ws"),
            {"id": message_id, "ws": ws},
        )
        if outcome.kind == "sent" and outcome.provider_message_id:
            touched |= _settle_sent(conn, claim, outcome.provider_message_id)
        elif outcome.kind == "failed":
            set_status(conn, ws, message_id, DeliveryStatus.FAILED, outcome.reason)
        elif outcome.kind == "unknown":
            set_status(conn, ws, message_id, DeliveryStatus.UNKNOWN, outcome.reason)
    return _changes(claim, touched)


def _changes(claim: Claim, messages: set[str]) -> ChangeSet:
    return ChangeSet(
        accounts=frozenset({claim.account_id}),
        conversations=frozenset({claim.conversation_id}),
        messages=frozenset(messages),
    )


def _settle_sent(conn: Connection, claim: Claim, provider_id: str) -> set[str]:
    """Give our message the provider's id and "sent"; returns the echo it folded in, if any."""
    ws = claim.workspace_id
    message_id = uuid.UUID(claim.message_id)
    echo = adopt_provider_id(conn, ws, claim.account_id, message_id, provider_id)
    set_status(conn, ws, message_id, DeliveryStatus.SENT, None)
    if echo is None:
        return set()
    set_status(conn, ws, message_id, echo[1], None)  # receipts may have reached the echo first
    return {str(echo[0])}


def renew_leases(db: ServerDatabase, message_ids: Collection[str], until_ms: int) -> None:
    """Extend to ``until_ms`` the leases of these claimed sends (those still ``sending``)."""
    if not message_ids:
        return
    with db.system() as conn:
        conn.execute(
            text(
                "UPDATE outbox SET lease_until = to_timestamp(CAST(:u AS double precision) / 1000)"
                " WHERE state = 'sending' AND message_id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"u": until_ms, "ids": [uuid.UUID(m) for m in message_ids]},
        )


def recover(db: ServerDatabase, *, expired_by_ms: int | None) -> ChangeSet:
    """Entries left ``sending`` by a dispatcher that stopped become ``unknown``, never resent.

    Those whose lease ended before ``expired_by_ms`` (a claim without a lease counts as ended);
    with None, every one (the caller knows no dispatcher is running). Rows another transaction
    holds (a claim being written, a crashed process's transaction Postgres has not ended yet)
    are left for the next call. Returns what changed.
    """
    with db.system() as conn:
        rows = conn.execute(
            text(
                "SELECT message_id, workspace_id, account_id, conversation_id FROM outbox"
                " WHERE state = 'sending' AND (CAST(:exp AS bigint) IS NULL"
                " OR lease_until IS NULL"
                " OR lease_until < to_timestamp(CAST(:exp AS double precision) / 1000))"
                " FOR UPDATE SKIP LOCKED"
            ),
            {"exp": expired_by_ms},
        ).all()
        for message_id, ws, _account, _conversation in rows:
            conn.execute(
                text("DELETE FROM outbox WHERE message_id = :id AND workspace_id = :ws"),
                {"id": message_id, "ws": ws},
            )
            set_status(conn, int(ws), message_id, DeliveryStatus.UNKNOWN, INTERRUPTED_REASON)
    return ChangeSet(
        accounts=frozenset(int(r[2]) for r in rows),
        conversations=frozenset(int(r[3]) for r in rows),
        messages=frozenset(str(r[0]) for r in rows),
    )


def fail_unconfirmed(db: ServerDatabase, before_ms: int) -> ChangeSet:
    """Mark failed (``UNCONFIRMED_REASON``) the "unknown" sends with no provider id written
    before ``before_ms`` (at most 500 a call, the oldest first); returns what changed."""
    accounts: set[int] = set()
    conversations: set[int] = set()
    messages: set[str] = set()
    with db.system() as conn:
        rows = conn.execute(
            text(
                "SELECT id, workspace_id, account_id, conversation_id FROM messages"
                " WHERE status = 'unknown' AND direction = 'out' AND provider_message_id IS NULL"
                " AND ts < :cutoff ORDER BY ts LIMIT 500 FOR UPDATE SKIP LOCKED"
            ),
            {"cutoff": before_ms},
        ).all()
        for message_id, ws, account_id, conversation_id in rows:
            if set_status(conn, int(ws), message_id, DeliveryStatus.FAILED, UNCONFIRMED_REASON):
                accounts.add(int(account_id))
                conversations.add(int(conversation_id))
                messages.add(str(message_id))
    if messages:
        log.warning("%d unconfirmed send(s) marked failed", len(messages))
    return ChangeSet(frozenset(accounts), frozenset(conversations), frozenset(messages))


def retry_message(
    conn: Connection,
    message_id: uuid.UUID,
    principal: Actor,
    *,
    ts_ms: int | None = None,
) -> uuid.UUID:
    """A supervisor's "send again": a new queued copy of a failed or unknown outgoing text
    message (``copy_for_resend``); returns the copy's id.

    Only supervisors may do it: a team's policy, kept here rather than in the store's shared
    verb, which any caller (the engine's automations, solo mode) uses with its own policy.
    """
    from sync.domain.ids import uuid7

    if not principal.is_supervisor:
        raise RetryRefused("only a supervisor may send a message again", "supervisor_only")
    now = int(time.time() * 1000) if ts_ms is None else ts_ms
    copy = uuid.UUID(uuid7(now))
    copy_for_resend(
        conn,
        message_id,
        copy,
        workspace_id=principal.workspace_id,
        author_user_id=principal.user_id,
        ts_ms=now,
    )
    return copy


def copy_for_resend(
    conn: Connection,
    message_id: uuid.UUID,
    copy_id: uuid.UUID,
    *,
    workspace_id: int,
    author_user_id: int | None,
    ts_ms: int,
    due_ms: int | None = None,
) -> None:
    """Queue ``copy_id``, a new copy of a failed or unknown outgoing text message, in
    ``conn``'s transaction (queuing the same ``copy_id`` again does nothing).

    A copy, not a re-queue: "failed" is terminal and statuses never move backwards (every
    desktop already shows the failed bubble, with its reason), and an "unknown" original may
    still be settled by a late receipt, so it must keep its identity. The agent sees the old
    bubble and the new one, as in solo mode's "send again".
    """
    row = conn.execute(
        text(
            "SELECT m.account_id, m.conversation_id, m.direction, m.type, m.body, m.status,"
            " m.reply_to, c.chat_key FROM messages m"
            " JOIN conversations c ON c.id = m.conversation_id"
            " WHERE m.id = :id AND m.workspace_id = :ws AND c.workspace_id = :ws"
            " AND NOT m.deleted"
        ),
        {"id": message_id, "ws": workspace_id},
    ).first()
    if row is None:
        raise RetryRefused("that message does not exist", "gone")
    account_id, conversation_id, direction, type_, body, status, reply_to, chat_key = row
    check_resendable(direction, status, type_, body, RetryRefused)
    enqueue_send(
        conn,
        message_id=copy_id,
        workspace_id=workspace_id,
        account_id=int(account_id),
        conversation_id=int(conversation_id),
        recipient=str(chat_key),
        body=str(body),
        author_user_id=author_user_id,
        reply_to=reply_to,
        ts_ms=ts_ms,
        due_ms=due_ms,
    )
