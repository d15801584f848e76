"""The team server's ingest on a real Postgres: dedupe, statuses, echoes, ``client_ref``, LIDs."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

from sync.domain.events import (
    AccountRemovedEvent,
    ConnectionEvent,
    ContactEvent,
    EditEvent,
    MessageEvent,
    QrEvent,
    ReactionEvent,
    RevokeEvent,
    StatusEvent,
    UnstorableEvents,
)
from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.store.team.database import AgentScope, ServerDatabase
from sync.store.team.ingest import EnqueueError, enqueue_send, ingest_events, ingest_events_sync
from sync.store.team.outbox import Claim, Outcome, claim_next, record_outcome
from tests.sync.server.seeding import Seeded, add_conversation, enqueue, rows

if TYPE_CHECKING:
    pass

PHONE = "5511999990001"


@pytest.fixture
def db(server_db: ServerDatabase) -> ServerDatabase:
    return server_db  # the server's pool (tests/conftest.py), under this module's short name


def inbound(account_id: int, wamid: str, body: str, *, ts: float = 1_750_000_000, **kw: Any):
    fields: dict[str, Any] = {
        "account_id": account_id,
        "provider_message_id": wamid,
        "chat_key": PHONE,
        "chat_phone": PHONE,
        "direction": Direction.IN,
        "timestamp": ts,
        "type": MessageType.TEXT,
        "text": body,
        "sender_name": "Maria",
    }
    fields.update(kw)
    return MessageEvent(**fields)


def status(account_id: int, wamid: str, value: DeliveryStatus, **kw: Any) -> StatusEvent:
    return StatusEvent(
        account_id=account_id,
        provider_message_id=wamid,
        status=value,
        timestamp=1_750_000_100,
        **kw,
    )


def stamps(db: ServerDatabase) -> list[Any]:
    """Every synced row's change stamp: unchanged means nothing was written."""
    return rows(
        db,
        "SELECT 'm', id::text, seq FROM messages UNION ALL SELECT 'c', id::text, seq"
        " FROM conversations UNION ALL SELECT 'a', id::text, seq FROM accounts"
        " UNION ALL SELECT 'r', target_id || sender, seq FROM reactions ORDER BY 1, 2",
    )


def test_inbound_messages_are_stored_once_and_redelivery_writes_nothing(
    db: ServerDatabase, seeded: Seeded
) -> None:
    a = seeded.account_id
    batch = [
        inbound(a, "wamid.1", "Oi, tudo bem?"),
        inbound(a, "wamid.2", "Quero um bolo", ts=1_750_000_010),
        inbound(a, "wamid.1", "Oi, tudo bem?"),  # the same message twice in one batch
    ]
    ingest_events_sync(db, batch)
    before = stamps(db)
    ingest_events_sync(db, batch)  # the provider redelivers the whole webhook
    assert stamps(db) == before
    (conv,) = rows(
        db,
        "SELECT workspace_id, customer_name, customer_phone, unread_count, last_preview,"
        " last_message_at, last_inbound_at, last_direction FROM conversations",
    )
    assert conv == (
        seeded.workspace_id,
        "Maria",
        PHONE,
        2,
        "Quero um bolo",
        1_750_000_010_000,
        1_750_000_010_000,
        "in",
    )
    messages = rows(
        db, "SELECT provider_message_id, status, workspace_id FROM messages ORDER BY ts"
    )
    assert messages == [
        ("wamid.1", "received", seeded.workspace_id),
        ("wamid.2", "received", seeded.workspace_id),
    ]


def test_a_late_old_message_does_not_replace_the_preview(
    db: ServerDatabase, seeded: Seeded
) -> None:
    a = seeded.account_id
    ingest_events_sync(db, [inbound(a, "w.new", "newest", ts=1_750_000_100)])
    ingest_events_sync(db, [inbound(a, "w.old", "backfill", ts=1_750_000_000)])
    assert rows(db, "SELECT last_preview, unread_count FROM conversations") == [("newest", 2)]


def test_statuses_never_move_backwards_and_failed_is_terminal(
    db: ServerDatabase, seeded: Seeded
) -> None:
    a = seeded.account_id
    out = inbound(a, "w.out", "Seu pedido saiu", direction=Direction.OUT, sender_name="")
    ingest_events_sync(db, [out])
    ingest_events_sync(db, [status(a, "w.out", DeliveryStatus.READ)])
    ingest_events_sync(db, [status(a, "w.out", DeliveryStatus.DELIVERED)])  # out of order
    ingest_events_sync(db, [status(a, "w.out", DeliveryStatus.FAILED, error="late")])
    assert rows(db, "SELECT status, error FROM messages") == [("read", None)]
    assert rows(db, "SELECT last_status FROM conversations") == [("read",)]
    other = inbound(a, "w.f", "x", direction=Direction.OUT, ts=1_750_000_200)
    ingest_events_sync(db, [other, status(a, "w.f", DeliveryStatus.FAILED, error="131026")])
    ingest_events_sync(db, [status(a, "w.f", DeliveryStatus.DELIVERED)])
    assert rows(db, "SELECT status, error FROM messages WHERE provider_message_id = 'w.f'") == [
        ("failed", "131026")
    ]
    before = stamps(db)
    ingest_events_sync(db, [status(a, "w.out", DeliveryStatus.READ)])  # redelivered receipt
    assert stamps(db) == before


def test_a_receipt_with_our_id_settles_an_unknown_send(db: ServerDatabase, seeded: Seeded) -> None:
    conv = add_conversation(db, seeded, PHONE)
    message_id = enqueue(db, seeded, conv, "Seu bolo está pronto", PHONE)
    claim = claim_next(db, [seeded.account_id], [])
    assert claim is not None and claim.message_id == str(message_id)
    record_outcome(db, claim, Outcome("unknown", reason="no answer from Meta: ReadTimeout"))
    assert rows(db, "SELECT status, provider_message_id FROM messages") == [("unknown", None)]
    # A receipt for an id we do not know, but carrying our id (biz_opaque_callback_data).
    ingest_events_sync(
        db,
        [
            status(
                seeded.account_id, "wamid.X", DeliveryStatus.DELIVERED, client_ref=str(message_id)
            )
        ],
    )
    assert rows(db, "SELECT status, provider_message_id, error FROM messages") == [
        ("delivered", "wamid.X", None)
    ]
    # Junk in client_ref (not a uuid, someone else's id) is ignored.
    ingest_events_sync(
        db,
        [
            status(seeded.account_id, "wamid.Y", DeliveryStatus.READ, client_ref="not-a-uuid"),
            status(seeded.account_id, "wamid.Z", DeliveryStatus.READ, client_ref=str(uuid.uuid4())),
        ],
    )
    assert rows(db, "SELECT count(*) FROM messages") == [(1,)]


def test_a_receipt_before_the_send_answer_is_kept_and_sent_does_not_undo_it(
    db: ServerDatabase, seeded: Seeded
) -> None:
    conv = add_conversation(db, seeded, PHONE)
    message_id = enqueue(db, seeded, conv, "Olá", PHONE)
    claim = claim_next(db, [seeded.account_id], [])
    assert claim is not None
    ingest_events_sync(
        db,
        [
            status(
                seeded.account_id, "wamid.A", DeliveryStatus.DELIVERED, client_ref=str(message_id)
            )
        ],
    )
    record_outcome(db, claim, Outcome("sent", provider_message_id="wamid.A"))
    assert rows(db, "SELECT status, provider_message_id FROM messages") == [
        ("delivered", "wamid.A")
    ]
    assert rows(db, "SELECT count(*) FROM outbox") == [(0,)]


def _claim(db: ServerDatabase, seeded: Seeded, body: str) -> tuple[uuid.UUID, Claim]:
    conv = add_conversation(db, seeded, PHONE)
    message_id = enqueue(db, seeded, conv, body, PHONE)
    claim = claim_next(db, [seeded.account_id], [])
    assert claim is not None
    return message_id, claim


def test_an_echo_of_a_send_in_flight_or_unknown_is_adopted_not_duplicated(
    db: ServerDatabase, seeded: Seeded
) -> None:
    a = seeded.account_id
    message_id, claim = _claim(db, seeded, "Chegou!")
    # A QR provider reports our own message ("from me") before the send call answers.
    echo = inbound(a, "3EB0ECHO", "Chegou!", direction=Direction.OUT, sender_name="")
    ingest_events_sync(db, [echo])
    assert rows(db, "SELECT id, status, provider_message_id FROM messages") == [
        (message_id, "sent", "3EB0ECHO")
    ]
    record_outcome(db, claim, Outcome("unknown", reason="timeout"))  # cannot move it back
    ingest_events_sync(db, [echo])
    assert rows(db, "SELECT id, status, provider_message_id FROM messages") == [
        (message_id, "sent", "3EB0ECHO")
    ]


def test_an_echo_stored_on_its_own_is_folded_into_our_message_when_the_send_answers(
    db: ServerDatabase, seeded: Seeded
) -> None:
    a = seeded.account_id
    message_id, claim = _claim(db, seeded, "Texto que o provedor muda")
    # The echo's text differs (the provider normalised it): stored as a message of its own.
    echo = inbound(a, "3EB0X", "Texto que o provedor muda ", direction=Direction.OUT)
    ingest_events_sync(db, [echo, status(a, "3EB0X", DeliveryStatus.DELIVERED)])
    record_outcome(db, claim, Outcome("sent", provider_message_id="3EB0X"))
    live = rows(db, "SELECT id, status, provider_message_id FROM messages WHERE NOT deleted")
    assert live == [(message_id, "delivered", "3EB0X")]  # it lent us its receipts
    assert rows(db, "SELECT count(*) FROM messages WHERE deleted") == [(1,)]


def test_reactions_edits_revokes_contacts_and_connection_events(
    db: ServerDatabase, seeded: Seeded
) -> None:
    a = seeded.account_id
    ingest_events_sync(db, [inbound(a, "w.1", "Oi", sender_name="")])
    react = {
        "account_id": a,
        "provider_message_id": "r1",
        "target_message_id": "w.1",
        "chat_key": PHONE,
        "chat_phone": PHONE,
        "direction": Direction.IN,
        "sender_phone": PHONE,
    }
    ingest_events_sync(db, [ReactionEvent(emoji="👍", timestamp=10, **react)])
    ingest_events_sync(db, [ReactionEvent(emoji="❤", timestamp=5, **react)])  # older: ignored
    assert rows(db, "SELECT emoji, deleted FROM reactions") == [("👍", False)]
    ingest_events_sync(db, [ReactionEvent(emoji="", timestamp=20, **react)])
    assert rows(db, "SELECT emoji, deleted FROM reactions") == [("", True)]

    edit = EditEvent(a, "w.1", "Oi, editado", PHONE, PHONE, 30)
    ingest_events_sync(db, [edit])
    assert rows(db, "SELECT body, edited_at FROM messages") == [("Oi, editado", 30_000)]
    # The conversation's latest message: the list's preview follows.
    assert rows(db, "SELECT last_preview FROM conversations") == [("Oi, editado",)]
    ingest_events_sync(db, [RevokeEvent(a, "w.1", PHONE, PHONE, 40)])
    ingest_events_sync(db, [edit])  # a late edit of a revoked message changes nothing
    assert rows(db, "SELECT body, revoked_at FROM messages") == [("", 40_000)]
    assert rows(db, "SELECT last_preview FROM conversations") == [("",)]  # gone from the list

    ingest_events_sync(db, [ContactEvent(a, PHONE, phone=PHONE, name="Maria Souza")])
    ingest_events_sync(db, [ContactEvent(a, PHONE, phone=PHONE, name="Outro Nome")])
    assert rows(db, "SELECT customer_name FROM conversations") == [("Maria Souza",)]

    ingest_events_sync(db, [QrEvent(a, qr_code="2@abc")])
    assert rows(db, "SELECT state FROM accounts") == [("connected",)]  # connected: QR ignored
    ingest_events_sync(
        db, [ConnectionEvent(a, ConnectionState.OFFLINE, reason="phone off", phone="5511400")]
    )
    assert rows(db, "SELECT state, state_reason, phone FROM accounts") == [
        ("offline", "phone off", "5511400")
    ]
    ingest_events_sync(db, [QrEvent(a, qr_code="2@abc")])
    assert rows(db, "SELECT state FROM accounts") == [("waiting_for_qr",)]
    ingest_events_sync(db, [AccountRemovedEvent(a, reason="deleted")])
    assert rows(db, "SELECT state, state_reason FROM accounts") == [("needs_repair", "deleted")]


def test_an_edit_or_a_deletion_before_its_message_waits_for_it(
    db: ServerDatabase, seeded: Seeded
) -> None:
    a = seeded.account_id
    # Edited twice, then deleted, before it arrives: it arrives deleted.
    ingest_events_sync(db, [EditEvent(a, "w.9", "Oi, editado", PHONE, PHONE, 30)])
    ingest_events_sync(db, [EditEvent(a, "w.9", "Oi, editado de novo", PHONE, PHONE, 35)])
    ingest_events_sync(db, [RevokeEvent(a, "w.9", PHONE, PHONE, 40)])
    assert rows(db, "SELECT count(*) FROM pending_changes") == [(2,)]  # newest edit, deletion
    ingest_events_sync(db, [inbound(a, "w.9", "Oi", ts=1_750_000_100)])  # batched path
    assert rows(db, "SELECT body, revoked_at FROM messages WHERE provider_message_id = 'w.9'") == [
        ("", 40_000)
    ]
    assert rows(db, "SELECT last_preview FROM conversations") == [("",)]
    assert rows(db, "SELECT count(*) FROM pending_changes") == [(0,)]

    # Edited before it arrives, in the same batch as the message: the newest text wins.
    ingest_events_sync(
        db,
        [
            EditEvent(a, "w.10", "Tem bolo de cenoura?", PHONE, PHONE, 20),
            inbound(a, "w.10", "Tem bolo?"),
        ],
    )
    assert rows(db, "SELECT body, edited_at FROM messages WHERE provider_message_id = 'w.10'") == [
        ("Tem bolo de cenoura?", 20_000)
    ]
    # An older edit kept for a message edited since changes nothing.
    ingest_events_sync(db, [EditEvent(a, "w.11", "velho", PHONE, PHONE, 10)])
    ingest_events_sync(
        db, [inbound(a, "w.11", "Oi"), EditEvent(a, "w.11", "novo", PHONE, PHONE, 50)]
    )
    assert rows(db, "SELECT body FROM messages WHERE provider_message_id = 'w.11'") == [("novo",)]
    # A change to a message that is here and changes nothing is not kept.
    ingest_events_sync(db, [EditEvent(a, "w.11", "novo", PHONE, PHONE, 60)])
    assert rows(db, "SELECT count(*) FROM pending_changes") == [(0,)]


def test_a_lid_chat_merges_into_the_phone_conversation(db: ServerDatabase, seeded: Seeded) -> None:
    a = seeded.account_id
    lid = "123456789@lid"
    # The LID chat starts before its phone is known, and the phone chat exists too.
    ingest_events_sync(db, [inbound(a, "w.p", "pelo telefone", ts=100)])
    ingest_events_sync(
        db, [inbound(a, "w.l", "pelo lid", ts=200, chat_key=lid, chat_phone="", chat_jid=lid)]
    )
    assert rows(db, "SELECT count(*) FROM conversations WHERE NOT deleted") == [(2,)]
    # Now the provider names both: one conversation, the newest preview, unread summed.
    ingest_events_sync(db, [inbound(a, "w.both", "os dois", ts=300, chat_key=PHONE, chat_jid=lid)])
    live = rows(
        db,
        "SELECT chat_key, last_preview, unread_count FROM conversations WHERE NOT deleted",
    )
    assert live == [(PHONE, "os dois", 3)]
    assert rows(db, "SELECT count(DISTINCT conversation_id) FROM messages") == [(1,)]
    # Later, the LID alone finds the phone's conversation.
    ingest_events_sync(
        db, [inbound(a, "w.l2", "de novo", ts=400, chat_key=lid, chat_phone="", chat_jid=lid)]
    )
    assert rows(db, "SELECT count(*) FROM conversations WHERE NOT deleted") == [(1,)]


def test_unstorable_values_are_reported_as_such(db: ServerDatabase, seeded: Seeded) -> None:
    with pytest.raises(UnstorableEvents):
        ingest_events_sync(db, [inbound(seeded.account_id, "w.big", "x", ts=1e300)])
    assert rows(db, "SELECT count(*) FROM messages") == [(0,)]


def test_texts_are_cleaned_before_they_are_written(db: ServerDatabase, seeded: Seeded) -> None:
    # Postgres refuses NUL and lone surrogates in text and jsonb: cleaned first, never refused.
    a = seeded.account_id
    ingest_events_sync(
        db,
        [
            inbound(
                a,
                "w.nul\x00",
                "bolo\x00 de \ud83d",
                sender_name="Ana\x00 \udc00",
                type=MessageType.LOCATION,
                location={"name": "Padaria\x00", "address": "\ud800Rua 1"},
            ),
            ContactEvent(a, chat_key=PHONE, phone=PHONE, name="Maria\x00"),
        ],
    )
    assert rows(db, "SELECT provider_message_id, body, media FROM messages") == [
        ("w.nul", "bolo de \ufffd", {"location": {"name": "Padaria", "address": "\ufffdRua 1"}})
    ]
    assert rows(db, "SELECT customer_name FROM conversations") == [("Ana \ufffd",)]


def test_a_send_outcomes_reason_is_cleaned(db: ServerDatabase, seeded: Seeded) -> None:
    # The reason quotes the provider's error body, which JSON lets carry NUL and half an emoji.
    conv = add_conversation(db, seeded, PHONE)
    enqueue(db, seeded, conv, "Olá", PHONE)
    claim = claim_next(db, [seeded.account_id], [])
    assert claim is not None
    record_outcome(db, claim, Outcome("failed", reason="invalid_parameter: n\x00o \ud83d"))
    assert rows(db, "SELECT status, error FROM messages") == [
        ("failed", "invalid_parameter: no \ufffd")
    ]


def test_events_of_unknown_numbers_are_unstorable(db: ServerDatabase, seeded: Seeded) -> None:
    with pytest.raises(UnstorableEvents):
        ingest_events_sync(
            db,
            [inbound(seeded.account_id, "w.ok", "x"), inbound(seeded.account_id + 999, "w.x", "x")],
        )
    assert rows(db, "SELECT count(*) FROM messages") == [(0,)]


@pytest.mark.anyio
async def test_the_async_sink_commits_before_returning(db: ServerDatabase, seeded: Seeded) -> None:
    await ingest_events(db, [inbound(seeded.account_id, "w.async", "oi")])
    assert rows(db, "SELECT count(*) FROM messages") == [(1,)]


def test_enqueue_send_is_idempotent_and_respects_the_agents_numbers(
    db: ServerDatabase, seeded: Seeded
) -> None:
    conv = add_conversation(db, seeded, PHONE)
    message_id = uuid.uuid4()
    args: dict[str, Any] = {
        "message_id": message_id,
        "workspace_id": seeded.workspace_id,
        "account_id": seeded.account_id,
        "conversation_id": conv,
        "recipient": PHONE,
        "body": "Bom dia",
        "author_user_id": seeded.agent_id,
        "ts_ms": 1_750_000_000_000,
    }
    # An agent with access, inside their own scoped transaction (row-level security applies).
    with db.agent(AgentScope(seeded.workspace_id, seeded.agent_id)) as conn:
        enqueue_send(conn, **args)
        enqueue_send(conn, **args)
        scope = conn.execute(text("SELECT current_setting('caixa.scope')")).scalar()
        assert scope == "agent"  # back to the agent's scope afterwards
    with db.agent(AgentScope(seeded.workspace_id, seeded.agent_id)) as conn:
        enqueue_send(conn, **{**args, "body": "changed"})  # pushed again later: no-op
    assert rows(db, "SELECT id, status, direction, body, author_user_id FROM messages") == [
        (message_id, "queued", "out", "Bom dia", seeded.agent_id)
    ]
    assert rows(db, "SELECT message_id, state, recipient FROM outbox") == [
        (message_id, "pending", PHONE)
    ]
    assert rows(db, "SELECT last_preview, last_status, last_direction FROM conversations") == [
        ("Bom dia", "queued", "out")
    ]
    # An agent without access to the number cannot queue into its conversation.
    with (
        pytest.raises(EnqueueError),
        db.agent(AgentScope(seeded.workspace_id, seeded.outsider_id)) as conn,
    ):
        enqueue_send(conn, **{**args, "message_id": uuid.uuid4()})
    with pytest.raises(EnqueueError), db.system() as conn:
        enqueue_send(conn, **{**args, "message_id": uuid.uuid4(), "body": "   "})
    assert rows(db, "SELECT count(*) FROM outbox") == [(1,)]
