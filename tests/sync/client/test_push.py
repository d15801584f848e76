"""A team desktop's queued commands: their texts cleaned as the server will (``clean_text``),
and pushed in batches the server takes."""

from __future__ import annotations

import pytest

from sync.client import push
from sync.store.local.ingest import apply_events
from sync.store.local.local_cache import LocalCache
from tests.sync.helpers import add_account, conversation_id_for, inbound, message_row, scalar

PHONE = "+55 11 99999-0001"


def test_a_send_and_a_note_show_the_text_the_server_will_store(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "wamid.in", phone=PHONE)])
    conversation = conversation_id_for(cache, account, PHONE)

    message, _ = push.queue_send(cache, conversation, "bolo\x00 pronto \ud83d")
    push.queue_command(cache, "note", {"conversation_id": conversation, "text": "liga\x00r \udc00"})
    push.queue_command(cache, "label", {"conversation_id": conversation, "label": "vip\x00"})

    assert message.text == message_row(cache, message.id).body == "bolo pronto \ufffd"
    assert scalar(cache, "SELECT body FROM notes") == "ligar \ufffd"
    assert scalar(cache, "SELECT labels FROM conversations") == '["vip"]'
    wired = [c.wire() for c in push.pending(cache)]
    assert [c.get("text") or c.get("label") for c in wired] == [
        "bolo pronto \ufffd",
        "ligar \ufffd",
        "vip",
    ]


def test_a_send_of_nothing_but_nul_is_refused_as_empty(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "wamid.in", phone=PHONE)])
    conversation = conversation_id_for(cache, account, PHONE)

    with pytest.raises(push.CommandError, match="empty"):
        push.queue_send(cache, conversation, "\x00\x00")
    assert push.pending(cache) == []


def test_a_push_holds_at_most_its_budget_of_payload_but_always_one_command(
    cache: LocalCache,
) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "wamid.in", phone=PHONE)])
    conversation = conversation_id_for(cache, account, PHONE)
    for n in range(3):
        push.queue_send(cache, conversation, f"{n} " + "é" * 1000)  # 6 bytes each as JSON

    assert [len(push.pending(cache, max_bytes=b)) for b in (20_000, 13_000, 10)] == [3, 2, 1]
    assert len(push.pending(cache, limit=2)) == 2
