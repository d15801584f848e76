"""Pushed client commands, each applied once, in the order the client made them.

A command carries a client-made UUIDv7 ``id``. Its row in ``commands`` is inserted first in the
same transaction as its effect (``ON CONFLICT DO NOTHING``): a command pushed again (the answer
was lost, the client retried) finds its row and gets the stored result back, and two concurrent
pushes of one id serialize on the primary key, so the effect happens once.

Each command runs in its own agent transaction (row-level security applies), so one refused
command does not undo the ones before it. Results:

- ``ok``: applied (extra fields say what, e.g. the conversation's new ``version``);
- ``conflict``: a claim or assignment whose ``expected_version`` is stale; the current owner and
  version come back, nothing changes (an agent never silently steals a conversation);
- ``forbidden``: the conversation or number is not one the user may see (or the action needs a
  supervisor); nothing is written, not even the command row;
- ``invalid``: malformed, unknown kind, or an id already used by someone else; nothing written.

``ok`` and ``conflict`` are stored (a replay returns them); ``forbidden`` and ``invalid`` are not.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

from sqlalchemy import Connection, text
from sqlalchemy.exc import DataError, IntegrityError

from sync.domain.text import clean_text
from sync.server.auth import Principal, visible_accounts
from sync.store.team.database import ServerDatabase

MAX_BATCH: Final = 100
MAX_TEXT: Final = 65_536
MAX_LABEL: Final = 64

Result = dict[str, Any]


class Refused(Exception):
    """A command that is not applied: ``result`` is ``forbidden`` or ``invalid``."""

    def __init__(self, result: str, detail: str) -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail


def _uuid(value: object, what: str) -> uuid.UUID:
    if not isinstance(value, str) or len(value) != 36:
        raise Refused("invalid", f"{what} must be a UUID")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Refused("invalid", f"{what} must be a UUID") from None


def _int(raw: dict[str, Any], key: str, *, optional: bool = False) -> int | None:
    value = raw.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 1 << 62:
        raise Refused("invalid", f"{key} must be a positive integer")
    return value


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


def _conversation(conn: Connection, principal: Principal, raw: dict[str, Any]) -> Any:
    """The conversation a command names, locked, if the user may see it; else ``forbidden``."""
    conversation_id = _int(raw, "conversation_id")
    row = conn.execute(
        text(
            "SELECT id, account_id, chat_key, version, assigned_user_id FROM conversations"
            " WHERE id = :c AND workspace_id = :ws AND account_id = ANY(:visible)"
            " AND NOT deleted FOR UPDATE"
        ),
        {
            "c": conversation_id,
            "ws": principal.workspace_id,
            "visible": visible_accounts(conn, principal),
        },
    ).one_or_none()
    if row is None:
        # The same answer whether it does not exist or belongs to a number the user may not see.
        raise Refused("forbidden", "no such conversation")
    return row


def _send(
    conn: Connection, principal: Principal, raw: dict[str, Any], command_id: uuid.UUID
) -> Result:
    from sync.store.team.ingest import EnqueueError, enqueue_send

    conversation = _conversation(conn, principal, raw)
    body = _text(raw, "text", MAX_TEXT)
    template = _template(raw.get("template"))
    message_id = _uuid(raw["message_id"], "message_id") if raw.get("message_id") else command_id
    reply_to = raw.get("reply_to")
    if reply_to is not None and (not isinstance(reply_to, str) or len(reply_to) > 256):
        raise Refused("invalid", "reply_to must be a message id")
    try:
        enqueue_send(
            conn,
            message_id=message_id,
            workspace_id=principal.workspace_id,
            account_id=conversation.account_id,
            conversation_id=conversation.id,
            recipient=conversation.chat_key,
            body=body,
            author_user_id=principal.user_id,
            reply_to=reply_to,
            ts_ms=_now_ms(),
            template=template,
        )
    except EnqueueError as exc:
        raise Refused("invalid", str(exc)) from None
    return {"result": "ok", "message_id": str(message_id)}


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


def _mark_read(
    conn: Connection, principal: Principal, raw: dict[str, Any], _id: uuid.UUID
) -> Result:
    conversation = _conversation(conn, principal, raw)
    conn.execute(
        text(
            "UPDATE conversations SET unread_count = 0"
            " WHERE id = :c AND workspace_id = :ws AND unread_count > 0"
        ),
        {"c": conversation.id, "ws": principal.workspace_id},
    )
    return {"result": "ok"}


def _assign(conn: Connection, principal: Principal, raw: dict[str, Any], _id: uuid.UUID) -> Result:
    conversation = _conversation(conn, principal, raw)
    expected = _int(raw, "expected_version")
    if raw.get("kind") == "claim":
        target: int | None = principal.user_id
    else:
        target = _int(raw, "user_id", optional=True)
    if not principal.is_supervisor:
        # An agent takes a conversation for themselves, or lets go of their own.
        if target not in (principal.user_id, None):
            raise Refused("forbidden", "only a supervisor assigns to someone else")
        if target is None and conversation.assigned_user_id not in (principal.user_id, None):
            raise Refused("forbidden", "only a supervisor unassigns someone else")
    if target is not None and target != principal.user_id:
        allowed = conn.execute(
            text(
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
        text(
            "UPDATE conversations SET assigned_user_id = :u, version = version + 1"
            " WHERE id = :c AND workspace_id = :ws AND version = :v RETURNING version"
        ),
        {"u": target, "c": conversation.id, "ws": principal.workspace_id, "v": expected},
    ).scalar_one()
    return {"result": "ok", "assigned_user_id": target, "version": version}


def _note(
    conn: Connection, principal: Principal, raw: dict[str, Any], command_id: uuid.UUID
) -> Result:
    conversation = _conversation(conn, principal, raw)
    body = _text(raw, "text", MAX_TEXT)
    note_id = _uuid(raw["note_id"], "note_id") if raw.get("note_id") else command_id
    conn.execute(
        text(
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


def _label(conn: Connection, principal: Principal, raw: dict[str, Any], _id: uuid.UUID) -> Result:
    conversation = _conversation(conn, principal, raw)
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
    conn.execute(text(sql), {"l": label, "c": conversation.id, "ws": principal.workspace_id})
    return {"result": "ok"}


def _automation(
    conn: Connection, principal: Principal, raw: dict[str, Any], _id: uuid.UUID
) -> Result:
    if not principal.is_supervisor:
        raise Refused("forbidden", "only a supervisor switches automations")
    account_id = _int(raw, "account_id")
    name = _text(raw, "name", MAX_LABEL)
    enabled = raw.get("enabled")
    if not isinstance(enabled, bool):
        raise Refused("invalid", "enabled must be true or false")
    row = conn.execute(
        text(
            "UPDATE accounts SET automations = jsonb_set(automations, ARRAY[:n], to_jsonb(:e))"
            " WHERE id = :a AND workspace_id = :ws AND id = ANY(:visible) AND NOT deleted"
            " RETURNING id"
        ),
        {
            "n": name,
            "e": enabled,
            "a": account_id,
            "ws": principal.workspace_id,
            "visible": visible_accounts(conn, principal),
        },
    ).first()
    if row is None:
        raise Refused("forbidden", "no such number")
    return {"result": "ok"}


Handler = Callable[[Connection, Principal, dict[str, Any], uuid.UUID], Result]
HANDLERS: Final[dict[str, Handler]] = {
    "send": _send,
    "mark_read": _mark_read,
    "claim": _assign,
    "assign": _assign,
    "note": _note,
    "label": _label,
    "automation": _automation,
}


def apply_command(db: ServerDatabase, principal: Principal, raw: object) -> Result:
    """Apply one command once; return its result (see the module docstring)."""
    shown_id = raw.get("id") if isinstance(raw, dict) else None
    shown = shown_id if isinstance(shown_id, str) and len(shown_id) <= 36 else None
    try:
        if not isinstance(raw, dict):
            raise Refused("invalid", "a command must be an object")
        command_id = _uuid(raw.get("id"), "id")
        if command_id.version != 7:
            raise Refused("invalid", "id must be a UUIDv7")
        kind = raw.get("kind")
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise Refused("invalid", "unknown kind")
        with db.agent(principal) as conn:
            inserted = conn.execute(
                text(
                    "INSERT INTO commands (id, workspace_id, user_id, kind)"
                    " VALUES (:id, :ws, :u, :k) ON CONFLICT (id) DO NOTHING RETURNING id"
                ),
                {"id": command_id, "ws": principal.workspace_id, "u": principal.user_id, "k": kind},
            ).first()
            if inserted is None:
                stored = conn.execute(
                    text(
                        "SELECT result FROM commands"
                        " WHERE id = :id AND workspace_id = :ws AND user_id = :u"
                    ),
                    {"id": command_id, "ws": principal.workspace_id, "u": principal.user_id},
                ).scalar_one_or_none()
                if stored is None:
                    raise Refused("invalid", "id already used")
                return {"id": str(command_id), **stored, "replayed": True}
            result = handler(conn, principal, raw, command_id)
            conn.execute(
                text("UPDATE commands SET result = CAST(:r AS jsonb) WHERE id = :id"),
                {"r": json.dumps(result), "id": command_id},
            )
        return {"id": str(command_id), **result}
    except Refused as refused:
        return {"id": shown, "result": refused.result, "error": refused.detail}
    except (IntegrityError, DataError):
        # A reference to something that does not exist (a bad reply_to, ...): the client's
        # data, not the server's health; retrying would not help.
        return {"id": shown, "result": "invalid", "error": "rejected by the database"}


def apply_commands(
    db: ServerDatabase, principal: Principal, commands: Sequence[object]
) -> tuple[list[Result], bool]:
    """Apply a batch in order; return the results and whether any new send was queued."""
    results: list[Result] = []
    sent = False
    for raw in commands:
        result = apply_command(db, principal, raw)
        results.append(result)
        if (
            isinstance(raw, dict)
            and raw.get("kind") == "send"
            and result["result"] == "ok"
            and not result.get("replayed")
        ):
            sent = True
    return results, sent
