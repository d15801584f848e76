"""Ingest of what real providers send beyond messages and receipts: reactions on messages,
edits and deletions (search follows), LIDs and phones as one conversation, contact names,
QR and removal states, captions and structured content."""

from __future__ import annotations

import json

from sync.domain.events import (
    AccountRemovedEvent,
    ContactEvent,
    EditEvent,
    MessageEvent,
    QrEvent,
    ReactionEvent,
    RevokeEvent,
)
from sync.domain.models import ConnectionState, Direction, MessageType
from sync.store.local import queries
from sync.store.local.ingest import apply_events
from sync.store.local.local_cache import LocalCache
from sync.store.local.search import search_messages
from tests.sync.helpers import BASE_TS, add_account, inbound, message_by_provider_id, rows, scalar

PHONE = "5511999990001"
LID = "123456789012345@lid"


def reaction(account: int, target: str, emoji: str, ts: float = BASE_TS) -> ReactionEvent:
    return ReactionEvent(
        account_id=account,
        provider_message_id=f"r-{emoji or 'x'}-{ts}",
        target_message_id=target,
        emoji=emoji,
        chat_key=PHONE,
        chat_phone=PHONE,
        direction=Direction.IN,
        timestamp=ts,
        sender_phone=PHONE,
    )


def test_a_reaction_is_kept_on_its_message_replaced_and_removed(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "wamid.A", "Bolo pronto?", phone=PHONE)])
    changed = apply_events(cache, [reaction(account, "wamid.A", "👍")])
    assert changed.changes.messages  # the bubble repaints
    apply_events(cache, [reaction(account, "wamid.A", "❤️", BASE_TS + 5)])
    apply_events(cache, [reaction(account, "wamid.A", "😮", BASE_TS + 1)])  # late, older: ignored
    assert rows(cache, "SELECT sender, emoji FROM reactions") == [(PHONE, "❤️")]
    apply_events(cache, [reaction(account, "wamid.A", "", BASE_TS + 9)])
    assert rows(cache, "SELECT * FROM reactions") == []
    # never a bubble of its own
    assert scalar(cache, "SELECT count(*) FROM messages") == 1


def test_an_edit_changes_the_text_and_what_search_finds(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "wamid.E", "quero bolo de cenoura", phone=PHONE)])
    edit = EditEvent(
        account_id=account,
        target_message_id="wamid.E",
        text="quero torta de limão",
        chat_key=PHONE,
        chat_phone=PHONE,
        timestamp=BASE_TS + 60,
    )
    apply_events(cache, [edit])
    apply_events(cache, [edit])  # redelivered: nothing more
    message = message_by_provider_id(cache, account, "wamid.E")
    assert message.body == "quero torta de limão" and message.edited_at is not None
    assert search_messages(cache, "cenoura") == []
    assert [h.text for h in search_messages(cache, "limao")] == ["quero torta de limão"]
    # The latest message: the conversation list's preview follows.
    assert scalar(cache, "SELECT last_preview FROM conversations") == "quero torta de limão"


def test_a_deletion_hides_the_text_everywhere_and_keeps_the_bubble(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "wamid.D", "meu cpf é 123", phone=PHONE)])
    revoke = RevokeEvent(
        account_id=account,
        target_message_id="wamid.D",
        chat_key=PHONE,
        chat_phone=PHONE,
        timestamp=BASE_TS + 5,
    )
    apply_events(cache, [revoke])
    message = message_by_provider_id(cache, account, "wamid.D")
    assert message.body == "" and message.revoked_at is not None
    assert search_messages(cache, "cpf") == []
    assert scalar(cache, "SELECT count(*) FROM messages") == 1
    assert scalar(cache, "SELECT last_preview FROM conversations") == ""  # nor in the list
    # A deletion of a message never seen changes nothing visible (and does not fail).
    apply_events(cache, [RevokeEvent(account, "wamid.unknown", PHONE, PHONE, BASE_TS)])
    assert scalar(cache, "SELECT count(*) FROM messages") == 1


def test_an_edit_or_deletion_before_its_message_waits_for_it(cache: LocalCache) -> None:
    account = add_account(cache)
    edit = EditEvent(account, "wamid.LATE", "quero torta de limão", PHONE, PHONE, BASE_TS + 60)
    older_edit = EditEvent(account, "wamid.LATE", "quero pudim", PHONE, PHONE, BASE_TS + 30)
    apply_events(cache, [edit, older_edit])  # out of order among themselves too
    assert scalar(cache, "SELECT count(*) FROM messages") == 0
    apply_events(cache, [inbound(account, "wamid.LATE", "quero bolo de cenoura", phone=PHONE)])
    message = message_by_provider_id(cache, account, "wamid.LATE")
    assert message.body == "quero torta de limão" and message.edited_at == (BASE_TS + 60) * 1000
    assert search_messages(cache, "cenoura") == []
    assert [h.text for h in search_messages(cache, "limao")] == ["quero torta de limão"]
    assert scalar(cache, "SELECT count(*) FROM pending_changes") == 0

    apply_events(cache, [RevokeEvent(account, "wamid.GONE", PHONE, PHONE, BASE_TS + 9)])
    apply_events(cache, [inbound(account, "wamid.GONE", "meu cpf é 123", phone=PHONE)])
    gone = message_by_provider_id(cache, account, "wamid.GONE")
    assert gone.body == "" and gone.revoked_at is not None
    assert search_messages(cache, "cpf") == []
    preview = scalar(cache, "SELECT last_preview FROM conversations")
    assert "cpf" not in preview


def lid_message(account: int, wamid: str, *, phone: str, ts: float) -> MessageEvent:
    return MessageEvent(
        account_id=account,
        provider_message_id=wamid,
        chat_key=phone or LID,
        chat_phone=phone,
        chat_jid=LID,
        direction=Direction.IN,
        timestamp=ts,
        type=MessageType.TEXT,
        text=wamid,
        sender_name="Bia",
    )


def test_a_lid_chat_and_its_phone_are_one_conversation(cache: LocalCache) -> None:
    account = add_account(cache)
    # First only the LID is known: a conversation under the LID, no phone invented.
    apply_events(cache, [lid_message(account, "m1", phone="", ts=BASE_TS)])
    assert rows(cache, "SELECT chat_key, customer_phone FROM conversations") == [(LID, "")]
    # Then a message says which phone the LID is: the same conversation, now under the phone.
    apply_events(cache, [lid_message(account, "m2", phone=PHONE, ts=BASE_TS + 1)])
    assert rows(cache, "SELECT chat_key, customer_phone FROM conversations") == [(PHONE, PHONE)]
    # Later LID-only messages land there too.
    apply_events(cache, [lid_message(account, "m3", phone="", ts=BASE_TS + 2)])
    [(conversation_id, unread)] = rows(cache, "SELECT id, unread_count FROM conversations")
    assert unread == 3
    assert (
        scalar(cache, "SELECT count(*) FROM messages WHERE conversation_id = ?", conversation_id)
        == 3
    )


def test_a_lid_conversation_merges_into_the_phone_one(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "p1", "pelo número", phone=PHONE, ts=BASE_TS)])
    apply_events(cache, [lid_message(account, "l1", phone="", ts=BASE_TS + 10)])
    assert scalar(cache, "SELECT count(*) FROM conversations") == 2
    apply_events(
        cache,
        [ContactEvent(account_id=account, chat_key=PHONE, phone=PHONE, lid=LID, name="Bia")],
    )
    [(key, unread, preview)] = rows(
        cache, "SELECT chat_key, unread_count, last_preview FROM conversations"
    )
    assert (key, unread, preview) == (PHONE, 2, "l1")
    assert scalar(cache, "SELECT count(*) FROM messages") == 2


def test_contact_names_fill_in_but_never_overwrite(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [inbound(account, "x", "oi", phone=PHONE, name="")])
    apply_events(cache, [ContactEvent(account_id=account, chat_key=PHONE, name="Carla")])
    apply_events(cache, [ContactEvent(account_id=account, chat_key=PHONE, name="Other")])
    assert scalar(cache, "SELECT customer_name FROM conversations") == "Carla"


def test_qr_and_removal_show_in_the_rail(cache: LocalCache) -> None:
    account = add_account(cache)
    apply_events(cache, [QrEvent(account, qr_code="2@abc")])
    [acc] = queries.list_accounts(cache)
    assert acc.state is ConnectionState.WAITING_FOR_QR
    apply_events(cache, [AccountRemovedEvent(account, reason="instance deleted")])
    [acc] = queries.list_accounts(cache)
    assert acc.state is ConnectionState.NEEDS_REPAIR and acc.state_reason == "instance deleted"


def test_a_caption_is_the_searchable_text_and_structure_is_kept(cache: LocalCache) -> None:
    account = add_account(cache)
    photo = MessageEvent(
        account_id=account,
        provider_message_id="img",
        chat_key=PHONE,
        chat_phone=PHONE,
        direction=Direction.IN,
        timestamp=BASE_TS,
        type=MessageType.IMAGE,
        caption="foto do bolo de aniversário",
        media={"id": "m1", "mime_type": "image/jpeg"},
    )
    place = MessageEvent(
        account_id=account,
        provider_message_id="loc",
        chat_key=PHONE,
        chat_phone=PHONE,
        direction=Direction.IN,
        timestamp=BASE_TS + 1,
        type=MessageType.LOCATION,
        location={"latitude": -23.5, "longitude": -46.6, "name": "Loja"},
    )
    apply_events(cache, [photo, place])
    assert [h.text for h in search_messages(cache, "aniversario")] == [
        "foto do bolo de aniversário"
    ]
    stored = json.loads(message_by_provider_id(cache, account, "loc").media)
    assert stored["location"]["name"] == "Loja"


def test_the_chat_reads_reactions_edits_and_deletions_with_the_messages(
    cache: LocalCache,
) -> None:
    account = add_account(cache)
    apply_events(
        cache,
        [
            inbound(account, "a", "primeira", phone=PHONE, ts=BASE_TS),
            inbound(account, "b", "segunda", phone=PHONE, ts=BASE_TS + 1),
            inbound(account, "c", "terceira", phone=PHONE, ts=BASE_TS + 2),
        ],
    )
    apply_events(
        cache,
        [
            reaction(account, "a", "🎂"),
            EditEvent(account, "b", "segunda, corrigida", PHONE, PHONE, BASE_TS + 3),
            RevokeEvent(account, "c", PHONE, PHONE, BASE_TS + 4),
        ],
    )
    conversation_id = int(scalar(cache, "SELECT id FROM conversations"))
    page = {m.provider_message_id: m for m in queries.message_page(cache, conversation_id)}
    assert page["a"].reactions == "🎂" and not page["a"].edited
    assert page["b"].edited and page["b"].text == "segunda, corrigida"
    assert page["c"].revoked and page["c"].text == ""
