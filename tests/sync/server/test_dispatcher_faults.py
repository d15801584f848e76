"""The dispatcher SIGKILLed at random points of dispatch 200 times: never lost, never doubled.

A child process (``dispatch_worker.py``) runs the team dispatcher against the test's Postgres and
the fake Graph API served by this process over loopback; the fake records every message it
accepts with our message id (``biz_opaque_callback_data``). Each life is killed (SIGKILL, no
cleanup) after a random delay, or by itself at a fault point (after the claim, after the
provider answered), and a new one starts, which first recovers what the dead one left
"sending". Meanwhile this process keeps queueing messages, delivers status webhooks for what
the fake accepted (through ingest, racing the dispatcher's own writes), and has the fake answer
some sends with a transient or a permanent error.

At the end: 0 duplicate sends at the provider, 0 lost messages; every message is delivered,
failed, or was "unknown" and got settled by its receipt; the few that died after their claim
but before the request left (unknown, never at the provider) are sent again by a supervisor,
and those copies arrive too.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

from sync.domain.events import StatusEvent
from sync.domain.models import DeliveryStatus
from sync.server.auth import Principal
from sync.server.credentials import ServerKey, generate_key
from sync.store.team.database import ServerDatabase
from sync.store.team.ingest import ingest_events_sync
from sync.store.team.outbox import UNCONFIRMED_REASON, fail_unconfirmed, retry_message
from tests.fakes.loopback import serve
from tests.fakes.meta_server import FakeMeta
from tests.sync.server.seeding import Seeded, add_conversation, enqueue, seed_workspace

if TYPE_CHECKING:
    from tests.conftest import PgDatabase

WORKER = Path(__file__).with_name("dispatch_worker.py")
TOKEN = "EAAG-dispatch-test-token"
PNID = "106540352242922"
KILLS = 200
SEED = 20250604


class Worker:
    """The fork server; ``life(config)`` runs one child to its end and returns its lines."""

    def __init__(self, url: str, log: Path) -> None:
        self.log = log
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER), url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                bufsize=1,
            )

    def life(self, config: dict[str, Any]) -> list[str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(config) + "\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the worker died: {self.log.read_text()[-3000:]}")
            lines.append(line.strip())
            if line.startswith("EXIT"):
                return lines

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Traffic:
    """Queues messages and delivers receipts from a thread while the dispatcher runs."""

    def __init__(
        self, db: ServerDatabase, seeded: Seeded, fake: FakeMeta, convs: dict[int, str]
    ) -> None:
        self.db = db
        self.seeded = seeded
        self.fake = fake
        self.convs = convs
        self.rng = random.Random(SEED + 1)
        self.enqueued: list[tuple[uuid.UUID, int]] = []
        self.notified = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def queue(self, count: int) -> None:
        for _ in range(count):
            conv = self.rng.choice(list(self.convs))
            body = f"msg-{len(self.enqueued)} bolo de açúcar ✓"
            self.enqueued.append(
                (enqueue(self.db, self.seeded, conv, body, self.convs[conv]), conv)
            )

    def receipts(self, status: DeliveryStatus, start: int = 0) -> int:
        """Status webhooks (with our id, as Meta's do) for accepted messages from ``start``."""
        accepted = self.fake.accepted
        ids = self.fake.accepted_ids
        events = [
            StatusEvent(
                account_id=self.seeded.account_id,
                provider_message_id=wamid,
                status=status,
                timestamp=time.time(),
                client_ref=payload.get("biz_opaque_callback_data"),
            )
            for payload, wamid in zip(accepted[start:], ids[start:], strict=True)
        ]
        for i in range(0, len(events), 50):  # Meta batches statuses in one webhook too
            ingest_events_sync(self.db, events[i : i + 50])
        return len(ids)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.rng.uniform(0.05, 0.2)):
                self.queue(1)
                if self.rng.random() < 0.3:
                    self.notified = self.receipts(DeliveryStatus.SENT, self.notified)
        except BaseException as exc:
            self.errors.append(exc)


@pytest.mark.slow
def test_sigkill_during_dispatch_200_times_never_loses_or_doubles(
    pg_database: PgDatabase, tmp_path: Path
) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    fake = FakeMeta(access_token=TOKEN, phone_number_id=PNID)
    db = ServerDatabase(pg_database.app_url, pool_size=4)
    key_text = generate_key()
    with serve(fake.app) as base_url:
        seeded = seed_workspace(
            db,
            ServerKey(key_text),
            base_url=base_url,
            pacing={"per_second": 100000, "burst": 100000, "recipient_interval_s": 0},
        )
        phones = [f"55119{n:08d}" for n in range(12)]
        convs = {add_conversation(db, seeded, p): p for p in phones}
        traffic = Traffic(db, seeded, fake, convs)
        worker = Worker(pg_database.app_url, tmp_path / "worker.log")
        base = {"url": pg_database.app_url, "key": key_text, "concurrency": 4}
        modes: Counter[str] = Counter()
        recovered = 0
        permanent = 0
        try:
            kills = 0
            while kills < KILLS:
                traffic.queue(rng.randint(1, 3))
                roll = rng.random()
                if roll < 0.1:
                    fake.fail_next(131057)  # transient: retried
                elif roll < 0.13:
                    fake.arrange("invalid_recipient")  # permanent: failed
                    permanent += 1
                config = dict(base)
                roll = rng.random()
                if roll < 0.15:
                    config.update(fault="dispatch.after_claim", occurrence=rng.randint(1, 2))
                    config["kill_after"] = 0.15  # in case the point is not reached
                elif roll < 0.35:
                    config.update(fault="dispatch.after_send", occurrence=rng.randint(1, 2))
                    config["kill_after"] = 0.15
                else:
                    config["kill_after"] = rng.uniform(0.0, 0.08)
                traffic.start()
                try:
                    lines = worker.life(config)
                finally:
                    traffic.stop()
                assert not traffic.errors, traffic.errors
                assert "HUNG" not in lines, lines
                assert lines[-1] == "EXIT -9", (lines, worker.log.read_text()[-3000:])
                ready = [line for line in lines if line.startswith("READY")]
                recovered += int(ready[0].split()[1]) if ready else 0
                killed_at = next((ln.split()[1] for ln in lines if ln.startswith("KILL")), None)
                modes[killed_at or ("delay" if ready else "during-start")] += 1
                kills += 1
            kill_phase = time.monotonic() - started
            # The last life runs until the outbox is empty and stops cleanly.
            lines = worker.life({**base, "drain": True})
            with db.system() as conn:
                left = conn.execute(
                    text(
                        "SELECT o.*, m.status, now() FROM outbox o JOIN messages m"
                        " ON m.id = o.message_id ORDER BY o.created_at"
                    )
                ).all()
            assert lines[-2:] == ["DONE", "EXIT 0"], (lines, left, worker.log.read_text()[-3000:])
            recovered += int(lines[1].split()[1])
            traffic.receipts(DeliveryStatus.DELIVERED)

            # Never lost, never doubled.
            sent = [p.get("biz_opaque_callback_data") for p in fake.accepted]
            doubled = [i for i, n in Counter(sent).items() if n > 1]
            assert doubled == []
            with db.system() as conn:
                final = {
                    r[0]: (r[1], r[2])
                    for r in conn.execute(text("SELECT id, status, error FROM messages")).all()
                }
                assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 0
            ours = {m for m, _ in traffic.enqueued}
            assert set(final) == ours  # nothing lost, nothing extra
            assert {uuid.UUID(s) for s in sent} <= ours
            statuses = Counter(s for s, _ in final.values())
            assert set(statuses) <= {"delivered", "failed", "unknown"}, statuses
            failed = [e for s, e in final.values() if s == "failed"]
            assert all("131026" in (e or "") or "undeliverable" in (e or "") for e in failed)
            assert len(failed) <= permanent
            # "unknown" now only for sends that died before the request left: not at the fake.
            unknown = [m for m, (s, _) in final.items() if s == "unknown"]
            assert not {str(m) for m in unknown} & set(sent)
            # Nothing will ever confirm those: once the server has been up long enough to have
            # heard their receipts (here: at once), they are settled as failed, with the reason.
            cutoff = int(time.time() * 1000) + 1
            assert len(fail_unconfirmed(db, cutoff).messages) == len(unknown)
            with db.system() as conn:
                settled = dict(
                    conn.execute(
                        text("SELECT id, error FROM messages WHERE id = ANY(:ids)"),
                        {"ids": unknown},
                    ).all()
                )
                final = {
                    r[0]: (r[1], r[2])
                    for r in conn.execute(text("SELECT id, status, error FROM messages")).all()
                }
            assert set(settled.values()) <= {UNCONFIRMED_REASON}
            # Every message ends delivered (settled by its receipt, "unknown" ones included) or
            # failed with its reason.
            assert {s for s, _ in final.values()} <= {"delivered", "failed"}
            # A conversation's messages reached the provider in the order they were queued.
            position = {str(m): i for i, (m, _) in enumerate(traffic.enqueued)}
            by_recipient: dict[str, list[int]] = {}
            for payload in fake.accepted:
                by_recipient.setdefault(payload["to"], []).append(
                    position[payload["biz_opaque_callback_data"]]
                )
            for order in by_recipient.values():
                assert order == sorted(order)

            # A supervisor sends the unconfirmed ones again; the copies arrive once too.
            supervisor = Principal(seeded.workspace_id, seeded.supervisor_id, role="supervisor")
            with db.system() as conn:
                copies = [retry_message(conn, m, supervisor) for m in unknown]
            before = len(fake.accepted)
            lines = worker.life({**base, "drain": True})
            assert lines[-1] == "EXIT 0"
            traffic.receipts(DeliveryStatus.DELIVERED, before)
            with db.system() as conn:
                copy_statuses = conn.execute(
                    text("SELECT status FROM messages WHERE id = ANY(:ids)"), {"ids": copies}
                ).scalars()
                assert set(copy_statuses) <= {"delivered"}
            sent = [p.get("biz_opaque_callback_data") for p in fake.accepted]
            assert max(Counter(sent).values()) == 1
        finally:
            worker.close()
            fake.close()
            db.dispose()
    elapsed = time.monotonic() - started
    reconciled = recovered - len(unknown)
    print(
        f"\n{KILLS} kills in {kill_phase:.1f} s ({elapsed:.1f} s in all): {dict(modes)};"
        f" {len(traffic.enqueued)} messages, {len(fake.accepted)} sends accepted, 0 doubled;"
        f" {dict(statuses)}; {recovered} found 'sending' after a kill, {reconciled} of them"
        f" settled by their receipt, {len(unknown)} never left (failed as unconfirmed, then"
        " sent again by a supervisor)"
    )
