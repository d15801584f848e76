"""Crash safety of the outbox: SIGKILL at random moments, restart, nothing lost, nothing doubled.

The issue's requirement: "A test kills the process (SIGKILL, in a subprocess) between 'sending'
and 'sent' and between writing a message and writing its outbox entry, many times at random
points: after restart no message is lost and none is handed to the provider twice."

Each cycle runs ``crash_child.py`` on a persistent workspace (cache + key file + the provider's
durable log). The child enqueues messages while its dispatcher sends them, and dies by SIGKILL:
either by itself at a named fault point (between the message row and its outbox row, just before
the enqueue commit, right after the claim committed "sending", inside the provider after it took
the message, after the send returned but before "sent" is written) on a random occurrence, or
from this process after a random delay. The next cycle's start-up is the restart: it recovers
interrupted sends and replays the provider's receipts. After every cycle, and after a final
clean run, the invariants below must hold. Several workspaces run side by side to keep it fast.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sync.store.local.cache_key import CacheKey, KeyFileStore
from sync.store.local.ingest import apply_events
from sync.store.local.local_cache import CACHE_FILE_NAME, LocalCache
from tests.fakes.recording_provider import FAULT_AFTER_LOG, read_log
from tests.sync.helpers import add_account, conversation_id_for, inbound, rows, scalar

CHILD = Path(__file__).with_name("crash_child.py")
FAULT_POINTS = (
    "outbox.enqueue.after_message",
    "outbox.enqueue.before_commit",
    "dispatch.after_claim",
    FAULT_AFTER_LOG,
    "dispatch.after_send",
)
MESSAGES_PER_RUN = 6
TRACKS = 3
DEFAULT_SEED = 20261207
KILLS_PER_TRACK = 21  # 63 kills in all, each followed by a restart
PACE_S = 0.06  # the child waits up to this long between two messages
TEXT = re.compile(r"^t\d+c\d+-\d+ Segredo do bolo de açúcar ✓ \d+$")
PHONE = "+55 11 97777-0000"


@dataclass
class Workspace:
    """One cache, its key file and its provider log, reused across restarts."""

    dir: Path
    key: CacheKey
    account_id: int
    conversation_id: int
    acked: dict[str, str] = field(default_factory=dict)  # id -> text, acknowledged by the app
    kills: Counter[str] = field(default_factory=Counter)  # fault point (or "timer") -> kills

    @property
    def cache_path(self) -> Path:
        return self.dir / CACHE_FILE_NAME

    @property
    def log_path(self) -> Path:
        return self.dir / "provider.log"


@dataclass
class ChildRun:
    """What one child process reported before it ended."""

    returncode: int
    acked: dict[str, str]
    killed_at: str | None
    done: bool


def make_workspace(directory: Path) -> Workspace:
    directory.mkdir()
    key = CacheKey.generate()
    KeyFileStore(directory / "cache-key.json").save_plain(key)
    cache = LocalCache.open(directory / CACHE_FILE_NAME, key)
    try:
        account = add_account(cache)
        apply_events(cache, [inbound(account, "wamid.first", "Oi, vocês entregam?", phone=PHONE)])
        conversation = conversation_id_for(cache, account, PHONE)
    finally:
        cache.close()
    return Workspace(directory, key, account, conversation)


class ForkServer:
    """``crash_child.py`` running as a fork server: one forked child per run."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def close(self) -> str:
        """Stop the server; returns what it and its children wrote on stderr."""
        _, err = self.proc.communicate(timeout=30)
        return err

    def run(
        self,
        ws: Workspace,
        *,
        label: str,
        seed: int,
        count: int,
        fault: str | None = None,
        occurrence: int = 0,
        kill_after: float | None = None,
    ) -> ChildRun:
        """Run one child; with ``kill_after``, it is SIGKILLed that long after it is READY."""
        config = {
            "dir": str(ws.dir),
            "seed": seed,
            "account_id": ws.account_id,
            "conversation_id": ws.conversation_id,
            "count": count,
            "pace": PACE_S,
            "label": label,
            "fault": fault,
            "occurrence": occurrence,
            "kill_after": kill_after,
        }
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(config) + "\n")
        self.proc.stdin.flush()
        acked: dict[str, str] = {}
        killed_at = None
        done = False
        while True:
            line = self.proc.stdout.readline()
            if not line:  # the server died: show why
                raise AssertionError(f"fork server ended ({label}):\n{self.close()}")
            word, _, rest = line.rstrip("\n").partition(" ")
            if word == "ACK":
                record = json.loads(rest)
                acked[record["id"]] = record["text"]
            elif word == "KILL":
                killed_at = rest
            elif word == "DONE":
                done = True
            elif word == "HUNG":
                raise AssertionError(f"child {label} hung")
            elif word == "EXIT":
                returncode = int(rest)
                break
        assert returncode in (0, -9), f"child {label} exited {returncode}:\n{self.close()}"
        if returncode == 0:
            assert done and killed_at is None, f"child {label} ended early"
        return ChildRun(returncode, acked, killed_at, done)


def check_invariants(ws: Workspace, *, drained: bool) -> dict[str, int]:
    """Assert what must hold after any crash; with ``drained``, also what a clean run settles."""
    log = read_log(ws.log_path)
    doubled = [i for i, n in Counter(log).items() if n > 1]
    assert not doubled, f"handed to the provider twice: {doubled}"
    cache = LocalCache.open(ws.cache_path, ws.key)
    try:
        out = {
            r[0]: r[1:]
            for r in rows(
                cache,
                "SELECT m.id, m.status, m.body, m.error, o.state FROM messages m"
                " LEFT JOIN outbox o ON o.message_id = m.id WHERE m.direction = 'out'",
            )
        }
        orphans = scalar(
            cache,
            "SELECT COUNT(*) FROM outbox o LEFT JOIN messages m ON m.id = o.message_id"
            " WHERE m.id IS NULL",
        )
        # The FTS5 index agrees with the messages it indexes, whatever the kill interrupted.
        cache.conn.exec_driver_sql(
            "INSERT INTO message_fts(message_fts) VALUES ('integrity-check')"
        )
        integrity = scalar(cache, "PRAGMA integrity_check")
    finally:
        cache.close()
    assert integrity == "ok"
    assert orphans == 0, "an outbox entry without its message"
    lost = [i for i in ws.acked if i not in out]
    assert not lost, f"acknowledged but lost: {lost}"
    changed = [i for i, text in ws.acked.items() if out[i][1] != text]
    assert not changed, f"text damaged: {changed}"
    assert all(TEXT.match(body) for _, body, _, _ in out.values())
    unknown_to_us = set(log) - set(out)
    assert not unknown_to_us, f"the provider got messages the cache does not have: {unknown_to_us}"
    logged = set(log)
    for message_id, (status, _body, error, entry) in out.items():
        where = f"{message_id}: {status}, outbox {entry}, error {error!r}"
        if status == "queued":
            assert entry == "pending", f"queued without an outbox entry: {where}"
        elif status == "sending":
            assert entry == "sending", f"'sending' without its claim: {where}"
        else:
            assert entry is None, f"settled but still in the outbox: {where}"
        if status in ("sent", "delivered"):
            assert message_id in logged, f"marked {status} but the provider never got it: {where}"
        if message_id in logged:
            assert status in ("sending", "unknown", "sent", "delivered"), where
        if status == "unknown":
            assert error == "interrupted while sending", where
        assert status in ("queued", "sending", "unknown", "sent", "delivered"), where
        if drained:
            if message_id in logged:
                assert status == "delivered", f"not reconciled by its receipt: {where}"
            else:
                # Claimed, then killed before the provider got it: never resent blindly.
                assert status == "unknown", f"not sent after a clean run: {where}"
    statuses = Counter(status for status, *_ in out.values())
    return {"messages": len(out), "logged": len(logged), **statuses}


def run_track(root: Path, track: int, seed: int) -> tuple[Workspace, dict[str, int]]:
    rng = random.Random(f"crash-track-{track}-{seed}")
    ws = make_workspace(root / f"track{track}")
    server = ForkServer()
    try:
        stats = _cycles(ws, server, rng, track)
    except AssertionError as exc:
        exc.add_note(f"track {track}, CAIXA_CRASH_SEED={seed} (kill timing is not reproducible)")
        raise
    finally:
        err = server.close()
    # Children never print on stderr: a traceback there is a bug even if the run looked fine.
    assert err == "", err
    return ws, stats


def _cycles(ws: Workspace, server: ForkServer, rng: random.Random, track: int) -> dict[str, int]:
    cycle = 0
    while sum(ws.kills.values()) < KILLS_PER_TRACK:
        cycle += 1
        assert cycle <= 3 * KILLS_PER_TRACK, f"too few kills landed: {ws.kills}"
        label = f"t{track}c{cycle}"
        if cycle % 2:  # self-kill at a fault point, the points taken in turn
            fault = FAULT_POINTS[(cycle // 2 + track) % len(FAULT_POINTS)]
            occurrence = rng.randint(1, MESSAGES_PER_RUN)
            run = server.run(
                ws,
                label=label,
                seed=rng.randrange(2**32),
                count=MESSAGES_PER_RUN,
                fault=fault,
                occurrence=occurrence,
            )
            assert run.returncode == -9 and run.killed_at == fault, (
                f"{label}: expected a kill at {fault} #{occurrence}, got {run}"
            )
            ws.kills[fault] += 1
        else:  # killed from outside, anywhere
            run = server.run(
                ws,
                label=label,
                seed=rng.randrange(2**32),
                count=MESSAGES_PER_RUN,
                kill_after=rng.uniform(0, 0.3),
            )
            if run.returncode == -9:
                ws.kills["timer"] += 1
        ws.acked.update(run.acked)
        check_invariants(ws, drained=False)
    # A clean run drains the outbox; a second start replays the receipts of what it sent.
    for final in ("final1", "final2"):
        run = server.run(ws, label=f"t{track}{final}", seed=0, count=0)
        assert run.done
    return check_invariants(ws, drained=True)


@pytest.fixture
def crash_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder in memory when the system has one (Linux's /dev/shm), else ``tmp_path``.

    SIGKILL ends a process, not the machine: whatever the process wrote is in the OS's page
    cache and survives it, so these tests need no fsync to reach a disk. In memory the
    thousands of fsyncs of a run cost nothing, and the test keeps its speed on a busy disk.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(prefix="caixa-crash-", dir=shm) as folder:
        yield Path(folder)


def test_sigkill_at_random_points_loses_nothing_and_sends_nothing_twice(crash_dir: Path) -> None:
    # Fixed by default so a failure can be replayed; CAIXA_CRASH_SEED=N explores other runs.
    seed = int(os.environ.get("CAIXA_CRASH_SEED") or DEFAULT_SEED)
    print(f"CAIXA_CRASH_SEED={seed}")  # shown with the failure's captured output
    with ThreadPoolExecutor(TRACKS) as pool:
        results = list(pool.map(lambda t: run_track(crash_dir, t, seed), range(TRACKS)))

    kills: Counter[str] = Counter()
    for ws, stats in results:
        kills.update(ws.kills)
        # A kill right after a claim strands that message as "unknown" (the provider never got
        # it, and nothing may resend it blindly); a kill from outside may strand one too. No
        # other kill strands anything: everything else was delivered exactly once.
        stranded = stats.get("unknown", 0)
        after_claim = ws.kills["dispatch.after_claim"]
        assert after_claim <= stranded <= after_claim + ws.kills["timer"], (stats, ws.kills)
        assert stats.get("delivered", 0) == stats["logged"] > 0
        assert stats["messages"] == stats["logged"] + stranded
        assert len(ws.acked) >= MESSAGES_PER_RUN
    assert sum(kills.values()) >= 60
    # Every window the issue names was hit, several times.
    assert all(kills[point] >= 3 for point in FAULT_POINTS), kills
    assert kills["timer"] >= 10, kills
