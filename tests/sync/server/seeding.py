"""Rows of the team schema for tests: one function per kind of row, and the workspaces suites share.

The row functions take an open connection, so a caller seeds as much as it likes in one
transaction: the server's system scope (``with db.system() as conn``, what the server's own
work uses) or the schema owner's (which row-level security never filters, for tests of the
policies themselves). Each returns the new row's id where it has one; the defaults are the
plainest valid row, and a keyword sets whatever a test cares about.

``rows()`` and ``scalar()`` read the server database under the system scope (every workspace,
every number).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, text

from sync.domain.ids import uuid7
from sync.server.credentials import ServerKey
from sync.store.team.database import ServerDatabase

# --- reading -------------------------------------------------------------------------------------


def rows(db: ServerDatabase, sql: str, **params: Any) -> list[Row[Any]]:
    """Every row ``sql`` returns, read under the system scope."""
    with db.system() as conn:
        return list(conn.execute(text(sql), params).all())


def scalar(db: ServerDatabase, sql: str, **params: Any) -> Any:
    """The one value ``sql`` returns (None without a row), read under the system scope."""
    with db.system() as conn:
        return conn.execute(text(sql), params).scalar()


# --- one row of each kind --------------------------------------------------------------------


def workspace(conn: Connection, name: str = "w") -> int:
    """A new workspace."""
    return int(
        conn.execute(
            text("INSERT INTO workspaces (name) VALUES (:n) RETURNING id"), {"n": name}
        ).scalar_one()
    )


def user(
    conn: Connection,
    workspace_id: int,
    username: str,
    *,
    role: str = "agent",
    password_hash: str = "x",
    display_name: str = "",
    disabled: bool = False,
    numbers: Iterable[int] = (),
) -> int:
    """A user of the workspace who may see ``numbers`` (account ids; supervisors see all)."""
    user_id = int(
        conn.execute(
            text(
                "INSERT INTO users"
                " (workspace_id, username, display_name, password_hash, role, disabled)"
                " VALUES (:ws, :u, :d, :h, :r, :off) RETURNING id"
            ),
            {
                "ws": workspace_id,
                "u": username,
                "d": display_name,
                "h": password_hash,
                "r": role,
                "off": disabled,
            },
        ).scalar_one()
    )
    grant(conn, workspace_id, user_id, *numbers)
    return user_id


def grant(conn: Connection, workspace_id: int, user_id: int, *account_ids: int) -> None:
    """Let an agent see these numbers (rows of ``user_accounts``)."""
    for account_id in account_ids:
        conn.execute(
            text("INSERT INTO user_accounts VALUES (:ws, :u, :a)"),
            {"ws": workspace_id, "u": user_id, "a": account_id},
        )


def number(
    conn: Connection,
    workspace_id: int,
    name: str,
    *,
    provider: str = "demo",
    config: dict[str, Any] | None = None,
    state: str = "offline",
    key: ServerKey | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """A number (an ``accounts`` row); ``secrets`` are sealed with ``key`` as the server does."""
    account_id = int(
        conn.execute(
            text(
                "INSERT INTO accounts (workspace_id, name, provider, config, state)"
                " VALUES (:ws, :n, :p, CAST(:c AS jsonb), :s) RETURNING id"
            ),
            {
                "ws": workspace_id,
                "n": name,
                "p": provider,
                "c": json.dumps(config or {}),
                "s": state,
            },
        ).scalar_one()
    )
    if secrets is not None:
        if key is None:
            raise ValueError("sealing secrets needs the server key")
        # The seal is bound to the account id, so it can only be made once the row exists.
        conn.execute(
            text("UPDATE accounts SET secrets = :s WHERE id = :a"),
            {"s": key.seal(account_id, secrets), "a": account_id},
        )
    return account_id


def conversation(
    conn: Connection,
    workspace_id: int,
    account_id: int,
    chat_key: str,
    *,
    customer_phone: str = "",
    customer_name: str = "",
) -> int:
    """A conversation of a number with ``chat_key``."""
    return int(
        conn.execute(
            text(
                "INSERT INTO conversations"
                " (workspace_id, account_id, chat_key, customer_phone, customer_name)"
                " VALUES (:ws, :a, :k, :p, :n) RETURNING id"
            ),
            {
                "ws": workspace_id,
                "a": account_id,
                "k": chat_key,
                "p": customer_phone,
                "n": customer_name,
            },
        ).scalar_one()
    )


def message(
    conn: Connection,
    workspace_id: int,
    account_id: int,
    conversation_id: int,
    body: str = "",
    *,
    direction: str = "in",
    ts: int = 1,
    status: str = "received",
    provider_message_id: str | None = None,
    author_user_id: int | None = None,
    deleted: bool = False,
) -> uuid.UUID:
    """A text message in a conversation; ``deleted``: its tombstone."""
    message_id = uuid.UUID(uuid7())
    conn.execute(
        text(
            "INSERT INTO messages (id, workspace_id, account_id, conversation_id,"
            " provider_message_id, direction, ts, type, body, status, author_user_id, deleted)"
            " VALUES (:id, :ws, :a, :c, :pid, :dir, :ts, 'text', :b, :st, :au, :del)"
        ),
        {
            "id": message_id,
            "ws": workspace_id,
            "a": account_id,
            "c": conversation_id,
            "pid": provider_message_id,
            "dir": direction,
            "ts": ts,
            "b": body,
            "st": status,
            "au": author_user_id,
            "del": deleted,
        },
    )
    return message_id


def note(
    conn: Connection,
    workspace_id: int,
    account_id: int,
    conversation_id: int,
    body: str,
    *,
    author_user_id: int | None = None,
    ts: int = 1,
    deleted: bool = False,
) -> uuid.UUID:
    """An internal note on a conversation."""
    note_id = uuid.UUID(uuid7())
    conn.execute(
        text(
            "INSERT INTO notes"
            " (id, workspace_id, account_id, conversation_id, author_user_id, body, ts, deleted)"
            " VALUES (:id, :ws, :a, :c, :au, :b, :ts, :del)"
        ),
        {
            "id": note_id,
            "ws": workspace_id,
            "a": account_id,
            "c": conversation_id,
            "au": author_user_id,
            "b": body,
            "ts": ts,
            "del": deleted,
        },
    )
    return note_id


def reaction(
    conn: Connection,
    workspace_id: int,
    account_id: int,
    target_id: str,
    sender: str,
    emoji: str,
    *,
    ts: int = 1,
) -> None:
    """A reaction to the message with provider id ``target_id``; ``emoji=''`` is a removed one."""
    conn.execute(
        text(
            "INSERT INTO reactions"
            " (workspace_id, account_id, target_id, sender, emoji, ts, deleted)"
            " VALUES (:ws, :a, :t, :s, :e, :ts, :del)"
        ),
        {
            "ws": workspace_id,
            "a": account_id,
            "t": target_id,
            "s": sender,
            "e": emoji,
            "ts": ts,
            "del": emoji == "",
        },
    )


def chat_alias(
    conn: Connection, workspace_id: int, account_id: int, alias: str, chat_key: str
) -> None:
    """Another key (a LID) the provider uses for a chat."""
    conn.execute(
        text("INSERT INTO chat_aliases VALUES (:ws, :a, :alias, :k)"),
        {"ws": workspace_id, "a": account_id, "alias": alias, "k": chat_key},
    )


def outbox_entry(
    conn: Connection,
    workspace_id: int,
    account_id: int,
    conversation_id: int,
    message_id: uuid.UUID,
    recipient: str,
) -> None:
    """A queued send of an outbound message (as ``enqueue_send`` leaves it, message aside)."""
    conn.execute(
        text(
            "INSERT INTO outbox (message_id, workspace_id, account_id, conversation_id, recipient)"
            " VALUES (:m, :ws, :a, :c, :r)"
        ),
        {
            "m": message_id,
            "ws": workspace_id,
            "a": account_id,
            "c": conversation_id,
            "r": recipient,
        },
    )


def pending_change(
    conn: Connection,
    workspace_id: int,
    account_id: int,
    target_id: str,
    *,
    kind: str = "edit",
    body: str = "",
    ts: int = 1,
) -> None:
    """An edit or deletion waiting for its message."""
    conn.execute(
        text(
            "INSERT INTO pending_changes (workspace_id, account_id, target_id, kind, body, ts)"
            " VALUES (:ws, :a, :t, :k, :b, :ts)"
        ),
        {"ws": workspace_id, "a": account_id, "t": target_id, "k": kind, "b": body, "ts": ts},
    )


def session(conn: Connection, workspace_id: int, user_id: int) -> bytes:
    """A login session valid for a day; returns its token hash."""
    token_hash = uuid.uuid4().bytes
    conn.execute(
        text(
            "INSERT INTO sessions (token_hash, workspace_id, user_id, expires_at)"
            " VALUES (:h, :ws, :u, now() + interval '1 day')"
        ),
        {"h": token_hash, "ws": workspace_id, "u": user_id},
    )
    return token_hash


def command(conn: Connection, workspace_id: int, user_id: int, kind: str = "send") -> uuid.UUID:
    """A client command recorded as applied."""
    command_id = uuid.uuid4()
    conn.execute(
        text("INSERT INTO commands (id, workspace_id, user_id, kind) VALUES (:id, :ws, :u, :k)"),
        {"id": command_id, "ws": workspace_id, "u": user_id, "k": kind},
    )
    return command_id


# --- the workspace the ingest and dispatcher tests share ------------------------------------


@dataclass(frozen=True)
class Seeded:
    """A workspace with one Meta number and its users."""

    workspace_id: int
    account_id: int
    supervisor_id: int
    agent_id: int
    outsider_id: int  # an agent without access to the number


def seed_workspace(
    db: ServerDatabase,
    key: ServerKey,
    *,
    base_url: str = "http://127.0.0.1:9",
    pacing: dict[str, Any] | None = None,
    access_token: str = "EAAG-dispatch-test-token",
    phone_number_id: str = "106540352242922",
) -> Seeded:
    """A workspace, a supervisor, two agents (one with access), and one Meta number."""
    from sync.providers.accounts import Secret
    from sync.providers.meta_cloud import MetaAccount
    from sync.server.credentials import split_account

    account = MetaAccount(
        name="Loja Meta",
        phone_number_id=phone_number_id,
        waba_id="102290129340398",
        access_token=Secret(access_token),
        app_secret=Secret("meta-app-secret-for-tests"),
        verify_token=Secret("meta-verify-token"),
        base_url=base_url,
    )
    config, secrets = split_account(account)
    if pacing is not None:
        config = {**config, "pacing": pacing}
    with db.system() as conn:
        ws = workspace(conn)
        # Usernames are unique server-wide: a test seeding twice gets other names.
        sup = user(conn, ws, f"sup-{ws}", role="supervisor")
        ana = user(conn, ws, f"ana-{ws}")
        bia = user(conn, ws, f"bia-{ws}")
        account_id = number(
            conn,
            ws,
            account.name,
            provider="meta",
            config=config,
            state="connected",
            key=key,
            secrets=secrets,
        )
        grant(conn, ws, ana, account_id)
    return Seeded(ws, account_id, sup, ana, bia)


def add_conversation(db: ServerDatabase, seeded: Seeded, phone: str) -> int:
    """A one-to-one conversation with ``phone`` (digits) on the seeded number."""
    with db.system() as conn:
        return conversation(
            conn, seeded.workspace_id, seeded.account_id, phone, customer_phone=phone
        )


def enqueue(
    db: ServerDatabase, seeded: Seeded, conversation_id: int, body: str, phone: str
) -> uuid.UUID:
    """Queue one text as an agent's send command would (system scope)."""
    from sync.store.team.ingest import enqueue_send

    message_id = uuid.UUID(uuid7())
    with db.system() as conn:
        enqueue_send(
            conn,
            message_id=message_id,
            workspace_id=seeded.workspace_id,
            account_id=seeded.account_id,
            conversation_id=conversation_id,
            recipient=phone,
            body=body,
            author_user_id=seeded.agent_id,
            ts_ms=int(time.time() * 1000),
        )
    return message_id


def pacing_time(
    conn: Connection, workspace_id: int, account_id: int, recipient: str, tat: float
) -> None:
    """A pacing time of a number (recipient "") or of one of its recipients."""
    conn.execute(
        text(
            "INSERT INTO pacing (workspace_id, account_id, recipient, tat) VALUES (:ws, :a, :r, :t)"
        ),
        {"ws": workspace_id, "a": account_id, "r": recipient, "t": tat},
    )
