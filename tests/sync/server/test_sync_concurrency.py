"""The snapshot fence under load: 16 writers committing late, readers pulling all the while.

Each writer transaction takes its xid with its first row, waits a random while, writes the
rest and waits again before committing, so transactions commit in a different order from the one
their xids were handed out in. A reader that moved its cursor past a running transaction's xid
would never see that transaction's rows; the fence (``pg_snapshot_xmin``) must prevent it.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from sync.server.sync_api import Cursor, pull
from sync.store.team.database import ServerDatabase
from tests.polling import at_most
from tests.sync.client.team_server import seed

if TYPE_CHECKING:
    from tests.conftest import PgDatabase

WRITERS = 16
TRANSACTIONS = 25
ROWS = 50  # per transaction: 16 * 25 * 50 = 20,000 rows
READERS = 3

_INSERT = (
    "INSERT INTO messages (id, workspace_id, account_id, conversation_id, direction, ts, type,"
    " body, status) SELECT u, %s, %s, %s, 'in', 1, 'text', 'x', 'received'"
    " FROM unnest(%s::uuid[]) AS u"
)


@pytest.mark.slow
def test_no_reader_misses_a_row_of_late_committing_writers(
    pg_database: PgDatabase, postgres_cluster: Any
) -> None:
    db = ServerDatabase(pg_database.app_url, pool_size=READERS + 1)
    team = seed(db)
    principal = team.principal("sup")
    dsn = postgres_cluster.dsn(pg_database.name, app=True)
    written: list[uuid.UUID] = []
    lock = threading.Lock()
    writers_done = threading.Event()
    errors: list[BaseException] = []

    def write(n: int) -> None:
        rng = random.Random(n)
        account, chat = (
            (team.shop, team.shop_chat) if n % 2 else (team.workshop, team.workshop_chat)
        )
        try:
            with psycopg.connect(dsn) as conn:
                for _ in range(TRANSACTIONS):
                    ids = [uuid.uuid4() for _ in range(ROWS)]
                    conn.execute("SELECT set_config('caixa.scope', 'system', true)")
                    conn.execute(_INSERT, (team.ws, account, chat, ids[:1]))  # xid taken now
                    time.sleep(rng.uniform(0, 0.01))
                    conn.execute(_INSERT, (team.ws, account, chat, ids[1:]))
                    time.sleep(rng.uniform(0, 0.02))
                    conn.commit()
                    with lock:
                        written.extend(ids)
        except BaseException as exc:
            errors.append(exc)

    seen: list[list[str]] = [[] for _ in range(READERS)]

    def read(n: int) -> None:
        cursor = Cursor()
        # Once the writers are done every row is committed: a few pages finish the read, and a
        # fence that never lifts fails the test instead of keeping this thread (and it) alive.
        last_pass = at_most(1_000, "the pull still held back rows after the writers finished")
        try:
            while True:
                finished = writers_done.is_set()  # read before the pull: a last full pass
                page = pull(db, principal, cursor, 2_000)
                assert page.cursor >= cursor
                cursor = page.cursor
                if "messages" in page.rows:
                    seen[n].extend(row[0] for row in json.loads(page.rows["messages"]))
                if finished:
                    if not page.more and not page.held:
                        return
                    next(last_pass)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    readers = [threading.Thread(target=read, args=(n,)) for n in range(READERS)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    writers_done.set()
    for thread in readers:
        thread.join()
    db.dispose()
    assert not errors, errors
    expected = {str(i) for i in written}
    assert len(expected) == WRITERS * TRANSACTIONS * ROWS
    for n in range(READERS):
        assert len(seen[n]) == len(set(seen[n])), "a row was handed out twice"
        missed = expected - set(seen[n])
        assert not missed, f"reader {n} missed {len(missed)} rows"
