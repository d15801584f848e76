"""Two desktops and one team server over real HTTP: pull, push, pokes, offline, resume."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
from sqlalchemy import text

from sync import faults
from sync.client import pull as pulling
from sync.client.team import AuthRefused, TeamClient, TeamOffline
from sync.domain.models import DeliveryStatus
from sync.server.auth import revoke_user
from sync.store.local import queries
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.local.local_cache import LocalCache
from sync.store.local.search import search_messages
from sync.store.team.database import ServerDatabase
from tests.fakes.network import Switch
from tests.polling import eventually
from tests.sync.client.conftest import Desktop
from tests.sync.client.team_server import PASSWORD, Team, add_messages
from tests.sync.helpers import rows, scalar

if TYPE_CHECKING:
    from tests.conftest import PgDatabase

pytestmark = pytest.mark.anyio


async def test_a_message_sent_by_one_desktop_reaches_the_other_by_poke(
    desktops: Callable[..., Desktop], team: Team
) -> None:
    a, _, _ = desktops("a")
    b, b_db, _ = desktops("b", poll_interval=3600)  # pokes only: no timer pull during the test
    await a.login("ana", PASSWORD)
    await b.login("sup", PASSWORD)
    await a.sync_now()
    online: list[bool] = []
    b.status_changed.connect(online.append)
    runner = asyncio.create_task(b.run())
    try:
        await eventually(lambda: b.online)
        await eventually(lambda: b_db.run(queries.count_conversations))
        message = await a.send_text(team.shop_chat, "o pedido saiu hoje")
        assert message.status is DeliveryStatus.QUEUED
        assert await a.pending_count() == 1
        await a.push()
        assert await a.pending_count() == 0

        async def arrived() -> bool:
            found = await b_db.run(scalar, "SELECT status FROM messages WHERE id = ?", message.id)
            return found == "queued"

        await eventually(arrived)
        hits = await b_db.run(search_messages, "pedido")
        assert [h.message_id for h in hits] == [message.id]
        author = await b_db.run(
            scalar, "SELECT author_user_id FROM messages WHERE id = ?", message.id
        )
        assert author == team.ana
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    assert online[-1] is False


async def test_replies_written_offline_go_out_once_in_order(
    desktops: Callable[..., Desktop], team: Team, server_db: ServerDatabase
) -> None:
    b, b_db, switch = desktops("b")
    await b.login("ana", PASSWORD)
    await b.sync_now()
    switch.offline = True
    pending: list[int] = []
    b.pending_changed.connect(pending.append)
    texts = ["primeira", "segunda", "terceira"]
    sent = [await b.send_text(team.shop_chat, t) for t in texts]
    assert await b.pending_count() == 3 and pending == [1, 2, 3]
    with pytest.raises(Exception, match="cannot be reached"):
        await b.sync_now()
    assert not b.online
    # Still readable and searchable offline, shown as queued.
    statuses = await b_db.run(
        rows, "SELECT status FROM messages WHERE direction = 'out' ORDER BY seq"
    )
    assert statuses == [("queued",)] * 3
    assert len(await b_db.run(search_messages, "segunda")) == 1

    # The answer to the first push is lost after the server applied it: pushed again, applied once.
    switch.offline = False
    original = switch.inner.handle_async_request
    lost = {"done": False}

    async def lose_first_push_answer(request: httpx.Request) -> httpx.Response:
        response = await original(request)
        if request.url.path.endswith("/push") and not lost["done"]:
            lost["done"] = True
            await response.aread()
            raise httpx.ReadError("connection reset (test)", request=request)
        return response

    switch.inner.handle_async_request = lose_first_push_answer  # type: ignore[method-assign]
    with pytest.raises(Exception, match="cannot be reached"):
        await b.sync_now()
    assert await b.pending_count() == 3
    await b.sync_now()
    assert await b.pending_count() == 0 and pending[-1] == 0

    with server_db.system() as conn:
        server_rows = conn.execute(
            text(
                "SELECT m.id::text, m.body FROM messages m JOIN outbox o ON o.message_id = m.id"
                " WHERE m.direction = 'out' ORDER BY o.created_at, m.ts, m.id"
            )
        ).all()
        commands = conn.execute(text("SELECT count(*) FROM commands")).scalar_one()
    assert [(r[0], r[1]) for r in server_rows] == [
        (m.id, t) for m, t in zip(sent, texts, strict=True)
    ]
    assert commands == 3
    # The pulled rows replaced the local ones: one copy each.
    count = await b_db.run(scalar, "SELECT count(*) FROM messages WHERE direction = 'out'")
    assert count == 3


async def test_a_push_the_server_could_not_commit_waits_and_goes_once_later(
    desktops: Callable[..., Desktop],
    team: Team,
    server_db: ServerDatabase,
    pg_database: PgDatabase,
    postgres_cluster: Any,
) -> None:
    b, b_db, _ = desktops("b")
    await b.login("ana", PASSWORD)
    await b.sync_now()
    texts = ["um", "dois", "três"]
    sent = [await b.send_text(team.shop_chat, t) for t in texts]
    await b.add_note(team.shop_chat, "ligar amanhã")

    def lose_the_connection(name: str) -> None:
        # The server's database connection dies just before the batch's commit.
        if name == "push.before_commit":
            postgres_cluster.end_open_transactions(pg_database.name)

    faults.install(lose_the_connection)
    try:
        with pytest.raises(TeamOffline, match="503"):
            await b.push()
    finally:
        faults.install(None)
    # Nothing of the batch was applied; the desktop keeps it, as queued.
    with server_db.system() as conn:
        applied = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM commands), (SELECT count(*) FROM messages"
                " WHERE direction = 'out'), (SELECT count(*) FROM notes)"
            )
        ).one()
    assert tuple(applied) == (0, 0, 0)
    assert await b.pending_count() == 4
    statuses = await b_db.run(rows, "SELECT status FROM messages WHERE direction = 'out'")
    assert statuses == [("queued",)] * 3

    # Later, the same commands again: each applied once, in order.
    await b.sync_now()
    assert await b.pending_count() == 0
    with server_db.system() as conn:
        queued = conn.execute(
            text(
                "SELECT m.id::text, m.body FROM messages m JOIN outbox o ON o.message_id = m.id"
                " ORDER BY o.created_at, o.message_id"
            )
        ).all()
        commands = conn.execute(text("SELECT count(*) FROM commands")).scalar_one()
        notes = conn.execute(text("SELECT count(*) FROM notes")).scalar_one()
    assert [tuple(r) for r in queued] == [(m.id, t) for m, t in zip(sent, texts, strict=True)]
    assert (commands, notes) == (4, 1)


async def test_an_interrupted_initial_sync_resumes_from_its_cursor(
    desktops: Callable[..., Desktop], team: Team, server_db: ServerDatabase
) -> None:
    add_messages(server_db, team, "shop", 2_500, body="historico")
    client, db, switch = desktops("a", page_size=500, catch_up_page_size=500)
    await client.login("sup", PASSWORD)
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if len(seen) == 2:
            raise KeyboardInterrupt  # the app closed mid-sync

    with pytest.raises(KeyboardInterrupt):
        await client.sync_now(progress)
    stored = await db.run(pulling.stored_cursor)
    assert stored != "0:0"
    assert await db.run(scalar, "SELECT count(*) FROM messages") == 2 * 500 - 7  # 7 other rows
    assert seen[0][1] == 2_507
    # A long initial sync stores its pages without the provider-id index (bulk mode); the flag
    # that says so was committed with the pages.
    assert await db.run(pulling.bulk_sync_pending)
    assert not await db.run(_has_provider_index)

    switch.requests.clear()
    fresh = TeamClient(client._http, db, token=client.token, page_size=500, catch_up_page_size=500)
    await fresh.sync_now()
    pulls = [r for r in switch.requests if r.url.path.endswith("/pull")]
    assert pulls[0].url.params["after"] == stored
    assert await db.run(scalar, "SELECT count(*) FROM messages") == 2_500
    hits = await db.run(lambda c: search_messages(c, "historico", limit=5000))
    assert len(hits) == 2_500
    # The resumed sync reached the end of the stream: the index is back, the flag gone.
    assert not await db.run(pulling.bulk_sync_pending)
    assert await db.run(_has_provider_index)


async def test_a_full_page_means_catching_up_with_the_larger_pages(
    desktops: Callable[..., Desktop], team: Team, server_db: ServerDatabase
) -> None:
    add_messages(server_db, team, "shop", 2_500, body="historico")
    client, db, switch = desktops("a", page_size=400, catch_up_page_size=1_000)
    await client.login("sup", PASSWORD)
    await client.sync_now()
    # 2,507 rows: 400 + 1,000 + 1,000 + 107
    assert _pull_limits(switch) == [400, 1_000, 1_000, 1_000]
    assert await db.run(scalar, "SELECT count(*) FROM messages") == 2_500
    switch.requests.clear()
    add_messages(server_db, team, "shop", 3)
    await client.sync_now()  # a live pull: the small page again
    assert _pull_limits(switch) == [400]


def _pull_limits(switch: Switch) -> list[int]:
    return [int(r.url.params["limit"]) for r in switch.requests if r.url.path.endswith("/pull")]


def _has_provider_index(cache: LocalCache) -> bool:
    sql = "SELECT count(*) FROM sqlite_master WHERE name = 'messages_provider_id'"
    return bool(scalar(cache, sql))


def test_ending_a_bulk_sync_keeps_the_newest_of_two_rows_with_one_provider_id(
    tmp_path: Path,
) -> None:
    cache = LocalCache.open(tmp_path / "team.db", CacheKey.generate())
    try:
        sql = cache.conn.exec_driver_sql
        sql("INSERT INTO accounts (id, name, provider) VALUES (1, 'shop', 'demo')")
        sql(
            "INSERT INTO conversations (id, account_id, chat_key, customer_phone, customer_name)"
            " VALUES (1, 1, '5511', '5511', 'Customer')"
        )
        page = {
            "cursor": "5:1",
            "accounts": [1],
            "rows": {
                "messages": [
                    [f"0190a000-0000-7000-8000-00000000000{n}", 1, 1, provider, "in", 1700000000000,
                     "text", body, "", "", "", "received", "", 0, 0, 0]
                    for n, provider, body in ((1, "wamid.A", "older"), (2, "wamid.A", "newer"),
                                              (3, "wamid.B", "other"))
                ]
            },
        }  # fmt: skip
        pulling.apply_page(cache, page, begin_bulk=True)
        assert pulling.bulk_sync_pending(cache)
        assert scalar(cache, "SELECT count(*) FROM messages") == 3  # no index, no conflict

        pulling.end_bulk_sync(cache)

        assert not pulling.bulk_sync_pending(cache)
        assert _has_provider_index(cache)
        kept = cache.conn.exec_driver_sql("SELECT body FROM messages ORDER BY seq").scalars()
        assert list(kept) == ["newer", "other"]
        assert [h.text for h in search_messages(cache, "older")] == []
        assert [h.text for h in search_messages(cache, "newer")] == ["newer"]
    finally:
        cache.close()


async def test_tombstones_updates_and_access_follow_the_server(
    desktops: Callable[..., Desktop], team: Team, server_db: ServerDatabase
) -> None:
    ids = add_messages(server_db, team, "shop", 3, body="alpha")
    add_messages(server_db, team, "workshop", 2, body="beta")
    client, db, _ = desktops("a")
    await client.login("bia", PASSWORD)
    await client.sync_now()
    assert await db.run(scalar, "SELECT count(*) FROM messages") == 2
    assert await db.run(search_messages, "alpha") == []

    # bia is given the shop's number: its older rows are backfilled.
    with server_db.system() as conn:
        conn.execute(
            text("INSERT INTO user_accounts VALUES (:ws, :u, :a)"),
            {"ws": team.ws, "u": team.bia, "a": team.shop},
        )
    await client.sync_now()
    assert len(await db.run(search_messages, "alpha")) == 3
    assert {a.id for a in await db.run(queries.list_accounts)} == {team.shop, team.workshop}

    # An edit and a deletion on the server.
    with server_db.system() as conn:
        conn.execute(text("UPDATE messages SET body = 'gamma' WHERE id = :id"), {"id": ids[0]})
        conn.execute(text("UPDATE messages SET deleted = true WHERE id = :id"), {"id": ids[1]})
    await client.sync_now()
    assert [h.message_id for h in await db.run(search_messages, "alpha")] == [ids[2]]
    assert [h.message_id for h in await db.run(search_messages, "gamma")] == [ids[0]]
    assert await db.run(scalar, "SELECT count(*) FROM messages WHERE id = ?", ids[1]) == 0

    # Access to the shop's number taken away: everything of it leaves the cache.
    with server_db.system() as conn:
        conn.execute(
            text("DELETE FROM user_accounts WHERE user_id = :u AND account_id = :a"),
            {"u": team.bia, "a": team.shop},
        )
    await client.sync_now()
    assert {a.id for a in await db.run(queries.list_accounts)} == {team.workshop}
    assert await db.run(search_messages, "gamma") == []
    assert await db.run(scalar, "SELECT count(*) FROM messages") == 2
    assert await db.run(scalar, "SELECT count(*) FROM conversations") == 1


async def test_a_claim_conflict_undoes_the_local_claim(
    desktops: Callable[..., Desktop], team: Team
) -> None:
    a, a_db, _ = desktops("a")
    b, b_db, _ = desktops("b")
    await a.login("ana", PASSWORD)
    await b.login("sup", PASSWORD)
    await a.sync_now()
    await b.sync_now()
    await a.claim(team.shop_chat)
    await b.claim(team.shop_chat)  # both saw version 1
    owner = "SELECT assigned_user_id, version FROM conversations WHERE id = ?"
    assert await b_db.run(lambda c: tuple(c.conn.exec_driver_sql(owner, (team.shop_chat,)).one())) \
        == (team.sup, 1)  # fmt: skip
    await a.sync_now()
    await b.sync_now()
    for db in (a_db, b_db):
        row = await db.run(lambda c: tuple(c.conn.exec_driver_sql(owner, (team.shop_chat,)).one()))
        assert row == (team.ana, 2)
    result = await b_db.run(scalar, "SELECT result FROM team_commands WHERE kind = 'claim'")
    assert '"conflict"' in result

    await a.add_note(team.shop_chat, "cliente pediu retorno")
    await a.set_label(team.shop_chat, "vip")
    await a.sync_now()
    await b.sync_now()
    assert await b_db.run(scalar, "SELECT body FROM notes") == "cliente pediu retorno"
    assert await b_db.run(scalar, "SELECT labels FROM conversations WHERE id = ?", team.shop_chat) \
        == '["vip"]'  # fmt: skip
    assert await b_db.run(scalar, "SELECT count(*) FROM teammates") == 3


async def test_a_revoked_login_stops_the_client(
    desktops: Callable[..., Desktop], team: Team, server_db: ServerDatabase
) -> None:
    client, _, _ = desktops("a")
    await client.login("ana", PASSWORD)
    refused: list[None] = []
    client.auth_refused.connect(refused.append)
    with server_db.system() as conn:
        revoke_user(conn, team.ana)
    with anyio.fail_after(10):
        await client.run()  # returns: the server refused the token
    assert refused
    with pytest.raises(AuthRefused):
        await client.sync_now()


async def test_a_bare_local_cache_works_too(
    base_url: str, team: Team, server_db: ServerDatabase, tmp_path: Path
) -> None:
    add_messages(server_db, team, "shop", 10)
    cache = LocalCache.open(tmp_path / "c.db", CacheKey.generate())
    try:
        async with httpx.AsyncClient(base_url=base_url) as http:
            client = TeamClient(http, cache)
            await client.login("ana", PASSWORD)
            await client.sync_now()
        assert scalar(cache, "SELECT count(*) FROM messages") == 10
    finally:
        cache.close()
    assert isinstance(Database, type)


class _StubbornEvents(httpx.AsyncBaseTransport):
    """The real server, except that a cancelled events stream closes only once ``release`` is
    set (as if the close, shielded from cancellation, waited on a connection forever)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, release: asyncio.Event) -> None:
        self.inner = inner
        self.release = release
        self.streaming = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/events"):
            assert isinstance(response.stream, httpx.AsyncByteStream)
            response.stream = _StubbornStream(response.stream, self.release)
            self.streaming.set()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class _StubbornStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, release: asyncio.Event) -> None:
        self.inner = inner
        self.release = release

    async def __aiter__(self) -> Any:
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        while not self.release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await self.release.wait()
        await self.inner.aclose()


async def test_a_stream_that_will_not_close_cannot_keep_the_client_from_stopping(
    desktops: Callable[..., Desktop],
    team: Team,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sync.client import team as team_module

    monkeypatch.setattr(team_module, "STOP_TIMEOUT_S", 0.3)
    client, _, switch = desktops("a")
    release = asyncio.Event()
    stubborn = _StubbornEvents(switch.inner, release)
    switch.inner = stubborn  # type: ignore[assignment]
    await client.login("ana", PASSWORD)
    runner = asyncio.create_task(client.run())
    try:
        with anyio.fail_after(10):
            await stubborn.streaming.wait()
        runner.cancel()
        with anyio.fail_after(5), contextlib.suppress(asyncio.CancelledError):
            await runner  # returns although the events loop is still closing its stream
        assert not client.online
        (warning,) = [r.getMessage() for r in caplog.records if "did not stop" in r.getMessage()]
        assert "caixa-team-events" in warning
    finally:
        release.set()  # the close completes after all, and the loop left behind ends
    behind = [t for t in asyncio.all_tasks() if t.get_name().startswith("caixa-team-")]
    assert behind
    with anyio.fail_after(5):
        await asyncio.wait(behind)
