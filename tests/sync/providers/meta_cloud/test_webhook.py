"""Meta webhooks: the GET handshake, signatures over the raw bytes, routing by phone number id,
and every message type normalized (sample bodies in ``payloads/meta``, written in the shapes of
Meta's webhook reference and its OpenAPI examples)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from sync.domain.events import (
    AccountRemovedEvent,
    ConnectionEvent,
    EditEvent,
    MessageEvent,
    ReactionEvent,
    RevokeEvent,
    StatusEvent,
    to_json,
)
from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.providers import registry
from sync.providers.accounts import Secret
from sync.providers.base import (
    WebhookAuthError,
    WebhookPayloadError,
    WebhookRequest,
    WebhookResult,
)
from sync.providers.meta_cloud import MetaAccount, parse_webhook
from tests.fakes.meta_server import (
    change,
    messages_value,
    signed_webhook,
    status_error,
    status_item,
    statuses_value,
    text_item,
    text_webhook,
    webhook_body,
)
from tests.sync.providers.meta_cloud.harness import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    WABA_ID,
    make_account,
)

PAYLOADS = Path(__file__).parent / "payloads"
ACCOUNT = make_account("https://graph.facebook.com")
CUSTOMER = "5511987654321"
W = "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjA"


def other_account(**changes: Any) -> MetaAccount:
    values: dict[str, Any] = {
        "account_id": 8,
        "name": "Oficina",
        "phone_number_id": "109876543210999",
        "waba_id": "201234567890999",
        "access_token": Secret("EAAG-other-token"),
        "app_secret": Secret("other-app-secret"),
        "verify_token": Secret("other-verify"),
    }
    values.update(changes)
    return MetaAccount(**values)


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    return data


def post(
    body: dict[str, Any] | bytes,
    accounts: list[Any] | None = None,
    *,
    secret: str = APP_SECRET,
    headers: dict[str, str] | None = None,
) -> WebhookResult:
    raw, signed = signed_webhook(secret, body)
    request = WebhookRequest(
        method="POST", headers=headers if headers is not None else signed, body=raw
    )
    return parse_webhook(request, accounts if accounts is not None else [ACCOUNT])


def events_of(name: str) -> list[Any]:
    return list(post(payload(name)).events)


def only(name: str) -> Any:
    events = events_of(name)
    assert len(events) == 1, events
    return events[0]


def test_registered_as_the_meta_parser() -> None:
    assert registry.webhook_parser("meta") is parse_webhook


# --- the GET handshake -------------------------------------------------------------------------


def handshake(query: dict[str, str], accounts: list[Any] | None = None) -> WebhookResult:
    request = WebhookRequest(method="GET", headers={}, body=b"", query=query)
    return parse_webhook(request, accounts if accounts is not None else [ACCOUNT])


def test_handshake_answers_the_challenge() -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    assert handshake(query) == WebhookResult(events=(), response_text="1158201444")
    # Any of our numbers' tokens will do (one callback URL for every number).
    query["hub.verify_token"] = "other-verify"
    assert handshake(query, [ACCOUNT, other_account()]).response_text == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN.upper(), "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {},
    ],
)
def test_handshake_with_a_wrong_token_is_forbidden(query: dict[str, str]) -> None:
    with pytest.raises(WebhookAuthError) as raised:
        handshake(query)
    assert raised.value.status_code == 403
    assert VERIFY_TOKEN not in str(raised.value)


def test_handshake_with_no_numbers_or_an_empty_token_is_forbidden() -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    with pytest.raises(WebhookAuthError):
        handshake(query, [make_account("https://graph.facebook.com", verify_token=Secret(""))])
    query["hub.verify_token"] = VERIFY_TOKEN
    with pytest.raises(WebhookAuthError):
        handshake(query, [])


@pytest.mark.parametrize("challenge", ["", "x" * 1025, "line\nbreak"])
def test_handshake_without_a_usable_challenge(challenge: str) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": challenge}
    with pytest.raises(WebhookPayloadError):
        handshake(query)


# --- signatures --------------------------------------------------------------------------------


def test_signed_body_is_accepted() -> None:
    assert len(post(text_webhook(PHONE_NUMBER_ID, "oi")).events) == 1


def test_signature_with_upper_case_hex_is_accepted() -> None:
    raw, headers = signed_webhook(APP_SECRET, text_webhook(PHONE_NUMBER_ID, "oi"))
    headers["x-hub-signature-256"] = "sha256=" + headers["x-hub-signature-256"][7:].upper()
    assert len(parse_webhook(WebhookRequest("POST", headers, raw), [ACCOUNT]).events) == 1


def test_signature_is_over_the_raw_bytes() -> None:
    # The same JSON, spaced differently, is another body: its signature must be its own.
    body = text_webhook(PHONE_NUMBER_ID, "olá")
    _, headers = signed_webhook(APP_SECRET, body)
    pretty = json.dumps(body, indent=2, ensure_ascii=False).encode("utf-8")
    with pytest.raises(WebhookAuthError):
        parse_webhook(WebhookRequest("POST", headers, pretty), [ACCOUNT])
    raw2, headers2 = signed_webhook(APP_SECRET, pretty)
    assert parse_webhook(WebhookRequest("POST", headers2, raw2), [ACCOUNT]).events


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=0123",
        "0" * 64,
        "sha256=" + "0" * 64,
        "sha256=zz",
        "sha256=é",
    ],
)
def test_missing_or_bad_signature_is_refused(header: str | None) -> None:
    raw, headers = signed_webhook(APP_SECRET, text_webhook(PHONE_NUMBER_ID, "oi"))
    if header is None:
        del headers["x-hub-signature-256"]
    else:
        headers["x-hub-signature-256"] = header
    with pytest.raises(WebhookAuthError) as raised:
        parse_webhook(WebhookRequest("POST", headers, raw), [ACCOUNT])
    assert raised.value.status_code == 401
    assert APP_SECRET not in str(raised.value)


def test_tampered_body_is_refused() -> None:
    raw, headers = signed_webhook(APP_SECRET, text_webhook(PHONE_NUMBER_ID, "pague 10"))
    with pytest.raises(WebhookAuthError):
        parse_webhook(WebhookRequest("POST", headers, raw.replace(b"10", b"99")), [ACCOUNT])


def test_signature_of_another_app_is_refused() -> None:
    with pytest.raises(WebhookAuthError):
        post(text_webhook(PHONE_NUMBER_ID, "oi"), secret="some-other-app")
    with pytest.raises(WebhookAuthError):
        post(text_webhook(PHONE_NUMBER_ID, "oi"), accounts=[])


def test_a_repeated_signature_header_never_verifies() -> None:
    raw, headers = signed_webhook(APP_SECRET, text_webhook(PHONE_NUMBER_ID, "oi"))
    value = headers["x-hub-signature-256"]
    headers["x-hub-signature-256"] = f"{value}, {value}"  # how the receiver joins repeats
    with pytest.raises(WebhookAuthError):
        parse_webhook(WebhookRequest("POST", headers, raw), [ACCOUNT])


def test_bad_signature_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(WebhookAuthError):
        parse_webhook(
            WebhookRequest("POST", {"x-hub-signature-256": "sha256=00"}, b"not json"), [ACCOUNT]
        )


def test_other_methods_are_refused() -> None:
    with pytest.raises(WebhookPayloadError):
        parse_webhook(WebhookRequest("PUT", {}, b""), [ACCOUNT])


# --- routing -----------------------------------------------------------------------------------


def test_changes_are_routed_by_phone_number_id_among_verified_numbers() -> None:
    other = other_account()
    body = payload("batch")  # entries for our number and for the other one
    mine = post(body, [ACCOUNT, other]).events
    assert {e.account_id for e in mine} == {ACCOUNT.account_id}
    assert len(mine) == 4
    # Signed by the other number's app: only its change is taken, ours is skipped.
    theirs = post(body, [ACCOUNT, other], secret="other-app-secret").events
    assert [(e.account_id, e.provider_message_id) for e in theirs] == [(8, f"{W}OTHER1")]


def test_numbers_sharing_an_app_each_get_their_own_changes() -> None:
    other = other_account(app_secret=Secret(APP_SECRET))
    events = post(payload("batch"), [ACCOUNT, other]).events
    assert [e.account_id for e in events] == [7, 7, 7, 7, 8]


def test_unknown_numbers_are_skipped_not_refused() -> None:
    assert post(text_webhook("100000000000001", "oi")).events == ()
    assert post(webhook_body(WABA_ID, [change(messages_value("x", [text_item("a")]))])).events == ()


def test_accounts_of_other_providers_are_ignored() -> None:
    assert len(post(text_webhook(PHONE_NUMBER_ID, "oi"), [object(), "meta", ACCOUNT]).events) == 1


# --- every message type ------------------------------------------------------------------------


def test_text_message_in_its_documented_json_form() -> None:
    event = only("text")
    assert isinstance(event, MessageEvent)
    assert to_json(event, "Loja Centro") == {
        "kind": "message",
        "account": "Loja Centro",
        "provider_message_id": f"{W}TEXT01",
        "chat_phone": CUSTOMER,
        "chat_jid": CUSTOMER,
        "chat_key": CUSTOMER,
        "is_group": False,
        "direction": "in",
        "sender_phone": CUSTOMER,
        "sender_name": "Maria Souza",
        "timestamp": 1760000000,
        "type": "text",
        "text": "Bom dia! Vocês abrem no sábado?",
        "caption": "",
        "reply_to": None,
        "media": None,
        "location": None,
        "contacts": None,
        "interactive": None,
    }


def test_reply_points_at_the_quoted_message() -> None:
    event = only("text_reply")
    assert (event.text, event.reply_to) == ("Esse aqui ainda tem?", f"{W}OURS01")


def test_text_from_an_ad_keeps_the_referral() -> None:
    event = only("text_referral")
    assert event.type is MessageType.TEXT and event.text == "Quero saber do combo"
    assert event.interactive["type"] == "referral"
    assert event.interactive["source_type"] == "ad"
    assert event.interactive["headline"] == "Fale com a gente"


@pytest.mark.parametrize(
    ("name", "kind", "caption", "media"),
    [
        (
            "image",
            MessageType.IMAGE,
            "Foto da peça",
            {
                "id": "1234567890123456",
                "mime_type": "image/jpeg",
                "sha256": "u7Y3vJ2e1oGf3b1mQd2c2n8tqkq0ixX4CZ4A2Ct3hLE=",
            },
        ),
        (
            "audio_voice",
            MessageType.AUDIO,
            "",
            {
                "id": "2234567890123456",
                "mime_type": "audio/ogg; codecs=opus",
                "sha256": "d2hhdHNhcHAgdm9pY2Ugbm90ZSBzaGEyNTYgZGlnZXN0IQ==",
                "voice": True,
            },
        ),
        (
            "video",
            MessageType.VIDEO,
            "Barulho no motor",
            {
                "id": "3234567890123456",
                "mime_type": "video/mp4",
                "sha256": "dmlkZW8gZGlnZXN0IGZvciB0aGUgdGVzdCBwYXlsb2FkIQ==",
            },
        ),
        (
            "document",
            MessageType.DOCUMENT,
            "Segue o comprovante",
            {
                "id": "4234567890123456",
                "mime_type": "application/pdf",
                "sha256": "ZG9jdW1lbnQgZGlnZXN0IGZvciB0aGUgdGVzdCBwYXlsb2Fk",
                "filename": "comprovante.pdf",
            },
        ),
        (
            "sticker",
            MessageType.STICKER,
            "",
            {
                "id": "5234567890123456",
                "mime_type": "image/webp",
                "sha256": "c3RpY2tlciBkaWdlc3QgZm9yIHRoZSB0ZXN0IHBheWxvYWQ=",
                "animated": False,
            },
        ),
    ],
)
def test_media_messages(name: str, kind: MessageType, caption: str, media: dict[str, Any]) -> None:
    event = only(name)
    assert event.type is kind
    assert event.caption == caption
    assert event.text == ""
    assert event.media == media


def test_location() -> None:
    event = only("location")
    assert event.type is MessageType.LOCATION
    assert event.location == {
        "latitude": -23.5632103,
        "longitude": -46.6542503,
        "name": "Loja Paulista",
        "address": "Av. Paulista, 1000 - São Paulo",
        "url": "https://maps.example/loja",
    }


def test_shared_contacts() -> None:
    event = only("contacts")
    assert event.type is MessageType.CONTACTS
    assert event.sender_name == "Maria Souza"  # the sender's profile, not the shared card
    assert event.contacts == [
        {
            "name": {"first_name": "João", "last_name": "Lima", "formatted_name": "João Lima"},
            "org": {"company": "Oficina Lima"},
            "emails": [{"email": "joao@example.com", "type": "WORK"}],
            "phones": [{"phone": "+55 11 91234-5678", "wa_id": "5511912345678", "type": "CELL"}],
        }
    ]


@pytest.mark.parametrize(
    ("name", "text", "interactive", "reply_to"),
    [
        (
            "button_reply",
            "Confirmar",
            {"type": "button_reply", "id": "confirm", "title": "Confirmar"},
            "OURS02",
        ),
        (
            "list_reply",
            "Entrega expressa",
            {
                "type": "list_reply",
                "id": "express",
                "title": "Entrega expressa",
                "description": "Em até 2 horas",
            },
            "OURS03",
        ),
        (
            "nfm_reply",
            "Sent",
            {
                "type": "nfm_reply",
                "name": "flow",
                "body": "Sent",
                "response_json": '{"flow_token":"tok-1","horario":"10h"}',
            },
            "OURS04",
        ),
        (
            "button",
            "Parar promoções",
            {"type": "button", "payload": "STOP_PROMOS", "text": "Parar promoções"},
            "OURS05",
        ),
    ],
)
def test_interactive_answers(
    name: str, text: str, interactive: dict[str, Any], reply_to: str
) -> None:
    event = only(name)
    assert event.type is MessageType.INTERACTIVE
    assert event.text == text
    assert event.interactive == interactive
    assert event.reply_to == f"{W}{reply_to}"


def test_order() -> None:
    event = only("order")
    assert event.type is MessageType.INTERACTIVE
    assert event.text == "Pode entregar hoje?"
    assert event.interactive == {
        "type": "order",
        "catalog_id": "987654321098765",
        "text": "Pode entregar hoje?",
        "product_items": [
            {
                "product_retailer_id": "pneu-175",
                "quantity": 4,
                "item_price": 389.9,
                "currency": "BRL",
            },
            {
                "product_retailer_id": "alinhamento",
                "quantity": 1,
                "item_price": 120,
                "currency": "BRL",
            },
        ],
    }


def test_reactions_are_reactions_not_bubbles() -> None:
    event = only("reaction")
    assert isinstance(event, ReactionEvent)
    assert (event.target_message_id, event.emoji) == (f"{W}OURS06", "❤️")
    assert (event.chat_key, event.sender_phone, event.direction) == (
        CUSTOMER,
        CUSTOMER,
        Direction.IN,
    )
    assert event.sender_name == "Maria Souza"
    removed = only("reaction_removed")
    assert isinstance(removed, ReactionEvent) and removed.emoji == ""


def test_system_message_is_kept_as_a_notice() -> None:
    event = only("system")
    assert event.type is MessageType.UNKNOWN
    assert event.text.startswith("Maria Souza changed from")
    assert event.media == {
        "provider_type": "system",
        "system_type": "user_changed_number",
        "wa_id": "5511955554444",
    }
    assert event.sender_name == ""  # system messages carry no contacts


def test_unsupported_and_unknown_types_are_placeholders_never_dropped() -> None:
    unsupported = only("unsupported")
    assert unsupported.type is MessageType.UNKNOWN
    assert unsupported.media == {
        "provider_type": "unsupported",
        "errors": [
            {
                "code": 131051,
                "title": "Message type unknown",
                "message": "Message type unknown",
                "details": "Message type is currently not supported.",
            }
        ],
    }
    unknown = only("unknown_type")
    assert unknown.type is MessageType.UNKNOWN
    assert unknown.media == {"provider_type": "request_welcome"}
    assert unknown.provider_message_id == f"{W}WELCO1"


def test_future_type_with_content_is_a_placeholder() -> None:
    item = {
        "from": CUSTOMER,
        "id": "wamid.F",
        "timestamp": "1760000000",
        "type": "poll",
        "poll": {"q": 1},
    }
    value = messages_value(PHONE_NUMBER_ID, [item], contacts=[(CUSTOMER, "Maria")])
    (event,) = post(webhook_body(WABA_ID, [change(value)])).events
    assert (event.type, event.media, event.sender_name) == (
        MessageType.UNKNOWN,
        {"provider_type": "poll"},
        "Maria",
    )


def test_edits_and_revokes() -> None:
    edit = only("edit")
    assert isinstance(edit, EditEvent)
    assert (edit.target_message_id, edit.text) == (f"{W}TEXT01", "Bom dia! Vocês abrem no domingo?")
    assert (edit.provider_message_id, edit.chat_key, edit.timestamp) == (
        f"{W}EDIT01",
        CUSTOMER,
        1760000000,
    )
    caption = only("edit_caption")
    assert isinstance(caption, EditEvent) and caption.text == "Foto da peça certa"
    revoke = only("revoke")
    assert isinstance(revoke, RevokeEvent)
    assert (revoke.target_message_id, revoke.chat_key) == (f"{W}TEXT01", CUSTOMER)
    assert to_json(revoke, "x")["kind"] == "revoke"


def test_group_message() -> None:
    event = only("group_text")
    group = "Y2FwaV9ncm91cDo1NTExNDAwMDAwMDA6MTIwMzYzNDA0Njk0MjMzODIw"
    assert (event.is_group, event.chat_key, event.chat_jid, event.chat_phone) == (
        True,
        group,
        group,
        "",
    )
    assert (event.sender_phone, event.sender_name, event.direction) == (
        CUSTOMER,
        "Maria Souza",
        Direction.IN,
    )


def test_messages_the_business_sent_from_the_app_are_outgoing() -> None:
    event = only("echo")
    assert event.direction is Direction.OUT
    assert (event.chat_key, event.chat_phone, event.text) == (
        CUSTOMER,
        CUSTOMER,
        "Abrimos sim, das 9h às 13h.",
    )
    assert event.sender_phone == "551140000000"


def test_sender_hidden_behind_a_username_is_keyed_by_its_user_id() -> None:
    value = messages_value(PHONE_NUMBER_ID, [])
    value["contacts"] = [
        {"profile": {"name": "Bia", "username": "bia.doces"}, "user_id": "BR.1349120865530274"}
    ]
    value["messages"] = [
        {
            "from_user_id": "BR.1349120865530274",
            "id": "wamid.U",
            "timestamp": "1760000000",
            "type": "text",
            "text": {"body": "oi"},
        }
    ]
    (event,) = post(webhook_body(WABA_ID, [change(value)])).events
    assert (event.chat_key, event.chat_phone, event.sender_phone) == ("BR.1349120865530274", "", "")
    assert event.sender_name == "Bia"


def test_several_senders_each_get_their_own_name() -> None:
    events = post(payload("batch")).events
    names = [(e.sender_phone, e.sender_name) for e in events if isinstance(e, MessageEvent)]
    assert names == [
        (CUSTOMER, "Maria Souza"),
        ("5521998887777", "Carlos Dias"),
        (CUSTOMER, "Maria Souza"),
    ]


def test_several_entries_changes_and_messages_in_order() -> None:
    events = post(payload("batch")).events
    assert [type(e).__name__ for e in events] == [
        "MessageEvent",
        "MessageEvent",
        "MessageEvent",
        "StatusEvent",
    ]
    assert [e.provider_message_id for e in events] == [
        f"{W}BATCH1",
        f"{W}BATCH2",
        f"{W}BATCH3",
        f"{W}OURS12",
    ]
    assert [e.chat_key for e in events[:3]] == [CUSTOMER, "5521998887777", CUSTOMER]


# --- statuses ----------------------------------------------------------------------------------


def test_statuses_echo_our_id() -> None:
    events = events_of("statuses")
    assert [(e.status, e.timestamp) for e in events] == [
        (DeliveryStatus.SENT, 1760000200),
        (DeliveryStatus.DELIVERED, 1760000201),
        (DeliveryStatus.READ, 1760000260),
    ]
    for event in events:
        assert isinstance(event, StatusEvent)
        assert event.provider_message_id == f"{W}OURS10"
        assert event.client_ref == "0196f3a2-7c4e-7b1d-9a55-3c2b1e0f4d88"
        assert event.chat_phone == CUSTOMER
        assert event.error is None


def test_failed_status_carries_its_error() -> None:
    event = only("status_failed")
    assert event.status is DeliveryStatus.FAILED
    assert event.client_ref == "0196f3a2-0000-7000-8000-000000000011"
    assert event.error == (
        "(#131047) Re-engagement message: Message failed to send because more than 24 hours "
        "have passed since the customer last replied to this number."
    )
    assert to_json(event, "Loja")["error"] == event.error


def test_failed_status_without_errors_still_says_failed() -> None:
    body = webhook_body(
        WABA_ID, [change(statuses_value(PHONE_NUMBER_ID, [status_item("wamid.X", "failed")]))]
    )
    (event,) = post(body).events
    assert (event.status, event.error, event.client_ref) == (DeliveryStatus.FAILED, "failed", None)


def test_several_errors_are_all_reported() -> None:
    item = status_item(
        "wamid.X", "failed", errors=[status_error(131026), status_error(131049, "limit")]
    )
    body = webhook_body(WABA_ID, [change(statuses_value(PHONE_NUMBER_ID, [item]))])
    (event,) = post(body).events
    assert "(#131026) Message undeliverable" in event.error
    assert "(#131049) Meta chose not to deliver: limit" in event.error


def test_out_of_order_statuses_are_all_emitted_as_they_came() -> None:
    items = [
        status_item("wamid.X", "read", timestamp=1760000300),
        status_item("wamid.X", "delivered", timestamp=1760000200),
        status_item("wamid.X", "sent", timestamp=1760000100),
    ]
    body = webhook_body(WABA_ID, [change(statuses_value(PHONE_NUMBER_ID, items))])
    events = post(body).events
    assert [e.status for e in events] == [
        DeliveryStatus.READ,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.SENT,
    ]


def test_group_status_and_unknown_status_values() -> None:
    group_status = status_item("wamid.G", "delivered", recipient_id="Y2FwaV9ncm91cDoxNzA1")
    group_status["recipient_type"] = "group"
    group_status["recipient_participant_id"] = CUSTOMER
    warning = status_item("wamid.W", "warning")
    body = webhook_body(WABA_ID, [change(statuses_value(PHONE_NUMBER_ID, [group_status, warning]))])
    (event,) = post(body).events
    assert (event.provider_message_id, event.chat_phone) == ("wamid.G", "")


def test_redelivery_gives_identical_events() -> None:
    for name in ("batch", "statuses", "status_failed", "contacts", "order", "edit"):
        first = post(payload(name)).events
        again = post(payload(name)).events
        assert first == again
        assert [to_json(e, "x") for e in first] == [to_json(e, "x") for e in again]


# --- account-level events ----------------------------------------------------------------------


def test_deleted_account_is_removed() -> None:
    (event,) = events_of("account_deleted")
    assert isinstance(event, AccountRemovedEvent)
    assert event.account_id == ACCOUNT.account_id and event.reason
    assert to_json(event, "Loja")["kind"] == "account_removed"


def test_banned_and_restricted_accounts_are_blocked() -> None:
    (banned,) = events_of("account_disabled")
    assert isinstance(banned, ConnectionEvent)
    assert (banned.state, banned.needs_repair) == (ConnectionState.BLOCKED, True)
    (restricted,) = events_of("account_restricted")
    assert (restricted.state, restricted.needs_repair) == (ConnectionState.BLOCKED, True)
    assert "RESTRICTED_BIZ_INITIATED_MESSAGING" in restricted.reason


def account_update(value: dict[str, Any], waba_id: str = WABA_ID) -> list[Any]:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": waba_id, "time": 1, "changes": [{"value": value, "field": "account_update"}]}
        ],
    }
    return list(post(body).events)


def test_other_account_updates() -> None:
    (reinstated,) = account_update(
        {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": ["REINSTATE"]}}
    )
    assert reinstated.state is ConnectionState.CONNECTED
    assert (
        account_update(
            {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": "SCHEDULE_FOR_DISABLE"}}
        )
        == []
    )
    (offboarded,) = account_update({"event": "ACCOUNT_OFFBOARDED"})
    assert (offboarded.state, offboarded.needs_repair) == (ConnectionState.NEEDS_REPAIR, True)
    (back,) = account_update({"event": "ACCOUNT_RECONNECTED"})
    assert back.state is ConnectionState.CONNECTED
    (uninstalled,) = account_update({"event": "PARTNER_APP_UNINSTALLED"})
    assert uninstalled.needs_repair
    for event in ("ACCOUNT_VIOLATION", "VERIFIED_ACCOUNT", "PARTNER_ADDED", "", None, 5):
        assert account_update({"event": event}) == []
    # Routed by the entry's WABA id: another business's update is not ours.
    assert account_update({"event": "ACCOUNT_DELETED"}, waba_id="999") == []


def test_fields_we_do_not_store_are_ignored() -> None:
    assert events_of("template_status") == []
    value = messages_value(PHONE_NUMBER_ID, [])
    del value["messages"]
    value["errors"] = [status_error(130429)]
    assert post(webhook_body(WABA_ID, [change(value)])).events == ()


# --- hostile bodies ----------------------------------------------------------------------------

ENVELOPE_ERRORS = [
    b"",
    b"not json",
    b"[1, 2]",
    b'"text"',
    b"null",
    b'{"object": "page", "entry": []}',
    b'{"entry": []}',
    b'{"object": "whatsapp_business_account"}',
    b'{"object": "whatsapp_business_account", "entry": {}}',
    b'{"object": "whatsapp_business_account", "entry": "x"}',
    b'{"object": "whatsapp_business_account", "entry": [], "x": NaN}',
    b'{"object": "whatsapp_business_account", "entry": [], "x": 1e999}',
    b'{"object": "whatsapp_business_account", "entry": [], "x": Infinity}',
    b"\xff\xfe{}",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b'{"object": "whatsapp_business_account", "entry": [], "n": ' + b"9" * 5000 + b"}",
]


@pytest.mark.parametrize("raw", ENVELOPE_ERRORS, ids=range(len(ENVELOPE_ERRORS)))
def test_malformed_envelopes_are_payload_errors(raw: bytes) -> None:
    with pytest.raises(WebhookPayloadError) as raised:
        post(raw)
    assert raised.value.status_code == 400


# Inside a right envelope (a WABA notification with an entry list): broken items, each skipped.
# These were refused whole (400) before; Meta would then have retried the same body for days
# and every good item beside the broken one was lost.
_WABA = b'{"object": "whatsapp_business_account", "entry": '
BROKEN_ITEMS: list[tuple[bytes, str]] = [
    (_WABA + b"[1]}", "entry[0]"),
    (_WABA + b'[{"id": "1"}]}', "entry[0]"),
    (_WABA + b'[{"changes": "x"}]}', "entry[0]"),
    (_WABA + b'[{"changes": [null]}]}', "entry[0].changes[0]"),
    (_WABA + b'[{"changes": [{"field": "messages"}]}]}', "entry[0].changes[0]"),
    (_WABA + b'[{"changes": [{"field": 5, "value": {}}]}]}', "entry[0].changes[0]"),
    (_WABA + b'[{"changes": [{"field": "", "value": 1}]}]}', "entry[0].changes[0]"),
]


@pytest.mark.parametrize(("raw", "position"), BROKEN_ITEMS, ids=range(len(BROKEN_ITEMS)))
def test_a_broken_item_in_a_right_envelope_is_skipped_not_refused(
    raw: bytes, position: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sync.providers.meta_cloud"):
        assert post(raw).events == ()
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(f"Meta webhook: skipped {position} (")


def hostile_value(
    messages: Any = None, statuses: Any = None, contacts: Any = None, **extra: Any
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": 5, "phone_number_id": PHONE_NUMBER_ID},
    }
    for key, item in (("messages", messages), ("statuses", statuses), ("contacts", contacts)):
        if item is not None:
            value[key] = item
    value.update(extra)
    return webhook_body(WABA_ID, [change(value)])


WRONG_TYPES: list[Any] = [None, True, 0, -1, 1.5, "", "x", [], [None], {}, {"a": []}, [[[]]]]


def test_wrong_types_inside_a_valid_envelope_never_break_the_parser() -> None:
    good = text_item("ok", wamid="wamid.GOOD")
    seen = 0
    for wrong in WRONG_TYPES:
        bodies = [
            hostile_value(messages=wrong),
            hostile_value(statuses=wrong),
            hostile_value(contacts=wrong, messages=[good]),
            hostile_value(messages=[wrong, good]),
            hostile_value(statuses=[wrong]),
            hostile_value(metadata=wrong, messages=[good]),
        ]
        for key in (
            "from",
            "id",
            "timestamp",
            "type",
            "text",
            "context",
            "errors",
            "group_id",
            "referral",
        ):
            item = dict(good)
            item[key] = wrong
            bodies.append(hostile_value(messages=[item]))
        for kind in (
            "image",
            "location",
            "contacts",
            "interactive",
            "button",
            "reaction",
            "order",
            "system",
            "edit",
            "revoke",
            "unsupported",
        ):
            bodies.append(hostile_value(messages=[{**good, "type": kind, kind: wrong}]))
            bodies.append(
                hostile_value(
                    messages=[
                        {
                            **good,
                            "type": kind,
                            kind: {
                                "type": wrong,
                                "body": wrong,
                                "message_id": wrong,
                                "original_message_id": wrong,
                                "product_items": [wrong],
                                "button_reply": wrong,
                                "list_reply": {"id": wrong},
                            },
                        }
                    ]
                )
            )
        for key in (
            "id",
            "status",
            "timestamp",
            "errors",
            "biz_opaque_callback_data",
            "recipient_id",
        ):
            item = status_item("wamid.S", "failed", errors=[status_error(131026)])
            item[key] = wrong
            bodies.append(hostile_value(statuses=[item]))
        bodies.append(
            webhook_body(
                WABA_ID,
                [
                    change(
                        {"event": wrong, "ban_info": wrong, "restriction_info": wrong},
                        "account_update",
                    )
                ],
            )
        )
        bodies.append(
            webhook_body(
                WABA_ID,
                [
                    change(
                        {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": wrong}},
                        "account_update",
                    )
                ],
            )
        )
        bodies.append(
            webhook_body(
                WABA_ID,
                [
                    change(
                        {"event": "ACCOUNT_RESTRICTION", "restriction_info": [wrong]},
                        "account_update",
                    )
                ],
            )
        )
        for body in bodies:
            try:
                result = post(body)
            except WebhookPayloadError:
                continue
            for event in result.events:
                json.dumps(to_json(event, "x"), allow_nan=False)
                seen += 1
    assert seen > 100  # the good message next to the bad ones came through


def test_a_malformed_item_does_not_lose_its_neighbours() -> None:
    items = [text_item("a", wamid="wamid.1"), {"id": "wamid.2"}, 5, text_item("c", wamid="wamid.3")]
    items[1]["timestamp"] = "soon"
    value = messages_value(PHONE_NUMBER_ID, items, contacts=[(CUSTOMER, "Maria")])
    events = post(webhook_body(WABA_ID, [change(value)])).events
    assert [e.provider_message_id for e in events] == ["wamid.1", "wamid.3"]


def test_one_valid_message_among_broken_items_of_every_kind_comes_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_text = "cartão 4111 1111 1111 1111"  # content of a broken item: never in the log
    good = text_item("Oi, tem bolo?", wamid="wamid.GOOD")
    value = messages_value(
        PHONE_NUMBER_ID,
        [
            {**text_item(secret_text), "id": ""},  # no id
            7,  # not an object
            good,
            {**text_item(secret_text, wamid="wamid.T"), "timestamp": "amanhã"},  # no timestamp
            {**text_item(secret_text, wamid="wamid.R"), "type": "reaction", "reaction": {}},
        ],
        contacts=[(CUSTOMER, "Maria")],
    )
    value["statuses"] = [
        "sent",  # not an object
        {**status_item("", "read"), "id": ""},  # no message id
        status_item("wamid.S1", "delivered", timestamp=10**30),  # timestamp out of range
        status_item("wamid.S2", "read", timestamp=1_749_416_400),
    ]
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            5,  # not an object
            {"id": WABA_ID, "changes": {"field": "messages"}},  # changes not a list
            {
                "id": WABA_ID,
                "changes": [
                    None,
                    {"field": "messages"},  # no value
                    {"field": 7, "value": {}},  # no field
                    change(value),
                ],
            },
        ],
    }
    with caplog.at_level(logging.WARNING, logger="sync.providers.meta_cloud"):
        events = post(body).events

    assert [(e.kind, e.provider_message_id) for e in events] == [
        ("message", "wamid.GOOD"),
        ("status", "wamid.S2"),
    ]
    skipped = [r.getMessage() for r in caplog.records]
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    change_at = "entry[2].changes[3].value"
    assert skipped == [
        "Meta webhook: skipped entry[0] (the entry is not an object)",
        "Meta webhook: skipped entry[1] (the entry has no 'changes' list)",
        "Meta webhook: skipped entry[2].changes[0] (the change is not an object)",
        "Meta webhook: skipped entry[2].changes[1] (the change has no 'field' and 'value' object)",
        "Meta webhook: skipped entry[2].changes[2] (the change has no 'field' and 'value' object)",
        f"Meta webhook: skipped {change_at}.messages[0] (no message id)",
        f"Meta webhook: skipped {change_at}.messages[1] (the message is not an object)",
        f"Meta webhook: skipped {change_at}.messages[3] (no timestamp)",
        f"Meta webhook: skipped {change_at}.messages[4] (reaction without target)",
        f"Meta webhook: skipped {change_at}.statuses[0] (the status is not an object)",
        f"Meta webhook: skipped {change_at}.statuses[1] (status without a message id)",
        f"Meta webhook: skipped {change_at}.statuses[2] (status timestamp out of range)",
    ]
    logged = caplog.text
    assert "4111" not in logged and "cartão" not in logged and APP_SECRET not in logged


def test_a_parser_bug_on_one_item_skips_that_item_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sync.providers.meta_cloud import webhook as meta_cloud

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a customer's text")

    # A bug in how one message type is read, and in how account updates are read.
    monkeypatch.setattr(meta_cloud, "_interactive_reply", broken)
    monkeypatch.setattr(meta_cloud, "_account_update", broken)
    tap = {**text_item("x", wamid="wamid.TAP"), "type": "interactive", "interactive": {}}
    value = messages_value(
        PHONE_NUMBER_ID,
        [tap, text_item("ainda aqui", wamid="wamid.KEPT")],
        contacts=[(CUSTOMER, "Maria")],
    )
    body = webhook_body(
        WABA_ID, [change({"event": "ACCOUNT_DELETED"}, "account_update"), change(value)]
    )
    with caplog.at_level(logging.WARNING, logger="sync.providers.meta_cloud"):
        events = post(body).events

    assert [e.provider_message_id for e in events] == ["wamid.KEPT"]
    skipped = [r.getMessage() for r in caplog.records]
    assert [m.split(" (")[0] for m in skipped] == [
        "Meta webhook: skipped entry[0].changes[0]",
        "Meta webhook: skipped entry[0].changes[1].value.messages[0]",
    ]
    assert all("(could not be parsed: KeyError at test_webhook.py:" in m for m in skipped)
    assert "customer" not in caplog.text
