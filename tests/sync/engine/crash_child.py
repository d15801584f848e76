"""Child process of the crash tests (``test_crash.py``); not a test module.

Run as ``python crash_child.py CONFIG_JSON``. It opens the workspace the parent prepared (a
cache and its key file), starts an ``Engine`` whose only adapter is the recording fake in durable
log mode, enqueues ``count`` messages, waits until the outbox is drained, and exits cleanly, unless
it is killed first: by the parent, or by itself at a fault point (``fault``, on its
``occurrence``-th hit) with SIGKILL, which no ``finally`` or ``atexit`` survives.

It reports on stdout, one line each, flushed:
``READY`` once the engine has started (recovery and receipts done);
``ACK <json {"id", "text"}>`` after ``send_text`` returned, i.e. once the app acknowledged it;
``KILL <point>`` right before killing itself; ``DONE`` once drained.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import threading
from pathlib import Path

# Runs as a script: make the repository importable (tests.fakes, sync).
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from sync import faults  # noqa: E402
from sync.engine import outbox  # noqa: E402
from sync.engine.service import Engine  # noqa: E402
from sync.store.cache_key import resolve_cache_key  # noqa: E402
from sync.store.database import Database  # noqa: E402
from tests.fakes.recording_provider import RecordingProvider  # noqa: E402

_print_lock = threading.Lock()


def say(line: str) -> None:
    """One whole line on stdout, flushed at once (the parent reads it even if we die next)."""
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def install_kill(point: str, occurrence: int) -> None:
    """SIGKILL this process on the ``occurrence``-th time ``point`` is reached."""
    seen = 0
    lock = threading.Lock()

    def hook(name: str) -> None:
        nonlocal seen
        if name != point:
            return
        with lock:
            seen += 1
            hit = seen == occurrence
        if hit:
            say(f"KILL {point}")
            os.kill(os.getpid(), signal.SIGKILL)

    faults.install(hook)


async def run(config: dict[str, object]) -> None:
    """Start, enqueue, drain."""
    workdir = Path(str(config["dir"]))
    cache_path = workdir / "caixa-cache.db"
    rng = random.Random(int(str(config["seed"])))
    key = resolve_cache_key(cache_path, key_file=workdir / "cache-key.json", create=False)
    db = Database(cache_path, key)
    await db.open()
    account_id = int(str(config["account_id"]))
    conversation_id = int(str(config["conversation_id"]))
    provider = RecordingProvider(account_id, log_path=workdir / "provider.log")
    engine = Engine(db, {account_id: provider})
    await engine.start()
    say("READY")
    if config.get("fault"):
        install_kill(str(config["fault"]), int(str(config["occurrence"])))
    for index in range(int(str(config["count"]))):
        text = f"{config['label']}-{index} Segredo do bolo de açúcar ✓ {rng.randrange(10**9)}"
        message = await engine.send_text(conversation_id, text)
        say("ACK " + json.dumps({"id": message.id, "text": text}, ensure_ascii=False))
        # Spread the writes over time, so a kill from outside lands anywhere among them.
        await asyncio.sleep(rng.uniform(0, float(str(config["pace"]))))
    while await db.run(outbox.pending_count):
        await asyncio.sleep(0.005)
    faults.install(None)
    await engine.aclose()
    await db.aclose()
    say("DONE")


def main() -> None:
    """Entry point: the configuration is one JSON argument."""
    asyncio.run(run(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
