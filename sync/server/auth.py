"""Who is calling the team server: users, passwords, login tokens.

Passwords are hashed with argon2id (memory-hard; argon2-cffi's defaults, RFC 9106's second
recommended profile). A login returns a random 256-bit token; the server keeps only its SHA-256 in
``sessions`` (a stolen database does not hand out sessions), with an expiry. Revoking a session, or
disabling its user, refuses the token at the next request: every request looks the session up.
"""

from __future__ import annotations

import hashlib
import secrets as random_secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from sqlalchemy import Connection, text

from sync.providers.accounts import Secret
from sync.store.team.database import AgentScope, ServerDatabase

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ROLES: Final = ("agent", "supervisor")
DEFAULT_TOKEN_TTL: Final = timedelta(days=30)


class AuthError(Exception):
    """Login refused, or a token that is unknown, expired or revoked (no detail leaks which)."""


@dataclass(frozen=True)
class Principal(AgentScope):
    """An authenticated user: their workspace, id, role and name."""

    role: str = "agent"
    username: str = ""

    @property
    def is_supervisor(self) -> bool:
        """Supervisors see every number of the workspace and may retry failed sends."""
        return self.role == "supervisor"


def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash to store."""
    if len(password) < 8:
        raise ValueError("a password needs at least 8 characters")
    return str(_hasher().hash(password))


def verify_password(stored: str, password: str) -> bool:
    """True when ``password`` matches the stored hash (constant time inside argon2)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(stored, password))
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> bytes:
    """What ``sessions.token_hash`` holds for a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


# A hash of a random password: a login for an unknown user costs the same time as a wrong password,
# so timing does not tell which usernames exist.
_DUMMY_HASH: str | None = None


def login(
    db: ServerDatabase, username: str, password: str, *, ttl: timedelta = DEFAULT_TOKEN_TTL
) -> tuple[Secret, Principal]:
    """Check the password and open a session; return its token and who it is for."""
    global _DUMMY_HASH
    with db.system() as conn:
        row = conn.execute(
            text(
                "SELECT id, workspace_id, password_hash, role, disabled FROM users"
                " WHERE username = :u"
            ),
            {"u": username},
        ).one_or_none()
        if row is None:
            if _DUMMY_HASH is None:
                _DUMMY_HASH = _hasher().hash(random_secrets.token_urlsafe(16))
            verify_password(_DUMMY_HASH, password)
            raise AuthError("wrong user or password")
        if not verify_password(row.password_hash, password) or row.disabled:
            raise AuthError("wrong user or password")
        token = random_secrets.token_urlsafe(32)
        conn.execute(
            text(
                "INSERT INTO sessions (token_hash, workspace_id, user_id, expires_at)"
                " VALUES (:h, :ws, :u, now() + :ttl)"
            ),
            {"h": token_hash(token), "ws": row.workspace_id, "u": row.id, "ttl": ttl},
        )
    return Secret(token), Principal(row.workspace_id, row.id, row.role, username)


def authenticate(conn: Connection, token: str) -> Principal:
    """The user a bearer token belongs to, checked now (expiry, revocation, disabled user).

    ``conn`` must be in a system transaction (``ServerDatabase.system()``).
    """
    if not token:
        raise AuthError("missing token")
    row = conn.execute(
        text(
            "SELECT u.id, u.workspace_id, u.role, u.username FROM sessions s"
            " JOIN users u ON u.id = s.user_id"
            " WHERE s.token_hash = :h AND s.revoked_at IS NULL AND s.expires_at > now()"
            " AND NOT u.disabled"
        ),
        {"h": token_hash(token)},
    ).one_or_none()
    if row is None:
        raise AuthError("invalid, expired or revoked token")
    return Principal(row.workspace_id, row.id, row.role, row.username)


def revoke_token(conn: Connection, token: str) -> bool:
    """End one session (logout). True when it existed and was still live."""
    result = conn.execute(
        text("UPDATE sessions SET revoked_at = now() WHERE token_hash = :h AND revoked_at IS NULL"),
        {"h": token_hash(token)},
    )
    return bool(result.rowcount)


def revoke_user(conn: Connection, user_id: int) -> int:
    """End every session of a user (their tokens are refused from the next request)."""
    result = conn.execute(
        text("UPDATE sessions SET revoked_at = now() WHERE user_id = :u AND revoked_at IS NULL"),
        {"u": user_id},
    )
    return int(result.rowcount)


# --- what a principal may see ---------------------------------------------------------------------


VISIBLE_SQL: Final = {
    True: "SELECT id FROM accounts WHERE workspace_id = :ws AND NOT deleted ORDER BY id",
    False: (
        "SELECT ua.account_id FROM user_accounts ua JOIN accounts a ON a.id = ua.account_id"
        " WHERE ua.workspace_id = :ws AND ua.user_id = :u AND a.workspace_id = :ws"
        " AND NOT a.deleted ORDER BY ua.account_id"
    ),
}


def visible_accounts(conn: Connection, principal: Principal) -> list[int]:
    """The numbers ``principal`` may see, by an explicit query (RLS narrows it again)."""
    sql = VISIBLE_SQL[principal.is_supervisor]
    rows = conn.execute(text(sql), {"ws": principal.workspace_id, "u": principal.user_id})
    return [int(r[0]) for r in rows]
