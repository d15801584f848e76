"""The outbox's transactions: enqueue atomically, claim in order, settle every outcome once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync import faults
from sync.domain.messages import TemplateRef
from sync.domain.models import DeliveryStatus
from sync.store.local import outbox, queries
from sync.store.local.ingest import apply_events
from sync.store.local.local_cache import LocalCache
from sync.store.local.outbox import OutboxError
from sync.store.local.search import search_messages
from tests.polling import at_most
from tests.sync.helpers import (
    BASE_TS,
    add_account,
    conversation_id_for,
    inbound,
    message_by_provider_id,
    message_row,
    receipt,
    row,
    rows,
    scalar,
)

PHONE = "+55 11 99999-0001"
NOW = int(BASE_TS * 1000) + 60_000


class Injected(Exception):
    """Raised by a fault hook."""


@pytest.fixture(autouse=True)
def _no_fault_hook() -> Iterator[None]:
    yield
    faults.install(None)


def _conversation(cache: LocalCache, account: int, phone: str = PHONE) -> int:
    apply_events(cache, [inbound(account, f"wamid.in.{account}.{phone}", phone=phone)])
    return conversation_id_for(cache, account, phone)


def _outbox(cache: LocalCache) -> list[tuple[object, ...]]:
    return rows(cache, "SELECT message_id, state, attempts FROM outbox ORDER BY rowid")


def test_enqueue_writes_the_message_its_entry_and_the_list_fields_together(
    cache: LocalCache,
) -> None:
    account = add_account(cache)
    conversation = _conversation(cache, account)

    message, changes = outbox.enqueue_text(cache, conversation, "Bolo de açúcar pronto", now_ms=NOW)

    stored = message_row(cache, message.id)
    assert (stored.status, stored.direction, stored.body, stored.ts) == (
        "queued",
        "out",
        "Bolo de açúcar pronto",
        NOW,
    )
    assert _outbox(cache) == [(message.id, "pending", 0)]
    listed = queries.latest_conversations(cache)[0]
    assert (listed.last_preview, listed.last_status, listed.unread_count) == (
        "Bolo de açúcar pronto",
        DeliveryStatus.QUEUED,
        0,
    )
    assert [hit.message_id for hit in search_messages(cache, "acucar")] == [message.id]
    assert changes.messages == {message.id} and changes.conversations == {conversation}
    assert message.id[14] == "7"  # a client-made UUIDv7


@pytest.mark.parametrize("point", ["outbox.enqueue.after_message", "outbox.enqueue.before_commit"])
def test_a_failure_inside_enqueue_leaves_neither_row(cache: LocalCache, point: str) -> None:
    account = add_account(cache)
    conversation = _conversation(cache, account)
    before = queries.latest_conversations(cache)
    hit: list[str] = []

    def hook(name: str) -> None:
        hit.append(name)
        if name == point:
            raise Injected(name)

    faults.install(hook)
    with pytest.raises(Injected):
        outbox.enqueue_text(cache, conversation, "nunca gravada")
    faults.install(None)

    assert point in hit
    assert scalar(cache, "SELECT COUNT(*) FROM messages WHERE direction = 'out'") == 0
    assert _outbox(cache) == []
    assert queries.latest_conversations(cache) == before
    assert search_messages(cache, "gravada") == []
    # The connection is usable afterwards (no transaction left open).
    message, _ = outbox.enqueue_text(cache, conversation, "esta sim")
    assert _outbox(cache) == [(message.id, "pending", 0)]


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "\x00", " \x00\x00 "])
def test_an_empty_message_is_refused(cache: LocalCache, text: str) -> None:
    account = add_account(cache)
    conversation = _conversation(cache, account)

    with pytest.raises(OutboxError, match="empty"):
        outbox.enqueue_text(cache, conversation, text)

    assert _outbox(cache) == []
    assert scalar(cache, "SELECT COUNT(*) FROM messages WHERE direction = 'out'") == 0


def test_a_message_to_a_missing_conversation_is_refused(cache: LocalCache) -> None:
    add_account(cache)

    with pytest.raises(OutboxError, match="does not exist"):
        outbox.enqueue_text(cache, 12345, "olá")

    assert _outbox(cache) == []


def test_claims_go_oldest_first_one_at_a_time_per_conversation(cache: LocalCache) -> None:
    # Per conversation, not per number (as on the team server): a conversation's messages keep
    # their order, and one slow conversation does not hold up the number's others.
    shop, garage = add_account(cache, "Loja"), add_account(cache, "Oficina")
    shop_chat, garage_chat = _conversation(cache, shop), _conversation(cache, garage)
    other_chat = _conversation(cache, shop, "+55 11 98888-0002")
    s1, _ = outbox.enqueue_text(cache, shop_chat, "loja 1", now_ms=NOW)
    g1, _ = outbox.enqueue_text(cache, garage_chat, "oficina 1", now_ms=NOW + 1)
    s2, _ = outbox.enqueue_text(cache, shop_chat, "loja 2", now_ms=NOW + 2)
    o1, _ = outbox.enqueue_text(cache, other_chat, "outra conversa", now_ms=NOW + 3)

    first = outbox.claim_next(cache, now_ms=NOW + 10)
    second = outbox.claim_next(cache, now_ms=NOW + 10)
    # The shop's other conversation goes ahead of the shop's second message...
    other = outbox.claim_next(cache, now_ms=NOW + 10)
    # ...which waits for its conversation's first, still in flight.
    third = outbox.claim_next(cache, now_ms=NOW + 10)

    assert first is not None and second is not None and other is not None
    assert [first.message.client_id, second.message.client_id] == [s1.id, g1.id]
    assert other.message.client_id == o1.id
    assert third is None
    assert message_row(cache, s1.id).status == "sending"
    assert message_row(cache, s2.id).status == "queued"
    assert (first.message.text, first.message.to_phone, first.attempts) == ("loja 1", PHONE, 1)
    assert first.message.chat_key == "5511999990001"

    outbox.complete_sent(cache, s1.id, "wamid.s1")
    fourth = outbox.claim_next(cache, now_ms=NOW + 10)
    assert fourth is not None and fourth.message.client_id == s2.id


def test_a_rescheduled_head_blocks_its_conversation_but_not_the_others(
    cache: LocalCache,
) -> None:
    shop, garage = add_account(cache, "Loja"), add_account(cache, "Oficina")
    shop_chat, garage_chat = _conversation(cache, shop), _conversation(cache, garage)
    s1, _ = outbox.enqueue_text(cache, shop_chat, "loja 1", now_ms=NOW)
    s2, _ = outbox.enqueue_text(cache, shop_chat, "loja 2", now_ms=NOW + 1)
    g1, _ = outbox.enqueue_text(cache, garage_chat, "oficina 1", now_ms=NOW + 2)
    claimed = outbox.claim_next(cache, now_ms=NOW + 10)
    assert claimed is not None and claimed.message.client_id == s1.id

    outbox.reschedule(cache, s1.id, NOW + 5_000, "rate_limited")

    stored = message_row(cache, s1.id)
    assert (stored.status, stored.error) == ("queued", "rate_limited")
    assert outbox.next_due_ms(cache) is not None
    other = outbox.claim_next(cache, now_ms=NOW + 10)
    assert other is not None and other.message.client_id == g1.id
    assert outbox.claim_next(cache, now_ms=NOW + 10) is None  # s2 must not overtake s1
    assert message_row(cache, s2.id).status == "queued"

    again = outbox.claim_next(cache, now_ms=NOW + 5_000)
    assert again is not None and (again.message.client_id, again.attempts) == (s1.id, 2)


def test_claims_are_limited_to_numbers_ready_to_send(cache: LocalCache) -> None:
    shop, garage = add_account(cache, "Loja"), add_account(cache, "Oficina")
    s1, _ = outbox.enqueue_text(cache, _conversation(cache, shop), "loja", now_ms=NOW)
    g1, _ = outbox.enqueue_text(cache, _conversation(cache, garage), "oficina", now_ms=NOW)

    assert outbox.claim_next(cache, now_ms=NOW, account_ids=frozenset()) is None
    claimed = outbox.claim_next(cache, now_ms=NOW, account_ids=frozenset({garage}))

    assert claimed is not None and claimed.message.client_id == g1.id
    assert outbox.claim_next(cache, now_ms=NOW, account_ids=frozenset({garage})) is None
    assert message_row(cache, s1.id).status == "queued"


def test_complete_sent_records_the_provider_id_and_drops_the_entry(cache: LocalCache) -> None:
    account = add_account(cache)
    message, _ = outbox.enqueue_text(cache, _conversation(cache, account), "ok")
    outbox.claim_next(cache)

    changes = outbox.complete_sent(cache, message.id, "wamid.ok")

    stored = message_row(cache, message.id)
    assert (stored.status, stored.provider_message_id, stored.error) == ("sent", "wamid.ok", None)
    assert _outbox(cache) == []
    assert queries.latest_conversations(cache)[0].last_status is DeliveryStatus.SENT
    assert changes.messages == {message.id}


def test_complete_failed_is_terminal_with_the_reason(cache: LocalCache) -> None:
    account = add_account(cache)
    message, _ = outbox.enqueue_text(cache, _conversation(cache, account), "ok")
    outbox.claim_next(cache)

    outbox.complete_failed(cache, message.id, "rejected: invalid number")

    stored = message_row(cache, message.id)
    assert (stored.status, stored.error) == ("failed", "rejected: invalid number")
    assert _outbox(cache) == []
    assert outbox.claim_next(cache) is None
    assert queries.latest_conversations(cache)[0].last_status is DeliveryStatus.FAILED


def test_mark_unknown_is_never_claimed_again(cache: LocalCache) -> None:
    account = add_account(cache)
    message, _ = outbox.enqueue_text(cache, _conversation(cache, account), "ok")
    outbox.claim_next(cache)

    outbox.mark_unknown(cache, message.id, "timeout after send")

    stored = message_row(cache, message.id)
    assert (stored.status, stored.error) == ("unknown", "timeout after send")
    assert outbox.claim_next(cache, now_ms=NOW * 2) is None
    assert outbox.pending_count(cache) == 0
    assert outbox.next_due_ms(cache) is None


def test_reschedule_waits_until_due(cache: LocalCache) -> None:
    account = add_account(cache)
    message, _ = outbox.enqueue_text(cache, _conversation(cache, account), "ok", now_ms=NOW)
    outbox.claim_next(cache, now_ms=NOW)

    outbox.reschedule(cache, message.id, NOW + 30_000, "not_sent")

    assert row(cache, "SELECT state, next_attempt_at, last_error FROM outbox") == (
        "pending",
        NOW + 30_000,
        "not_sent",
    )
    assert outbox.next_due_ms(cache) == NOW + 30_000
    assert outbox.claim_next(cache, now_ms=NOW + 29_999) is None
    claimed = outbox.claim_next(cache, now_ms=NOW + 30_000)
    assert claimed is not None and claimed.attempts == 2
    outbox.complete_sent(cache, message.id, "wamid.ok")
    assert (message_row(cache, message.id).status, outbox.pending_count(cache)) == ("sent", 0)


def test_recover_interrupted_turns_sending_into_unknown_and_never_requeues(
    cache: LocalCache,
) -> None:
    shop, garage = add_account(cache, "Loja"), add_account(cache, "Oficina")
    in_flight, _ = outbox.enqueue_text(cache, _conversation(cache, shop), "no ar", now_ms=NOW)
    waiting, _ = outbox.enqueue_text(cache, _conversation(cache, garage), "na fila", now_ms=NOW)
    claimed = outbox.claim_next(cache, now_ms=NOW, account_ids=frozenset({shop}))
    assert claimed is not None and claimed.message.client_id == in_flight.id

    changes = outbox.recover_interrupted(cache)

    stored = message_row(cache, in_flight.id)
    assert (stored.status, stored.error) == ("unknown", "interrupted while sending")
    assert changes.messages == {in_flight.id}
    assert _outbox(cache) == [(waiting.id, "pending", 0)]
    assert queries.latest_conversations(cache, shop)[0].last_status is DeliveryStatus.UNKNOWN
    # Only the untouched message is ever claimed again.
    claimed_ids = []
    for _ in at_most(10, "claims do not end"):
        next_claim = outbox.claim_next(cache, now_ms=NOW * 2)
        if next_claim is None:
            break
        claimed_ids.append(next_claim.message.client_id)
        outbox.complete_sent(cache, next_claim.message.client_id, "wamid.x")
    assert claimed_ids == [waiting.id]
    assert not outbox.recover_interrupted(cache)  # nothing left to recover


def test_a_late_outcome_does_not_undo_a_receipt(cache: LocalCache) -> None:
    account = add_account(cache)
    message, _ = outbox.enqueue_text(cache, _conversation(cache, account), "ok")
    outbox.claim_next(cache)
    # The "delivered" webhook beat the HTTP answer, which then reported a timeout.
    apply_events(
        cache, [receipt(account, "wamid.r", DeliveryStatus.DELIVERED, client_ref=message.id)]
    )
    outbox.mark_unknown(cache, message.id, "timeout")

    assert message_row(cache, message.id).status == "delivered"
    assert outbox.pending_count(cache) == 0


# --- sending again (the agent's decision) -------------------------------------------------------


def test_a_message_that_may_not_have_gone_is_sent_again_only_as_a_new_copy(
    cache: LocalCache,
) -> None:
    account = add_account(cache)
    conversation = _conversation(cache, account)
    original, _ = outbox.enqueue_text(cache, conversation, "Seu bolo está pronto")
    claimed = outbox.claim_next(cache)
    assert claimed is not None
    outbox.mark_unknown(cache, original.id, "the answer was lost")

    copy, changes = outbox.send_again(cache, original.id)
    assert copy.id != original.id and copy.text == original.text
    assert copy.status is DeliveryStatus.QUEUED and changes.messages
    page = queries.message_page(cache, conversation)
    statuses = {m.id: m.status for m in page if m.status is not DeliveryStatus.RECEIVED}
    assert statuses == {original.id: DeliveryStatus.UNKNOWN, copy.id: DeliveryStatus.QUEUED}
    assert [row[0] for row in _outbox(cache)] == [copy.id]  # the original is never retried


def test_only_failed_or_unknown_outgoing_messages_can_be_sent_again(cache: LocalCache) -> None:
    account = add_account(cache)
    conversation = _conversation(cache, account)
    queued, _ = outbox.enqueue_text(cache, conversation, "Oi")
    with pytest.raises(OutboxError, match="resent"):
        outbox.send_again(cache, queued.id)
    with pytest.raises(OutboxError, match="no longer exists"):
        outbox.send_again(cache, "no-such-id")
    apply_events(cache, [inbound(account, "wamid.in", "Olá", phone=PHONE)])
    received = message_by_provider_id(cache, account, "wamid.in")
    with pytest.raises(OutboxError, match="resent"):
        outbox.send_again(cache, received.id)


def test_a_queued_text_is_cleaned_like_every_stored_text(cache: LocalCache) -> None:
    # A NUL and half an emoji (pasted from elsewhere): the one clean_text every store uses.
    account = add_account(cache)
    conversation = _conversation(cache, account)

    message, _ = outbox.enqueue_text(cache, conversation, "bolo\x00 pronto \ud83d", now_ms=NOW)
    template, _ = outbox.enqueue_template(
        cache,
        conversation,
        TemplateRef("pedido_pronto", "pt_BR", body_parameters=("Ana\x00", "\udc00")),
        "Olá Ana\x00, seu pedido \udc00 está pronto",
        now_ms=NOW + 1,
    )

    assert message.text == "bolo pronto \ufffd"
    assert message_row(cache, message.id).body == "bolo pronto \ufffd"
    assert message_row(cache, template.id).body == "Olá Ana, seu pedido \ufffd está pronto"
    claimed = outbox.claim_next(cache)
    assert claimed is not None and claimed.message.text == "bolo pronto \ufffd"
    outbox.complete_sent(cache, message.id, "wamid.out.1")
    second = outbox.claim_next(cache)
    assert second is not None and second.message.template is not None
    assert second.message.template.body_parameters == ("Ana", "\ufffd")
    # The provider's reason is stored cleaned too.
    outbox.complete_failed(cache, template.id, "refused: \ud83d\x00")
    assert message_row(cache, template.id).error == "refused: \ufffd"
