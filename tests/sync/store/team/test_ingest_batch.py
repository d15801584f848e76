"""The team server's batched ingest of incoming messages: the same outcome as one at a time.

A webhook group's plain inbound messages are written together (``pg_ingest._store_inbound``);
these tests hold that to what storing the events one by one gives, including redeliveries inside
one group, names and previews folding in order, LID and echo events breaking a run, and a
redelivery racing its original in another transaction. (The group commit over this store is
tested with the local one's: ``tests/sync/engine/test_ingest_queue.py``.)
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from sync.domain.events import ContactEvent, MessageEvent, ProviderEvent, StatusEvent
from sync.domain.models import DeliveryStatus, Direction, MessageType
from sync.store.team.database import ServerDatabase
from sync.store.team.ingest import apply_events, ingest_events_sync
from tests.polling import wait_until
from tests.sync.server import seeding
from tests.sync.server.seeding import Seeded

if TYPE_CHECKING:
    pass

PHONES = ("5511999990001", "5511999990002")
GROUP = "120363000000000001@g.us"
LID = "99887766@lid"


@pytest.fixture
def db(server_db: ServerDatabase) -> ServerDatabase:
    return server_db  # the server's pool (tests/conftest.py), under this module's short name


def message(account_id: int, wamid: str, body: str, **kw: Any) -> MessageEvent:
    fields: dict[str, Any] = {
        "account_id": account_id,
        "provider_message_id": wamid,
        "chat_key": PHONES[0],
        "chat_phone": PHONES[0],
        "direction": Direction.IN,
        "timestamp": 1_750_000_000,
        "type": MessageType.TEXT,
        "text": body,
        "sender_name": "Maria",
    }
    fields.update(kw)
    return MessageEvent(**fields)


def new_number(db: ServerDatabase, seeded: Seeded) -> int:
    """Another number in the seeded workspace (each example gets clean ones)."""
    with db.system() as conn:
        return seeding.number(
            conn, seeded.workspace_id, f"outra {uuid.uuid4()}", provider="meta", state="connected"
        )


def state(db: ServerDatabase, account_id: int) -> tuple[list[Any], list[Any]]:
    """A number's conversations and messages, without ids, stamps or tombstones' suffixes."""
    with db.system() as conn:
        conversations = conn.execute(
            text(
                "SELECT split_part(chat_key, '#merged:', 1), customer_phone, customer_name,"
                " is_group, last_message_at, last_preview, last_direction, last_status,"
                " last_inbound_at, unread_count, deleted FROM conversations"
                " WHERE account_id = :a ORDER BY 1, deleted"
            ),
            {"a": account_id},
        ).all()
        messages = conn.execute(
            text(
                "SELECT m.provider_message_id, split_part(c.chat_key, '#merged:', 1), m.direction,"
                " m.ts, m.type, m.body, m.sender_name, m.reply_to, m.media, m.status, m.deleted"
                " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.account_id = :a ORDER BY m.provider_message_id"
            ),
            {"a": account_id},
        ).all()
    return [tuple(r) for r in conversations], [tuple(r) for r in messages]


def for_number(events: list[ProviderEvent], account_id: int) -> list[ProviderEvent]:
    import dataclasses

    return [dataclasses.replace(e, account_id=account_id) for e in events]  # type: ignore[misc]


def _inbound() -> st.SearchStrategy[MessageEvent]:
    return st.builds(
        lambda wamid, chat, name, phone, ts, kind, body: message(
            0,
            f"w.{wamid}",
            body if kind == "text" else "",
            chat_key=GROUP if chat == "group" else chat,
            chat_phone="" if chat == "group" or not phone else chat,
            is_group=chat == "group",
            sender_name=name,
            timestamp=1_750_000_000 + ts,
            type=MessageType.TEXT if kind == "text" else MessageType.IMAGE,
            caption=body if kind == "image" else "",
            media={"id": f"m{wamid}"} if kind == "image" else None,
        ),
        wamid=st.integers(0, 12),
        chat=st.sampled_from([*PHONES, "group"]),
        name=st.sampled_from(["", "Maria", "Ana"]),
        phone=st.booleans(),
        ts=st.integers(0, 5),
        kind=st.sampled_from(["text", "image"]),
        body=st.sampled_from(["", "oi", "bolo\nde milho", "  "]),
    )


def _other() -> st.SearchStrategy[ProviderEvent]:
    """Events that take the one-by-one path and break a run of plain inbound messages."""
    return st.one_of(
        st.builds(
            lambda wamid, ts: message(
                0,
                f"w.lid{wamid}",
                "pelo lid",
                chat_key=LID,
                chat_phone="",
                chat_jid=LID,
                timestamp=1_750_000_000 + ts,
            ),
            st.integers(0, 3),
            st.integers(0, 5),
        ),
        st.builds(
            lambda wamid, ts: message(
                0,
                f"w.out{wamid}",
                "do celular",
                direction=Direction.OUT,
                sender_name="",
                chat_key=PHONES[1],
                chat_phone=PHONES[1],
                timestamp=1_750_000_000 + ts,
            ),
            st.integers(0, 3),
            st.integers(0, 5),
        ),
        st.just(ContactEvent(0, chat_key=PHONES[0], name="Contato", lid=LID, phone=PHONES[0])),
        st.builds(
            lambda wamid, value: StatusEvent(0, f"w.{wamid}", value, timestamp=1_750_000_100),
            st.integers(0, 12),
            st.sampled_from([DeliveryStatus.READ, DeliveryStatus.FAILED]),
        ),
    )


# Mostly plain inbound messages (the batched path), now and then an event that ends a run.
EVENTS = st.lists(
    st.tuples(st.integers(0, 7), _inbound(), _other()).map(lambda t: t[2] if t[0] == 0 else t[1]),
    max_size=16,
)


@settings(
    max_examples=60,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(before=EVENTS, group=EVENTS)
def test_a_group_stores_what_storing_its_events_one_by_one_stores(
    db: ServerDatabase, seeded: Seeded, before: list[ProviderEvent], group: list[ProviderEvent]
) -> None:
    batched, one_by_one = new_number(db, seeded), new_number(db, seeded)
    # Some of the group's messages may already be stored (redeliveries of an earlier call).
    ingest_events_sync(db, for_number(before, batched))
    ingest_events_sync(db, for_number(before, one_by_one))
    ingest_events_sync(db, for_number(group, batched))
    for event in for_number(group, one_by_one):
        ingest_events_sync(db, [event])
    assert state(db, batched) == state(db, one_by_one)


def test_a_redelivery_inside_a_group_is_stored_once_first_copy_wins(
    db: ServerDatabase, seeded: Seeded
) -> None:
    a = seeded.account_id
    ingest_events_sync(
        db,
        [
            message(a, "w.1", "original", timestamp=1_750_000_005),
            message(a, "w.2", "outra", chat_key=PHONES[1], chat_phone=PHONES[1]),
            message(a, "w.1", "copy", timestamp=1_750_000_009, sender_name="Outro"),
        ],
    )
    _, messages = state(db, a)
    assert [(m[0], m[5]) for m in messages] == [("w.1", "original"), ("w.2", "outra")]
    conversations, _ = state(db, a)
    assert [(c[0], c[2], c[5], c[9]) for c in conversations] == [
        (PHONES[0], "Maria", "original", 1),
        (PHONES[1], "Maria", "outra", 1),
    ]


def test_a_group_folds_names_and_previews_in_order(db: ServerDatabase, seeded: Seeded) -> None:
    batched, one_by_one = new_number(db, seeded), new_number(db, seeded)
    group: list[ProviderEvent] = [
        message(0, "w.1", "primeira", timestamp=1_750_000_005, sender_name="Maria"),
        message(0, "w.2", "segunda", timestamp=1_750_000_005, sender_name=""),
        message(0, "w.3", "antiga", timestamp=1_750_000_003, sender_name="Ana"),
        message(0, "w.4", "sem telefone", chat_key=PHONES[1], chat_phone=""),
        message(0, "w.5", "com telefone", chat_key=PHONES[1], chat_phone=PHONES[1]),
    ]
    ingest_events_sync(db, for_number(group, batched))
    for event in for_number(group, one_by_one):
        ingest_events_sync(db, [event])
    conversations, _ = state(db, batched)
    assert state(db, batched) == state(db, one_by_one)
    # The last name given, the last of the newest messages' preview, every message counted.
    assert [(c[0], c[1], c[2], c[4], c[5], c[8], c[9]) for c in conversations] == [
        (PHONES[0], PHONES[0], "Ana", 1_750_000_005_000, "segunda", 1_750_000_005_000, 3),
        (PHONES[1], PHONES[1], "Maria", 1_750_000_000_000, "com telefone", 1_750_000_000_000, 2),
    ]


def _wait_until_blocked(db: ServerDatabase) -> None:
    """Until some other backend waits on a lock (the racing transaction reached the conflict)."""

    def waiting() -> int:
        with db.engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND datname = current_database()"
                    )
                ).scalar_one()
            )

    wait_until(
        waiting, timeout=30, message="the racing transaction waited for the first one's lock"
    )


def test_a_redelivery_racing_its_original_in_another_transaction_is_stored_once(
    db: ServerDatabase, seeded: Seeded
) -> None:
    a = seeded.account_id
    events = [message(a, "w.race", "oi"), message(a, "w.race.2", "tudo bem?")]
    failures: list[BaseException] = []

    def racer() -> None:
        try:
            ingest_events_sync(db, events[::-1])
        except BaseException as exc:
            failures.append(exc)

    with db.system() as first:
        # The first transaction has created the conversation and stored both, not committed.
        apply_events(first, events)
        thread = threading.Thread(target=racer)
        thread.start()
        _wait_until_blocked(db)
    thread.join(timeout=60)
    assert not thread.is_alive() and not failures
    conversations, messages = state(db, a)
    assert [m[0] for m in messages] == ["w.race", "w.race.2"]
    assert [(c[0], c[9]) for c in conversations] == [(PHONES[0], 2)]  # not counted twice
