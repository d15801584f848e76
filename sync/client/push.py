"""This desktop's commands: written locally at once, pushed to the server in order, once.

Each user action (send, mark read, claim, note, label, automation switch) becomes a row of
``team_commands`` with a client-made UUIDv7, in the same local transaction as its visible local
effect (a send's message shows at once with status "queued"). The pusher sends pending rows in
``seq`` order and stops at the first batch that cannot be delivered; a batch whose answer was
lost is pushed again and the server, which applies each id once, returns the stored results.
Everything here runs on the database thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sync.domain.changes import ChangeSet
from sync.domain.ids import uuid7
from sync.domain.messages import Message, TemplateRef, template_media, template_spec
from sync.domain.models import MessageType
from sync.domain.outbox import SendRefused, text_to_send
from sync.domain.text import clean_text
from sync.store.local.outbox import queued_message, write_queued_message

if TYPE_CHECKING:
    from sync.store.local.local_cache import LocalCache

# Commands per push: the server's most (MAX_BATCH), which it applies in one transaction, so
# a long queue costs it one commit per 100 commands.
BATCH: Final = 100
# And at most this much payload per push: far below the server's limit on a body (8 MB) even
# when the commands hold long texts.
BATCH_BYTES: Final = 2 * 1024 * 1024
# The payload keys of ``queue_command`` that hold texts the user typed.
_TEXT_KEYS: Final = frozenset({"text", "label", "name"})


class CommandError(SendRefused):
    """A command that cannot be queued (empty text, unknown conversation); ``code`` names the
    reason for the interface (``SendRefused``)."""


@dataclass(frozen=True, slots=True)
class PendingCommand:
    """A command waiting to be pushed."""

    seq: int
    id: str
    kind: str
    payload: dict[str, Any]

    def wire(self) -> dict[str, Any]:
        """What the push endpoint receives."""
        return {**self.payload, "id": self.id, "kind": self.kind}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _queue(cursor: Any, kind: str, payload: dict[str, Any], now_ms: int) -> str:
    command_id = uuid7()
    cursor.execute(
        "INSERT INTO team_commands (id, kind, payload, created_at) VALUES (?, ?, ?, ?)",
        (command_id, kind, json.dumps(payload), now_ms),
    )
    return command_id


def _conversation_account(cursor: Any, conversation_id: int) -> int:
    row = cursor.execute(
        "SELECT account_id FROM conversations WHERE id = ?", (conversation_id,)
    ).fetchone()
    if row is None:
        raise CommandError(f"conversation {conversation_id} is not in the cache")
    return int(row[0])


def queue_send(
    cache: LocalCache,
    conversation_id: int,
    text: str,
    *,
    reply_to: str | None = None,
    author_user_id: int | None = None,
    template: TemplateRef | None = None,
) -> tuple[Message, ChangeSet]:
    """The message, shown at once as queued, and its send command, in one local transaction.

    With ``template``, an approved template goes out instead and ``text`` is what the customer
    will read (the template filled in): what the bubble, the list and search show. The text is
    cleaned first (``clean_text``), as the server will clean it.
    """
    text = text_to_send(text, CommandError)
    type_ = MessageType.TEXT if template is None else MessageType.TEMPLATE
    ts = _now_ms()
    message_id = uuid7(ts)
    cursor = cache.raw_cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            account_id = _conversation_account(cursor, conversation_id)
            seq = write_queued_message(
                cursor,
                message_id,
                account_id,
                conversation_id,
                type_,
                text,
                ts,
                reply_to=reply_to,
                media=None if template is None else template_media(template),
                author_user_id=author_user_id,
            )
            payload: dict[str, Any] = {
                "conversation_id": conversation_id,
                "text": text,
                "message_id": message_id,
            }
            if reply_to is not None:
                payload["reply_to"] = reply_to
            if template is not None:
                payload["template"] = template_spec(template)
            _queue(cursor, "send", payload, ts)
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


def queue_command(
    cache: LocalCache, kind: str, payload: dict[str, Any], *, user_id: int | None = None
) -> tuple[str, ChangeSet]:
    """Queue a command other than a send, with its optimistic local effect; return its id.

    Its texts (a note, a label, an automation's name) are cleaned first (``clean_text``), so the
    local effect shows what the server will store.
    """
    payload = {
        key: clean_text(value) if key in _TEXT_KEYS and isinstance(value, str) else value
        for key, value in payload.items()
    }
    now = _now_ms()
    changes = ChangeSet()
    with cache.transaction() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            if "conversation_id" in payload:
                conversation_id = int(payload["conversation_id"])
                account_id = _conversation_account(cursor, conversation_id)
                changes = ChangeSet(
                    accounts=frozenset({account_id}), conversations=frozenset({conversation_id})
                )
                if kind == "mark_read":
                    cursor.execute(
                        "UPDATE conversations SET unread_count = 0 WHERE id = ?", (conversation_id,)
                    )
                if kind in ("claim", "assign") and "expected_version" not in payload:
                    (version,) = cursor.execute(
                        "SELECT version FROM conversations WHERE id = ?", (conversation_id,)
                    ).fetchone()
                    payload = {**payload, "expected_version": version}
                if kind == "claim":
                    cursor.execute(
                        "UPDATE conversations SET assigned_user_id = ? WHERE id = ?",
                        (user_id, conversation_id),
                    )
                elif kind == "note":
                    payload = {**payload, "note_id": payload.get("note_id") or uuid7(now)}
                    cursor.execute(
                        "INSERT INTO notes (id, account_id, conversation_id, author_user_id, body,"
                        " ts) VALUES (?, ?, ?, ?, ?, ?)",
                        (payload["note_id"], account_id, conversation_id, user_id,
                         payload["text"], now),
                    )  # fmt: skip
                elif kind == "label":
                    row = cursor.execute(
                        "SELECT labels FROM conversations WHERE id = ?", (conversation_id,)
                    ).fetchone()
                    labels = [x for x in json.loads(row[0]) if x != payload["label"]]
                    if payload.get("op", "add") == "add":
                        labels.append(payload["label"])
                    cursor.execute(
                        "UPDATE conversations SET labels = ? WHERE id = ?",
                        (json.dumps(labels), conversation_id),
                    )
            command_id = _queue(cursor, kind, payload, now)
        finally:
            cursor.close()
    return command_id, changes


def pending(
    cache: LocalCache, limit: int = BATCH, max_bytes: int = BATCH_BYTES
) -> list[PendingCommand]:
    """The oldest commands waiting to be pushed, in the order they were made: at most ``limit``
    of them, with at most ``max_bytes`` of payload together (but always the first)."""
    rows = cache.conn.exec_driver_sql(
        "SELECT seq, id, kind, payload FROM team_commands WHERE state = 'pending'"
        " ORDER BY seq LIMIT ?",
        (limit,),
    ).all()
    commands: list[PendingCommand] = []
    size = 0
    for seq, command_id, kind, payload in rows:
        # The payload is stored as ASCII JSON (non-ASCII escaped): at least as long as its UTF-8
        # on the wire.
        size += len(payload)
        if commands and size > max_bytes:
            break
        commands.append(PendingCommand(seq, command_id, kind, json.loads(payload)))
    return commands


def pending_count(cache: LocalCache) -> int:
    """How many commands wait to be pushed (the banner's "N waiting")."""
    row = cache.conn.exec_driver_sql(
        "SELECT COUNT(*) FROM team_commands WHERE state = 'pending'"
    ).one()
    return int(row[0])


def record_results(
    cache: LocalCache, commands: Sequence[PendingCommand], results: Sequence[dict[str, Any]]
) -> ChangeSet:
    """Mark pushed commands done (or failed) and apply what their results say locally.

    A refused send shows as failed with the server's reason; a claim gets the server's version,
    or, on a conflict, the current owner back (the optimistic local claim is undone).
    """
    by_id = {r.get("id"): r for r in results}
    changes: list[ChangeSet] = []
    with cache.transaction() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            for command in commands:
                result = by_id.get(command.id)
                if result is None:
                    continue  # not answered: stays pending, pushed again
                outcome = result.get("result")
                state = "done" if outcome in ("ok", "conflict") else "failed"
                cursor.execute(
                    "UPDATE team_commands SET state = ?, result = ? WHERE seq = ?",
                    (state, json.dumps(result), command.seq),
                )
                payload = command.payload
                if command.kind == "send" and state == "failed":
                    row = cursor.execute(
                        "UPDATE messages SET status = 'failed', error = ? WHERE id = ?"
                        " AND status = 'queued' RETURNING account_id, conversation_id",
                        (str(result.get("error") or outcome), payload["message_id"]),
                    ).fetchone()
                    if row is not None:
                        changes.append(ChangeSet.of_message(row[0], row[1], payload["message_id"]))
                elif command.kind in ("claim", "assign") and "version" in result:
                    cursor.execute(
                        "UPDATE conversations SET assigned_user_id = ?, version = ?"
                        " WHERE id = ? AND version <= ?",
                        (
                            result.get("assigned_user_id"),
                            result["version"],
                            payload["conversation_id"],
                            result["version"],
                        ),
                    )
                    changes.append(
                        ChangeSet(conversations=frozenset({int(payload["conversation_id"])}))
                    )
        finally:
            cursor.close()
    return ChangeSet.merge(changes)


def command_outcome(cache: LocalCache, command_id: str) -> dict[str, Any] | None:
    """The server's answer to a queued command (``result``, and ``error`` when refused), or
    None while it waits to be pushed."""
    row = cache.conn.exec_driver_sql(
        "SELECT state, result FROM team_commands WHERE id = ?", (command_id,)
    ).first()
    if row is None or row[0] == "pending" or not row[1]:
        return None
    outcome: dict[str, Any] = json.loads(row[1])
    return outcome
