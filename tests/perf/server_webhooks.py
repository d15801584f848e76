"""Team server benchmark: signed Meta POSTs on loopback to ``caixa-server serve`` on Postgres.

Run on purpose, never collected by pytest::

    uv run python -m tests.perf.server_webhooks [--posts 20000] [--connections 16]

It starts a throwaway Postgres cluster with its durable defaults (fsync and synchronous commit
on, as a real server runs), runs ``caixa-server db upgrade`` and ``accounts add`` (one Meta
number), starts the real ``caixa-server serve`` as a child process, and streams signed Meta POSTs
(one text message each, every one a new ``wamid``) over ``--connections`` keep-alive connections
as fast as the server answers. The figures are ONE JSON object on the LAST line:

- ``server_posts_per_s``: POSTs answered 200 per second of wall time (target >= 1,000);
- ``lost``: messages answered 200 but missing from Postgres afterwards (must be 0);
- ``post_to_200_p95_ms``: p95 from sending a POST to its 200 (the server answers only after
  the commit, so this bounds POST -> stored).

The load generator and Postgres share the machine's CPUs with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from sync.server.credentials import generate_key
from tests.fakes.postgres import running_cluster
from tests.sync.server.payloads import dumps, meta_account_json, meta_headers, meta_text_message
from tests.sync.server.process import HttpConnection, caixa_server, running_caixa_server


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def _load(port: int, posts: int, connections: int, prefix: str) -> dict[str, Any]:
    bodies = []
    for i in range(posts):
        wamid = f"wamid.{prefix}.{i:08d}"
        body = dumps(meta_text_message(wamid, f"Pedido {i}: dois pães de queijo, por favor"))
        bodies.append((wamid, body, meta_headers(body)))
    next_index = iter(range(posts))
    latencies: list[float] = []
    acked: list[str] = []
    failed: list[int] = []

    async def worker() -> None:
        http = await HttpConnection.open(port)
        try:
            for i in next_index:
                wamid, body, headers = bodies[i]
                started = time.perf_counter()
                status, _ = await http.request("POST", "/hooks/meta", headers, body)
                latencies.append(time.perf_counter() - started)
                if status == 200:
                    acked.append(wamid)
                else:
                    failed.append(status)
        finally:
            await http.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return {
        "elapsed": time.perf_counter() - started,
        "latencies": latencies,
        "acked": acked,
        "failed": failed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=500)
    args = parser.parse_args(argv)

    with running_cluster(durable=True) as cluster, tempfile.TemporaryDirectory() as tmp:
        name = cluster.create_database()
        env = {
            "CAIXA_DATABASE_URL": cluster.url(name, app=True),
            "CAIXA_DATABASE_OWNER_URL": cluster.url(name),
            "CAIXA_SECRET_KEY": generate_key(),
        }
        caixa_server(env, "db", "upgrade")
        account = Path(tmp) / "meta.json"
        account.write_text(json.dumps(meta_account_json()))
        print(caixa_server(env, "accounts", "add", "--from-json", str(account)).stdout.strip())
        with running_caixa_server(env, Path(tmp) / "server.log") as (port, server):
            print(f"caixa-server up on port {port} (durable Postgres)", flush=True)
            asyncio.run(_load(port, args.warmup, 4, "warmup"))
            run = asyncio.run(_load(port, args.posts, args.connections, "bench"))
        with psycopg.connect(cluster.dsn(name)) as conn:
            stored = {
                str(r[0])
                for r in conn.execute(
                    "SELECT provider_message_id FROM messages"
                    " WHERE provider_message_id LIKE 'wamid.bench.%'"
                )
            }

    acked = run["acked"]
    lost = len(set(acked) - stored)
    figures = {
        "posts": args.posts,
        "connections": args.connections,
        "server_posts_per_s": round(len(acked) / run["elapsed"], 1),
        "lost": lost,
        "post_to_200_p50_ms": round(_p(run["latencies"], 0.5) * 1000, 2),
        "post_to_200_p95_ms": round(_p(run["latencies"], 0.95) * 1000, 2),
        "non_200": len(run["failed"]),
        "server_exit_code": server.returncode,
    }
    print(
        f"{len(acked)} POSTs answered 200 in {run['elapsed']:.2f} s; {lost} lost;"
        f" p95 {figures['post_to_200_p95_ms']} ms",
        flush=True,
    )
    print(json.dumps(figures))
    return 0 if lost == 0 and not run["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
