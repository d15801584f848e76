"""Login tokens and server-side credentials on a real Postgres."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from sync.providers.accounts import Secret, account_from_json
from sync.server.auth import (
    AuthError,
    authenticate,
    hash_password,
    login,
    revoke_token,
    revoke_user,
    verify_password,
)
from sync.server.credentials import ServerKey, ServerKeyError, generate_key, join_account
from sync.store.team.database import ServerDatabase

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import PgDatabase


@pytest.fixture
def db(pg_database: PgDatabase) -> Iterator[ServerDatabase]:
    database = ServerDatabase(pg_database.app_url)
    with database.system() as conn:
        ws = conn.execute(text("INSERT INTO workspaces (name) VALUES ('w') RETURNING id")).scalar()
        conn.execute(
            text(
                "INSERT INTO users (workspace_id, username, password_hash, role)"
                " VALUES (:ws, 'ana', :h, 'agent')"
            ),
            {"ws": ws, "h": hash_password("correct horse")},
        )
    yield database
    database.dispose()


def test_password_hash_is_argon2id_and_checks() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "wrong horse")
    assert not verify_password("not a hash", "x")
    with pytest.raises(ValueError, match="8 characters"):
        hash_password("short")


def test_login_token_works_until_revoked(db: ServerDatabase) -> None:
    token, who = login(db, "ana", "correct horse")
    assert "correct" not in repr(token) and token.reveal() not in repr(who)
    with db.system() as conn:
        assert authenticate(conn, token.reveal()) == who
        # The database holds a hash of the token, never the token.
        stored = conn.execute(text("SELECT token_hash FROM sessions")).scalar_one()
        assert token.reveal().encode() not in bytes(stored)
        assert revoke_token(conn, token.reveal())
    with db.system() as conn, pytest.raises(AuthError):
        authenticate(conn, token.reveal())


def test_login_refusals_say_nothing_about_which_part_was_wrong(db: ServerDatabase) -> None:
    with pytest.raises(AuthError) as wrong_password:
        login(db, "ana", "wrong horse")
    with pytest.raises(AuthError) as unknown_user:
        login(db, "nobody", "correct horse")
    assert str(wrong_password.value) == str(unknown_user.value)


def test_disabling_a_user_or_revoking_all_refuses_their_tokens(db: ServerDatabase) -> None:
    first, who = login(db, "ana", "correct horse")
    second, _ = login(db, "ana", "correct horse")
    with db.system() as conn:
        assert revoke_user(conn, who.user_id) == 2
    for token in (first, second):
        with db.system() as conn, pytest.raises(AuthError):
            authenticate(conn, token.reveal())
    third, _ = login(db, "ana", "correct horse")
    with db.system() as conn:
        conn.execute(text("UPDATE users SET disabled = true"))
    with db.system() as conn, pytest.raises(AuthError):
        authenticate(conn, third.reveal())
    with pytest.raises(AuthError):
        login(db, "ana", "correct horse")


def test_expired_token_is_refused(db: ServerDatabase) -> None:
    from datetime import timedelta

    token, _ = login(db, "ana", "correct horse", ttl=timedelta(seconds=-1))
    with db.system() as conn, pytest.raises(AuthError):
        authenticate(conn, token.reveal())


def test_credentials_are_sealed_per_account() -> None:
    key = ServerKey(generate_key())
    account = account_from_json(
        {
            "provider": "gateway",
            "name": "Loja",
            "instance": "loja",
            "base_url": "http://127.0.0.1:1",
            "master_token": "m-secret",
            "instance_token": "i-secret",
        },
        account_id=7,
    )
    blob = key.seal(7, {"master_token": Secret("m-secret"), "instance_token": Secret("i-secret")})
    assert b"m-secret" not in blob
    back = join_account(
        key,
        account_id=7,
        name="Loja",
        provider="gateway",
        config={"instance": "loja", "base_url": "http://127.0.0.1:1"},
        sealed=blob,
    )
    assert back == account
    with pytest.raises(ServerKeyError):
        key.open(8, blob)  # another account's row
    with pytest.raises(ServerKeyError):
        ServerKey(generate_key()).open(7, blob)
    with pytest.raises(ServerKeyError, match="keygen"):
        ServerKey("too-short")
    assert "m-secret" not in repr(key)
