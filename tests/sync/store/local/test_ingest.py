"""Ingest: provider events become rows once, statuses only move forward, previews stay newest."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from sync.domain.events import UnstorableEvents
from sync.domain.models import ConnectionState, DeliveryStatus, MessageType
from sync.store.local import outbox, queries
from sync.store.local.ingest import apply_events
from sync.store.local.local_cache import LocalCache
from sync.store.local.search import search_messages
from tests.sync.helpers import (
    BASE_TS,
    add_account,
    connection,
    conversation_id_for,
    inbound,
    message_by_provider_id,
    message_row,
    outbound_echo,
    receipt,
    row,
    scalar,
)

PHONE = "+55 11 99999-0001"
D = DeliveryStatus


def count(cache: LocalCache, sql: str, *params: object) -> int:
    return int(scalar(cache, sql, *params))


# --- dedupe -------------------------------------------------------------------------------------


def test_a_message_redelivered_in_the_same_batch_is_stored_once(cache: LocalCache) -> None:
    account = add_account(cache)
    event = inbound(account, "wamid.A", "Quero bolo de cenoura")

    result = apply_events(cache, [event, event])

    assert count(cache, "SELECT COUNT(*) FROM messages") == 1
    assert len(result.new_inbound) == 1
    conversation = queries.latest_conversations(cache)[0]
    assert conversation.unread_count == 1
    assert len(search_messages(cache, "cenoura")) == 1


def test_a_message_redelivered_in_a_later_batch_changes_nothing(cache: LocalCache) -> None:
    account = add_account(cache)
    event = inbound(account, "wamid.A", "Quero bolo de cenoura")
    first = apply_events(cache, [event])
    before = queries.latest_conversations(cache)

    again = apply_events(cache, [event])

    assert first.changes.messages and first.new_inbound
    assert not again.changes
    assert again.new_inbound == []
    assert count(cache, "SELECT COUNT(*) FROM messages") == 1
    assert queries.latest_conversations(cache) == before
    assert len(search_messages(cache, "cenoura")) == 1


def test_the_same_provider_id_on_two_numbers_is_two_messages(cache: LocalCache) -> None:
    one, two = add_account(cache, "Loja"), add_account(cache, "Oficina")

    apply_events(cache, [inbound(one, "wamid.A"), inbound(two, "wamid.A")])

    assert count(cache, "SELECT COUNT(*) FROM messages") == 2


def test_new_inbound_lists_only_new_customer_messages(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "wamid.old")])

    result = apply_events(
        cache,
        [
            inbound(account, "wamid.old"),
            inbound(account, "wamid.new", ts=BASE_TS + 1),
            outbound_echo(account, "wamid.echo", ts=BASE_TS + 2),
        ],
    )

    new_row = message_by_provider_id(cache, account, "wamid.new")
    assert result.new_inbound == [new_row.id]
    assert len(result.changes.messages) == 2


# --- statuses only move forward ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sequence", "final"),
    [
        ([D.DELIVERED, D.READ], D.READ),
        ([D.READ, D.DELIVERED], D.READ),
        ([D.READ, D.SENT, D.DELIVERED], D.READ),
        ([D.FAILED, D.DELIVERED], D.FAILED),
        ([D.FAILED, D.READ, D.SENT], D.FAILED),
        ([D.DELIVERED, D.FAILED], D.DELIVERED),
        ([D.READ, D.FAILED], D.READ),
        ([D.PLAYED, D.READ], D.PLAYED),
    ],
    ids=lambda v: "-".join(s.value for s in v) if isinstance(v, list) else v.value,
)
def test_a_delivery_status_never_moves_backwards(
    cache: LocalCache, sequence: list[DeliveryStatus], final: DeliveryStatus
) -> None:
    account = add_account(cache)
    apply_events(cache, [outbound_echo(account, "wamid.out")])  # stored as "sent"

    # One event per batch, and again all in one batch on a second message: same outcome.
    for status in sequence:
        apply_events(cache, [receipt(account, "wamid.out", status)])
    apply_events(cache, [outbound_echo(account, "wamid.out2", ts=BASE_TS + 1)])
    apply_events(cache, [receipt(account, "wamid.out2", s) for s in sequence])

    assert message_by_provider_id(cache, account, "wamid.out").status == final.value
    assert message_by_provider_id(cache, account, "wamid.out2").status == final.value
    # The list shows the newest message's ticks.
    assert queries.latest_conversations(cache)[0].last_status is final


def test_a_failure_receipt_keeps_its_reason(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [outbound_echo(account, "wamid.out")])

    apply_events(cache, [receipt(account, "wamid.out", D.FAILED, error="131047: window closed")])

    stored = message_by_provider_id(cache, account, "wamid.out")
    assert (stored.status, stored.error) == ("failed", "131047: window closed")


def test_a_receipt_for_an_inbound_message_changes_nothing(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "wamid.in")])

    result = apply_events(cache, [receipt(account, "wamid.in", D.READ)])

    assert not result.changes
    assert message_by_provider_id(cache, account, "wamid.in").status == "received"


def test_a_receipt_for_an_unknown_message_is_ignored(cache: LocalCache) -> None:
    account = add_account(cache)

    result = apply_events(cache, [receipt(account, "wamid.nobody", D.READ)])

    assert not result.changes
    assert count(cache, "SELECT COUNT(*) FROM messages") == 0


def test_a_receipt_of_another_number_does_not_touch_this_one(cache: LocalCache) -> None:
    one, two = add_account(cache, "Loja"), add_account(cache, "Oficina")
    apply_events(cache, [outbound_echo(one, "wamid.out")])

    apply_events(cache, [receipt(two, "wamid.out", D.READ)])

    assert message_by_provider_id(cache, one, "wamid.out").status == "sent"


# --- settling our own sends --------------------------------------------------------------------


def _queued(cache: LocalCache, account: int, text: str = "Seu pedido saiu") -> str:
    apply_events(cache, [inbound(account, "wamid.in")])
    conversation = conversation_id_for(cache, account, PHONE)
    message, _ = outbox.enqueue_text(cache, conversation, text)
    return message.id


def test_client_ref_settles_an_unknown_send_and_fills_its_provider_id(cache: LocalCache) -> None:
    account = add_account(cache)
    message_id = _queued(cache, account)
    claimed = outbox.claim_next(cache)
    assert claimed is not None and claimed.message.client_id == message_id
    outbox.mark_unknown(cache, message_id, "timeout")
    assert message_row(cache, message_id).status == "unknown"

    result = apply_events(
        cache, [receipt(account, "wamid.real", D.DELIVERED, client_ref=message_id)]
    )

    stored = message_row(cache, message_id)
    assert (stored.status, stored.provider_message_id) == ("delivered", "wamid.real")
    assert message_id in result.changes.messages
    # From now on the provider's id alone finds it.
    apply_events(cache, [receipt(account, "wamid.real", D.READ)])
    assert message_row(cache, message_id).status == "read"
    assert queries.latest_conversations(cache)[0].last_status is D.READ


def test_client_ref_of_another_number_does_not_settle(cache: LocalCache) -> None:
    one, two = add_account(cache, "Loja"), add_account(cache, "Oficina")
    message_id = _queued(cache, one)
    outbox.claim_next(cache)
    outbox.mark_unknown(cache, message_id, "timeout")

    apply_events(cache, [receipt(two, "wamid.x", D.DELIVERED, client_ref=message_id)])

    stored = message_row(cache, message_id)
    assert (stored.status, stored.provider_message_id) == ("unknown", None)


def test_a_settled_unknown_message_no_longer_shows_why_it_was_unknown(cache: LocalCache) -> None:
    account = add_account(cache)
    message_id = _queued(cache, account)
    outbox.claim_next(cache)
    outbox.recover_interrupted(cache)  # the app died mid-send
    assert message_row(cache, message_id).error == "interrupted while sending"

    apply_events(cache, [receipt(account, "wamid.r", D.DELIVERED, client_ref=message_id)])

    stored = message_row(cache, message_id)
    assert (stored.status, stored.error) == ("delivered", None)


def test_a_receipt_that_arrives_before_sent_is_written_is_kept(cache: LocalCache) -> None:
    account = add_account(cache)
    message_id = _queued(cache, account)
    assert outbox.claim_next(cache) is not None  # "sending", the HTTP call is in flight

    apply_events(cache, [receipt(account, "wamid.fast", D.DELIVERED, client_ref=message_id)])
    outbox.complete_sent(cache, message_id, "wamid.fast")  # the HTTP answer, late

    stored = message_row(cache, message_id)
    assert (stored.status, stored.provider_message_id) == ("delivered", "wamid.fast")
    assert outbox.pending_count(cache) == 0
    assert queries.latest_conversations(cache)[0].last_status is D.DELIVERED


def test_a_stale_receipt_still_teaches_the_provider_id(cache: LocalCache) -> None:
    account = add_account(cache)
    message_id = _queued(cache, account)
    outbox.claim_next(cache)
    apply_events(cache, [receipt(account, "wamid.z", D.READ, client_ref=message_id)])

    apply_events(cache, [receipt(account, "wamid.z", D.SENT, client_ref=message_id)])

    stored = message_row(cache, message_id)
    assert (stored.status, stored.provider_message_id) == ("read", "wamid.z")


# --- accounts ----------------------------------------------------------------------------------


def test_connection_events_update_the_number(cache: LocalCache) -> None:
    account = add_account(cache)
    other = add_account(cache, "Oficina")

    result = apply_events(
        cache,
        [connection(account, ConnectionState.NEEDS_REPAIR, reason="logged out", phone="+5511")],
    )

    assert result.changes.accounts == {account}
    assert row(cache, "SELECT state, state_reason, phone FROM accounts WHERE id = ?", account) == (
        "needs_repair",
        "logged out",
        "+5511",
    )
    # An event without a phone keeps the one we know; other numbers are untouched.
    apply_events(cache, [connection(account, ConnectionState.CONNECTED)])
    by_id = {a.id: a for a in queries.list_accounts(cache)}
    assert by_id[account].state is ConnectionState.CONNECTED
    assert by_id[account].phone == "+5511"
    assert by_id[other].state is ConnectionState.OFFLINE


# --- conversation list fields ------------------------------------------------------------------


def test_a_late_older_message_does_not_replace_the_preview(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "wamid.new", "mensagem nova", ts=BASE_TS + 100)])

    apply_events(cache, [inbound(account, "wamid.old", "mensagem velha", ts=BASE_TS)])

    conversation = queries.latest_conversations(cache)[0]
    assert conversation.last_preview == "mensagem nova"
    assert conversation.last_message_at == int((BASE_TS + 100) * 1000)
    # It is stored, in its place in time, and searchable.
    page = queries.message_page(cache, conversation.id)
    assert [m.text for m in page] == ["mensagem velha", "mensagem nova"]
    assert len(search_messages(cache, "velha")) == 1


def test_a_newer_message_replaces_the_preview(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "wamid.1", "primeira", ts=BASE_TS)])

    apply_events(cache, [outbound_echo(account, "wamid.2", "segunda\nlinha", ts=BASE_TS + 5)])

    conversation = queries.latest_conversations(cache)[0]
    assert conversation.last_preview == "segunda linha"
    assert conversation.last_direction is not None and conversation.last_direction.value == "out"
    assert conversation.last_status is D.SENT


def test_unread_counts_customer_messages_until_the_business_answers(cache: LocalCache) -> None:
    shop, garage = add_account(cache, "Loja"), add_account(cache, "Oficina")
    apply_events(
        cache,
        [inbound(shop, f"wamid.{i}", ts=BASE_TS + i) for i in range(3)]
        + [inbound(garage, "wamid.g", phone="+55 21 98888-0000")],
    )
    assert queries.latest_conversations(cache, shop)[0].unread_count == 3
    assert queries.unread_by_account(cache) == {shop: 3, garage: 1}

    apply_events(cache, [outbound_echo(shop, "wamid.reply", ts=BASE_TS + 10)])
    assert queries.unread_by_account(cache) == {garage: 1}

    apply_events(cache, [inbound(shop, "wamid.again", ts=BASE_TS + 20)])
    assert queries.unread_by_account(cache) == {shop: 1, garage: 1}


def test_an_out_of_order_inbound_message_still_counts_as_unread(cache: LocalCache) -> None:
    account = add_account(cache)

    # A provider flushing its backlog newest first, in one batch.
    apply_events(
        cache,
        [inbound(account, "wamid.2", ts=BASE_TS + 2), inbound(account, "wamid.1", ts=BASE_TS)],
    )

    assert queries.latest_conversations(cache)[0].unread_count == 2


def test_the_customer_name_fills_in_but_never_blanks_out(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "wamid.1", name="")])
    assert queries.latest_conversations(cache)[0].customer_name == ""

    apply_events(cache, [inbound(account, "wamid.2", name="Dona Maria", ts=BASE_TS + 1)])
    apply_events(cache, [outbound_echo(account, "wamid.3", ts=BASE_TS + 2)])
    apply_events(cache, [inbound(account, "wamid.4", name="", ts=BASE_TS + 3)])

    conversation = queries.latest_conversations(cache)[0]
    assert conversation.customer_name == "Dona Maria"
    assert conversation.customer_phone == PHONE


def test_a_failing_batch_writes_nothing(cache: LocalCache) -> None:
    account = add_account(cache)
    # Past 64 bits: SQLite refuses it while the batch is half written (the first event's
    # message, conversation and index entries are in), so only the rollback keeps them out.
    bad = replace(inbound(account, "wamid.bad"), timestamp=10**30)

    with pytest.raises(UnstorableEvents) as refused:
        apply_events(cache, [inbound(account, "wamid.ok"), bad])

    assert isinstance(refused.value.__cause__, OverflowError)

    assert count(cache, "SELECT COUNT(*) FROM messages") == 0
    assert count(cache, "SELECT COUNT(*) FROM conversations") == 0
    assert search_messages(cache, "Olá") == []


def test_texts_are_cleaned_before_they_are_written(cache: LocalCache) -> None:
    # NUL and a lone surrogate (JSON allows both): never in the cache, even for one statement.
    account = add_account(cache)
    event = replace(
        inbound(account, "wamid.nul\x00", "bolo\x00 de \ud83d", name="Ana\x00 \udc00"),
        type=MessageType.IMAGE,
        caption="legenda\x00",
        media={"filename": "foto\x00.jpg", "\ud800": ["\udfff"]},
    )

    apply_events(cache, [event])

    stored = message_by_provider_id(cache, account, "wamid.nul")
    assert stored.body == "bolo de \ufffd"
    assert queries.latest_conversations(cache)[0].customer_name == "Ana \ufffd"
    media = json.loads(scalar(cache, "SELECT media FROM messages"))
    assert media == {"filename": "foto.jpg", "\ufffd": ["\ufffd"]}
    assert count(cache, "SELECT COUNT(*) FROM messages WHERE instr(body, char(0)) > 0") == 0
    assert [hit.text for hit in search_messages(cache, "bolo")] == ["bolo de \ufffd"]
