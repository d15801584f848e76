"""Pushed client commands, each applied once, in the order the client made them.

A push is a batch of commands (``apply_commands``), applied in one agent transaction (row-level
security applies): one commit for the whole batch instead of one per command. Each command
carries a client-made UUIDv7 ``id``. The batch's rows in ``commands`` are inserted first, with
one statement (``ON CONFLICT DO NOTHING``): a command pushed again (the answer was lost, the
client retried) finds its row and gets the stored result back, and two concurrent pushes of one
id serialize on the primary key before either applies anything, so the effect happens once.

Each command then runs in its own savepoint, so a command that is refused (by our checks or by
the database) undoes only itself, row included, and the others still apply, in order. A run of
consecutive sends (the agents' replies, by far the most common command) is queued with a few
statements for all of them (``enqueue_sends``), in one savepoint; should the database refuse
that, each of them runs alone in its own savepoint, so again only the refused one fails. If the
transaction fails as a whole (the connection is lost), nothing of the batch is applied
(``BatchFailed``: the endpoint answers 503 and the client pushes the same commands again).

Results, one per command, in order:

- ``ok``: applied (extra fields say what, e.g. the conversation's new ``version``);
- ``conflict``: a claim or assignment whose ``expected_version`` is stale; the current owner and
  version come back, nothing changes (an agent never silently steals a conversation);
- ``forbidden``: the conversation or number is not one the user may see (or the action needs a
  supervisor); nothing is written, not even the command row;
- ``invalid``: malformed, unknown kind, refused by the database, or an id already used by
  someone else; nothing written.

``ok`` and ``conflict`` are stored (a replay returns them, with ``"replayed": true``);
``forbidden`` and ``invalid`` are not.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, Row, text
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from sync import faults
from sync.domain.text import clean_text
from sync.server.auth import Principal, visible_accounts
from sync.store.team.database import ServerDatabase
from sync.store.team.ingest import EnqueueError, OutgoingMessage, enqueue_sends

MAX_BATCH: Final = 100
MAX_TEXT: Final = 65_536
MAX_LABEL: Final = 64

Result = dict[str, Any]

# Every statement is parsed into a ``TextClause`` once per process, not once per command.
_sql: Final = functools.cache(text)


class Refused(Exception):
    """A command that is not applied: ``result`` is ``forbidden`` or ``invalid``."""

    def __init__(self, result: str, detail: str) -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail

    def as_result(self) -> Result:
        """The command's result."""
        return {"result": self.result, "error": self.detail}


class BatchFailed(Exception):
    """A batch whose transaction failed as a whole (the connection was lost, a deadlock, no
    connection free in time): none of it was applied, or, when only the commit's answer was
    lost, all of it. Either way the client pushes the same commands again and gets one result
    each, each command applied once."""


def _uuid(value: object, what: str) -> uuid.UUID:
    if not isinstance(value, str) or len(value) != 36:
        raise Refused("invalid", f"{what} must be a UUID")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Refused("invalid", f"{what} must be a UUID") from None


def _int(raw: dict[str, Any], key: str) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 1 << 62:
        raise Refused("invalid", f"{key} must be a positive integer")
    return value


def _optional_int(raw: dict[str, Any], key: str) -> int | None:
    return None if raw.get(key) is None else _int(raw, key)


def _text(raw: dict[str, Any], key: str, limit: int) -> str:
    """A command's text (a message, a note, a label, an automation's name), cleaned first.

    ``clean_text`` (no NUL, U+FFFD for a lone surrogate) as every stored text: Postgres refuses
    both, and a text of nothing but NUL is then refused as empty instead of by the database.
    """
    value = raw.get(key)
    if isinstance(value, str):
        value = clean_text(value)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Refused("invalid", f"{key} must be non-empty text of at most {limit} characters")
    return value


def _now_ms() -> int:
    return int(time.time() * 1000)


class _Batch:
    """One push's transaction, under the agent's scope: what its commands share."""

    def __init__(self, conn: Connection, principal: Principal) -> None:
        self.conn = conn
        self.principal = principal
        self._visible: list[int] | None = None

    def visible(self) -> list[int]:
        """The numbers the user may see, asked once per batch (no command changes them)."""
        if self._visible is None:
            self._visible = visible_accounts(self.conn, self.principal)
        return self._visible

    def conversations(self, ids: Iterable[int]) -> dict[int, Row[Any]]:
        """The conversations among ``ids`` the user may see, locked (in id order, so that two
        batches never wait for each other in a circle)."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = self.conn.execute(
            _sql(
                "SELECT id, account_id, chat_key, version, assigned_user_id FROM conversations"
                " WHERE id = ANY(:c) AND workspace_id = :ws AND account_id = ANY(:visible)"
                " AND NOT deleted ORDER BY id FOR UPDATE"
            ),
            {"c": wanted, "ws": self.principal.workspace_id, "visible": self.visible()},
        )
        return {row.id: row for row in rows}


def _conversation(batch: _Batch, raw: dict[str, Any]) -> Any:
    """The conversation a command names, locked, if the user may see it; else ``forbidden``."""
    conversation_id = _int(raw, "conversation_id")
    row = batch.conversations([conversation_id]).get(conversation_id)
    if row is None:
        # The same answer whether it does not exist or belongs to a number the user may not see.
        raise Refused("forbidden", "no such conversation")
    return row


@dataclass(frozen=True, slots=True)
class _Command:
    """A command that passed the checks that need no database."""

    id: uuid.UUID
    shown: str  # the id as the client wrote it: what a refusal answers with
    kind: str
    raw: dict[str, Any]


def _sends(batch: _Batch, commands: Sequence[_Command]) -> list[Result]:
    """A run of sends, queued together (``enqueue_sends``); one result each, in order.

    Each is checked as it would be alone (its conversation first: ``forbidden``; then its text,
    template and ids: ``invalid``), and those that pass are queued with a few statements for
    all of them. Never raises ``Refused``; the database's refusals propagate.
    """
    wanted: list[int | Refused] = []
    for command in commands:
        try:
            wanted.append(_int(command.raw, "conversation_id"))
        except Refused as refused:
            wanted.append(refused)
    conversations = batch.conversations(c for c in wanted if isinstance(c, int))
    results: list[Result] = []
    queued: list[OutgoingMessage] = []
    for command, conversation_id in zip(commands, wanted, strict=True):
        try:
            if isinstance(conversation_id, Refused):
                raise conversation_id
            message = _outgoing(batch, command, conversations.get(conversation_id))
        except Refused as refused:
            results.append(refused.as_result())
            continue
        queued.append(message)
        results.append({"result": "ok", "message_id": str(message.message_id)})
    enqueue_sends(batch.conn, batch.principal.workspace_id, queued)
    return results


def _outgoing(batch: _Batch, command: _Command, conversation: Any) -> OutgoingMessage:
    """The message a send queues in ``conversation`` (None: one the user may not see)."""
    if conversation is None:
        raise Refused("forbidden", "no such conversation")
    raw = command.raw
    body = _text(raw, "text", MAX_TEXT)
    template = _template(raw.get("template"))
    message_id = _uuid(raw["message_id"], "message_id") if raw.get("message_id") else command.id
    reply_to = raw.get("reply_to")
    if reply_to is not None and (not isinstance(reply_to, str) or len(reply_to) > 256):
        raise Refused("invalid", "reply_to must be a message id")
    return OutgoingMessage(
        message_id=message_id,
        account_id=conversation.account_id,
        conversation_id=conversation.id,
        recipient=conversation.chat_key,
        body=body,
        author_user_id=batch.principal.user_id,
        ts_ms=_now_ms(),
        reply_to=reply_to,
        template=template,
    )


# A template's name and language code, as Meta allows them; parameters are short texts.
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
_TEMPLATE_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(_[A-Za-z0-9]{2,8})?")
MAX_TEMPLATE_PARAMETERS = 30


def _template(value: object) -> dict[str, Any] | None:
    """A send's template (an approved template instead of free text), checked; None: text.

    ``text`` is then what the customer will read (the desktop fills the template's text): it is
    what the team sees; what reaches the customer is the template and its parameters.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Refused("invalid", "template must be an object")
    name, language = value.get("name"), value.get("language")
    if not isinstance(name, str) or not _TEMPLATE_NAME.fullmatch(name):
        raise Refused("invalid", "template.name must be a template's name")
    if not isinstance(language, str) or not _TEMPLATE_LANGUAGE.fullmatch(language):
        raise Refused("invalid", "template.language must be a language code such as pt_BR")
    lists: dict[str, list[str]] = {}
    for key in ("body_parameters", "header_parameters"):
        items = value.get(key, [])
        if isinstance(items, list):
            items = [clean_text(x) if isinstance(x, str) else x for x in items]
        if (
            not isinstance(items, list)
            or len(items) > MAX_TEMPLATE_PARAMETERS
            or not all(isinstance(x, str) and 0 < len(x) <= 1024 for x in items)
        ):
            raise Refused("invalid", f"template.{key} must be a list of short texts")
        lists[key] = items
    return {"name": name, "language": language, **lists}


def _mark_read(batch: _Batch, raw: dict[str, Any], _id: uuid.UUID) -> Result:
    conn, principal = batch.conn, batch.principal
    conversation = _conversation(batch, raw)
    conn.execute(
        _sql(
            "UPDATE conversations SET unread_count = 0"
            " WHERE id = :c AND workspace_id = :ws AND unread_count > 0"
        ),
        {"c": conversation.id, "ws": principal.workspace_id},
    )
    return {"result": "ok"}


def _assign(batch: _Batch, raw: dict[str, Any], _id: uuid.UUID) -> Result:
    conn, principal = batch.conn, batch.principal
    conversation = _conversation(batch, raw)
    expected = _int(raw, "expected_version")
    if raw.get("kind") == "claim":
        target: int | None = principal.user_id
    else:
        target = _optional_int(raw, "user_id")
    if not principal.is_supervisor:
        # An agent takes a conversation for themselves, or lets go of their own.
        if target not in (principal.user_id, None):
            raise Refused("forbidden", "only a supervisor assigns to someone else")
        if target is None and conversation.assigned_user_id not in (principal.user_id, None):
            raise Refused("forbidden", "only a supervisor unassigns someone else")
    if target is not None and target != principal.user_id:
        allowed = conn.execute(
            _sql(
                "SELECT 1 FROM users u WHERE u.id = :u AND u.workspace_id = :ws"
                " AND NOT u.disabled AND (u.role = 'supervisor' OR EXISTS ("
                "  SELECT 1 FROM user_accounts ua WHERE ua.user_id = u.id"
                "  AND ua.account_id = :a))"
            ),
            {"u": target, "ws": principal.workspace_id, "a": conversation.account_id},
        ).first()
        if allowed is None:
            raise Refused("invalid", "that user cannot take this conversation")
    if conversation.version != expected:
        return {
            "result": "conflict",
            "assigned_user_id": conversation.assigned_user_id,
            "version": conversation.version,
        }
    version = conn.execute(
        _sql(
            "UPDATE conversations SET assigned_user_id = :u, version = version + 1"
            " WHERE id = :c AND workspace_id = :ws AND version = :v RETURNING version"
        ),
        {"u": target, "c": conversation.id, "ws": principal.workspace_id, "v": expected},
    ).scalar_one()
    return {"result": "ok", "assigned_user_id": target, "version": version}


def _note(batch: _Batch, raw: dict[str, Any], command_id: uuid.UUID) -> Result:
    conn, principal = batch.conn, batch.principal
    conversation = _conversation(batch, raw)
    body = _text(raw, "text", MAX_TEXT)
    note_id = _uuid(raw["note_id"], "note_id") if raw.get("note_id") else command_id
    conn.execute(
        _sql(
            "INSERT INTO notes (id, workspace_id, account_id, conversation_id, author_user_id,"
            " body, ts) VALUES (:id, :ws, :a, :c, :u, :b, :ts) ON CONFLICT (id) DO NOTHING"
        ),
        {
            "id": note_id,
            "ws": principal.workspace_id,
            "a": conversation.account_id,
            "c": conversation.id,
            "u": principal.user_id,
            "b": body,
            "ts": _now_ms(),
        },
    )
    return {"result": "ok", "note_id": str(note_id)}


def _label(batch: _Batch, raw: dict[str, Any], _id: uuid.UUID) -> Result:
    conn, principal = batch.conn, batch.principal
    conversation = _conversation(batch, raw)
    label = _text(raw, "label", MAX_LABEL).strip()
    op = raw.get("op", "add")
    if op == "add":
        sql = (
            "UPDATE conversations SET labels = array_append(labels, :l)"
            " WHERE id = :c AND workspace_id = :ws AND NOT (:l = ANY(labels))"
        )
    elif op == "remove":
        sql = (
            "UPDATE conversations SET labels = array_remove(labels, :l)"
            " WHERE id = :c AND workspace_id = :ws AND :l = ANY(labels)"
        )
    else:
        raise Refused("invalid", "op must be add or remove")
    conn.execute(_sql(sql), {"l": label, "c": conversation.id, "ws": principal.workspace_id})
    return {"result": "ok"}


def _automation(batch: _Batch, raw: dict[str, Any], _id: uuid.UUID) -> Result:
    conn, principal = batch.conn, batch.principal
    if not principal.is_supervisor:
        raise Refused("forbidden", "only a supervisor switches automations")
    account_id = _int(raw, "account_id")
    name = _text(raw, "name", MAX_LABEL)
    enabled = raw.get("enabled")
    if not isinstance(enabled, bool):
        raise Refused("invalid", "enabled must be true or false")
    row = conn.execute(
        _sql(
            "UPDATE accounts SET automations = jsonb_set(automations, ARRAY[:n], to_jsonb(:e))"
            " WHERE id = :a AND workspace_id = :ws AND id = ANY(:visible) AND NOT deleted"
            " RETURNING id"
        ),
        {
            "n": name,
            "e": enabled,
            "a": account_id,
            "ws": principal.workspace_id,
            "visible": batch.visible(),
        },
    ).first()
    if row is None:
        raise Refused("forbidden", "no such number")
    return {"result": "ok"}


Handler = Callable[[_Batch, dict[str, Any], uuid.UUID], Result]
# Every kind but "send", which runs a run of sends at a time (``_sends``).
HANDLERS: Final[dict[str, Handler]] = {
    "mark_read": _mark_read,
    "claim": _assign,
    "assign": _assign,
    "note": _note,
    "label": _label,
    "automation": _automation,
}
KINDS: Final = frozenset({"send", *HANDLERS})
# Refusals of a whole savepoint's work: the client's data, not the server's health.
_DATA_REFUSED: Final = (IntegrityError, DataError, EnqueueError)


def _check(raw: object) -> _Command | Result:
    """The command ``raw`` describes, or its refusal (``invalid``)."""
    shown_id = raw.get("id") if isinstance(raw, dict) else None
    shown = shown_id if isinstance(shown_id, str) and len(shown_id) <= 36 else None
    try:
        if not isinstance(raw, dict):
            raise Refused("invalid", "a command must be an object")
        command_id = _uuid(raw.get("id"), "id")
        if command_id.version != 7:
            raise Refused("invalid", "id must be a UUIDv7")
        kind = raw.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            raise Refused("invalid", "unknown kind")
    except Refused as refused:
        return {"id": shown, **refused.as_result()}
    return _Command(command_id, raw["id"], kind, raw)


def apply_commands(
    db: ServerDatabase, principal: Principal, commands: Sequence[object]
) -> tuple[list[Result], bool]:
    """Apply a batch in order, in one transaction; return one result per command (see the
    module docstring) and whether a new send was queued.

    Raises ``BatchFailed`` when the transaction fails as a whole: nothing of it is applied.
    """
    checked = [_check(raw) for raw in commands]
    try:
        with db.agent(principal) as conn:
            results = _Apply(_Batch(conn, principal)).run(checked)
            faults.point("push.before_commit")
    except (OperationalError, InterfaceError, PoolTimeout) as exc:
        # Named by its type only: a statement's parameters hold customers' texts.
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        raise BatchFailed(type(cause).__name__) from exc
    sent = any(
        isinstance(command, _Command)
        and command.kind == "send"
        and result["result"] == "ok"
        and not result.get("replayed")
        for command, result in zip(checked, results, strict=True)
    )
    return results, sent


class _Apply:
    """The order of work of one batch: record its commands, apply the new ones, keep results."""

    def __init__(self, batch: _Batch) -> None:
        self.batch = batch
        self.conn = batch.conn
        self.stored: dict[uuid.UUID, Result] = {}  # results a command of this id gets again
        self.to_store: dict[uuid.UUID, Result] = {}  # results applied now, written at the end

    def run(self, checked: Sequence[_Command | Result]) -> list[Result]:
        """Each command's result, in order (refusals of ``_check`` pass through)."""
        commands = [c for c in checked if isinstance(c, _Command)]
        fresh = self._record(commands)
        self.stored = self._stored({c.id for c in commands} - fresh)
        results: list[Result] = []
        for step in self._steps(checked, fresh):
            if isinstance(step, list):
                results.extend(self._apply(step))
            elif not isinstance(step, _Command):
                results.append(step)
            elif step.id in self.stored:
                results.append({"id": str(step.id), **self.stored[step.id], "replayed": True})
            elif self._record([step]):
                # An earlier copy of it in this batch was refused (a refusal keeps no row).
                results.extend(self._apply([step]))
            else:
                results.append({"id": step.shown, "result": "invalid", "error": "id already used"})
        self._store()
        return results

    @staticmethod
    def _steps(
        checked: Sequence[_Command | Result], fresh: set[uuid.UUID]
    ) -> list[list[_Command] | _Command | Result]:
        """The batch in order as steps: a list of new commands to apply together (one command,
        or consecutive sends), a command seen before (a replay, a copy, another user's id), or
        a result already known."""
        steps: list[list[_Command] | _Command | Result] = []
        first = set(fresh)
        for item in checked:
            if not isinstance(item, _Command) or item.id not in first:
                steps.append(item)
                continue
            first.discard(item.id)
            last = steps[-1] if steps else None
            if item.kind == "send" and isinstance(last, list) and last[0].kind == "send":
                last.append(item)
            else:
                steps.append([item])
        return steps

    def _apply(self, commands: list[_Command]) -> list[Result]:
        """Apply new commands, in a savepoint; if the database refuses them as a whole, each
        alone in its own, so that only the refused one fails."""
        try:
            outcomes = self._attempt(commands)
        except _DATA_REFUSED as exc:
            if len(commands) > 1:
                outcomes = [self._alone(command) for command in commands]
            else:
                outcomes = [_refusal(exc)]
        results: list[Result] = []
        refused: list[uuid.UUID] = []
        for command, outcome in zip(commands, outcomes, strict=True):
            if outcome["result"] in ("ok", "conflict"):
                self.stored[command.id] = self.to_store[command.id] = outcome
                results.append({"id": str(command.id), **outcome})
            else:
                refused.append(command.id)
                results.append({"id": command.shown, **outcome})
        if refused:
            self.conn.execute(_sql("DELETE FROM commands WHERE id = ANY(:ids)"), {"ids": refused})
        return results

    def _alone(self, command: _Command) -> Result:
        try:
            return self._attempt([command])[0]
        except _DATA_REFUSED as exc:
            return _refusal(exc)

    def _attempt(self, commands: list[_Command]) -> list[Result]:
        """Apply ``commands`` (one, or a run of sends) in a savepoint, undone if refused."""
        try:
            with self.conn.begin_nested():
                if commands[0].kind == "send":
                    return _sends(self.batch, commands)
                (command,) = commands
                return [HANDLERS[command.kind](self.batch, command.raw, command.id)]
        except Refused as refused:  # only a lone command raises it
            return [refused.as_result()]

    def _record(self, commands: Sequence[_Command]) -> set[uuid.UUID]:
        """Insert the commands' rows, in order; the ids that were not there yet."""
        if not commands:
            return set()
        principal = self.batch.principal
        # One JSON document rather than arrays: see ``enqueue_sends``.
        rows = self.conn.execute(
            _sql(
                "INSERT INTO commands (id, workspace_id, user_id, kind)"
                " SELECT t.id, :ws, :u, t.kind"
                " FROM json_to_recordset(CAST(:rows AS json)) AS t(n int, id uuid, kind text)"
                " ORDER BY t.n ON CONFLICT (id) DO NOTHING RETURNING id"
            ),
            {
                "rows": json.dumps(
                    [{"n": n, "id": str(c.id), "kind": c.kind} for n, c in enumerate(commands)]
                ),
                "ws": principal.workspace_id,
                "u": principal.user_id,
            },
        )
        return {row[0] for row in rows}

    def _stored(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, Result]:
        """The stored results of this user's commands among ``ids`` (others' are not found)."""
        if not ids:
            return {}
        principal = self.batch.principal
        rows = self.conn.execute(
            _sql(
                "SELECT id, result FROM commands"
                " WHERE id = ANY(:ids) AND workspace_id = :ws AND user_id = :u"
            ),
            {"ids": list(ids), "ws": principal.workspace_id, "u": principal.user_id},
        )
        return {row[0]: row[1] for row in rows}

    def _store(self) -> None:
        """Write the results of the commands applied now (a push again gets them back)."""
        if not self.to_store:
            return
        self.conn.execute(
            _sql(
                "UPDATE commands AS c SET result = r.result"
                " FROM json_to_recordset(CAST(:rows AS json)) AS r(id uuid, result jsonb)"
                " WHERE c.id = r.id"
            ),
            {
                "rows": json.dumps(
                    [{"id": str(i), "result": result} for i, result in self.to_store.items()]
                )
            },
        )


def _refusal(exc: Exception) -> Result:
    if isinstance(exc, EnqueueError):
        return {"result": "invalid", "error": str(exc)}
    # A value Postgres will not take (a NUL in a reply_to, ...): the client's data, not the
    # server's health; retrying would not help.
    return {"result": "invalid", "error": "rejected by the database"}
