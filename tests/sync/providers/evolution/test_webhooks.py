"""parse_webhook on Evolution bodies built from its source: every kind, both casings, the
webhookByEvents suffixes, the token / instance checks, and hostile input."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.domain.events import (
    AccountRemovedEvent,
    ConnectionEvent,
    ContactEvent,
    EditEvent,
    MessageEvent,
    ProviderEvent,
    QrEvent,
    ReactionEvent,
    RevokeEvent,
    StatusEvent,
    clean_event,
    to_json,
)
from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.providers.base import WebhookAuthError, WebhookPayloadError, WebhookRejected
from sync.providers.evolution.webhook import _parse_webhook, parse_webhook
from tests.sync.providers.evolution.harness import (
    GROUP,
    INSTANCE,
    LID,
    OWN_JID,
    OWN_PHONE,
    PHONE,
    PN,
    TS,
    body,
    evolution_account,
    message_record,
    request,
)
from tests.sync.server.mutations import TEXTS, json_bytes

ACCOUNTS = [
    evolution_account("https://evo.example", account_id=7),
    evolution_account(
        "https://evo.example", account_id=8, instance="caixa-oficina", webhook_secret="other-secret"
    ),
]


def parse(payload: Any, **options: Any) -> list[ProviderEvent]:
    events = list(parse_webhook(request(payload, **options), ACCOUNTS).events)
    for event in events:
        json.dumps(to_json(event, "Loja"))  # the documented form always serializes
    return events


def one(payload: Any, **options: Any) -> ProviderEvent:
    events = parse(payload, **options)
    assert len(events) == 1, events
    return events[0]


def upsert(**record: Any) -> dict[str, Any]:
    return body("messages.upsert", message_record(**record))


def message(**record: Any) -> MessageEvent:
    event = one(upsert(**record))
    assert isinstance(event, MessageEvent)
    return event


# --- messages ------------------------------------------------------------------------------------


def test_text_from_a_phone_chat() -> None:
    event = message()
    assert event.account_id == 7
    assert event.provider_message_id == "3A5F1C2B9D8E7F6A5B4C"
    assert (event.chat_key, event.chat_phone, event.chat_jid) == (PHONE, PHONE, PN)
    assert event.direction is Direction.IN
    assert event.type is MessageType.TEXT and event.text == "Oi, tudo bem?"
    assert event.sender_name == "Ana Souza" and event.sender_phone == PHONE
    assert not event.is_group and event.reply_to is None
    assert event.timestamp == TS  # messageTimestamp, not date_time (2024-06-01T10:00)
    out = to_json(event, "Loja")
    assert out["kind"] == "message" and out["timestamp"] == TS and out["direction"] == "in"


@pytest.mark.parametrize(
    "stamp",
    [TS, str(TS), {"low": TS, "high": 0, "unsigned": False}, {"low": TS, "high": 0}],
    ids=["number", "string", "long", "long-signed"],
)
def test_message_timestamp_forms(stamp: Any) -> None:
    assert message(ts=stamp).timestamp == TS


def test_long_timestamp_with_negative_low_word() -> None:
    value = 3_000_000_000  # above 2**31: Long.low is negative
    low = value - 2**32
    assert message(ts={"low": low, "high": 0, "unsigned": True}).timestamp == value


@pytest.mark.parametrize(
    "stamp", [None, "", "soon", -5, 0, True, {"low": "x"}, 10**400, float("nan")]
)
def test_a_message_without_a_valid_timestamp_is_refused(stamp: Any) -> None:
    payload = upsert(ts=stamp)
    if isinstance(stamp, float):
        raw = json.dumps(payload).encode()  # NaN is valid JSON for Python's parser
        with pytest.raises(WebhookPayloadError):
            parse_webhook(request(None, raw=raw), ACCOUNTS)
        return
    with pytest.raises(WebhookPayloadError):
        parse(payload)


def test_reply_quotes_from_top_level_context() -> None:
    # prepareMessage folds extendedTextMessage into conversation and lifts its contextInfo.
    quoted = {"conversation": "Qual o preço?"}
    context = {"stanzaId": "3EB0AAAA1111", "participant": OWN_JID, "quotedMessage": quoted}
    event = message(message={"conversation": "R$ 20"}, context=context)
    assert event.reply_to == "3EB0AAAA1111" and event.text == "R$ 20"


def test_reply_inside_an_unfolded_extended_text() -> None:
    content = {
        "extendedTextMessage": {
            "text": "veja https://loja.example",
            "matchedText": "https://loja.example",
            "contextInfo": {"stanzaId": "3EB0BBBB2222", "quotedMessage": {"conversation": "?"}},
        }
    }
    event = message(message=content)
    assert event.type is MessageType.TEXT and event.text == "veja https://loja.example"
    assert event.reply_to == "3EB0BBBB2222"


MEDIA = {
    "url": "https://mmg.whatsapp.net/v/t62.7118-24/abc.enc",
    "mimetype": "image/jpeg",
    "caption": "nota fiscal",
    "fileLength": {"low": 84512, "high": 0, "unsigned": True},
    "mediaKey": {"0": 12, "1": 200},
}


def test_image_with_caption() -> None:
    event = message(
        message={"imageMessage": MEDIA, "messageContextInfo": {"deviceListMetadata": {}}}
    )
    assert event.type is MessageType.IMAGE
    assert event.caption == "nota fiscal" and event.text == ""
    assert event.media is not None
    assert event.media["mime_type"] == "image/jpeg" and event.media["size"] == 84512
    assert event.media["provider_type"] == "imageMessage"


@pytest.mark.parametrize(
    ("content", "kind", "checks"),
    [
        (
            {"videoMessage": {"mimetype": "video/mp4", "caption": "olha", "seconds": 12}},
            MessageType.VIDEO,
            {"caption": "olha"},
        ),
        ({"ptvMessage": {"mimetype": "video/mp4", "seconds": 4}}, MessageType.VIDEO, {}),
        (
            {"audioMessage": {"mimetype": "audio/ogg; codecs=opus", "seconds": 7, "ptt": True}},
            MessageType.AUDIO,
            {},
        ),
        (
            {"documentMessage": {"mimetype": "application/pdf", "fileName": "pedido.pdf"}},
            MessageType.DOCUMENT,
            {},
        ),
        ({"stickerMessage": {"mimetype": "image/webp"}}, MessageType.STICKER, {}),
    ],
)
def test_media_kinds(content: dict[str, Any], kind: MessageType, checks: dict[str, str]) -> None:
    event = message(message=content)
    assert event.type is kind
    for field, value in checks.items():
        assert getattr(event, field) == value
    assert event.media is not None


def test_voice_note_flag_and_document_name() -> None:
    audio = message(message={"audioMessage": {"mimetype": "audio/ogg", "ptt": True, "seconds": 7}})
    assert audio.media is not None and audio.media["voice"] is True and audio.media["seconds"] == 7
    doc = message(message={"documentMessage": {"fileName": "pedido.pdf", "caption": "segue"}})
    assert doc.media is not None and doc.media["filename"] == "pedido.pdf"
    assert doc.caption == "segue"


@pytest.mark.parametrize(
    "wrapper",
    ["ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension"],
)
def test_wrapped_content_is_unwrapped(wrapper: str) -> None:
    event = message(message={wrapper: {"message": {"imageMessage": MEDIA}}}, message_type=wrapper)
    assert event.type is MessageType.IMAGE and event.caption == "nota fiscal"


def test_document_with_caption_and_nested_wrappers() -> None:
    inner = {"documentMessage": {"fileName": "a.pdf", "caption": "contrato"}}
    content = {"ephemeralMessage": {"message": {"documentWithCaptionMessage": {"message": inner}}}}
    event = message(message=content)
    assert event.type is MessageType.DOCUMENT and event.caption == "contrato"
    text = {"ephemeralMessage": {"message": {"extendedTextMessage": {"text": "some"}}}}
    assert message(message=text).text == "some"


def test_location_and_live_location() -> None:
    place = {
        "degreesLatitude": -23.55,
        "degreesLongitude": -46.63,
        "name": "Loja",
        "address": "Rua",
    }
    event = message(message={"locationMessage": place})
    assert event.type is MessageType.LOCATION
    assert event.location == {
        "latitude": -23.55,
        "longitude": -46.63,
        "name": "Loja",
        "address": "Rua",
    }
    live = message(message={"liveLocationMessage": {"degreesLatitude": 1, "degreesLongitude": 2}})
    assert live.location == {"latitude": 1.0, "longitude": 2.0, "live": True}


VCARD = (
    "BEGIN:VCARD\nVERSION:3.0\nFN:João\n"
    "TEL;type=CELL;waid=5521987654321:+55 21 98765-4321\nEND:VCARD"
)


def test_contacts() -> None:
    single = message(message={"contactMessage": {"displayName": "João", "vcard": VCARD}})
    assert single.type is MessageType.CONTACTS
    assert single.contacts == [{"name": "João", "vcard": VCARD, "phones": ["5521987654321"]}]
    array = {
        "contactsArrayMessage": {
            "displayName": "2 contatos",
            "contacts": [
                {"displayName": "João", "vcard": VCARD},
                {"displayName": "Maria", "vcard": "BEGIN:VCARD"},
            ],
        }
    }
    event = message(message=array)
    assert event.contacts is not None and [c["name"] for c in event.contacts] == ["João", "Maria"]


@pytest.mark.parametrize(
    ("content", "text", "interactive"),
    [
        (
            {"buttonsResponseMessage": {"selectedButtonId": "b1", "selectedDisplayText": "Sim"}},
            "Sim",
            {"type": "button_reply", "id": "b1", "title": "Sim"},
        ),
        (
            {
                "listResponseMessage": {
                    "title": "Pizza",
                    "description": "grande",
                    "singleSelectReply": {"selectedRowId": "r7"},
                }
            },
            "Pizza",
            {"type": "list_reply", "id": "r7", "title": "Pizza", "description": "grande"},
        ),
        (
            {"templateButtonReplyMessage": {"selectedId": "t2", "selectedDisplayText": "Ok"}},
            "Ok",
            {"type": "button_reply", "id": "t2", "title": "Ok"},
        ),
        (
            {
                "interactiveResponseMessage": {
                    "body": {"text": "Enviado"},
                    "nativeFlowResponseMessage": {"name": "flow", "paramsJson": '{"a":1}'},
                }
            },
            "Enviado",
            {
                "type": "nfm_reply",
                "name": "flow",
                "body": "Enviado",
                "response_json": '{"a":1}',
            },
        ),
    ],
)
def test_button_and_list_answers(content: dict[str, Any], text: str, interactive: dict) -> None:
    event = message(message=content)
    assert event.type is MessageType.INTERACTIVE
    assert event.text == text and event.interactive == interactive


def test_unknown_types_are_kept_as_placeholders() -> None:
    event = message(message={"eventMessage": {"name": "Festa"}})
    assert event.type is MessageType.UNKNOWN
    assert event.media == {"provider_type": "eventMessage"}
    poll = message(message={"pollCreationMessageV3": {"name": "Qual sabor?", "options": []}})
    assert poll.type is MessageType.UNKNOWN and poll.text == "Qual sabor?"
    empty = one(body("messages.upsert", {**message_record(), "message": None}))
    assert isinstance(empty, MessageEvent) and empty.type is MessageType.UNKNOWN
    assert empty.media == {"provider_type": "conversation"}


def test_control_only_content_makes_no_bubble() -> None:
    assert parse(upsert(message={"pollUpdateMessage": {"vote": {}}})) == []
    assert parse(upsert(message={"senderKeyDistributionMessage": {"groupId": GROUP}})) == []


def test_outgoing_from_the_phone_and_send_message() -> None:
    event = message(from_me=True, push_name="Você")
    assert event.direction is Direction.OUT and event.sender_name == "" and event.sender_phone == ""
    sent = one(body("send.message", message_record(from_me=True, msg_id="3EB0C0FFEE")))
    assert isinstance(sent, MessageEvent) and sent.direction is Direction.OUT
    assert sent.provider_message_id == "3EB0C0FFEE" and sent.chat_key == PHONE


# --- LIDs and groups -----------------------------------------------------------------------------


def test_lid_chat_with_its_phone_is_the_phone_conversation() -> None:
    event = message(remote=LID, alt=PN)
    assert (event.chat_key, event.chat_phone, event.chat_jid) == (PHONE, PHONE, LID)
    assert event.sender_phone == PHONE


def test_lid_chat_without_a_phone_never_uses_lid_digits() -> None:
    event = message(remote=LID)
    assert (event.chat_key, event.chat_phone, event.chat_jid) == (LID, "", LID)
    assert event.sender_phone == ""
    assert "219876543210987" not in (event.chat_phone + event.sender_phone)


def test_lid_with_device_suffix_keys_on_the_bare_lid() -> None:
    event = message(remote="219876543210987:12@lid")
    assert event.chat_key == LID and event.chat_phone == ""


def test_phone_chat_whose_alternate_is_a_lid() -> None:
    event = message(remote=PN, alt=LID)
    assert (event.chat_key, event.chat_phone, event.chat_jid) == (PHONE, PHONE, PN)


def test_evolution_231_rewritten_key_keeps_one_conversation() -> None:
    # 2.3.1-2.3.2 rewrote remoteJid to senderPn and kept the LID in previousRemoteJid.
    event = message(remote=PN, senderPn=PN, previousRemoteJid=LID)
    assert (event.chat_key, event.chat_phone, event.chat_jid) == (PHONE, PHONE, LID)


def test_own_number_as_alternate_is_never_the_customer() -> None:
    event = message(remote=LID, alt=OWN_JID, from_me=True)
    assert event.chat_key == LID and event.chat_phone == ""


def test_group_message_with_lid_participant() -> None:
    event = message(remote=GROUP, participant="11122233344455@lid", participant_alt=PN)
    assert event.is_group and event.chat_key == GROUP and event.chat_jid == GROUP
    assert event.chat_phone == "" and event.sender_phone == PHONE
    hidden = message(remote=GROUP, participant="11122233344455@lid")
    assert hidden.sender_phone == ""


@pytest.mark.parametrize("jid", ["status@broadcast", "1234567@broadcast", "120363@newsletter"])
def test_statuses_broadcasts_and_newsletters_are_ignored(jid: str) -> None:
    assert parse(upsert(remote=jid, participant=PN)) == []
    assert parse(body("messages.update", {"keyId": "X1", "remoteJid": jid, "status": "READ"})) == []


# --- reactions, edits, deletes -------------------------------------------------------------------


def test_reaction_is_a_reaction_not_a_bubble() -> None:
    content = {
        "reactionMessage": {
            "key": {"remoteJid": PN, "fromMe": True, "id": "3EB0TARGET"},
            "text": "👍",
            "senderTimestampMs": {"low": 1, "high": 400},
        }
    }
    event = one(upsert(message=content, msg_id="REACT1"))
    assert isinstance(event, ReactionEvent)
    assert (event.provider_message_id, event.target_message_id, event.emoji) == (
        "REACT1",
        "3EB0TARGET",
        "👍",
    )
    assert event.chat_key == PHONE and event.direction is Direction.IN and event.timestamp == TS
    removed = one(upsert(message={"reactionMessage": {"key": {"id": "3EB0TARGET"}, "text": ""}}))
    assert isinstance(removed, ReactionEvent) and removed.emoji == ""
    assert to_json(removed, "Loja")["kind"] == "reaction"


def test_edit_from_messages_edited_as_evolution_posts_it() -> None:
    # messages.edited carries the bare ProtocolMessage, serialized by protobuf's toJSON.
    protocol = {
        "key": {"remoteJid": OWN_JID, "fromMe": True, "id": "3A11EDITED"},
        "type": "MESSAGE_EDIT",
        "editedMessage": {"conversation": "Corrigido: 3 unidades"},
        "timestampMs": "1717171800123",
    }
    event = one(body("messages.edited", protocol))
    assert isinstance(event, EditEvent)
    assert event.target_message_id == "3A11EDITED" and event.text == "Corrigido: 3 unidades"
    assert event.direction is Direction.IN  # the key names OUR jid: the customer edited
    assert event.timestamp == pytest.approx(1717171800.123)


def test_our_own_edit_and_numeric_enum() -> None:
    protocol = {
        "key": {"remoteJid": PN, "fromMe": True, "id": "3EB0MINE"},
        "type": 14,
        "editedMessage": {"extendedTextMessage": {"text": "novo texto"}},
    }
    event = one(body("MESSAGES_EDITED", protocol))
    assert isinstance(event, EditEvent) and event.direction is Direction.OUT
    assert event.chat_key == PHONE and event.text == "novo texto"
    sent = one(body("send.message.update", {**protocol, "type": "MESSAGE_EDIT"}))
    assert isinstance(sent, EditEvent) and sent.direction is Direction.OUT


def test_edit_inside_messages_upsert_uses_our_view_of_the_chat() -> None:
    content = {
        "editedMessage": {
            "message": {
                "protocolMessage": {
                    "key": {"remoteJid": OWN_JID, "fromMe": True, "id": "3A22OLD"},
                    "type": 14,
                    "editedMessage": {"imageMessage": {"caption": "legenda nova"}},
                }
            }
        }
    }
    event = one(upsert(message=content, remote=LID, alt=PN))
    assert isinstance(event, EditEvent)
    assert (event.target_message_id, event.text, event.chat_key) == (
        "3A22OLD",
        "legenda nova",
        PHONE,
    )
    assert event.timestamp == TS and event.chat_jid == LID


def test_other_protocol_messages_carry_nothing() -> None:
    notice = {"key": {"remoteJid": OWN_JID, "id": "X"}, "type": "HISTORY_SYNC_NOTIFICATION"}
    assert parse(body("messages.edited", notice)) == []
    assert parse(body("messages.edited", {"type": 3, "ephemeralExpiration": 86400})) == []


def test_revokes_every_way_evolution_reports_them() -> None:
    # messages.delete from Baileys' messages.update (key of the revoke, id of the target).
    key = {"remoteJid": LID, "remoteJidAlt": PN, "fromMe": False, "id": "3A33GONE"}
    revoke = one(body("messages.delete", key))
    assert isinstance(revoke, RevokeEvent) and revoke.target_message_id == "3A33GONE"
    assert revoke.chat_key == PHONE and revoke.direction is Direction.IN
    # messages.delete after deleteMessageForEveryone: the stored row with its key.
    row = {
        "id": "cm0001",
        "key": {"remoteJid": PN, "fromMe": True, "id": "3EB0MINE"},
        "status": "DELETED",
        "messageTimestamp": TS,
    }
    mine = one(body("messages.delete", row))
    assert isinstance(mine, RevokeEvent) and mine.target_message_id == "3EB0MINE"
    assert mine.direction is Direction.OUT
    # messages.edited with a REVOKE protocol message; and one inside messages.upsert.
    edited = one(
        body("messages.edited", {"key": {"remoteJid": OWN_JID, "id": "3A44"}, "type": "REVOKE"})
    )
    assert isinstance(edited, RevokeEvent) and edited.target_message_id == "3A44"
    upserted = one(upsert(message={"protocolMessage": {"key": {"id": "3A55"}, "type": 0}}))
    assert isinstance(upserted, RevokeEvent) and upserted.chat_key == PHONE
    deleted = one(body("messages.update", {"keyId": "3A66", "remoteJid": PN, "status": "DELETED"}))
    assert isinstance(deleted, RevokeEvent) and deleted.target_message_id == "3A66"


# --- receipts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SERVER_ACK", DeliveryStatus.SENT),
        ("DELIVERY_ACK", DeliveryStatus.DELIVERED),
        ("READ", DeliveryStatus.READ),
        ("PLAYED", DeliveryStatus.PLAYED),
        ("ERROR", DeliveryStatus.FAILED),
        (3, DeliveryStatus.DELIVERED),
    ],
)
def test_receipts(status: Any, expected: DeliveryStatus) -> None:
    data = {
        "keyId": "3EB0RECEIPT",
        "remoteJid": LID,  # a LID where the message was stored under the phone: id alone matters
        "fromMe": True,
        "participant": None,
        "status": status,
        "instanceId": "1c9f",
        "messageId": "cm5x9y2z0000abcd",  # Evolution's row id, not WhatsApp's
    }
    event = one(body("messages.update", data))
    assert isinstance(event, StatusEvent)
    assert event.provider_message_id == "3EB0RECEIPT" and event.status is expected
    assert (event.error is not None) == (expected is DeliveryStatus.FAILED)
    assert event.timestamp == 0  # Evolution's receipts carry no time; date_time is never used


def test_pending_and_message_id_fallback() -> None:
    assert parse(body("messages.update", {"keyId": "A", "status": "PENDING"})) == []
    fallback = one(body("messages.update", {"messageId": "3EB0ONLY", "status": "READ"}))
    assert isinstance(fallback, StatusEvent) and fallback.provider_message_id == "3EB0ONLY"
    with pytest.raises(WebhookPayloadError):
        parse(body("messages.update", {"status": "READ"}))
    baileys = one(
        body("messages.update", {"key": {"id": "3EB0K", "remoteJid": PN}, "update": {"status": 4}})
    )
    assert isinstance(baileys, StatusEvent) and baileys.status is DeliveryStatus.READ


# --- connection, QR, contacts, lifecycle ---------------------------------------------------------


def test_connection_open_carries_the_phone() -> None:
    data = {
        "instance": INSTANCE,
        "wuid": OWN_JID,
        "profileName": "Loja",
        "state": "open",
        "statusReason": 200,
    }
    event = one(body("connection.update", data))
    assert event == ConnectionEvent(7, ConnectionState.CONNECTED, phone=OWN_PHONE)


@pytest.mark.parametrize(
    ("code", "state", "repair"),
    [
        (401, ConnectionState.NEEDS_REPAIR, True),
        (403, ConnectionState.BLOCKED, True),
        (402, ConnectionState.NEEDS_REPAIR, True),
        (406, ConnectionState.NEEDS_REPAIR, True),
        (411, ConnectionState.NEEDS_REPAIR, True),
        (428, ConnectionState.OFFLINE, False),
        (408, ConnectionState.OFFLINE, False),
        (440, ConnectionState.OFFLINE, False),
        (500, ConnectionState.NEEDS_REPAIR, True),  # badSession: the keys are unusable
        (503, ConnectionState.OFFLINE, False),
        (515, ConnectionState.CONNECTING, False),
        ("428", ConnectionState.OFFLINE, False),
    ],
)
def test_connection_close_reasons(code: Any, state: ConnectionState, repair: bool) -> None:
    event = one(
        body("connection.update", {"instance": INSTANCE, "state": "close", "statusReason": code})
    )
    assert isinstance(event, ConnectionEvent)
    assert (event.state, event.needs_repair) == (state, repair)
    assert event.reason


def test_connecting_refused_and_status_instance() -> None:
    connecting = one(
        body(
            "CONNECTION_UPDATE", {"instance": INSTANCE, "state": "connecting", "statusReason": 200}
        )
    )
    assert connecting == ConnectionEvent(7, ConnectionState.CONNECTING)
    refused = one(
        body("connection.update", {"instance": INSTANCE, "state": "refused", "statusReason": 428})
    )
    assert isinstance(refused, ConnectionEvent) and refused.needs_repair
    status = one(
        body(
            "status.instance",
            {"instance": INSTANCE, "status": "closed", "disconnectionReasonCode": 401},
        )
    )
    assert isinstance(status, ConnectionEvent) and status.needs_repair


def test_qrcode_updated() -> None:
    data = {
        "qrcode": {
            "instance": INSTANCE,
            "pairingCode": "WZYEH1YY",
            "code": "2@abc,def,ghi",
            "base64": "data:image/png;base64,AAA",
        }
    }
    event = one(body("qrcode.updated", data))
    assert event == QrEvent(7, qr_code="2@abc,def,ghi", pairing_code="WZYEH1YY")
    assert to_json(event, "Loja") == {
        "kind": "qr",
        "account": "Loja",
        "qr_code": "2@abc,def,ghi",
        "pairing_code": "WZYEH1YY",
    }
    no_code = one(body("qrcode.updated", {"qrcode": {"code": "2@x", "pairingCode": None}}))
    assert no_code == QrEvent(7, qr_code="2@x")
    limit = one(
        body(
            "qrcode.updated",
            {"message": "QR code limit reached, please login again", "statusCode": 500},
        )
    )
    assert isinstance(limit, ConnectionEvent) and limit.needs_repair


def test_contacts_upsert_and_update() -> None:
    data = [
        {"remoteJid": PN, "pushName": "Ana Souza", "profilePicUrl": None, "instanceId": "x"},
        # contactHandle's fallback name is the JID's user part: not a name (here a LID's).
        {"remoteJid": LID, "pushName": "219876543210987", "profilePicUrl": None},
        {"remoteJid": GROUP, "pushName": "Família"},
        # Baileys' own Contact fields, when forwarded: a LID <-> phone pair.
        {"id": LID, "lid": LID, "phoneNumber": PN, "notify": "Ana"},
    ]
    events = parse(body("contacts.upsert", data))
    assert events == [
        ContactEvent(7, chat_key=PHONE, phone=PHONE, jid=PN, name="Ana Souza"),
        ContactEvent(7, chat_key=LID, jid=LID, lid=LID),
        ContactEvent(7, chat_key=GROUP, jid=GROUP, name="Família"),
        ContactEvent(7, chat_key=PHONE, phone=PHONE, jid=LID, lid=LID, name="Ana"),
    ]
    update = one(body("contacts.update", {"remoteJid": PN, "pushName": "Ana S."}))
    assert isinstance(update, ContactEvent) and update.name == "Ana S."


def test_logout_and_remove() -> None:
    logout = one(body("logout.instance", None))
    assert isinstance(logout, ConnectionEvent)
    assert logout.state is ConnectionState.NEEDS_REPAIR and logout.needs_repair and logout.reason
    removed = one(body("remove.instance", None))
    assert isinstance(removed, AccountRemovedEvent) and removed.account_id == 7


def test_events_with_nothing_for_us() -> None:
    for event in ("chats.upsert", "presence.update", "groups.upsert", "call", "labels.edit"):
        assert parse(body(event, [{"id": "x"}])) == []


def test_data_as_a_list_gives_every_message() -> None:
    records = [message_record(msg_id=f"3A{i}") for i in range(3)]
    events = parse(body("messages.upsert", records))
    assert [e.provider_message_id for e in events if isinstance(e, MessageEvent)] == [
        "3A0",
        "3A1",
        "3A2",
    ]
    history = parse(body("messages.set", records))
    assert len(history) == 3


# --- event names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["messages.upsert", "MESSAGES_UPSERT", "messages-upsert"])
def test_both_casings(name: str) -> None:
    assert isinstance(one(body(name, message_record())), MessageEvent)


def test_by_events_path_suffix() -> None:
    payload = body("", message_record())
    del payload["event"]
    assert isinstance(one(payload, event="messages-upsert"), MessageEvent)
    # The body wins over the suffix: Evolution derived the suffix from it.
    receipt = body("messages.update", {"keyId": "K", "status": "READ"})
    assert isinstance(one(receipt, event="messages-upsert"), StatusEvent)
    with pytest.raises(WebhookPayloadError):
        parse({k: v for k, v in payload.items()}, event="")


# --- authentication ------------------------------------------------------------------------------


def test_token_checks() -> None:
    payload = upsert()
    with pytest.raises(WebhookAuthError) as missing:
        parse(payload, token=None)
    assert missing.value.status_code == 401
    with pytest.raises(WebhookAuthError) as wrong:
        parse(payload, token="not-the-secret")
    assert wrong.value.status_code == 401
    with pytest.raises(WebhookAuthError) as other:  # another account's token on this path
        parse(payload, token="other-secret")
    assert other.value.status_code == 401
    with pytest.raises(WebhookAuthError):  # an instance Caixa does not know
        parse(payload, instance="stranger")


def test_body_naming_another_instance_is_forbidden() -> None:
    payload = body("messages.upsert", message_record(), instance="caixa-oficina")
    with pytest.raises(WebhookAuthError) as info:
        parse(payload)
    assert info.value.status_code == 403 and info.value.exit_code == 2
    other = body("messages.upsert", message_record(), instance="caixa-oficina")
    assert parse(other, token="other-secret", instance="caixa-oficina")  # its own account: fine


def test_header_name_is_case_insensitive_and_secretless_accounts_never_match() -> None:
    req = request(upsert())
    headers = {"X-Caixa-Webhook-Token": req.headers["x-caixa-webhook-token"]}
    from dataclasses import replace

    assert parse_webhook(replace(req, headers=headers), ACCOUNTS).events
    blank = evolution_account("https://evo.example", webhook_secret="")
    with pytest.raises(WebhookAuthError):
        parse_webhook(request(upsert(), token=""), [blank])


def test_messages_and_reasons_never_show_the_secret() -> None:
    for options in ({"token": "wrong"}, {"token": None}):
        with pytest.raises(WebhookAuthError) as info:
            parse(upsert(), **options)
        assert "caixa-webhook-secret" not in str(info.value) + repr(info.value)


# --- malformed and hostile bodies ----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'"text"',
        b"\xff\xfe\x00garbage",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"event": "messages.upsert", "instance": "caixa-loja", "data": ' + b"9" * 5000 + b"}",
        b'{"event": "messages.upsert", "data": {}}',
        b'{"event": 5, "instance": "caixa-loja", "data": {}}',
    ],
)
def test_bad_bodies_are_payload_errors(raw: bytes) -> None:
    with pytest.raises(WebhookPayloadError) as info:
        parse_webhook(request(None, raw=raw), ACCOUNTS)
    assert info.value.status_code == 400 and info.value.exit_code == 3


def test_auth_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(WebhookAuthError):
        parse_webhook(request(None, raw=b"not json", token="wrong"), ACCOUNTS)


def test_only_posts() -> None:
    with pytest.raises(WebhookPayloadError):
        parse(upsert(), method="GET")


@pytest.mark.parametrize(
    "data",
    [
        "text",
        42,
        {"key": "not a dict", "messageTimestamp": TS},
        {"key": {"id": "", "remoteJid": PN}, "messageTimestamp": TS},
        {"key": {"id": "x" * 1000, "remoteJid": PN}, "messageTimestamp": TS},
        {"key": {"id": "A", "remoteJid": None}, "messageTimestamp": TS},
    ],
)
def test_malformed_messages(data: Any) -> None:
    # One object that is not a message: the call itself is not what Evolution sends (400).
    with pytest.raises(WebhookPayloadError):
        parse(body("messages.upsert", data))


# --- lists with broken items: each item stands alone ------------------------------------------

SECRET_TEXT = "senha do cofre 8472"  # content of a broken item: never in the log


def _skipped(caplog: pytest.LogCaptureFixture) -> list[str]:
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    return [r.getMessage() for r in caplog.records]


def test_a_message_list_keeps_its_valid_message_and_skips_each_broken_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken_text = {"conversation": SECRET_TEXT}
    no_key = message_record(broken_text, msg_id="3A0")
    del no_key["key"]
    no_id = message_record(broken_text, msg_id="")
    no_remote = message_record(broken_text, msg_id="3A2", remote="")
    no_ts = message_record(broken_text, msg_id="3A3", ts=None)
    bad_ts = message_record(broken_text, msg_id="3A4", ts="amanhã")
    edit_of_nothing = message_record(
        {"protocolMessage": {"type": 14, "key": {}, "editedMessage": broken_text}}, msg_id="3A5"
    )
    good = message_record({"conversation": "Tem bolo hoje?"}, msg_id="3AGOOD")
    data = [no_key, no_id, 7, good, no_remote, no_ts, bad_ts, edit_of_nothing, None]
    with caplog.at_level(logging.WARNING, logger="sync.providers.evolution"):
        events = parse(body("messages.upsert", data))

    assert [(e.kind, e.provider_message_id) for e in events] == [("message", "3AGOOD")]
    assert _skipped(caplog) == [
        "Evolution webhook: skipped messages data[0] (a message has no 'key')",
        "Evolution webhook: skipped messages data[1] (a message key has no usable 'id')",
        "Evolution webhook: skipped messages data[2] (not an object)",
        "Evolution webhook: skipped messages data[4] (a message key has no 'remoteJid')",
        "Evolution webhook: skipped messages data[5] (a message has no valid 'messageTimestamp')",
        "Evolution webhook: skipped messages data[6] (a message has no valid 'messageTimestamp')",
        "Evolution webhook: skipped messages data[7] (an edit or delete names no message)",
        "Evolution webhook: skipped messages data[8] (not an object)",
    ]
    assert SECRET_TEXT not in caplog.text and "INSTANCE-TOKEN" not in caplog.text


def test_baileys_own_upsert_shape_skips_broken_items_too(caplog: pytest.LogCaptureFixture) -> None:
    data = {"type": "notify", "messages": [{"key": {}}, message_record(msg_id="3AOK")]}
    with caplog.at_level(logging.WARNING, logger="sync.providers.evolution"):
        events = parse(body("messages.upsert", data))
    assert [e.provider_message_id for e in events if isinstance(e, MessageEvent)] == ["3AOK"]
    assert _skipped(caplog) == [
        "Evolution webhook: skipped messages data[0] (a message key has no usable 'id')"
    ]


@pytest.mark.parametrize(
    ("event", "data", "kept"),
    [
        (
            "messages.update",
            [{"status": "READ"}, "x", {"keyId": "3EBOK", "remoteJid": PN, "status": "READ"}],
            "3EBOK",
        ),
        (
            "messages.delete",
            [{"remoteJid": PN}, [], {"remoteJid": PN, "fromMe": False, "id": "3EBDEL"}],
            "3EBDEL",
        ),
        (
            "messages.edited",
            [
                {"key": {"remoteJid": PN}, "type": 14, "editedMessage": {"conversation": "x"}},
                1.5,
                {"key": {"id": "3EBED", "remoteJid": PN}, "type": 14, "editedMessage": {}},
            ],
            "3EBED",
        ),
        (
            "contacts.upsert",
            [None, {"remoteJid": PN, "pushName": "Ana"}],
            None,
        ),
    ],
)
def test_every_list_event_keeps_its_valid_items(
    event: str, data: list[Any], kept: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sync.providers.evolution"):
        events = parse(body(event, data))
    (only_event,) = events
    if kept is not None:
        assert getattr(only_event, "provider_message_id", None) == kept or (
            getattr(only_event, "target_message_id", None) == kept
        )
    else:
        assert isinstance(only_event, ContactEvent) and only_event.name == "Ana"
    broken = len(data) - 1
    assert len(_skipped(caplog)) == broken
    assert all(m.startswith("Evolution webhook: skipped ") for m in _skipped(caplog))


def test_a_parser_bug_on_one_item_skips_that_item_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sync.providers import baileys

    real = baileys.parse_content

    def buggy(name: str, content: Any) -> Any:
        if name == "imageMessage":
            raise ZeroDivisionError(SECRET_TEXT)
        return real(name, content)

    monkeypatch.setattr(baileys, "parse_content", buggy)
    data = [message_record({"imageMessage": MEDIA}, msg_id="3AIMG"), message_record(msg_id="3AOK")]
    with caplog.at_level(logging.WARNING, logger="sync.providers.evolution"):
        events = parse(body("messages.upsert", data))

    assert [e.provider_message_id for e in events if isinstance(e, MessageEvent)] == ["3AOK"]
    (message,) = _skipped(caplog)
    assert message.startswith(
        "Evolution webhook: skipped messages data[0] (could not be parsed: ZeroDivisionError at "
    )
    assert SECRET_TEXT not in caplog.text
    # The same bug in a single-object call refuses that call, as before (nothing else in it).
    with pytest.raises(WebhookPayloadError):
        parse(body("messages.upsert", data[0]))


def test_strings_come_as_sent_and_are_cleaned_for_the_stores() -> None:
    # NUL and lone surrogates are cleaned on the way into the stores (clean_event, applied by
    # both ingests, the same for every provider): the parser passes the text on as it came.
    raw = json.dumps(upsert(message={"conversation": "oi"})).replace('"oi"', '"o\\ud800i\\u0000"')
    event = parse_webhook(request(None, raw=raw.encode()), ACCOUNTS).events[0]
    assert isinstance(event, MessageEvent)
    assert event.text == "o\ud800i\x00"
    assert clean_event(event).text == "o\ufffdi"


# --- fuzzing: nothing but WebhookRejected, whatever the body -------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.integers(min_value=10**300, max_value=10**1200)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["", PN, LID, GROUP, OWN_JID, "status@broadcast", "REVOKE", "14", "READ"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "key",
                    "id",
                    "remoteJid",
                    "remoteJidAlt",
                    "fromMe",
                    "message",
                    "messageTimestamp",
                    "conversation",
                    "extendedTextMessage",
                    "imageMessage",
                    "reactionMessage",
                    "protocolMessage",
                    "editedMessage",
                    "ephemeralMessage",
                    "type",
                    "text",
                    "keyId",
                    "status",
                    "state",
                    "statusReason",
                    "qrcode",
                    "code",
                    "pushName",
                    "contextInfo",
                    "low",
                    "high",
                    "participant",
                    "contacts",
                    "vcard",
                    "degreesLatitude",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)

SEEDS = [
    body("messages.upsert", message_record()),
    body("messages.upsert", message_record(remote=LID, alt=PN, message={"imageMessage": MEDIA})),
    body("messages.upsert", message_record(remote=GROUP, participant=LID, participant_alt=PN)),
    body("messages.update", {"keyId": "A", "remoteJid": PN, "status": "READ"}),
    body(
        "messages.edited",
        {"key": {"id": "A", "remoteJid": PN}, "type": 14, "editedMessage": {"conversation": "x"}},
    ),
    body("messages.delete", {"remoteJid": PN, "fromMe": False, "id": "B"}),
    body("connection.update", {"instance": INSTANCE, "state": "close", "statusReason": 401}),
    body("qrcode.updated", {"qrcode": {"code": "2@x", "pairingCode": "ABCD1234"}}),
    body("contacts.upsert", [{"remoteJid": PN, "pushName": "Ana"}]),
    body("logout.instance", None),
]


def _mutate(value: Any, path: list[int], replacement: Any) -> Any:
    """Replace the node reached by ``path`` (indexes into dict items / list elements)."""
    if not path:
        return replacement
    if isinstance(value, dict) and value:
        keys = list(value)
        key = keys[path[0] % len(keys)]
        return {**value, key: _mutate(value[key], path[1:], replacement)}
    if isinstance(value, list) and value:
        i = path[0] % len(value)
        return [*value[:i], _mutate(value[i], path[1:], replacement), *value[i + 1 :]]
    return replacement


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _check(payload: Any) -> None:
    try:
        raw = json.dumps(payload).encode()
    except (ValueError, TypeError):
        return
    # An item of a list that raises unexpectedly is skipped (logged "could not be parsed"),
    # not raised: the log is where a parser bug shows, so none may appear.
    records = _Records()
    logger = logging.getLogger("sync.providers.evolution")
    logger.addHandler(records)
    try:
        events = _parse_webhook(request(None, raw=raw), ACCOUNTS).events
    except WebhookRejected:
        return
    finally:
        logger.removeHandler(records)
        assert not [m for m in records.messages if "could not be parsed" in m], records.messages
    for event in events:
        json.dumps(to_json(clean_event(event), "Loja"), ensure_ascii=False).encode("utf-8")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    path=st.lists(st.integers(0, 9), max_size=6),
    replacement=json_values,
)
def test_mutated_bodies_only_raise_rejections(
    seed: dict, path: list[int], replacement: Any
) -> None:
    _check(_mutate(seed, path, replacement))


@settings(max_examples=200, deadline=None)
@given(
    event=st.sampled_from(
        [
            "messages.upsert",
            "MESSAGES_UPDATE",
            "messages.edited",
            "messages.delete",
            "connection.update",
            "qrcode.updated",
            "contacts.upsert",
            "send.message",
            "messages.set",
        ]
    ),
    data=json_values,
)
def test_random_data_only_raises_rejections(event: str, data: Any) -> None:
    _check(body(event, data))


# --- what Evolution really sends: never refused ---------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=TEXTS,
    kind=st.sampled_from(["conversation", "extendedTextMessage"]),
    data=st.data(),
)
def test_an_authentic_well_formed_text_gives_its_text(
    text: str, kind: str, data: st.DataObject
) -> None:
    # Any text, in any JSON spelling, with the number's token: stored as sent.
    content = {"conversation": text} if kind == "conversation" else {kind: {"text": text}}
    raw = data.draw(json_bytes(upsert(message=content, msg_id="3A5F1C2B9D8E7F6A5B4C")))

    (event,) = parse_webhook(request(None, raw=raw), ACCOUNTS).events

    assert isinstance(event, MessageEvent)
    assert (event.provider_message_id, event.text) == ("3A5F1C2B9D8E7F6A5B4C", text)
