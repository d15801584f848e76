"""What a supervisor does from the server's command line: the workspace, users, numbers.

Each function is one user action, in one system transaction, used by ``caixa-server`` and by
tests. A server normally holds one workspace (``default``); every row still carries its id.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from sqlalchemy import Connection, text

from sync.providers.accounts import ProviderAccount, with_generated_secrets
from sync.server.auth import ROLES, hash_password, revoke_user
from sync.server.credentials import ServerKey, join_account, split_account
from sync.store.team.database import ServerDatabase

DEFAULT_WORKSPACE = "default"


class AdminError(ValueError):
    """The action cannot be done as asked (unknown user or number, duplicate name...)."""


@dataclass(frozen=True)
class UserRow:
    """A user as ``users list`` shows it."""

    id: int
    username: str
    role: str
    disabled: bool
    accounts: tuple[str, ...]


@dataclass(frozen=True)
class AccountRow:
    """A number as ``accounts list`` shows it (never its credentials)."""

    id: int
    name: str
    provider: str
    phone: str
    state: str
    state_reason: str


def ensure_workspace(conn: Connection, name: str = DEFAULT_WORKSPACE) -> int:
    """The id of the workspace called ``name``, created if missing."""
    found = conn.execute(
        text("SELECT id FROM workspaces WHERE name = :n ORDER BY id LIMIT 1"), {"n": name}
    ).scalar()
    if found is not None:
        return int(found)
    return int(
        conn.execute(
            text("INSERT INTO workspaces (name) VALUES (:n) RETURNING id"), {"n": name}
        ).scalar_one()
    )


def _account_ids(conn: Connection, workspace_id: int, names: Sequence[str]) -> list[int]:
    ids = []
    for name in names:
        found = conn.execute(
            text("SELECT id FROM accounts WHERE workspace_id = :ws AND name = :n AND NOT deleted"),
            {"ws": workspace_id, "n": name},
        ).scalar()
        if found is None:
            raise AdminError(f"there is no number called {name!r}")
        ids.append(int(found))
    return ids


def add_user(
    db: ServerDatabase,
    username: str,
    password: str,
    *,
    role: str = "agent",
    accounts: Sequence[str] = (),
    workspace: str = DEFAULT_WORKSPACE,
    display_name: str = "",
) -> int:
    """Create a user who may see ``accounts`` (supervisors see every number anyway)."""
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise AdminError("a username is 1 to 64 characters without spaces")
    hashed = hash_password(password)
    with db.system() as conn:
        ws = ensure_workspace(conn, workspace)
        if conn.execute(text("SELECT 1 FROM users WHERE username = :u"), {"u": username}).first():
            raise AdminError(f"the user {username!r} exists already")
        account_ids = _account_ids(conn, ws, accounts)
        user_id = int(
            conn.execute(
                text(
                    "INSERT INTO users (workspace_id, username, display_name, password_hash, role)"
                    " VALUES (:ws, :u, :d, :h, :r) RETURNING id"
                ),
                {"ws": ws, "u": username, "d": display_name or username, "h": hashed, "r": role},
            ).scalar_one()
        )
        for account_id in account_ids:
            conn.execute(
                text("INSERT INTO user_accounts VALUES (:ws, :u, :a)"),
                {"ws": ws, "u": user_id, "a": account_id},
            )
    return user_id


def set_user_accounts(db: ServerDatabase, username: str, accounts: Sequence[str]) -> None:
    """Replace the numbers an agent may see (they lose the others at their next pull)."""
    with db.system() as conn:
        user = conn.execute(
            text("SELECT id, workspace_id FROM users WHERE username = :u"), {"u": username}
        ).one_or_none()
        if user is None:
            raise AdminError(f"there is no user called {username!r}")
        ids = _account_ids(conn, user.workspace_id, accounts)
        conn.execute(text("DELETE FROM user_accounts WHERE user_id = :u"), {"u": user.id})
        for account_id in ids:
            conn.execute(
                text("INSERT INTO user_accounts VALUES (:ws, :u, :a)"),
                {"ws": user.workspace_id, "u": user.id, "a": account_id},
            )


def disable_user(db: ServerDatabase, username: str) -> int:
    """Disable a user and end their sessions at once; returns how many sessions ended."""
    with db.system() as conn:
        user_id = conn.execute(
            text("UPDATE users SET disabled = true WHERE username = :u RETURNING id"),
            {"u": username},
        ).scalar()
        if user_id is None:
            raise AdminError(f"there is no user called {username!r}")
        return revoke_user(conn, int(user_id))


def list_users(db: ServerDatabase) -> list[UserRow]:
    """Every user with the numbers they may see."""
    with db.system() as conn:
        rows = conn.execute(
            text(
                "SELECT u.id, u.username, u.role, u.disabled,"
                " coalesce(array_agg(a.name ORDER BY a.name) FILTER (WHERE a.id IS NOT NULL), '{}')"
                " FROM users u LEFT JOIN user_accounts ua ON ua.user_id = u.id"
                " LEFT JOIN accounts a ON a.id = ua.account_id"
                " GROUP BY u.id ORDER BY u.username"
            )
        ).all()
    return [UserRow(r[0], r[1], r[2], r[3], tuple(r[4])) for r in rows]


def add_account(
    db: ServerDatabase,
    key: ServerKey,
    account: ProviderAccount,
    *,
    workspace: str = DEFAULT_WORKSPACE,
) -> int:
    """Store a number; its credentials sealed with the server key. Returns its id."""
    account = with_generated_secrets(account)
    config, secrets = split_account(account)
    with db.system() as conn:
        ws = ensure_workspace(conn, workspace)
        taken = conn.execute(
            text("SELECT 1 FROM accounts WHERE workspace_id = :ws AND name = :n"),
            {"ws": ws, "n": account.name},
        ).first()
        if taken:
            raise AdminError(f"a number called {account.name!r} exists already")
        account_id = int(
            conn.execute(
                text(
                    "INSERT INTO accounts (workspace_id, name, provider, config, sort_order)"
                    " VALUES (:ws, :n, :p, CAST(:c AS jsonb),"
                    " (SELECT coalesce(max(sort_order), 0) + 1 FROM accounts"
                    "  WHERE workspace_id = :ws))"
                    " RETURNING id"
                ),
                {"ws": ws, "n": account.name, "p": account.provider, "c": json.dumps(config)},
            ).scalar_one()
        )
        conn.execute(
            text("UPDATE accounts SET secrets = :s WHERE id = :id"),
            {"s": key.seal(account_id, secrets), "id": account_id},
        )
    return account_id


def list_accounts(db: ServerDatabase) -> list[AccountRow]:
    """Every live number, in the rail's order."""
    with db.system() as conn:
        rows = conn.execute(
            text(
                "SELECT id, name, provider, phone, state, state_reason FROM accounts"
                " WHERE NOT deleted ORDER BY workspace_id, sort_order, id"
            )
        ).all()
    return [AccountRow(*r) for r in rows]


def load_provider_accounts(conn: Connection, key: ServerKey) -> list[ProviderAccount]:
    """Every live real number with its credentials (for the receiver and the dispatcher)."""
    rows = conn.execute(
        text(
            "SELECT id, name, provider, config, secrets FROM accounts"
            " WHERE NOT deleted AND provider <> 'demo' ORDER BY id"
        )
    ).all()
    out: list[ProviderAccount] = []
    for row in rows:
        config: dict[str, Any] = dict(row.config or {})
        out.append(
            join_account(
                key,
                account_id=row.id,
                name=row.name,
                provider=row.provider,
                config=config,
                sealed=bytes(row.secrets) if row.secrets is not None else None,
            )
        )
    return out


# Tombstones are pruned children first, so nothing still points at a row being removed; a
# tombstone something still refers to (a message's outbox entry, a conversation's messages)
# waits for a later prune. Numbers' own tombstones are few and referred to by everything: kept.
_PRUNE: Final = (
    ("reactions", ""),
    ("notes", ""),
    ("messages", " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = t.id)"),
    (
        "conversations",
        " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = t.id)"
        " AND NOT EXISTS (SELECT 1 FROM notes n WHERE n.conversation_id = t.id)"
        " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.conversation_id = t.id)",
    ),
)


# How long an edit or deletion waits for its message (the desktops' engine keeps them as long).
PENDING_CHANGE_DAYS: Final = 30


@dataclass(frozen=True)
class PruneReport:
    """What ``prune_tombstones`` removed, and the cursor below which clients must resync."""

    removed: dict[str, int]
    resync_before: int  # an xid; 0 when nothing was removed (and the horizon did not move)


def prune_tombstones(db: ServerDatabase, older_than: timedelta) -> PruneReport:
    """Remove tombstones made more than ``older_than`` ago, in one transaction.

    A desktop whose cursor is older than the newest tombstone removed could miss that delete,
    so the protocol's horizon (``sync_settings.resync_before``, migration 0002) moves past it:
    such a desktop is told "resync required" and copies the team again. Desktops that pulled
    since are not affected. The horizon only ever moves forward.
    """
    if older_than < timedelta(0):
        raise AdminError("the age of tombstones to remove cannot be negative")
    removed: dict[str, int] = {}
    newest = 0
    with db.system() as conn:
        for table, guard in _PRUNE:
            xids = conn.execute(
                text(
                    f"DELETE FROM {table} t WHERE t.deleted"
                    " AND t.deleted_at < now() - make_interval(secs => :age)"
                    f"{guard} RETURNING t.xid::text"
                ),
                {"age": older_than.total_seconds()},
            ).scalars()
            stamps = [int(x) for x in xids]
            removed[table] = len(stamps)
            newest = max([newest, *stamps])
        # Edits and deletions whose message never came (migration 0005) are forgotten after
        # a month, as on a desktop; they are no tombstones, so the horizon does not move.
        removed["pending_changes"] = conn.execute(
            text(
                "DELETE FROM pending_changes"
                " WHERE created_at < now() - make_interval(days => :days)"
            ),
            {"days": PENDING_CHANGE_DAYS},
        ).rowcount
        horizon = newest + 1 if newest else 0
        if horizon:
            conn.execute(
                text(
                    "INSERT INTO sync_settings (key, value) VALUES ('resync_before', :h)"
                    " ON CONFLICT (key) DO UPDATE SET value = CASE"
                    " WHEN CAST(sync_settings.value AS xid8) < CAST(EXCLUDED.value AS xid8)"
                    " THEN EXCLUDED.value ELSE sync_settings.value END"
                ),
                {"h": str(horizon)},
            )
    return PruneReport(removed, horizon)
