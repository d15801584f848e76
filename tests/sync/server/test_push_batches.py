"""A push is one transaction: each command applied once, in order, a refused one alone.

``apply_commands`` on a real Postgres (the server's role, row-level security on): a command the
database refuses in the middle of a batch fails alone and the others still apply; a batch
pushed again, whole or mixed with new commands, applies nothing twice; a transaction that fails
as a whole applies nothing (the client's retry is in tests/sync/client/test_team_client.py).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import create_engine, text

from sync import faults
from sync.server.commands import BatchFailed, apply_commands
from sync.store.team.database import ServerDatabase
from tests.sync.client.team_server import Team, new_id, seed
from tests.sync.server import seeding

if TYPE_CHECKING:
    from tests.conftest import PgDatabase


@pytest.fixture
def team(server_db: ServerDatabase) -> Team:
    return seed(server_db)


def send(team: Team, body: str, **extra: Any) -> dict[str, Any]:
    return {"id": new_id(), "kind": "send", "conversation_id": team.shop_chat, "text": body,
            "message_id": new_id(), **extra}  # fmt: skip


def note(team: Team, body: str) -> dict[str, Any]:
    return {"id": new_id(), "kind": "note", "conversation_id": team.shop_chat, "text": body}


def outgoing(db: ServerDatabase) -> list[tuple[str, str]]:
    """The queued sends (message id, text), in the order the dispatcher takes them."""
    found = seeding.rows(
        db,
        "SELECT m.id::text, m.body FROM messages m JOIN outbox o ON o.message_id = m.id"
        " ORDER BY o.conversation_id, o.created_at, o.message_id",
    )
    return [(r[0], r[1]) for r in found]


def stored_commands(db: ServerDatabase) -> set[str]:
    return {r[0] for r in seeding.rows(db, "SELECT id::text FROM commands")}


def outcomes(results: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    return [(r["result"], bool(r.get("replayed"))) for r in results]


def test_a_command_the_database_refuses_fails_alone_and_the_others_apply_in_order(
    server_db: ServerDatabase, team: Team
) -> None:
    # Postgres takes no NUL in a text: the send with one in its reply_to is refused by the
    # database, in the middle of a run of sends queued together.
    batch = [
        send(team, "one"),
        send(team, "two"),
        send(team, "bad", reply_to="wamid.\x00"),
        {**send(team, "hidden"), "conversation_id": team.workshop_chat},  # not ana's number
        send(team, 'três 😀 "aspas" \\ barra'),
        note(team, "after"),
        send(team, "four"),
    ]
    results, sent = apply_commands(server_db, team.principal("ana"), batch)

    assert [r["result"] for r in results] == ["ok", "ok", "invalid", "forbidden"] + ["ok"] * 3
    assert results[2]["error"] == "rejected by the database"
    assert [r["id"] for r in results] == [c["id"] for c in batch]
    assert sent
    assert outgoing(server_db) == [(batch[i]["message_id"], batch[i]["text"]) for i in (0, 1, 4, 6)]
    assert seeding.scalar(server_db, "SELECT count(*) FROM notes") == 1
    # A refused command keeps no row: pushed again (fixed), it would apply.
    assert stored_commands(server_db) == {batch[i]["id"] for i in (0, 1, 4, 5, 6)}
    preview = seeding.scalar(
        server_db, "SELECT last_preview FROM conversations WHERE id = :c", c=team.shop_chat
    )
    assert preview == "four"


def test_a_reply_to_with_half_an_emoji_is_refused_not_an_error(
    server_db: ServerDatabase, team: Team
) -> None:
    # A JSON body may carry half an emoji (a lone surrogate), which no UTF-8 text can hold.
    batch = [send(team, "one", reply_to="wamid.\ud83d"), send(team, "two")]
    results, _ = apply_commands(server_db, team.principal("ana"), batch)
    assert [(r["result"], r.get("error")) for r in results] == [
        ("invalid", "rejected by the database"),
        ("ok", None),
    ]


def test_a_refusal_after_a_command_wrote_undoes_all_it_wrote(
    server_db: ServerDatabase, pg_database: PgDatabase, team: Team
) -> None:
    # A constraint only this test has: the outbox refuses one recipient, so that send has
    # already written its message when the database refuses it.
    with server_db.system() as conn:
        refused_chat = seeding.conversation(conn, team.ws, team.shop, "5511900000099")
    owner = create_engine(pg_database.owner_url)
    with owner.begin() as conn:
        conn.execute(
            text(
                "ALTER TABLE outbox ADD CONSTRAINT test_refused"
                " CHECK (recipient <> '5511900000099')"
            )
        )
    owner.dispose()
    batch = [send(team, "one"), {**send(team, "two"), "conversation_id": refused_chat},
             send(team, "three")]  # fmt: skip

    results, _ = apply_commands(server_db, team.principal("ana"), batch)

    assert [r["result"] for r in results] == ["ok", "invalid", "ok"]
    assert outgoing(server_db) == [
        (batch[0]["message_id"], "one"),
        (batch[2]["message_id"], "three"),
    ]
    assert seeding.scalar(server_db, "SELECT count(*) FROM messages") == 2
    last = seeding.scalar(
        server_db, "SELECT last_message_at FROM conversations WHERE id = :c", c=refused_chat
    )
    assert last == 0


def test_a_batch_pushed_twice_is_replayed_and_nothing_doubles(
    server_db: ServerDatabase, team: Team
) -> None:
    ana = team.principal("ana")
    claim = {"id": new_id(), "kind": "claim", "conversation_id": team.shop_chat,
             "expected_version": 1}  # fmt: skip
    batch = [send(team, "one"), claim, note(team, "n"), send(team, "two")]

    first, sent_first = apply_commands(server_db, ana, batch)
    second, sent_second = apply_commands(server_db, ana, batch)

    assert outcomes(first) == [("ok", False)] * 4
    assert outcomes(second) == [("ok", True)] * 4
    assert [{k: v for k, v in r.items() if k != "replayed"} for r in second] == first
    assert (sent_first, sent_second) == (True, False)
    assert len(outgoing(server_db)) == 2
    assert seeding.scalar(server_db, "SELECT count(*) FROM notes") == 1
    version = seeding.scalar(
        server_db, "SELECT version FROM conversations WHERE id = :c", c=team.shop_chat
    )
    assert version == 2 and first[1]["version"] == 2


def test_a_batch_mixing_applied_and_new_commands_applies_only_the_new(
    server_db: ServerDatabase, team: Team
) -> None:
    ana = team.principal("ana")
    a, b = send(team, "a"), send(team, "b")
    apply_commands(server_db, ana, [a, b])
    c, d = send(team, "c"), note(team, "d")

    results, sent = apply_commands(server_db, ana, [a, c, b, d])

    assert [r["id"] for r in results] == [a["id"], c["id"], b["id"], d["id"]]
    assert outcomes(results) == [("ok", True), ("ok", False), ("ok", True), ("ok", False)]
    assert sent
    assert [body for _, body in outgoing(server_db)] == ["a", "b", "c"]
    # Another user cannot reuse an id of ana's, in a batch of their own new commands.
    sup_note = note(team, "sup's")
    theirs, _ = apply_commands(server_db, team.principal("sup"), [sup_note, a])
    assert [(r["result"], r.get("error")) for r in theirs] == [
        ("ok", None),
        ("invalid", "id already used"),
    ]


def test_one_id_twice_in_a_batch_behaves_as_two_pushes(
    server_db: ServerDatabase, team: Team
) -> None:
    ana = team.principal("ana")
    once = send(team, "once")
    empty = {**note(team, "\x00"), "id": new_id()}
    fixed = {**empty, "text": "fixed"}

    results, _ = apply_commands(server_db, ana, [once, once, empty, fixed])

    # The copy of an applied command is a replay; after a refusal, the id is free again.
    assert outcomes(results) == [("ok", False), ("ok", True), ("invalid", False), ("ok", False)]
    assert len(outgoing(server_db)) == 1
    assert seeding.scalar(server_db, "SELECT body FROM notes") == "fixed"


def test_concurrent_pushes_of_one_batch_apply_it_once(
    server_db: ServerDatabase, team: Team
) -> None:
    ana = team.principal("ana")
    batch = [send(team, f"reply {n}") for n in range(20)] + [note(team, "n")]
    answers: list[list[tuple[str, bool]]] = []
    errors: list[BaseException] = []

    def push() -> None:
        try:
            answers.append(outcomes(apply_commands(server_db, ana, batch)[0]))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=push) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(answers) == [[("ok", False)] * 21] + [[("ok", True)] * 21] * 3
    assert len(outgoing(server_db)) == 20
    assert seeding.scalar(server_db, "SELECT count(*) FROM notes") == 1


def test_a_transaction_that_fails_as_a_whole_applies_nothing(
    server_db: ServerDatabase, pg_database: PgDatabase, postgres_cluster: Any, team: Team
) -> None:
    def lose_the_connection(name: str) -> None:
        # The server's connection dies just before its commit (Postgres restarted, network).
        if name == "push.before_commit":
            assert postgres_cluster.end_open_transactions(pg_database.name) == 1

    batch = [send(team, "one"), note(team, "n"), send(team, "two")]
    faults.install(lose_the_connection)
    try:
        with pytest.raises(BatchFailed):
            apply_commands(server_db, team.principal("ana"), batch)
    finally:
        faults.install(None)

    assert outgoing(server_db) == []
    assert seeding.scalar(server_db, "SELECT count(*) FROM notes") == 0
    assert stored_commands(server_db) == set()
    # The same commands pushed again apply, once.
    results, _ = apply_commands(server_db, team.principal("ana"), batch)
    assert outcomes(results) == [("ok", False)] * 3
    assert [body for _, body in outgoing(server_db)] == ["one", "two"]
