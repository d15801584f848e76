"""The team dispatcher in a child process for the kill test, and the seeding its tests share.

Run as ``python dispatch_worker.py``: a small fork server (like ``tests/sync/engine/
crash_child.py``). It imports the dispatcher and its dependencies once and warms SQLAlchemy up
(about a second per interpreter, which 200 restarts cannot afford), then for each JSON
configuration line read on stdin forks one child: the "server" the test kills. The child
connects to the test's Postgres, starts a ``TeamDispatcher`` (crash recovery first) whose number
sends to the test's fake Graph API over loopback, and dispatches until it is killed: by the
fork server ``kill_after`` seconds after READY, or by itself with SIGKILL on the
``occurrence``-th hit of the fault point ``fault`` (``sync/faults.py``). With ``drain`` it
instead exits cleanly once the outbox is empty.

Protocol on stdout, one line each: ``PID <pid>``, then the child's ``READY <recovered>``,
``KILL <point>`` or ``DONE``, and ``EXIT <code>`` (``-9`` for SIGKILL; ``HUNG`` first if it
had to be stopped for taking too long).

The tests seed the workspace it dispatches for with ``tests/sync/server/seeding.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

# Runs as a script: make the repository importable (tests.fakes, sync).
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from sqlalchemy import text

from sync import faults
from sync.server.credentials import ServerKey, generate_key
from sync.store.team.database import ServerDatabase

_out_fd = 1
HANG_LIMIT_S = 30.0


# --- the child -------------------------------------------------------------------------------


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


async def run(config: dict[str, Any]) -> None:
    """Start a dispatcher, dispatch until killed (or, with ``drain``, until the outbox is empty)."""
    import httpx

    from sync.server.dispatcher import TeamDispatcher

    db = ServerDatabase(str(config["url"]), pool_size=6)
    timeout = httpx.Timeout(float(config.get("http_timeout", 2.0)))
    # Plain HTTP on loopback: no TLS context to build at every start.
    async with httpx.AsyncClient(timeout=timeout, verify=False) as http:
        dispatcher = TeamDispatcher(
            db,
            ServerKey(str(config["key"])),
            http,
            concurrency=int(config.get("concurrency", 4)),
            backoff_base_s=0.01,
            backoff_cap_s=0.05,
            idle_poll_s=0.02,
            # A killed child's sends are settled by the next one soon: short leases, renewed
            # often (the fake answers within milliseconds).
            lease_s=1.0,
            upkeep_interval_s=0.2,
        )
        if config.get("fault"):
            install_kill(str(config["fault"]), int(config["occurrence"]))
        await dispatcher.start()
        say(f"READY {dispatcher.recovered}")
        if config.get("drain"):
            while _pending(db):
                await asyncio.sleep(0.01)
            faults.install(None)
            await dispatcher.aclose()
            db.dispose()
            say("DONE")
            return
        await asyncio.sleep(HANG_LIMIT_S * 2)


def _pending(db: ServerDatabase) -> int:
    with db.system() as conn:
        return int(conn.execute(text("SELECT count(*) FROM outbox")).scalar_one())


def child(config: dict[str, Any], out_fd: int) -> None:
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

    The server, not the test, kills the child after ``kill_after`` seconds: only the parent
    knows the pid still belongs to the child (until ``waitpid`` reaps it, it cannot be reused).
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
                if raw.startswith(b"READY") and kill_after is not None:
                    kill_at = time.monotonic() + float(kill_after)
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
        relay(f"EXIT {os.waitstatus_to_exitcode(status)}")


def relay(line: str) -> None:
    """A line to the test, at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def warm_up(url: str) -> None:
    """Load, once before forking, what every child would otherwise load and build again.

    Imports (SQLAlchemy, psycopg, httpx, the adapters) and SQLAlchemy's first-use work; the
    engine is disposed before any fork, so no child shares a connection with another.
    """
    import httpx  # noqa: F401

    from sync.providers.meta_cloud import adapter  # noqa: F401
    from sync.server import dispatcher  # noqa: F401
    from sync.store.team import outbox

    ServerKey(generate_key())  # loads the AES code
    db = ServerDatabase(url, pool_size=1)
    try:
        _pending(db)
        outbox.next_due_ms(db, [0], [])
        outbox.claim_next(db, [0], [])
    finally:
        db.dispose()


def main() -> None:
    """Entry point: ``python dispatch_worker.py URL``."""
    warm_up(sys.argv[1])
    serve()


if __name__ == "__main__":
    main()
