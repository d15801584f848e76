"""The sync API over real HTTP on loopback, on a real Postgres: pull, push, pokes, refusals."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest
from sqlalchemy import text

from sync.server.auth import revoke_user
from sync.server.sync_api import Cursor, pull
from sync.store.team.database import ServerDatabase
from tests.polling import at_most
from tests.sync.client.team_server import (
    PASSWORD,
    Team,
    add_messages,
    new_id,
    random_uuid,
    running_server,
    seed,
)

if TYPE_CHECKING:
    from tests.conftest import PgDatabase


@pytest.fixture
def team(server_db: ServerDatabase) -> Team:
    return seed(server_db)


@pytest.fixture
def base_url(server_db: ServerDatabase, team: Team) -> Iterator[str]:
    with running_server(server_db) as url:
        yield url


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def login(base_url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=f"{base_url}/api/v1", timeout=30)
    _OPEN.append(client)
    response = client.post("/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["protocol"] == 1 and body["user"]["username"] == username
    client.headers["Authorization"] = f"Bearer {body['token']}"
    return client


def pull_all(client: httpx.Client, after: str = "0:0", limit: int = 1000) -> list[dict[str, Any]]:
    pages = []
    for _ in at_most(1000, "the pull kept saying there was more"):
        response = client.get("/pull", params={"after": after, "limit": limit, "protocol": 1})
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        assert page["cursor"] == response.headers["x-caixa-cursor"]
        after = page["cursor"]
        if not page["more"]:
            break
    return pages


def rows(pages: list[dict[str, Any]], table: str) -> list[list[Any]]:
    return [row for page in pages for row in page["rows"].get(table, [])]


def test_login_refuses_a_wrong_password(base_url: str, team: Team) -> None:
    with httpx.Client(base_url=f"{base_url}/api/v1") as client:
        response = client.post("/login", json={"username": "ana", "password": "wrong-password"})
        assert response.status_code == 401
        assert client.post("/login", json={"username": "ana"}).status_code == 400
        assert client.get("/pull").status_code == 401


def test_a_login_lasts_the_configured_token_ttl(server_db: ServerDatabase, team: Team) -> None:
    with running_server(server_db, token_ttl=timedelta(days=2)) as url:
        before = datetime.now(UTC)
        with httpx.Client(base_url=f"{url}/api/v1") as client:
            response = client.post("/login", json={"username": "ana", "password": PASSWORD})
    assert response.status_code == 200, response.text
    lasts = datetime.fromisoformat(response.json()["expires_at"]) - before
    assert timedelta(days=2) - timedelta(minutes=1) < lasts < timedelta(days=2, minutes=1)


def test_pull_pages_through_every_row_in_stamp_order(
    base_url: str, team: Team, server_db: ServerDatabase
) -> None:
    ids = add_messages(server_db, team, "shop", 25)
    client = login(base_url, "sup")
    pages = pull_all(client, limit=10)
    # 2 numbers, 3 teammates, 2 conversations, 25 messages: 32 rows in pages of 10.
    assert [p["count"] for p in pages] == [10, 10, 10, 2]
    cursors = [Cursor.parse(p["cursor"]) for p in pages]
    assert cursors == sorted(cursors) and len(set(cursors)) == 4
    assert sorted(r[0] for r in rows(pages, "messages")) == sorted(ids)
    assert {r[1] for r in rows(pages, "teammates")} == {"ana", "bia", "sup"}
    assert {r[0] for r in rows(pages, "accounts")} == {team.shop, team.workshop}
    assert pages[-1]["accounts"] == [team.shop, team.workshop]
    # Nothing new: an empty page that keeps the cursor.
    again = pull_all(client, pages[-1]["cursor"])
    assert again[0]["count"] == 0 and again[0]["cursor"] == pages[-1]["cursor"]
    # An update re-stamps the row: it comes again, after the cursor.
    with server_db.system() as conn:
        conn.execute(text("UPDATE messages SET status = 'read' WHERE id = :id"), {"id": ids[3]})
    later = pull_all(client, pages[-1]["cursor"])
    assert [(r[0], r[11]) for r in rows(later, "messages")] == [(ids[3], "read")]


def test_an_agent_gets_nothing_of_a_number_they_may_not_see(
    base_url: str, team: Team, server_db: ServerDatabase
) -> None:
    add_messages(server_db, team, "shop", 3, body="alpha secret")
    add_messages(server_db, team, "workshop", 3, body="workshop secret")
    client = login(base_url, "bia")
    pages = pull_all(client)
    assert {r[1] for r in rows(pages, "messages")} == {team.workshop}
    assert {r[0] for r in rows(pages, "conversations")} == {team.workshop_chat}
    assert {r[0] for r in rows(pages, "accounts")} == {team.workshop}
    assert pages[-1]["accounts"] == [team.workshop]
    # Crafted requests: a backfill of the other number, any cursor, any limit.
    for params in (
        {"after": "0:0", "account": team.shop, "until": "999999999:999999999"},
        {"after": "1:1", "account": team.shop, "until": "0:0"},
        {"after": "0:0", "limit": 20000},
    ):
        response = client.get("/pull", params={**params, "protocol": 1})
        assert response.status_code == 200
        assert "alpha secret" not in response.text
    # Commands naming the other number's conversation or messages: refused, nothing written.
    response = client.post(
        "/push",
        json={
            "commands": [
                {"id": new_id(), "kind": "note", "conversation_id": team.shop_chat, "text": "x"},
                {"id": new_id(), "kind": "send", "conversation_id": team.shop_chat, "text": "y"},
                {"id": new_id(), "kind": "mark_read", "conversation_id": team.shop_chat},
                {"id": new_id(), "kind": "claim", "conversation_id": team.shop_chat,
                 "expected_version": 1},
                {"id": new_id(), "kind": "note", "conversation_id": 10**12, "text": "x"},
            ]
        },
    )  # fmt: skip
    assert [r["result"] for r in response.json()["results"]] == ["forbidden"] * 5
    with server_db.system() as conn:
        assert conn.execute(text("SELECT count(*) FROM notes")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM commands")).scalar_one() == 0


@pytest.mark.parametrize(
    "params",
    [
        {"after": "abc"},
        {"after": "1:"},
        {"after": "-1:0"},
        {"after": "1:2:3"},
        {"after": "0:0 OR 1=1"},
        {"after": "99999999999999999999:0"},
        {"after": "9223372036854775808:0"},
        {"limit": "0"},
        {"limit": "-5"},
        {"limit": "1000000"},
        {"limit": "ten"},
        {"account": "1 OR true"},
        {"account": "1", "until": "x"},
    ],
)
def test_a_malformed_request_is_a_400(base_url: str, params: dict[str, str]) -> None:
    client = login(base_url, "ana")
    response = client.get("/pull", params={"protocol": 1, **params})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_bodies_that_are_not_json_objects_or_too_large_are_refused(
    base_url: str, server_db: ServerDatabase
) -> None:
    client = login(base_url, "ana")
    for body in (b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 100_000):
        response = client.post("/push", content=body, params={"protocol": 1})
        assert response.status_code == 400, body[:20]
    huge = b'{"commands": [], "pad": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    response = client.post("/push", content=huge, params={"protocol": 1})
    assert response.status_code == 400 and "too large" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: read only up to the limit
        yield b'{"commands": [], "pad": "'
        for _ in range(20):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    response = client.post("/push", content=chunks(), params={"protocol": 1})
    assert response.status_code == 400
    with server_db.system() as conn:
        assert conn.execute(text("SELECT count(*) FROM commands")).scalar_one() == 0


def test_resync_required_for_an_old_protocol_or_a_cursor_behind_the_horizon(
    base_url: str, server_db: ServerDatabase, team: Team
) -> None:
    client = login(base_url, "ana")
    response = client.get("/pull", params={"after": "0:0", "protocol": 2})
    assert response.status_code == 409
    assert response.json() == {"error": "resync_required", "reason": "protocol", "protocol": 1}
    cursor = pull_all(client)[-1]["cursor"]
    with server_db.system() as conn:
        conn.execute(
            text("INSERT INTO sync_settings VALUES ('resync_before', pg_current_xact_id()::text)")
        )
    response = client.get("/pull", params={"after": cursor, "protocol": 1})
    assert response.status_code == 409
    assert response.json()["reason"] == "cursor"
    # Starting over is always allowed.
    assert client.get("/pull", params={"after": "0:0", "protocol": 1}).status_code == 200


def test_a_revoked_token_is_refused_at_once(
    base_url: str, server_db: ServerDatabase, team: Team
) -> None:
    client = login(base_url, "ana")
    assert client.get("/pull", params={"protocol": 1}).status_code == 200
    with server_db.system() as conn:
        revoke_user(conn, team.ana)
    assert client.get("/pull", params={"protocol": 1}).status_code == 401
    assert client.post("/push", json={"commands": []}).status_code == 401
    assert client.get("/events").status_code == 401
    other = login(base_url, "bia")
    assert other.post("/logout").status_code == 200
    assert other.get("/pull", params={"protocol": 1}).status_code == 401


def test_the_fence_holds_back_a_late_committer_until_it_commits(
    pg_database: PgDatabase, postgres_cluster: Any, server_db: ServerDatabase, team: Team
) -> None:
    principal = team.principal("sup")
    start = pull(server_db, principal, Cursor(), 1000).cursor
    early_id, late_id = str(uuid.uuid4()), str(uuid.uuid4())
    insert = (
        "INSERT INTO messages (id, workspace_id, account_id, conversation_id, direction, ts,"
        " type, body, status) VALUES (%s, %s, %s, %s, 'in', 1, 'text', 'x', 'received')"
    )
    dsn = postgres_cluster.dsn(pg_database.name, app=True)
    with psycopg.connect(dsn) as slow, psycopg.connect(dsn, autocommit=True) as fast:
        slow.execute("SELECT set_config('caixa.scope', 'system', true)")
        # Takes its xid now, commits last.
        slow.execute(insert, (early_id, team.ws, team.shop, team.shop_chat))
        with fast.transaction():
            fast.execute("SELECT set_config('caixa.scope', 'system', true)")
            fast.execute(insert, (late_id, team.ws, team.shop, team.shop_chat))
        page = pull(server_db, principal, start, 1000)
        # The later transaction's row is behind the fence: handing it out now would move the
        # cursor past the early one's xid, which would then never be pulled.
        assert "messages" not in page.rows
        assert page.cursor == start and page.held
        slow.commit()
    page = pull(server_db, principal, start, 1000)
    got = [row[0] for row in json.loads(page.rows["messages"])]
    assert got == [early_id, late_id]


def test_tombstones_and_access_loss_reach_the_client(
    base_url: str, server_db: ServerDatabase, team: Team
) -> None:
    ids = add_messages(server_db, team, "shop", 2)
    client = login(base_url, "ana")
    cursor = pull_all(client)[-1]["cursor"]
    with server_db.system() as conn:
        conn.execute(text("UPDATE messages SET deleted = true WHERE id = :id"), {"id": ids[0]})
    pages = pull_all(client, cursor)
    assert rows(pages, "messages") == []
    assert rows(pages, "messages_deleted") == [[ids[0]]]
    with server_db.system() as conn:
        conn.execute(text("DELETE FROM user_accounts WHERE user_id = :u"), {"u": team.ana})
    pages = pull_all(client, pages[-1]["cursor"])
    assert pages[-1]["accounts"] == []
    assert pull_all(client)[-1]["accounts"] == []
    assert rows(pull_all(client), "messages") == []


def _push(client: httpx.Client, *commands: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/push", params={"protocol": 1}, json={"commands": list(commands)})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def test_a_command_pushed_twice_is_applied_once(
    base_url: str, server_db: ServerDatabase, team: Team
) -> None:
    client = login(base_url, "ana")
    note = {"id": new_id(), "kind": "note", "conversation_id": team.shop_chat, "text": "call"}
    send = {"id": new_id(), "kind": "send", "conversation_id": team.shop_chat, "text": "hi",
            "message_id": new_id()}  # fmt: skip
    first = _push(client, note, send)
    second = _push(client, note, send)
    assert [r["result"] for r in first] == ["ok", "ok"]
    assert [r["result"] for r in second] == ["ok", "ok"]
    assert [r.get("replayed") for r in second] == [True, True]
    assert second[1]["message_id"] == send["message_id"]
    with server_db.system() as conn:
        assert conn.execute(text("SELECT count(*) FROM notes")).scalar_one() == 1
        sent = conn.execute(
            text(
                "SELECT id::text, status, author_user_id, body FROM messages"
                " WHERE direction = 'out'"
            )
        ).all()
        assert [tuple(r) for r in sent] == [(send["message_id"], "queued", team.ana, "hi")]
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 1
    # Another user cannot reuse (or read the result of) someone else's command id.
    other = login(base_url, "sup")
    assert _push(other, note)[0]["result"] == "invalid"


def test_concurrent_pushes_of_one_command_apply_it_once(
    base_url: str, server_db: ServerDatabase, team: Team
) -> None:
    client = login(base_url, "ana")
    note = {"id": new_id(), "kind": "note", "conversation_id": team.shop_chat, "text": "once"}
    results: list[str] = []

    def push() -> None:
        results.append(_push(client, note)[0]["result"])

    threads = [threading.Thread(target=push) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["ok"] * 6
    with server_db.system() as conn:
        assert conn.execute(text("SELECT count(*) FROM notes")).scalar_one() == 1


def test_a_claim_conflict_is_reported_not_stolen(
    base_url: str, server_db: ServerDatabase, team: Team
) -> None:
    ana, sup = login(base_url, "ana"), login(base_url, "sup")
    claim = {"kind": "claim", "conversation_id": team.shop_chat, "expected_version": 1}
    claimed = _push(ana, {**claim, "id": new_id()})[0]
    assert (claimed["result"], claimed["assigned_user_id"], claimed["version"]) == (
        "ok",
        team.ana,
        2,
    )
    result = _push(sup, {**claim, "id": new_id()})[0]
    assert result["result"] == "conflict"
    assert result["assigned_user_id"] == team.ana and result["version"] == 2
    with server_db.system() as conn:
        owner = conn.execute(
            text("SELECT assigned_user_id, version FROM conversations WHERE id = :c"),
            {"c": team.shop_chat},
        ).one()
    assert tuple(owner) == (team.ana, 2)
    # With the current version, a supervisor may reassign; an agent may not give it away.
    assign = {"kind": "assign", "conversation_id": team.shop_chat, "expected_version": 2}
    assert _push(ana, {**assign, "id": new_id(), "user_id": team.sup})[0]["result"] == "forbidden"
    done = _push(sup, {**assign, "id": new_id(), "user_id": team.bia})[0]
    assert done["result"] == "invalid"  # bia may not see the shop's number
    done = _push(sup, {**assign, "id": new_id(), "user_id": None})[0]
    assert (done["result"], done["version"], done["assigned_user_id"]) == ("ok", 3, None)


def test_labels_marks_and_automations(base_url: str, server_db: ServerDatabase, team: Team) -> None:
    ana, sup = login(base_url, "ana"), login(base_url, "sup")
    results = _push(
        ana,
        {"id": new_id(), "kind": "label", "conversation_id": team.shop_chat, "label": "vip"},
        {"id": new_id(), "kind": "label", "conversation_id": team.shop_chat, "label": "vip"},
        {"id": new_id(), "kind": "label", "conversation_id": team.shop_chat, "label": "late"},
        {"id": new_id(), "kind": "label", "conversation_id": team.shop_chat, "label": "late",
         "op": "remove"},
        {"id": new_id(), "kind": "mark_read", "conversation_id": team.shop_chat},
        {"id": new_id(), "kind": "automation", "account_id": team.shop, "name": "away",
         "enabled": True},
        {"id": "not-a-uuid", "kind": "note"},
        {"id": str(uuid.uuid4()), "kind": "note"},
        {"id": new_id(), "kind": "explode"},
    )  # fmt: skip
    assert [r["result"] for r in results] == (
        ["ok"] * 5 + ["forbidden", "invalid", "invalid", "invalid"]
    )
    assert _push(
        sup, {"id": new_id(), "kind": "automation", "account_id": team.shop, "name": "away",
              "enabled": True}
    )[0]["result"] == "ok"  # fmt: skip
    with server_db.system() as conn:
        labels = conn.execute(
            text("SELECT labels FROM conversations WHERE id = :c"), {"c": team.shop_chat}
        ).scalar_one()
        automations = conn.execute(
            text("SELECT automations FROM accounts WHERE id = :a"), {"a": team.shop}
        ).scalar_one()
    assert labels == ["vip"] and automations == {"away": True}
    assert login(base_url, "ana").post("/push", json={"commands": "x"}).status_code == 400
    assert random_uuid()


@pytest.mark.anyio
async def test_events_poke_when_something_changes(
    pg_database: PgDatabase, postgres_cluster: Any, server_db: ServerDatabase, team: Team
) -> None:
    import anyio

    dsn = postgres_cluster.dsn(pg_database.name, app=True)
    with running_server(server_db, dsn) as url:
        token = login(url, "ana").headers["Authorization"]
        async with (
            httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=10) as http,
            http.stream("GET", "/events", headers={"Authorization": token}) as events,
        ):
            assert events.status_code == 200
            assert events.headers["content-type"].startswith("text/event-stream")
            lines = events.aiter_lines()
            seen: list[str] = []
            with anyio.fail_after(10):  # a stream that never pokes fails, not hangs
                while "" not in seen or "event: poke" not in seen:
                    seen.append(await anext(lines))
            await anyio.to_thread.run_sync(add_messages, server_db, team, "shop", 1)
            with anyio.fail_after(5):
                while await anext(lines) != "event: poke":
                    pass


def test_a_page_inside_a_big_transaction_walks_the_index_not_a_sort(
    server_db: ServerDatabase, team: Team, pg_database: PgDatabase
) -> None:
    """Cursors in the middle of big transactions' rows (bulk loads, big ingest batches).

    The planner reads ``(xid, seq) > (x, s)`` as ``xid > x``; for a cursor inside a big
    transaction it then chose to sort every row after it (0.6 s a page on 300k rows) over
    walking the change index.
    """
    from sync.server import sync_api

    for _ in range(3):
        add_messages(server_db, team, "shop", 40_000)
    with psycopg.connect(pg_database.owner_url.replace("+psycopg", ""), autocommit=True) as owner:
        owner.execute("ANALYZE")
    principal = team.principal("sup")

    def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield node
        for child in node.get("Plans", ()):
            yield from nodes(child)

    cursor = Cursor()
    checked = 0
    for _ in at_most(1000, "the pull kept saying there was more"):
        with server_db.agent(principal) as conn:
            params = {
                "ws": principal.workspace_id,
                "after_xid": str(cursor.xid),
                "after_seq": cursor.seq,
                "until_xid": str(sync_api._MAX_INT8),
                "until_seq": sync_api._MAX_INT8,
                "accounts": [team.shop, team.workshop],
                "limit": 10_000,
                "check_held": True,
            }
            plan = conn.execute(
                text("EXPLAIN (FORMAT JSON) " + sync_api._PULL_SQL), params
            ).scalar_one()[0]
        every = list(nodes(plan["Plan"]))
        assert not [
            n for n in every if n["Node Type"] == "Sort" and "messages.xid" in str(n["Sort Key"])
        ], f"a sort of the messages after {cursor}"
        checked += 1
        page = pull(server_db, principal, cursor, 10_000)
        if not page.more:
            break
        cursor = page.cursor
    assert checked >= 12


def test_pruning_old_tombstones_sends_only_desktops_that_could_miss_them_to_resync(
    base_url: str, server_db: ServerDatabase, team: Team
) -> None:
    from datetime import timedelta

    from sync.server.admin import prune_tombstones

    ids = add_messages(server_db, team, "shop", 4)
    behind = login(base_url, "sup")
    old_cursor = pull_all(behind)[-1]["cursor"]  # pulled before the deletes

    with server_db.system() as conn:
        for message_id in ids[:2]:
            conn.execute(
                text("UPDATE messages SET deleted = true WHERE id = :id"), {"id": message_id}
            )
        dated = conn.execute(
            text("SELECT count(*) FROM messages WHERE deleted AND deleted_at IS NOT NULL")
        ).scalar_one()
        assert dated == 2  # the trigger dates each tombstone
        # One of them is old; the other was made just now.
        conn.execute(
            text("UPDATE messages SET deleted_at = now() - interval '100 days' WHERE id = :id"),
            {"id": ids[0]},
        )
    add_messages(server_db, team, "shop", 1)  # a later change: its pull passes the tombstones
    current = login(base_url, "ana")
    new_cursor = pull_all(current)[-1]["cursor"]

    report = prune_tombstones(server_db, timedelta(days=90))
    assert report.removed == {
        "reactions": 0,
        "notes": 0,
        "messages": 1,
        "conversations": 0,
        "pending_changes": 0,
    }
    assert report.resync_before > 0
    with server_db.system() as conn:
        left = (
            conn.execute(text("SELECT id::text FROM messages WHERE deleted ORDER BY id"))
            .scalars()
            .all()
        )
    assert left == [ids[1]]  # the recent tombstone stays, for desktops yet to pull it

    # A desktop that pulled before the old delete could never learn of it: it starts over.
    response = behind.get("/pull", params={"after": old_cursor, "protocol": 1})
    assert response.status_code == 409 and response.json()["reason"] == "cursor"
    # One that pulled since goes on as before.
    assert current.get("/pull", params={"after": new_cursor, "protocol": 1}).status_code == 200

    again = prune_tombstones(server_db, timedelta(days=90))  # nothing left that old
    assert sum(again.removed.values()) == 0 and again.resync_before == 0
    with server_db.system() as conn:
        horizon = conn.execute(
            text("SELECT value FROM sync_settings WHERE key = 'resync_before'")
        ).scalar_one()
    assert int(horizon) == report.resync_before  # never moves back


def test_a_template_send_is_checked_then_queued_with_its_template(
    base_url: str, server_db: ServerDatabase, team: Team
) -> None:
    client = login(base_url, "ana")
    good = {"name": "pedido_pronto", "language": "pt_BR", "body_parameters": ["João"]}

    def send(template: object) -> dict[str, Any]:
        command = {"id": new_id(), "kind": "send", "conversation_id": team.shop_chat,
                   "text": "Olá João, seu pedido está pronto", "template": template}  # fmt: skip
        return _push(client, command)[0]

    for bad in (
        "pedido_pronto",
        {"name": "Pedido Pronto", "language": "pt_BR"},
        {"name": "pedido_pronto", "language": "português"},
        {"name": "pedido_pronto", "language": "pt_BR", "body_parameters": [1]},
        {"name": "pedido_pronto", "language": "pt_BR", "header_parameters": ["x"] * 31},
    ):
        assert send(bad)["result"] == "invalid", bad
    assert send(good)["result"] == "ok"
    with server_db.system() as conn:
        row = conn.execute(
            text("SELECT type, body, media FROM messages WHERE direction = 'out'")
        ).one()
        queued = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
    assert row.type == "template" and row.body == "Olá João, seu pedido está pronto"
    assert row.media == {"template": {**good, "header_parameters": []}}
    assert queued == 1  # refused ones queued nothing


def test_templates_are_asked_only_for_a_number_the_user_sees(base_url: str, team: Team) -> None:
    client = login(base_url, "ana")  # ana sees the shop's number only

    def ask(account: object) -> httpx.Response:
        return client.get("/templates", params={"account": account, "protocol": 1})

    # This server runs no dispatcher: no adapter, so no templates (what a QR number answers).
    assert ask(team.shop).status_code == 422
    assert ask(team.shop).json() == {"error": "no_templates"}
    assert ask(team.workshop).status_code == 404  # not hers: as if it did not exist
    assert ask(999_999).status_code == 404
    assert ask("shop").status_code == 400
    assert (
        httpx.get(f"{base_url}/api/v1/templates", params={"account": team.shop}).status_code == 401
    )
