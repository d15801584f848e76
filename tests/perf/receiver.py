"""Receiver benchmark: signed Meta POSTs on loopback to ``caixa receive`` over a real cache.

Run on purpose, never collected by pytest::

    uv run python -m tests.perf.receiver [--posts 20000] [--connections 16]

It makes an encrypted cache with one Meta number (``caixa accounts add`` with a key file, as on
a headless machine), starts the real ``caixa receive`` as a child process, and has a client
stream signed Meta POSTs (one text message each, every one a new ``wamid``) over
``--connections`` keep-alive connections as fast as the receiver answers. Progress goes to
stdout as plain lines; the figures are ONE JSON object on the LAST line:

- ``receiver_posts_per_s``: POSTs answered 200 per second of wall time (target >= 1,000);
- ``lost``: messages answered 200 but missing from the cache afterwards (must be 0), checked
  by opening the cache once the receiver has stopped;
- ``post_to_visible_p95_ms``: p95 of the time from sending a POST to its 200 (target <= 50).
  The receiver answers only after the commit, so a message is visible in the cache before its
  200 leaves: this bounds POST->visible from above. ``visible_at_200_*`` backs that up: for a
  sample of POSTs, a separate connection to the cache looks for the message right after the 200.

The client is a lean HTTP/1.1 client (``tests/sync/server/process.py``), in this process, on
the same machine: the figures include sharing the CPU with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sync.store.local.cache_key import KeyFileStore
from sync.store.local.local_cache import CACHE_FILE_NAME, LocalCache
from tests.sync.server.payloads import dumps, meta_account_json, meta_headers, meta_text_message
from tests.sync.server.process import HttpConnection, ReceiverProcess, add_number

VISIBILITY_SAMPLES = 200


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class _Reader:
    """A second connection to the cache, on its own thread (SQLite connections are per thread)."""

    def __init__(self, cache_path: Path, key_file: Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._cache: LocalCache | None = None
        self._pool.submit(self._open, cache_path, key_file).result()

    def _open(self, cache_path: Path, key_file: Path) -> None:
        self._cache = LocalCache.open(cache_path, KeyFileStore(key_file).load())

    def _has(self, wamid: str) -> bool:
        assert self._cache is not None
        found = self._cache.conn.exec_driver_sql(
            "SELECT 1 FROM messages WHERE provider_message_id = ?", (wamid,)
        ).first()
        return found is not None

    async def has(self, wamid: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._has, wamid)

    def close(self) -> None:
        if self._cache is not None:
            self._pool.submit(self._cache.close).result()
        self._pool.shutdown()


async def _load(
    port: int, posts: int, connections: int, reader: _Reader, seed: int
) -> dict[str, Any]:
    bodies = []
    for i in range(posts):
        wamid = f"wamid.bench.{i:08d}"
        body = dumps(meta_text_message(wamid, f"Pedido {i}: dois pães de queijo, por favor"))
        bodies.append((wamid, body, meta_headers(body)))
    sampled = set(random.Random(seed).sample(range(posts), min(VISIBILITY_SAMPLES, posts)))
    next_index = iter(range(posts))
    latencies: list[float] = []
    acked: list[str] = []
    failed: list[int] = []
    missing_at_200: list[str] = []
    checked = 0

    async def worker() -> None:
        nonlocal checked
        http = await HttpConnection.open(port)
        try:
            for i in next_index:
                wamid, body, headers = bodies[i]
                started = time.perf_counter()
                status, _ = await http.request("POST", "/hooks/meta", headers, body)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    failed.append(status)
                    continue
                acked.append(wamid)
                if i in sampled:
                    checked += 1
                    if not await reader.has(wamid):
                        missing_at_200.append(wamid)
        finally:
            await http.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "latencies": latencies,
        "acked": acked,
        "failed": failed,
        "checked": checked,
        "missing_at_200": missing_at_200,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="caixa-receiver-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        key_file = Path(tmp) / "cache-key.json"
        added = add_number(data_dir, key_file, meta_account_json())
        print(f"added {added['name']} (id {added['id']})", flush=True)
        receiver = ReceiverProcess(data_dir, key_file)
        receiver.start()
        print(f"caixa receive up on port {receiver.port}", flush=True)
        reader = _Reader(data_dir / CACHE_FILE_NAME, key_file)
        try:
            # Warm-up (imports, first pages of the cache), with other ids than the measured run.
            asyncio.run(_warm_up(receiver.port, args.warmup))
            print(f"warm-up: {args.warmup} POSTs", flush=True)
            run = asyncio.run(_load(receiver.port, args.posts, args.connections, reader, args.seed))
        finally:
            reader.close()
            code = receiver.stop(signal.SIGTERM)
        print(f"receiver stopped (exit code {code})", flush=True)

        cache = LocalCache.open(data_dir / CACHE_FILE_NAME, KeyFileStore(key_file).load())
        try:
            stored = {
                str(r[0])
                for r in cache.conn.exec_driver_sql(
                    "SELECT provider_message_id FROM messages WHERE provider_message_id LIKE"
                    " 'wamid.bench.%'"
                )
            }
        finally:
            cache.close()

    acked = run["acked"]
    lost = len(set(acked) - stored)
    figures = {
        "posts": args.posts,
        "connections": args.connections,
        "receiver_posts_per_s": round(len(acked) / run["elapsed"], 1),
        "lost": lost,
        "post_to_visible_p95_ms": round(_p95(run["latencies"]) * 1000, 2),
        "post_to_200_p50_ms": round(sorted(run["latencies"])[len(run["latencies"]) // 2] * 1000, 2),
        "non_200": len(run["failed"]),
        "visible_at_200_checked": run["checked"],
        "visible_at_200_missing": len(run["missing_at_200"]),
        "receiver_exit_code": code,
    }
    print(
        f"{len(acked)} POSTs answered 200 in {run['elapsed']:.2f} s; "
        f"{lost} lost; p95 {figures['post_to_visible_p95_ms']} ms",
        flush=True,
    )
    print(json.dumps(figures))
    return 0 if lost == 0 and not run["failed"] else 1


async def _warm_up(port: int, posts: int) -> None:
    http = await HttpConnection.open(port)
    try:
        for i in range(posts):
            body = dumps(meta_text_message(f"wamid.warmup.{i}", "aquecendo"))
            status, _ = await http.request("POST", "/hooks/meta", meta_headers(body), body)
            if status != 200:
                raise RuntimeError(f"warm-up POST answered {status}")
    finally:
        await http.close()


if __name__ == "__main__":
    sys.exit(main())
