"""Kill-and-restart: every call ``caixa receive`` answered 200 survives a SIGKILL, once.

The real CLI runs as a child process over an encrypted cache with a key file (the headless
setup). A client streams signed Meta POSTs over several connections; the receiver is SIGKILLed
at random moments mid-stream and started again. In the end every message that got a 200 is in
the cache exactly once, and the ones that never got an answer, redelivered as Meta would,
land once too.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import signal
from pathlib import Path

import pytest

from sync.store.local.cache_key import KeyFileStore
from sync.store.local.local_cache import CACHE_FILE_NAME, LocalCache
from tests.sync.helpers import rows
from tests.sync.server.payloads import dumps, meta_account_json, meta_headers, meta_text_message
from tests.sync.server.process import HttpConnection, ReceiverProcess, add_number

pytestmark = pytest.mark.slow

ROUNDS = 3
CONNECTIONS = 8


async def _stream(port: int, ids: itertools.count[int], acked: set[str], tried: set[str]) -> None:
    """POST until the receiver goes away; record what was tried and what got a 200."""

    async def one_connection() -> None:
        try:
            http = await HttpConnection.open(port)
        except OSError:
            return
        try:
            while True:
                wamid = f"wamid.crash.{next(ids)}"
                body = dumps(meta_text_message(wamid, f"mensagem {wamid}"))
                tried.add(wamid)
                status, _ = await http.request("POST", "/hooks/meta", meta_headers(body), body)
                if status == 200:
                    acked.add(wamid)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            return
        finally:
            await http.close()

    await asyncio.gather(*(one_connection() for _ in range(CONNECTIONS)))


async def _kill_after(receiver: ReceiverProcess, delay: float) -> None:
    await asyncio.sleep(delay)
    await asyncio.to_thread(receiver.kill)


async def _redeliver(port: int, wamids: list[str]) -> None:
    http = await HttpConnection.open(port)
    try:
        for wamid in wamids:
            body = dumps(meta_text_message(wamid, f"mensagem {wamid}"))
            status, _ = await http.request("POST", "/hooks/meta", meta_headers(body), body)
            assert status == 200, wamid
    finally:
        await http.close()


def test_every_acknowledged_post_survives_sigkill_exactly_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key_file = tmp_path / "cache-key.json"
    added = add_number(data_dir, key_file, meta_account_json())
    rng = random.Random(20261123)
    ids = itertools.count()
    acked: set[str] = set()
    tried: set[str] = set()
    receiver = ReceiverProcess(data_dir, key_file)

    for _ in range(ROUNDS):
        receiver.start()
        kill_at = rng.uniform(0.3, 1.2)
        before = len(acked)

        async def round_(receiver: ReceiverProcess = receiver, kill_at: float = kill_at) -> None:
            await asyncio.gather(
                _stream(receiver.port, ids, acked, tried), _kill_after(receiver, kill_at)
            )

        asyncio.run(round_())
        assert len(acked) > before, "the receiver acknowledged nothing before it was killed"

    receiver.start()
    unanswered = sorted(tried - acked)
    asyncio.run(_redeliver(receiver.port, unanswered))
    assert receiver.stop(signal.SIGTERM) == 0  # and a clean stop, for once

    key = KeyFileStore(key_file).load()
    cache = LocalCache.open(data_dir / CACHE_FILE_NAME, key)
    try:
        stored = rows(
            cache,
            "SELECT provider_message_id, COUNT(*) FROM messages WHERE account_id = ?"
            " GROUP BY provider_message_id",
            added["id"],
        )
    finally:
        cache.close()
    counts = dict(stored)
    missing = sorted(acked - counts.keys())
    assert not missing, f"{len(missing)} acknowledged messages were lost: {missing[:5]}"
    assert all(n == 1 for n in counts.values())
    assert set(counts) == tried  # the redelivered ones landed too, and nothing else
