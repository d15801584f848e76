"""Sends nothing ever confirmed, on Postgres: only those older than the cutoff, with no provider
id and no receipt, are failed (when to settle is the engine's rule, tested over both stores in
``tests/sync/engine/test_dispatcher.py``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import text

from sync.domain.events import StatusEvent
from sync.domain.models import DeliveryStatus
from sync.domain.outbox import UNCONFIRMED_AFTER_S
from sync.server.credentials import ServerKey, generate_key
from sync.store.team.database import ServerDatabase
from sync.store.team.ingest import ingest_events_sync, set_status
from sync.store.team.outbox import UNCONFIRMED_REASON, fail_unconfirmed
from tests.sync.server.seeding import add_conversation, enqueue, seed_workspace

if TYPE_CHECKING:
    from tests.conftest import PgDatabase

MINUTE_MS = 60_000


def test_only_old_unconfirmed_sends_fail_and_a_receipt_still_wins(pg_database: PgDatabase) -> None:
    db = ServerDatabase(pg_database.app_url)
    try:
        seeded = seed_workspace(db, ServerKey(generate_key()))
        conversation = add_conversation(db, seeded, "5511987654321")
        lost, answered, confirmed = (
            enqueue(db, seeded, conversation, body, "5511987654321")
            for body in ("lost", "answered", "confirmed")
        )
        with db.system() as conn:
            conn.execute(text("DELETE FROM outbox"))
            for message_id in (lost, answered, confirmed):
                set_status(conn, seeded.workspace_id, message_id, DeliveryStatus.UNKNOWN, "x")
            conn.execute(
                text("UPDATE messages SET provider_message_id = 'wamid.A' WHERE id = :id"),
                {"id": answered},
            )
        # The receipt of one arrives (Meta echoes our id in biz_opaque_callback_data).
        ingest_events_sync(
            db,
            [
                StatusEvent(
                    seeded.account_id,
                    "wamid.C",
                    DeliveryStatus.DELIVERED,
                    time.time(),
                    client_ref=str(confirmed),
                )
            ],
        )
        now = int(time.time() * 1000)
        wait_ms = int(UNCONFIRMED_AFTER_S * 1000)
        # Fresh messages: nothing is settled yet.
        assert not fail_unconfirmed(db, now - wait_ms)
        later = now + 20 * MINUTE_MS
        assert len(fail_unconfirmed(db, later - wait_ms).messages) == 1
        with db.system() as conn:
            rows = dict(
                conn.execute(
                    text("SELECT id, status || ':' || coalesce(error, '') FROM messages")
                ).all()
            )
        assert rows[lost] == f"failed:{UNCONFIRMED_REASON}"
        assert rows[answered].startswith("unknown")  # the provider took it: a receipt may come
        assert rows[confirmed].startswith("delivered")
    finally:
        db.dispose()
