"""TeamDispatcher benchmark: how fast the team outbox drains to the fake Graph API on loopback.

Run on purpose, never collected by pytest::

    uv run python -m tests.perf.dispatch [--messages 2000] [--conversations 50] [--concurrency 4]

A throwaway Postgres cluster (``tests/fakes/postgres.py``), one Meta number whose pacing is
lifted, ``--messages`` queued texts over ``--conversations`` conversations, and one
``TeamDispatcher`` in this process sending them to ``FakeMeta`` (served by a thread of this
process, so the two share the CPU and the GIL). Prints one JSON object on the last line:
``dispatch_per_s`` (messages sent per second of wall time) and ``doubled`` (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter

import httpx
from sqlalchemy import text

from sync.server.credentials import ServerKey, generate_key
from sync.server.dispatcher import TeamDispatcher
from sync.store.team.database import ServerDatabase, upgrade
from tests.fakes.loopback import serve
from tests.fakes.meta_server import FakeMeta
from tests.fakes.postgres import APP_ROLE, PostgresCluster
from tests.sync.server.seeding import add_conversation, enqueue, seed_workspace


async def drain(db: ServerDatabase, key: ServerKey, concurrency: int) -> float:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as http:
        dispatcher = TeamDispatcher(db, key, http, concurrency=concurrency, idle_poll_s=0.05)
        started = time.perf_counter()
        await dispatcher.start()
        while True:
            with db.system() as conn:
                if not conn.execute(text("SELECT count(*) FROM outbox")).scalar_one():
                    break
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        await dispatcher.aclose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    cluster = PostgresCluster.start()
    try:
        name = cluster.create_database()
        upgrade(cluster.url(name), APP_ROLE)
        db = ServerDatabase(cluster.url(name, app=True), pool_size=args.concurrency + 4)
        fake = FakeMeta(access_token="EAAG-dispatch-test-token", phone_number_id="106540352242922")
        key = ServerKey(generate_key())
        with serve(fake.app) as base_url:
            seeded = seed_workspace(
                db,
                key,
                base_url=base_url,
                pacing={"per_second": 1e6, "burst": 1e6, "recipient_interval_s": 0},
            )
            phones = [f"55119{n:08d}" for n in range(args.conversations)]
            convs = [add_conversation(db, seeded, p) for p in phones]
            for i in range(args.messages):
                n = i % len(convs)
                enqueue(db, seeded, convs[n], f"benchmark {i}", phones[n])
            print(f"queued {args.messages} messages", flush=True)
            elapsed = asyncio.run(drain(db, key, args.concurrency))
            sent = [p.get("biz_opaque_callback_data") for p in fake.accepted]
            fake.close()
        db.dispose()
    finally:
        cluster.stop()
    doubled = sum(1 for n in Counter(sent).values() if n > 1)
    print(
        json.dumps(
            {
                "messages": args.messages,
                "sent": len(sent),
                "concurrency": args.concurrency,
                "seconds": round(elapsed, 3),
                "dispatch_per_s": round(len(sent) / elapsed, 1),
                "doubled": doubled,
            }
        )
    )


if __name__ == "__main__":
    main()
