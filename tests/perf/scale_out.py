"""Scale-out benchmark of the team server (issue 17): how much one ``caixa-server`` process takes.

    uv run python -m tests.perf.scale_out [--sends 2000] [--rounds 3] [--conversations 50]

Starts a throwaway Postgres with its durable defaults (fsync and synchronous commit on, as a
real server runs), migrates and seeds it (tests/sync/client/team_server.py's workspace, plus
``--conversations`` conversations on the agent's number), and runs the real ``caixa-server
serve`` as a child process. Figures:

- ``push_commands_per_s``: one desktop (a ``TeamClient`` over its own encrypted cache, as the
  app runs it) queues ``--sends`` replies (``send_text``, the desktop's path; not timed), then
  ``push()`` delivers them: commands acknowledged per second of ``push()``, the median of
  ``--rounds`` rounds (each in ``push_rounds_per_s``; target >= 2,000). Every one must come
  back done and be in Postgres exactly once.

The figures are ONE JSON object on the LAST line; a new figure is one more function that adds
its keys to that dict.

Client, server and Postgres share the machine's CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from sync.client.team import TeamClient
from sync.server.credentials import generate_key
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.team.database import ServerDatabase, upgrade
from tests.fakes.postgres import APP_ROLE, running_cluster
from tests.sync.client.team_server import PASSWORD, Team, seed
from tests.sync.server import seeding
from tests.sync.server.process import running_caixa_server

Figures = dict[str, Any]


@dataclass(frozen=True)
class Setup:
    """What every figure may use: the server's URL, Postgres, the seeded team, a scratch folder."""

    base_url: str
    dsn: str
    team: Team
    conversations: list[int]
    folder: Path
    args: argparse.Namespace


def seed_team(db: ServerDatabase, conversations: int) -> tuple[Team, list[int]]:
    """The tests' team, and ``conversations`` more conversations on ana's number (the shop)."""
    team = seed(db)
    with db.system() as conn:
        extra = [
            seeding.conversation(conn, team.ws, team.shop, f"55219{n:08d}", customer_name=f"C {n}")
            for n in range(conversations)
        ]
    return team, [team.shop_chat, *extra]


async def _push(setup: Setup) -> Figures:
    """One desktop pushes ``--sends`` replies queued while it was offline; ``--rounds`` times."""
    sends: int = setup.args.sends
    rounds: list[float] = []
    cache = Database(setup.folder / "ana.db", CacheKey.generate())
    await cache.open()
    try:
        async with httpx.AsyncClient(base_url=setup.base_url, timeout=60) as http:
            client = TeamClient(http, cache)
            await client.login("ana", PASSWORD)
            await client.sync_now()
            for _ in range(setup.args.rounds):
                for n in range(sends):
                    chat = setup.conversations[n % len(setup.conversations)]
                    await client.send_text(chat, f"Resposta {n}: o pedido sai hoje à tarde.")
                if await client.pending_count() != sends:
                    raise AssertionError("the sends are not all waiting to be pushed")
                started = time.perf_counter()
                answered = await client.push()
                rounds.append(time.perf_counter() - started)
                if answered != sends:
                    raise AssertionError(f"{answered} answered of {sends}")
                print(f"pushed {sends:,} sends in {rounds[-1]:.2f} s", flush=True)
        outcomes = await cache.run(
            lambda c: dict(
                c.conn.exec_driver_sql(
                    "SELECT state, count(*) FROM team_commands GROUP BY state"
                ).all()
            )
        )
    finally:
        await cache.aclose()
    total = sends * len(rounds)
    if outcomes != {"done": total}:
        raise AssertionError(f"expected {total} commands done: {outcomes}")
    with psycopg.connect(setup.dsn) as conn:
        stored = conn.execute(
            "SELECT count(*), count(DISTINCT id) FROM messages WHERE direction = 'out'"
        ).fetchone()
    if stored != (total, total):
        raise AssertionError(f"{stored} sends in Postgres, expected {total} once each")
    rates = [round(sends / s) for s in rounds]
    rate = statistics.median(rates)
    print(f"push: median {rate:,.0f} commands/s over {len(rates)} rounds {rates}", flush=True)
    return {"sends": sends, "push_commands_per_s": rate, "push_rounds_per_s": rates}


FIGURES: list[Callable[[Setup], Figures]] = [lambda setup: asyncio.run(_push(setup))]


def main(argv: list[str] | None = None) -> None:
    """Run every figure against one server and print them, the JSON object last."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3, help="pushes of --sends (median)")
    parser.add_argument("--conversations", type=int, default=50)
    args = parser.parse_args(argv)
    figures: Figures = {}
    with running_cluster(durable=True) as cluster, tempfile.TemporaryDirectory() as tmp:
        name = cluster.create_database()
        upgrade(cluster.url(name), APP_ROLE)
        db = ServerDatabase(cluster.url(name, app=True))
        try:
            team, conversations = seed_team(db, args.conversations)
        finally:
            db.dispose()
        env = {
            "CAIXA_DATABASE_URL": cluster.url(name, app=True),
            "CAIXA_SECRET_KEY": generate_key(),
        }
        with running_caixa_server(env, Path(tmp) / "server.log") as (port, _):
            print(f"caixa-server up on port {port} (durable Postgres)", flush=True)
            setup = Setup(
                f"http://127.0.0.1:{port}", cluster.dsn(name), team, conversations, Path(tmp), args
            )
            for figure in FIGURES:
                figures.update(figure(setup))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
