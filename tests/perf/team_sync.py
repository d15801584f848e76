"""Team sync benchmark: initial sync of 1,000,000 messages, and a change's trip between desktops.

    uv run python -m tests.perf.team_sync [--messages N] [--changes N]

Starts a throwaway Postgres (tests/fakes/postgres.py), bulk-generates the messages with
``generate_series``, then measures in the same run:

(a) initial sync into an encrypted cache through the client's pull path (HTTP on loopback, the
    sync API, the page store with its full-text index): messages per second;
(b) copying the same rows out of Postgres into a plain SQLite file (psycopg, a server-side
    cursor, ``executemany``, no encryption, no index): messages per second; the ratio a/b
    (target >= 0.5);
(c) a message sent by client A (written locally, pushed) until it is in client B's cache (B
    woken by the server's poke): p95 latency (target <= 50 ms).

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from sync.client.team import TeamClient
from sync.domain.changes import ChangeSet
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.team.database import ServerDatabase, upgrade
from tests.fakes.postgres import APP_ROLE, running_cluster
from tests.sync.client.team_server import PASSWORD, Team, running_server, seed

ACCOUNTS = 10
CONVERSATIONS = 10_000
WORDS = "'{pedido,entrega,pagamento,troca,orçamento,horário,endereço,boleto,pix,garantia}'"


def generate(dsn: str, team: Team, messages: int) -> None:
    """Numbers, conversations and messages, in bulk (as the owner: no RLS on the way in)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO accounts (workspace_id, name, provider)"
            " SELECT %s, 'number ' || n, 'demo' FROM generate_series(1, %s::bigint) n",
            (team.ws, ACCOUNTS - 2),
        )
        conn.execute(
            "INSERT INTO conversations (workspace_id, account_id, chat_key, customer_phone,"
            " customer_name)"
            " SELECT %s, a.id, '55119' || lpad(n::text, 8, '0'), '+55 11 9' || n,"
            " 'Cliente ' || n"
            " FROM generate_series(1, %s::bigint) n"
            " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM accounts) a"
            " ON a.k = n %% %s",
            (team.ws, CONVERSATIONS, ACCOUNTS),
        )
        step = 100_000
        for start in range(0, messages, step):
            conn.execute(
                f"""
                INSERT INTO messages (id, workspace_id, account_id, conversation_id,
                    provider_message_id, direction, ts, type, body, sender_name, status)
                SELECT (lpad(to_hex(1700000000000 + n * 1000), 12, '0') || '7000'
                        || '8000' || lpad(to_hex(n), 12, '0'))::uuid,
                    %s, c.account_id, c.id, 'wamid.' || md5(n::text),
                    CASE WHEN n %% 3 = 0 THEN 'out' ELSE 'in' END,
                    1700000000000 + n * 1000, 'text',
                    'Mensagem ' || n || ' sobre o ' || ({WORDS}::text[])[n %% 10 + 1]
                        || ', pode confirmar por favor?',
                    CASE WHEN n %% 3 = 0 THEN '' ELSE 'Cliente' END,
                    CASE WHEN n %% 3 = 0 THEN 'read' ELSE 'received' END
                FROM generate_series(%s::bigint, %s::bigint) n
                JOIN (SELECT id, account_id, row_number() OVER (ORDER BY id) - 1 AS k
                      FROM conversations) c ON c.k = n %% {CONVERSATIONS}
                """,
                (team.ws, start + 1, min(start + step, messages)),
            )
        # A server's tables have long been vacuumed and checkpointed; a table just loaded has not,
        # and the autovacuum and checkpoint that come for it would land in (a) or (b), by chance.
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")  # nor is the load's WAL still being written back


def copy_to_sqlite(dsn: str, path: Path) -> tuple[int, float]:
    """(b): the same message rows out of Postgres into a plain SQLite file."""
    out = sqlite3.connect(path, isolation_level=None)
    out.execute("PRAGMA journal_mode = WAL")
    out.execute("PRAGMA synchronous = NORMAL")
    out.execute(
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
        " account_id INTEGER NOT NULL, conversation_id INTEGER NOT NULL,"
        " provider_message_id TEXT, direction TEXT NOT NULL, ts INTEGER NOT NULL,"
        " type TEXT NOT NULL, body TEXT NOT NULL, sender_name TEXT NOT NULL, reply_to TEXT,"
        " media TEXT, status TEXT NOT NULL, error TEXT)"
    )
    started = time.perf_counter()
    copied = 0
    with psycopg.connect(dsn) as conn, conn.cursor(name="copy") as cursor:
        cursor.itersize = 50_000
        cursor.execute(
            "SELECT id::text, account_id, conversation_id, provider_message_id, direction, ts,"
            " type, body, sender_name, reply_to, media::text, status, error FROM messages"
            " WHERE NOT deleted ORDER BY xid, seq"
        )
        while batch := cursor.fetchmany(50_000):
            out.execute("BEGIN")
            out.executemany(
                "INSERT INTO messages (id, account_id, conversation_id, provider_message_id,"
                " direction, ts, type, body, sender_name, reply_to, media, status, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                batch,
            )
            out.execute("COMMIT")
            copied += len(batch)
    elapsed = time.perf_counter() - started
    out.close()
    return copied, elapsed


async def initial_sync(
    base_url: str, folder: Path, page_size: int | None, key: CacheKey
) -> tuple[int, float]:
    """(a): a new desktop's first sync, into an encrypted cache (B's, in part c)."""
    db = Database(folder / "b.db", key)
    await db.open()
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
            client = (
                TeamClient(http, db)
                if page_size is None
                else TeamClient(http, db, page_size=page_size, catch_up_page_size=page_size)
            )
            await client.login("sup", PASSWORD)
            started = time.perf_counter()
            await client.sync_now()
            elapsed = time.perf_counter() - started
        count = await db.run(
            lambda c: int(c.conn.exec_driver_sql("SELECT count(*) FROM messages").scalar_one())
        )
        indexed = await db.run(
            lambda c: int(
                c.conn.exec_driver_sql(
                    "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'confirmar'"
                ).scalar_one()
            )
        )
        if indexed != count:
            raise AssertionError(f"{indexed} of {count} messages in the search index")
    finally:
        await db.aclose()
    return count, elapsed


async def change_latency(
    base_url: str, folder: Path, team: Team, changes: int, key: CacheKey
) -> list[float]:
    """(c): A sends, B (woken by the poke) has it in its cache; seconds per change.

    B is the desktop of (a), already synced; A is an agent who sees one number of ten.
    """
    a_db = Database(folder / "a.db", CacheKey.generate())
    b_db = Database(folder / "b.db", key)
    await a_db.open()
    await b_db.open()
    latencies: list[float] = []
    try:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=30) as a_http,
            httpx.AsyncClient(base_url=base_url, timeout=30) as b_http,
        ):
            a = TeamClient(a_http, a_db)
            b = TeamClient(b_http, b_db, poll_interval=3600)
            await a.login("ana", PASSWORD)
            await b.login("sup", PASSWORD)
            waiting: dict[str, asyncio.Future[float]] = {}

            def on_rows(changed: ChangeSet) -> None:
                for message_id in changed.messages:
                    future = waiting.pop(message_id, None)
                    if future is not None and not future.done():
                        future.set_result(time.perf_counter())

            b.rows_changed.connect(on_rows)
            runner = asyncio.create_task(b.run())
            try:
                while not b.online:
                    await asyncio.sleep(0.01)
                await b.sync_now()
                await a.sync_now()
                for n in range(changes):
                    started = time.perf_counter()
                    message = await a.send_text(team.shop_chat, f"resposta {n}")
                    arrived = asyncio.get_running_loop().create_future()
                    waiting[message.id] = arrived
                    written = time.perf_counter()
                    await a.push()
                    pushed = time.perf_counter()
                    latencies.append(await asyncio.wait_for(arrived, 10) - started)
                    PHASES.append(
                        (written - started, pushed - written, started + latencies[-1] - pushed)
                    )
            finally:
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
    finally:
        await a_db.aclose()
        await b_db.aclose()
    return latencies


PHASES: list[tuple[float, float, float]] = []  # (local write, push, push → in B's cache) s


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument(
        "--page-size", type=int, default=None, help="rows per pull (default: the client's own)"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {"messages": args.messages}
    with running_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        name = cluster.create_database()
        upgrade(cluster.url(name), APP_ROLE)
        db = ServerDatabase(cluster.url(name, app=True))
        team = seed(db)
        started = time.perf_counter()
        generate(cluster.dsn(name), team, args.messages)
        print(f"generated {args.messages:,} messages in {time.perf_counter() - started:.1f} s")

        copied, copy_s = copy_to_sqlite(cluster.dsn(name), folder / "plain.sqlite")
        copy_rate = copied / copy_s
        print(f"(b) plain SQLite copy: {copied:,} in {copy_s:.1f} s = {copy_rate:,.0f} msg/s")

        with running_server(db, cluster.dsn(name, app=True)) as base_url:
            key = CacheKey.generate()
            synced, sync_s = asyncio.run(initial_sync(base_url, folder, args.page_size, key))
            sync_rate = synced / sync_s
            print(f"(a) initial sync: {synced:,} in {sync_s:.1f} s = {sync_rate:,.0f} msg/s")
            latencies = asyncio.run(change_latency(base_url, folder, team, args.changes, key))
        db.dispose()
        ms = sorted(x * 1000 for x in latencies)
        p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
        print(
            f"(c) A -> B: median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms,"
            f" max {ms[-1]:.1f} ms over {len(ms)} changes"
        )
        for name, values in zip(
            ("A's local write", "A's push", "push done -> in B's cache"),
            zip(*PHASES, strict=True),
            strict=True,
        ):
            print(f"    {name}: median {statistics.median(values) * 1000:.1f} ms")
        results.update(
            initial_sync_msg_per_s=round(sync_rate),
            initial_sync_s=round(sync_s, 2),
            plain_copy_msg_per_s=round(copy_rate),
            plain_copy_s=round(copy_s, 2),
            ratio=round(sync_rate / copy_rate, 3),
            ratio_target=0.5,
            change_p50_ms=round(statistics.median(ms), 1),
            change_p95_ms=round(p95, 1),
            change_p95_target_ms=50,
            page_size=args.page_size,
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
