"""News heard twice, or too late, changes nothing: in the solo cache and on the team server.

Providers redeliver webhooks (Meta retries for days; QR gateways replay on reconnect), and
receipts overtake each other. Both ingests (``sync/store/local/ingest.py`` into the local cache,
``sync/store/team/ingest.py`` into Postgres) must then report no change and write no row: a
reported change repaints the views and, on the server, re-stamps the row so every desktop pulls
it again. Each case stores something, then applies a repeated or stale event, and compares every
row of every table the ingest writes, before and after, column by column.

What a store "reports changed": the local ingest returns a ``ChangeSet``; the server's returns
nothing, and what it changed is what its desktops will pull, the rows whose change stamp
(``seq``, set by a trigger on every write) moved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pytest
from sqlalchemy import text

from sync.domain.events import EditEvent, ProviderEvent, RevokeEvent
from sync.domain.models import DeliveryStatus
from sync.server.credentials import ServerKey, generate_key
from sync.store.local.bulk import chat_key_for_phone
from sync.store.local.ingest import apply_events
from sync.store.local.local_cache import LocalCache
from sync.store.team.database import ServerDatabase
from sync.store.team.ingest import ingest_events_sync
from tests.sync.helpers import BASE_TS, add_account, inbound, outbound_echo, receipt
from tests.sync.server.seeding import seed_workspace

D = DeliveryStatus
PHONE = "+55 11 99999-0001"
KEY = chat_key_for_phone(PHONE)


class Store(Protocol):
    """One of the two stores, seen the same way by the cases below."""

    account_id: int

    def apply(self, events: Sequence[ProviderEvent]) -> Any:
        """Ingest one batch; what the store reports changed (falsy when nothing)."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """Every row the ingest may write, every column."""
        ...


class LocalStore:
    """The solo cache (SQLCipher) through ``sync.store.local.ingest``."""

    def __init__(self, cache: LocalCache) -> None:
        self.cache = cache
        self.account_id = add_account(cache)

    def apply(self, events: Sequence[ProviderEvent]) -> Any:
        return apply_events(self.cache, events).changes

    def snapshot(self) -> dict[str, Any]:
        def all_rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in self.cache.conn.exec_driver_sql(sql)]

        return {
            "messages": all_rows("SELECT * FROM messages ORDER BY seq"),
            "conversations": all_rows("SELECT * FROM conversations ORDER BY id"),
            "accounts": all_rows("SELECT * FROM accounts ORDER BY id"),
            "reactions": all_rows("SELECT * FROM reactions ORDER BY target_id, sender"),
            "pending_changes": all_rows("SELECT * FROM pending_changes ORDER BY target_id, kind"),
        }


class ServerStore:
    """The team server's Postgres through ``sync.store.team.ingest``."""

    def __init__(self, db: ServerDatabase) -> None:
        self.db = db
        self.account_id = seed_workspace(db, ServerKey(generate_key())).account_id

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.db.system() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]

    def _stamps(self) -> set[tuple[Any, ...]]:
        return set(
            self._rows(
                "SELECT 'message', id::text, seq FROM messages"
                " UNION ALL SELECT 'conversation', id::text, seq FROM conversations"
                " UNION ALL SELECT 'account', id::text, seq FROM accounts"
                " UNION ALL SELECT 'reaction', target_id || '/' || sender, seq FROM reactions"
            )
        )

    def apply(self, events: Sequence[ProviderEvent]) -> Any:
        before = self._stamps()
        ingest_events_sync(self.db, events)
        return frozenset((kind, key) for kind, key, _ in self._stamps() - before)

    def snapshot(self) -> dict[str, Any]:
        return {
            "messages": self._rows("SELECT * FROM messages ORDER BY ts, id"),
            "conversations": self._rows("SELECT * FROM conversations ORDER BY id"),
            "accounts": self._rows("SELECT * FROM accounts ORDER BY id"),
            "reactions": self._rows("SELECT * FROM reactions ORDER BY target_id, sender"),
            "pending_changes": self._rows("SELECT * FROM pending_changes ORDER BY target_id, kind"),
        }


@pytest.fixture(params=["local", "server"])
def store(request: pytest.FixtureRequest) -> Store:
    # Asked for by name so that Postgres starts only for the server's half.
    if request.param == "local":
        return LocalStore(request.getfixturevalue("cache"))
    return ServerStore(request.getfixturevalue("server_db"))


# --- the cases -------------------------------------------------------------------------------

Events = Callable[[int], list[ProviderEvent]]


@dataclass(frozen=True)
class Case:
    """Something stored (``first``), then news that must change nothing (``again``)."""

    id: str
    first: Events
    again: Events


def _sent(a: int) -> list[ProviderEvent]:
    return [outbound_echo(a, "w.out", "Seu pedido saiu")]  # stored as "sent"


def _reached(status: DeliveryStatus, error: str | None = None) -> Events:
    return lambda a: [*_sent(a), receipt(a, "w.out", status, error=error)]


def _receipt(status: DeliveryStatus, error: str | None = None, dt: float = 5) -> Events:
    return lambda a: [receipt(a, "w.out", status, error=error, ts=BASE_TS + dt)]


def _received(a: int) -> list[ProviderEvent]:
    return [inbound(a, "w.in", "Tem bolo de cenoura?", phone=PHONE)]


def _edit(body: str, dt: float = 60) -> Events:
    return lambda a: [EditEvent(a, "w.in", body, KEY, PHONE, BASE_TS + dt)]


def _edited(a: int) -> list[ProviderEvent]:
    return [*_received(a), *_edit("Tem bolo de laranja?")(a)]


def _revoke(dt: float = 90) -> Events:
    return lambda a: [RevokeEvent(a, "w.in", KEY, PHONE, BASE_TS + dt)]


def _revoked(a: int) -> list[ProviderEvent]:
    return [*_received(a), *_revoke()(a)]


REPEATED = [
    Case("sent-twice", _reached(D.SENT), _receipt(D.SENT)),
    Case("delivered-twice", _reached(D.DELIVERED), _receipt(D.DELIVERED)),
    Case("read-twice", _reached(D.READ), _receipt(D.READ)),
    Case("played-twice", _reached(D.PLAYED), _receipt(D.PLAYED)),
    # Meta attaches ``errors`` to any status; the same receipt again with other words is still
    # no progress, and the error travels only with a status that moves.
    Case("read-twice-the-second-with-an-error", _reached(D.READ), _receipt(D.READ, "131049")),
    Case(
        "failed-twice-with-another-error",
        _reached(D.FAILED, "131026: undeliverable"),
        _receipt(D.FAILED, "131047: re-engagement message"),
    ),
    Case("edit-twice", _edited, _edit("Tem bolo de laranja?")),
    Case("edit-to-the-text-it-has", _received, _edit("Tem bolo de cenoura?")),
    Case("edit-again-later-to-the-same-text", _edited, _edit("Tem bolo de laranja?", dt=75)),
    Case("deleted-twice", _revoked, _revoke()),
    Case("deleted-again-later", _revoked, _revoke(dt=120)),
]

STALE = [
    Case("delivered-after-read", _reached(D.READ), _receipt(D.DELIVERED)),
    Case("sent-after-delivered", _reached(D.DELIVERED), _receipt(D.SENT)),
    Case("read-after-played", _reached(D.PLAYED), _receipt(D.READ)),
    Case("failed-after-delivered", _reached(D.DELIVERED), _receipt(D.FAILED, "131026")),
    Case("delivered-after-failed", _reached(D.FAILED, "131026"), _receipt(D.DELIVERED)),
    Case("a-receipt-for-an-inbound-message", _received, lambda a: [receipt(a, "w.in", D.READ)]),
    # Deleted for everyone is final: an edit heard afterwards must not bring a text back.
    Case("edited-after-deleted", _revoked, _edit("Tem bolo de laranja?", dt=100)),
    Case("an-older-edit-heard-after-the-deletion", _revoked, _edit("Tem bolo de laranja?")),
]


def _check_changes_nothing(store: Store, case: Case) -> None:
    a = store.account_id
    # The harness sees changes at all: storing the message is reported.
    assert store.apply(case.first(a))
    before = store.snapshot()

    changes = store.apply(case.again(a))

    assert not changes
    assert store.snapshot() == before


@pytest.mark.parametrize("case", REPEATED, ids=lambda c: c.id)
def test_a_repeated_event_changes_nothing(store: Store, case: Case) -> None:
    _check_changes_nothing(store, case)


@pytest.mark.parametrize("case", STALE, ids=lambda c: c.id)
def test_stale_news_changes_nothing(store: Store, case: Case) -> None:
    _check_changes_nothing(store, case)


@pytest.mark.parametrize("case", REPEATED + STALE, ids=lambda c: c.id)
def test_the_whole_webhook_redelivered_changes_nothing(store: Store, case: Case) -> None:
    a = store.account_id
    store.apply(case.first(a))
    store.apply(case.again(a))
    before = store.snapshot()

    assert not store.apply([*case.first(a), *case.again(a)])
    assert store.snapshot() == before


def test_progress_is_reported_and_written(store: Store) -> None:
    # The other side of the cases above: a receipt that is progress does change the row, so
    # an empty change set there means "nothing happened", not "the harness cannot see".
    a = store.account_id
    store.apply(_reached(D.DELIVERED)(a))
    before = store.snapshot()

    assert store.apply(_receipt(D.READ)(a))
    assert store.snapshot()["messages"] != before["messages"]
