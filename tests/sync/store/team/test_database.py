"""The team schema on a real Postgres: change stamps, the snapshot fence, row-level security."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from sync.store.team.database import AgentScope, ServerDatabase, role_of, upgrade
from tests.sync.server import seeding

if TYPE_CHECKING:
    from tests.conftest import PgDatabase


def _seed(db: ServerDatabase) -> dict[str, int]:
    """One workspace, numbers shop and workshop with a message each; ana sees shop, bia none."""
    with db.system() as conn:
        ws = seeding.workspace(conn)
        ids = {"ws": ws}
        for name, role in (("ana", "agent"), ("bia", "agent"), ("sup", "supervisor")):
            ids[name] = seeding.user(conn, ws, name, role=role)
        for name in ("shop", "workshop"):
            ids[name] = seeding.number(conn, ws, name)
            conv = seeding.conversation(conn, ws, ids[name], "5511")
            seeding.message(conn, ws, ids[name], conv, f"hello {name}", status="delivered")
        seeding.grant(conn, ws, ids["ana"], ids["shop"])
    return ids


def test_upgrade_is_idempotent(pg_database: PgDatabase) -> None:
    from tests.sync.server.test_server_cli import head_revision

    assert upgrade(pg_database.owner_url, role_of(pg_database.app_url)) == head_revision()


def test_row_level_security_limits_each_agent_to_their_numbers(pg_database: PgDatabase) -> None:
    db = ServerDatabase(pg_database.app_url)
    try:
        ids = _seed(db)
        bodies = "SELECT body FROM messages ORDER BY body"
        with db.agent(AgentScope(ids["ws"], ids["ana"])) as conn:
            assert conn.execute(text(bodies)).scalars().all() == ["hello shop"]
            # A query that forgets its filter, or names another number's id, still sees nothing.
            assert (
                conn.execute(
                    text("SELECT count(*) FROM conversations WHERE account_id = :a"),
                    {"a": ids["workshop"]},
                ).scalar_one()
                == 0
            )
            assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 0
        with db.agent(AgentScope(ids["ws"], ids["bia"])) as conn:
            assert conn.execute(text(bodies)).scalars().all() == []
        with db.agent(AgentScope(ids["ws"], ids["sup"])) as conn:
            assert len(conn.execute(text(bodies)).scalars().all()) == 2
        # Another workspace's id in the scope sees nothing either.
        with db.agent(AgentScope(ids["ws"] + 1, ids["sup"])) as conn:
            assert conn.execute(text(bodies)).scalars().all() == []
        # Another number's rows can't be changed (they match nothing) nor written (the policy's
        # check refuses the row).
        with db.agent(AgentScope(ids["ws"], ids["ana"])) as conn:
            changed = conn.execute(
                text("UPDATE accounts SET name = 'x' WHERE id = :a RETURNING id"),
                {"a": ids["workshop"]},
            ).all()
            assert changed == []
        with (
            pytest.raises(ProgrammingError, match="row-level security"),
            db.agent(AgentScope(ids["ws"], ids["ana"])) as conn,
        ):
            conn.execute(
                text(
                    "INSERT INTO conversations (workspace_id, account_id, chat_key)"
                    " VALUES (:ws, :a, 'x')"
                ),
                {"ws": ids["ws"], "a": ids["workshop"]},
            )
    finally:
        db.dispose()


def test_the_server_role_cannot_change_the_schema(pg_database: PgDatabase) -> None:
    db = ServerDatabase(pg_database.app_url)
    try:
        with pytest.raises(ProgrammingError), db.system() as conn:
            conn.execute(text("ALTER TABLE messages DISABLE ROW LEVEL SECURITY"))
    finally:
        db.dispose()


def test_updates_restamp_rows(pg_database: PgDatabase) -> None:
    db = ServerDatabase(pg_database.app_url)
    try:
        ids = _seed(db)
        stamp = "SELECT xid::text::bigint, seq FROM accounts WHERE id = :a"
        with db.system() as conn:
            before = conn.execute(text(stamp), {"a": ids["shop"]}).one()
        with db.system() as conn:
            conn.execute(
                text("UPDATE accounts SET state = 'connected' WHERE id = :a"), {"a": ids["shop"]}
            )
        with db.system() as conn:
            after = conn.execute(text(stamp), {"a": ids["shop"]}).one()
        assert after[0] > before[0] and after[1] > before[1]
    finally:
        db.dispose()
