"""Child processes of the crash tests (``test_crash.py``); not a test module.

Run as ``python crash_child.py``: a small fork server. It imports everything once (SQLAlchemy
and friends cost about a second per interpreter, which sixty-odd restarts cannot afford), then
for each JSON configuration line read on stdin forks one child, which is the "app process" a
crash test kills. The child opens the workspace the parent prepared (a cache and its key file),
starts an ``Engine`` whose only adapter is the recording fake in durable log mode, enqueues
``count`` messages, waits until the outbox is drained, and exits cleanly, unless it is killed
first: by the server after a delay the test chose, or by itself at a fault point (``fault``, on its
``occurrence``-th hit) with SIGKILL, which no ``finally`` or ``atexit`` survives.

Protocol on stdout, one line each: ``PID <pid>`` when a child was forked, then the child's
lines as it writes them: ``READY`` once its engine has started (recovery and receipts done);
``ACK <json {"id", "text"}>`` after ``send_text`` returned, i.e. once the app acknowledged the
message; ``KILL <point>`` right before killing itself; ``DONE`` once drained; and finally
``EXIT <code>`` (``-9`` for SIGKILL) from the server when the child is gone (``HUNG`` first
if it had to be stopped for taking too long).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import select
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

# Runs as a script: make the repository importable (tests.fakes, sync).
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from sync import faults
from sync.engine.service import Engine
from sync.store.local import outbox
from sync.store.local.cache_key import resolve_cache_key
from sync.store.local.database import Database
from tests.fakes.recording_provider import RecordingProvider

_out_fd = 1
HANG_LIMIT_S = 60.0  # a child still running after this long is stuck: killed, reported


def say(line: str) -> None:
    """One whole line in one unbuffered write: the parent has it even if we die right after."""
    os.write(_out_fd, (line + "\n").encode("utf-8"))


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
    # Unpaced: six messages a run to one customer would wait out the per-customer limit, and
    # what is tested here is that a kill at any point loses and doubles nothing.
    engine = Engine(db, {account_id: provider}, pacing=None)
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


def child(config: dict[str, object], out_fd: int) -> None:
    """Body of a forked child: run, then leave without the server's cleanup."""
    global _out_fd
    _out_fd = out_fd
    code = 0
    try:
        asyncio.run(run(config))
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        code = 1
    os._exit(code)


def serve() -> None:
    """Fork one child per configuration line; relay its lines; report how it ended.

    A ``kill_after`` in the configuration makes the server SIGKILL the child that many seconds
    after it said READY. The server does it, not the test, because only the parent knows the
    pid still belongs to the child: until ``waitpid`` reaps it, it cannot be reused.
    """
    for line in sys.stdin:
        config = json.loads(line)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            child(config, write_fd)
        os.close(write_fd)
        relay(f"PID {pid}")
        kill_after = config.get("kill_after")
        hard_stop = time.monotonic() + HANG_LIMIT_S
        kill_at: float | None = None
        pending = b""
        while True:
            deadline = hard_stop if kill_at is None else min(kill_at, hard_stop)
            readable, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
            if not readable:
                if kill_at is None or time.monotonic() >= hard_stop:
                    relay("HUNG")
                os.kill(pid, signal.SIGKILL)
                kill_at, hard_stop = None, time.monotonic() + HANG_LIMIT_S
                continue
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            pending += chunk
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                relay(raw.decode("utf-8"))
                if raw == b"READY" and kill_after is not None:
                    kill_at = time.monotonic() + float(kill_after)
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
        relay(f"EXIT {os.waitstatus_to_exitcode(status)}")


def relay(line: str) -> None:
    """A line to the test, at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def warm_up() -> None:
    """Do once, before forking, the first-use work every child would otherwise repeat.

    SQLAlchemy loads its dialect and builds much of its machinery on first use (about 0.25 s
    of CPU); done here, every forked child starts with it already in memory.
    """
    from sync.store.local import queries
    from sync.store.local.cache_key import CacheKey
    from sync.store.local.ingest import apply_events
    from sync.store.local.local_cache import LocalCache
    from tests.sync.helpers import add_account, conversation_id_for, inbound

    with tempfile.TemporaryDirectory(prefix="caixa-warm-") as folder:
        cache = LocalCache.open(Path(folder) / "warm.db", CacheKey.generate())
        try:
            account = add_account(cache)
            apply_events(cache, [inbound(account, "warm", phone="+1")])
            message, _ = outbox.enqueue_text(cache, conversation_id_for(cache, account, "+1"), "x")
            outbox.claim_next(cache)
            outbox.complete_sent(cache, message.id, "warm.out")
            outbox.recover_interrupted(cache)
            outbox.pending_count(cache)
            outbox.next_due_ms(cache)
            queries.list_accounts(cache)
        finally:
            cache.close()


def main() -> None:
    """Entry point."""
    warm_up()
    serve()


if __name__ == "__main__":
    main()
