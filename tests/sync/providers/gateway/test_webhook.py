"""``gateway.parse_webhook``: who may call, and what every event the gateway POSTs becomes.

Payloads follow the design (``{event, instanceId, data, timestamp}``, ``message`` data as
forwardToEngines passes it: ``{from, message, messageId, pushName}``), with whatsapp-web.js'
event names and payloads (Constants.js, Client.js, Message.js) and Baileys' JIDs, content and
disconnect codes (jid-utils.ts, WAProto.proto, Types/index.ts).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.domain.events import (
    ConnectionEvent,
    EditEvent,
    MessageEvent,
    QrEvent,
    ReactionEvent,
    RevokeEvent,
    clean_event,
    to_json,
)
from sync.domain.models import ConnectionState, Direction, MessageType
from sync.ingress.webhook_request import build_request, combine_headers
from sync.providers.accounts import Secret, account_from_json
from sync.providers.base import (
    WebhookAuthError,
    WebhookPayloadError,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
)
from sync.providers.gateway import HEARTBEAT_REASON, GatewayAccount, parse_webhook
from tests.sync.server.mutations import TEXTS, json_bytes

INSTANCE = "loja-centro"
TOKEN = "inst-token-abc123"
MASTER = "master-token-xyz789"
OTHER_TOKEN = "other-inst-token-555"
TS_MS = 1_732_370_709_120  # 2024-11-23T14:05:09.120Z, as Date.now()
TS_S = 1_732_370_709

ACCOUNT = GatewayAccount(
    account_id=3,
    name="Loja Centro",
    instance=INSTANCE,
    base_url="https://gw.example",
    master_token=Secret(MASTER),
    instance_token=Secret(TOKEN),
)
OTHER = GatewayAccount(
    account_id=4,
    name="Oficina",
    instance="oficina",
    base_url="https://gw.example",
    master_token=Secret(MASTER),
    instance_token=Secret(OTHER_TOKEN),
)
ACCOUNTS = [ACCOUNT, OTHER]


def request(
    body: Any,
    *,
    token: str | None = TOKEN,
    instance: str = INSTANCE,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> WebhookRequest:
    """A call as the receiver builds it for ``POST /hooks/gateway/{instance}``."""
    pairs = list((headers or {}).items())
    if token is not None:
        pairs.append(("Authorization", f"Bearer {token}"))
    return build_request(
        method="POST",
        headers=combine_headers(pairs),
        body=raw if raw is not None else json.dumps(body).encode(),
        instance=instance,
    )


def envelope(event: str, data: Any, *, timestamp: Any = TS_MS, instance: str = INSTANCE) -> Any:
    return {"event": event, "instanceId": instance, "data": data, "timestamp": timestamp}


def parse(event: str, data: Any, **kw: Any) -> list[Any]:
    return list(parse_webhook(request(envelope(event, data, **kw)), ACCOUNTS).events)


def one(event: str, data: Any, **kw: Any) -> Any:
    (found,) = parse(event, data, **kw)
    return found


# --- authentication and routing ------------------------------------------------------------------

GOOD = envelope("heartbeat", {})


@pytest.mark.parametrize(
    ("token", "instance", "headers", "status"),
    [
        (None, INSTANCE, None, 401),
        ("", INSTANCE, None, 401),
        ("wrong-token", INSTANCE, None, 401),
        (TOKEN + "x", INSTANCE, None, 401),
        (TOKEN[:-1], INSTANCE, None, 401),
        (OTHER_TOKEN, INSTANCE, None, 403),  # a real token, of another instance
        (TOKEN, "nao-existe", None, 401),
        (TOKEN, "", None, 401),
    ],
    ids=[
        "no-token",
        "empty",
        "wrong",
        "longer",
        "shorter",
        "other-instance",
        "unknown-instance",
        "no-instance",
    ],
)
def test_a_call_without_this_instances_token_is_refused(
    token: str | None, instance: str, headers: dict[str, str] | None, status: int
) -> None:
    with pytest.raises(WebhookAuthError) as raised:
        parse_webhook(request(GOOD, token=token, instance=instance, headers=headers), ACCOUNTS)
    assert raised.value.status_code == status
    assert raised.value.exit_code == 2
    for secret in (TOKEN, MASTER, OTHER_TOKEN):
        assert secret not in raised.value.reason


def test_other_schemes_are_refused() -> None:
    for header in (f"Basic {TOKEN}", TOKEN, f"Token {TOKEN}", "Bearer"):
        with pytest.raises(WebhookAuthError):
            parse_webhook(request(GOOD, token=None, headers={"Authorization": header}), ACCOUNTS)


def test_a_duplicated_authorization_header_never_verifies() -> None:
    req = build_request(
        method="POST",
        headers=combine_headers(
            [("Authorization", f"Bearer {TOKEN}"), ("authorization", f"Bearer {TOKEN}")]
        ),
        body=json.dumps(GOOD).encode(),
        instance=INSTANCE,
    )
    with pytest.raises(WebhookAuthError):
        parse_webhook(req, ACCOUNTS)


def test_the_scheme_is_case_insensitive_and_the_master_token_is_accepted() -> None:
    for header in (f"bearer {TOKEN}", f"BEARER  {TOKEN} ", f"Bearer {MASTER}"):
        result = parse_webhook(
            request(GOOD, token=None, headers={"Authorization": header}), ACCOUNTS
        )
        assert [e.account_id for e in result.events] == [ACCOUNT.account_id]


def test_an_account_with_only_the_master_token_accepts_it_and_nothing_else() -> None:
    master_only = account_from_json(
        {
            "provider": "gateway",
            "name": "So master",
            "instance": INSTANCE,
            "base_url": "https://gw.example",
            "master_token": MASTER,
        },
        account_id=9,
    )
    result = parse_webhook(request(GOOD, token=MASTER), [master_only])
    assert [e.account_id for e in result.events] == [9]
    for token in ("", " ", "x", TOKEN):
        with pytest.raises(WebhookAuthError):
            parse_webhook(request(GOOD, token=token), [master_only])


def test_two_gateways_with_the_same_instance_name_are_told_apart_by_token() -> None:
    second = GatewayAccount(
        account_id=8,
        name="Outro gateway",
        instance=INSTANCE,
        base_url="https://gw2.example",
        master_token=Secret("another-master"),
        instance_token=Secret("second-token"),
    )
    accounts = [ACCOUNT, second]
    assert parse_webhook(request(GOOD, token="second-token"), accounts).events[0].account_id == 8
    assert parse_webhook(request(GOOD, token=TOKEN), accounts).events[0].account_id == 3


def test_a_body_for_another_instance_is_forbidden() -> None:
    # The token is right for the path's instance, but the body speaks for another one.
    body = envelope("message", _text_message(), instance="oficina")
    with pytest.raises(WebhookAuthError) as raised:
        parse_webhook(request(body), ACCOUNTS)
    assert raised.value.status_code == 403
    # ...and the other instance's token on the other's path with this body is refused too.
    with pytest.raises(WebhookAuthError) as raised:
        parse_webhook(
            request(envelope("heartbeat", {}), token=OTHER_TOKEN, instance="oficina"), ACCOUNTS
        )
    assert raised.value.status_code == 403


def test_the_token_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(WebhookAuthError):
        parse_webhook(request(None, token="nope", raw=b"\xff not json"), ACCOUNTS)


# --- messages ------------------------------------------------------------------------------------


def _text_message(**extra: Any) -> dict[str, Any]:
    data = {
        "from": "5511999990001@c.us",
        "message": "Olá, o bolo de cenoura ainda tem?",
        "messageId": "3EB0C431C26A1D5A8E4F",
        "pushName": "Ana Souza",
    }
    data.update(extra)
    return data


def test_a_text_message_as_forward_to_engines_passes_it() -> None:
    event = one("message", _text_message())
    assert event == MessageEvent(
        account_id=3,
        provider_message_id="3EB0C431C26A1D5A8E4F",
        chat_key="5511999990001",
        chat_phone="5511999990001",
        direction=Direction.IN,
        timestamp=TS_MS / 1000,
        type=MessageType.TEXT,
        text="Olá, o bolo de cenoura ainda tem?",
        sender_name="Ana Souza",
        sender_phone="5511999990001",
        chat_jid="5511999990001@c.us",
    )
    assert to_json(event, "Loja Centro") == {
        "kind": "message",
        "account": "Loja Centro",
        "provider_message_id": "3EB0C431C26A1D5A8E4F",
        "chat_phone": "5511999990001",
        "chat_jid": "5511999990001@c.us",
        "chat_key": "5511999990001",
        "is_group": False,
        "direction": "in",
        "sender_phone": "5511999990001",
        "sender_name": "Ana Souza",
        "timestamp": 1732370709.12,
        "type": "text",
        "text": "Olá, o bolo de cenoura ainda tem?",
        "caption": "",
        "reply_to": None,
        "media": None,
        "location": None,
        "contacts": None,
        "interactive": None,
    }


@pytest.mark.parametrize(
    ("jid", "phone"),
    [
        ("5511999990001@s.whatsapp.net", "5511999990001"),
        ("5511999990001:12@s.whatsapp.net", "5511999990001"),  # with the device (jidDecode)
        ("5511999990001_1:3@s.whatsapp.net", "5511999990001"),  # agent and device
        ("5511999990001@C.US", "5511999990001"),
        ("5511999990001", "5511999990001"),  # a bare number
        ("+55 (11) 99999-0001", "5511999990001"),
    ],
)
def test_phone_jids_in_every_form(jid: str, phone: str) -> None:
    event = one("message", _text_message(**{"from": jid}))
    assert (event.chat_key, event.chat_phone, event.sender_phone) == (phone, phone, phone)
    assert event.chat_jid == jid
    assert not event.is_group


def test_a_lid_chat_has_no_phone_and_is_keyed_by_its_lid() -> None:
    event = one("message", _text_message(**{"from": "123456789012345:7@lid"}))
    assert event.chat_key == "123456789012345@lid"
    assert event.chat_jid == "123456789012345:7@lid"
    assert event.chat_phone == "" and event.sender_phone == ""


def test_a_lid_chat_whose_phone_the_gateway_passed_is_the_phones_conversation() -> None:
    data = _text_message(**{"from": "123456789012345@lid"})
    data["remoteJidAlt"] = "5511999990001@s.whatsapp.net"
    event = one("message", data)
    assert (event.chat_key, event.chat_phone, event.chat_jid) == (
        "5511999990001",
        "5511999990001",
        "123456789012345@lid",
    )
    # An "alternate" that is itself a LID gives no phone.
    data["remoteJidAlt"] = "999@lid"
    assert one("message", data).chat_phone == ""


def test_a_group_message_names_its_author() -> None:
    data = _text_message(**{"from": "120363043211234567@g.us", "author": "5511977776666@c.us"})
    event = one("message", data)
    assert event.is_group
    assert (event.chat_key, event.chat_jid, event.chat_phone) == (
        "120363043211234567@g.us",
        "120363043211234567@g.us",
        "",
    )
    assert event.sender_phone == "5511977776666"
    assert event.sender_name == "Ana Souza"
    # An old-style group id, and an author known only by LID (with Baileys' participantAlt).
    data = _text_message(
        **{
            "from": "5511999990001-1612345678@g.us",
            "participant": "88888888@lid",
            "participantAlt": "5511955554444@s.whatsapp.net",
        }
    )
    event = one("message", data)
    assert event.chat_key == "5511999990001-1612345678@g.us"
    assert event.sender_phone == "5511955554444"
    data.pop("participantAlt")
    assert one("message", data).sender_phone == ""


@pytest.mark.parametrize(
    "jid", ["status@broadcast", "1234567@broadcast", "120363000000000000@newsletter"]
)
def test_status_updates_broadcasts_and_channels_are_ignored(jid: str) -> None:
    assert parse("message", _text_message(**{"from": jid})) == []


def test_our_own_messages_go_out_to_the_chat() -> None:
    # whatsapp-web.js: ``from`` is us, ``to`` the chat.
    data = _text_message(
        **{"from": "5511988887777@c.us", "to": "5511999990001@c.us", "fromMe": True}
    )
    event = one("message", data)
    assert event.direction is Direction.OUT
    assert event.chat_key == "5511999990001"
    assert event.sender_name == "" and event.sender_phone == ""
    # Baileys: ``remoteJid`` (passed as ``from``) is always the chat.
    data = _text_message(fromMe=True)
    event = one("message", data)
    assert (event.direction, event.chat_key) == (Direction.OUT, "5511999990001")


def test_aliases_a_gateway_may_use() -> None:
    data = {k: v for k, v in _text_message().items() if k != "message"}
    assert one("message", {**data, "text": "oi"}).text == "oi"
    assert one("message", {**data, "body": "oi"}).text == "oi"
    assert one("message", _text_message(fromMe="true")).direction is Direction.OUT
    assert one("message", _text_message(fromMe=False)).direction is Direction.IN
    assert one("message", _text_message(fromMe="false")).direction is Direction.IN
    assert one("qrcode", {"qrcode": "2@A"}) == QrEvent(3, qr_code="2@A")


def test_a_message_without_text_is_kept_as_a_placeholder() -> None:
    event = one("message", _text_message(message=""))
    assert event.type is MessageType.UNKNOWN
    assert event.media == {"provider_type": "unknown"}
    event = one("message", _text_message(message="", type="poll_creation"))
    assert (event.type, event.media) == (MessageType.UNKNOWN, {"provider_type": "poll_creation"})
    event = one("message", {k: v for k, v in _text_message().items() if k != "message"})
    assert event.type is MessageType.UNKNOWN


def test_a_whatsapp_web_js_type_with_the_body_as_caption() -> None:
    event = one("message", _text_message(message="o bolo", type="image", mimetype="image/jpeg"))
    assert (event.type, event.caption, event.text) == (MessageType.IMAGE, "o bolo", "")
    assert event.media == {"provider_type": "image", "mime_type": "image/jpeg"}
    assert one("message", _text_message(type="chat")).type is MessageType.TEXT
    # A ``type`` that is no content type (Baileys' upsert "notify") leaves the text a text.
    assert one("message", _text_message(type="notify")).text.startswith("Olá")


def _baileys(content: dict[str, Any]) -> Any:
    return one("message", _text_message(message=content))


def test_baileys_content_objects() -> None:
    assert _baileys({"conversation": "oi"}).text == "oi"
    quoted = _baileys(
        {"extendedTextMessage": {"text": "sim", "contextInfo": {"stanzaId": "3EB0PREV"}}}
    )
    assert (quoted.type, quoted.text, quoted.reply_to) == (MessageType.TEXT, "sim", "3EB0PREV")
    image = _baileys({"imageMessage": {"caption": "foto", "mimetype": "image/jpeg"}})
    assert (image.type, image.caption) == (MessageType.IMAGE, "foto")
    assert image.media == {"provider_type": "imageMessage", "mime_type": "image/jpeg"}
    voice = _baileys({"audioMessage": {"ptt": True, "seconds": 7, "mimetype": "audio/ogg"}})
    assert voice.type is MessageType.AUDIO and voice.media["voice"] is True
    assert voice.media["seconds"] == 7
    doc = _baileys(
        {
            "documentWithCaptionMessage": {
                "message": {
                    "documentMessage": {
                        "fileName": "nota.pdf",
                        "caption": "a nota",
                        "mimetype": "application/pdf",
                    }
                }
            }
        }
    )
    assert (doc.type, doc.caption, doc.media["filename"]) == (
        MessageType.DOCUMENT,
        "a nota",
        "nota.pdf",
    )
    wrapped = _baileys(
        {
            "ephemeralMessage": {
                "message": {
                    "viewOnceMessageV2": {"message": {"videoMessage": {"caption": "uma vez"}}}
                }
            }
        }
    )
    assert (wrapped.type, wrapped.caption) == (MessageType.VIDEO, "uma vez")
    assert _baileys({"stickerMessage": {}}).type is MessageType.STICKER
    place = _baileys(
        {
            "locationMessage": {
                "degreesLatitude": -23.55,
                "degreesLongitude": -46.63,
                "name": "Loja",
                "address": "Rua A, 1",
            }
        }
    )
    assert place.type is MessageType.LOCATION
    assert place.location == {
        "latitude": -23.55,
        "longitude": -46.63,
        "name": "Loja",
        "address": "Rua A, 1",
    }
    card = _baileys({"contactMessage": {"displayName": "Bia", "vcard": "BEGIN:VCARD\nEND:VCARD"}})
    assert card.type is MessageType.CONTACTS
    # Read by sync.providers.baileys, as Evolution's are: the vCard's WhatsApp ids come along.
    assert card.contacts == [{"name": "Bia", "vcard": "BEGIN:VCARD\nEND:VCARD", "phones": []}]
    button = _baileys(
        {"buttonsResponseMessage": {"selectedButtonId": "sim", "selectedDisplayText": "Sim"}}
    )
    assert (button.type, button.text) == (MessageType.INTERACTIVE, "Sim")
    assert button.interactive == {"type": "button_reply", "id": "sim", "title": "Sim"}
    listed = _baileys(
        {"listResponseMessage": {"title": "Bolo", "singleSelectReply": {"selectedRowId": "b1"}}}
    )
    assert listed.interactive["id"] == "b1"
    poll = _baileys({"pollCreationMessageV3": {"name": "?"}, "messageContextInfo": {}})
    assert (poll.type, poll.media) == (
        MessageType.UNKNOWN,
        {"provider_type": "pollCreationMessageV3"},
    )
    # senderKeyDistributionMessage rides along group messages: not the content.
    both = _baileys({"senderKeyDistributionMessage": {"groupId": "x"}, "conversation": "oi"})
    assert both.text == "oi"


def test_reactions_revokes_and_edits_are_not_bubbles() -> None:
    reaction = one(
        "message",
        _text_message(message={"reactionMessage": {"key": {"id": "3EB0ORIG"}, "text": "❤️"}}),
    )
    assert isinstance(reaction, ReactionEvent)
    assert (reaction.target_message_id, reaction.emoji, reaction.chat_key) == (
        "3EB0ORIG",
        "❤️",
        "5511999990001",
    )
    removed = one(
        "message",
        _text_message(message={"reactionMessage": {"key": {"id": "3EB0ORIG"}, "text": ""}}),
    )
    assert removed.emoji == ""
    revoke = one(
        "message",
        _text_message(message={"protocolMessage": {"key": {"id": "3EB0ORIG"}, "type": 0}}),
    )
    assert isinstance(revoke, RevokeEvent) and revoke.target_message_id == "3EB0ORIG"
    assert isinstance(
        one(
            "message",
            _text_message(
                message={"protocolMessage": {"key": {"id": "3EB0ORIG"}, "type": "REVOKE"}}
            ),
        ),
        RevokeEvent,
    )
    edit = one(
        "message",
        _text_message(
            message={
                "protocolMessage": {
                    "key": {"id": "3EB0ORIG"},
                    "type": 14,
                    "editedMessage": {"conversation": "corrigido"},
                }
            }
        ),
    )
    assert isinstance(edit, EditEvent)
    assert (edit.target_message_id, edit.text) == ("3EB0ORIG", "corrigido")
    # Other protocol messages (key shares, history sync notices) carry nothing to show.
    assert parse("message", _text_message(message={"protocolMessage": {"type": 5}})) == []


def test_a_whole_baileys_wa_message() -> None:
    wa = {
        "key": {
            "remoteJid": "123456789@lid",
            "remoteJidAlt": "5511999990001@s.whatsapp.net",
            "fromMe": False,
            "id": "3EB0FULL",
        },
        "message": {"conversation": "mensagem completa"},
        "messageTimestamp": {"low": TS_S, "high": 0, "unsigned": True},  # a protobuf Long
        "pushName": "Ana",
    }
    event = one("message", {"message": wa}, timestamp=None)
    assert (event.provider_message_id, event.text, event.chat_key, event.chat_jid) == (
        "3EB0FULL",
        "mensagem completa",
        "5511999990001",
        "123456789@lid",
    )
    assert (event.timestamp, event.sender_name) == (TS_S, "Ana")
    # The same fields at the top of ``data``.
    event = one("message", wa)
    assert event.provider_message_id == "3EB0FULL"


def test_a_whatsapp_web_js_message_object() -> None:
    data = {
        "id": {
            "fromMe": False,
            "remote": "5511999990001@c.us",
            "id": "3EB0WWEB",
            "_serialized": "false_5511999990001@c.us_3EB0WWEB",
        },
        "from": "5511999990001@c.us",
        "body": "pelo whatsapp-web.js",
        "type": "chat",
        "timestamp": TS_S,
        "notifyName": "Ana",
    }
    event = one("message", data)
    assert (event.provider_message_id, event.text, event.timestamp, event.sender_name) == (
        "3EB0WWEB",
        "pelo whatsapp-web.js",
        TS_S,
        "Ana",
    )


@pytest.mark.parametrize(
    ("envelope_ts", "data_ts", "expected"),
    [
        (TS_MS, None, TS_MS / 1000),  # Date.now(): milliseconds
        (TS_S, None, TS_S),  # seconds
        (str(TS_MS), None, TS_MS / 1000),
        ("2024-11-23T14:05:09.120Z", None, TS_MS / 1000),  # new Date().toISOString()
        ("2024-11-23T14:05:09", None, TS_S),  # no zone: UTC
        (TS_MS * 1000, None, TS_MS / 1000),  # microseconds
        (TS_MS, TS_S - 60, TS_S - 60),  # the message's own time wins
        (TS_MS, {"low": TS_S - 5, "high": 0}, TS_S - 5),
    ],
)
def test_timestamps_in_seconds_milliseconds_or_iso(
    envelope_ts: Any, data_ts: Any, expected: float
) -> None:
    data = _text_message()
    if data_ts is not None:
        data["messageTimestamp"] = data_ts
    assert one("message", data, timestamp=envelope_ts).timestamp == pytest.approx(expected)


@pytest.mark.parametrize(
    "bad", [None, "ontem", -5, 0, True, [], {"x": 1}, 1e300, "0001-01-01T00:00:00", "1e400"]
)
def test_without_a_usable_timestamp_the_arrival_time_is_used(bad: Any) -> None:
    before = time.time()
    event = one("message", _text_message(), timestamp=bad)
    assert before - 1 <= event.timestamp <= time.time() + 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"message": "oi", "messageId": "X"}, "needs 'from'"),
        ({"from": "nao é um jid", "message": "oi", "messageId": "X"}, "not a WhatsApp chat id"),
        ({"from": "abc@s.whatsapp.net", "message": "oi", "messageId": "X"}, "not a WhatsApp"),
        ({"from": "5511999990001@c.us", "message": "oi"}, "messageId"),
        ({"from": "5511999990001@c.us", "message": "oi", "messageId": "x" * 600}, "messageId"),
        ({"from": "5511999990001@c.us", "message": 42, "messageId": "X"}, "string or an object"),
        ("texto", "'data' object"),
        (None, "'data' object"),
    ],
)
def test_a_message_that_cannot_be_stored_once_is_a_payload_error(data: Any, reason: str) -> None:
    with pytest.raises(WebhookPayloadError, match=reason) as raised:
        parse("message", data)
    assert raised.value.status_code == 400 and raised.value.exit_code == 3


def test_a_call_is_one_event_so_a_broken_one_is_refused_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Unlike Meta's entries and Evolution's lists, the gateway's format has no batch: one call,
    # one ``data`` object. A broken one is the whole call (400, as before): a list is not the
    # gateway's shape, and neither is a good message next to a broken one in it.
    with pytest.raises(WebhookPayloadError, match="'data' object"):
        parse("message", [_text_message(), {"messageId": "X"}])
    # A parser bug on that one object refuses the call too (never a 5xx, never half stored).
    from sync.providers.gateway import webhook as gateway

    def buggy(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("a customer's text")

    monkeypatch.setattr(gateway, "_content_of", buggy)
    with pytest.raises(WebhookPayloadError, match="unreadable gateway payload"):
        parse("message", _text_message())


# --- lifecycle events ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"qr": "2@ABC,DEF,GHI,JKL"},
        {"qrcode": "2@ABC,DEF,GHI,JKL"},
        {"qrCode": "2@ABC,DEF,GHI,JKL", "base64": "data:image/png;base64,iVBOR"},
        "2@ABC,DEF,GHI,JKL",
        {"data": {"qr": "2@ABC,DEF,GHI,JKL"}},
    ],
)
def test_qr_events(data: Any) -> None:
    event = one("qr", data)
    assert event == QrEvent(3, qr_code="2@ABC,DEF,GHI,JKL")
    assert to_json(event, "Loja") == {
        "kind": "qr",
        "account": "Loja",
        "qr_code": "2@ABC,DEF,GHI,JKL",
        "pairing_code": "",
    }


def test_a_qr_given_only_as_an_image_is_passed_on() -> None:
    event = one("qr", {"qrcode": "data:image/png;base64,iVBORw0KGgo="})
    assert event.qr_code == "data:image/png;base64,iVBORw0KGgo="


def test_pairing_codes() -> None:
    assert one("qr", {"qr": "2@A", "pairingCode": "WZYX1234"}).pairing_code == "WZYX1234"
    assert one("code", "WZYX1234") == QrEvent(3, pairing_code="WZYX1234")
    assert one("code", {"code": "WZYX1234"}).pairing_code == "WZYX1234"


@pytest.mark.parametrize("data", [{}, None, {"qr": ""}, {"qr": 5}])
def test_a_qr_event_without_a_qr_is_a_payload_error(data: Any) -> None:
    with pytest.raises(WebhookPayloadError):
        parse("qr", data)


def test_authenticated_is_connecting_and_copies_nothing_from_its_payload() -> None:
    event = one("authenticated", {"session": {"WABrowserId": "secret-session"}})
    assert event == ConnectionEvent(3, ConnectionState.CONNECTING, reason="authenticated")
    assert "secret" not in json.dumps(to_json(event, "Loja"))


@pytest.mark.parametrize(
    ("data", "phone"),
    [
        (
            {
                "wid": {
                    "server": "c.us",
                    "user": "5511988887777",
                    "_serialized": "5511988887777@c.us",
                }
            },
            "5511988887777",
        ),
        ({"wid": "5511988887777@c.us"}, "5511988887777"),
        ({"wid": "5511988887777:4@s.whatsapp.net"}, "5511988887777"),
        ({"wid": {"_serialized": "5511988887777@c.us"}}, "5511988887777"),
        ({"me": {"id": "5511988887777:9@s.whatsapp.net", "name": "Loja"}}, "5511988887777"),
        ({"user": {"id": "5511988887777:9@s.whatsapp.net", "lid": "999@lid"}}, "5511988887777"),
        ({"info": {"wid": {"user": "5511988887777", "server": "c.us"}}}, "5511988887777"),
        ({"phone": "5511988887777"}, "5511988887777"),
        ({"server": "c.us", "user": "5511988887777"}, "5511988887777"),  # the WID itself
        ({"wid": {"server": "lid", "user": "123456789012345"}}, ""),  # never from LID digits
        ({"wid": "123456789012345@lid"}, ""),
        ({"server": "lid", "user": "123456789012345"}, ""),
        ({"user": "123456789012345"}, ""),  # bare digits under ``user``: could be a LID
        ({}, ""),
        (None, ""),
    ],
)
def test_ready_takes_the_phone_from_wid(data: Any, phone: str) -> None:
    event = one("ready", data)
    assert event == ConnectionEvent(3, ConnectionState.CONNECTED, phone=phone)


def test_auth_failure_needs_a_repair_and_says_why() -> None:
    event = one("auth_failure", "Unable to restore session")
    assert (event.state, event.needs_repair) == (ConnectionState.NEEDS_REPAIR, True)
    assert event.reason == "authentication failed: Unable to restore session"
    assert one("auth_failure", {"message": "bad"}).reason == "authentication failed: bad"
    assert one("auth_failure", None).reason == "authentication failed"


@pytest.mark.parametrize(
    ("data", "state", "repair", "reason"),
    [
        # whatsapp-web.js (Client.js): 'LOGOUT' and the WAState that ended the session.
        ({"reason": "LOGOUT"}, ConnectionState.NEEDS_REPAIR, True, "LOGOUT"),
        ("LOGOUT", ConnectionState.NEEDS_REPAIR, True, "LOGOUT"),
        ({"reason": "UNPAIRED"}, ConnectionState.NEEDS_REPAIR, True, "unlinked"),
        ({"reason": "UNPAIRED_IDLE"}, ConnectionState.NEEDS_REPAIR, True, "unlinked"),
        ({"reason": "TOS_BLOCK"}, ConnectionState.BLOCKED, True, "banned"),
        ({"reason": "SMB_TOS_BLOCK"}, ConnectionState.BLOCKED, True, "banned"),
        ({"reason": "Max qrcode retries reached"}, ConnectionState.NEEDS_REPAIR, True, "never"),
        ({"reason": "DEPRECATED_VERSION"}, ConnectionState.NEEDS_REPAIR, True, "too old"),
        ({"reason": "CONFLICT"}, ConnectionState.OFFLINE, False, "CONFLICT"),
        ({"reason": "NAVIGATION"}, ConnectionState.OFFLINE, False, "NAVIGATION"),
        ({"reason": "TIMEOUT"}, ConnectionState.OFFLINE, False, "TIMEOUT"),
        # Baileys (Types/index.ts DisconnectReason), as a code or with its message.
        ({"reason": 401}, ConnectionState.NEEDS_REPAIR, True, "logged out"),
        (
            {"statusCode": 401, "reason": "Connection Failure"},
            ConnectionState.NEEDS_REPAIR,
            True,
            "Connection Failure (401)",
        ),
        ({"reason": "loggedOut"}, ConnectionState.NEEDS_REPAIR, True, "logged out"),
        ({"reason": "Intentional Logout"}, ConnectionState.NEEDS_REPAIR, True, "logged out"),
        ({"reason": 403}, ConnectionState.BLOCKED, True, "banned"),
        ({"reason": {"output": {"statusCode": 403}}}, ConnectionState.BLOCKED, True, "403"),
        ({"reason": 402}, ConnectionState.NEEDS_REPAIR, True, "402"),
        ({"reason": 406}, ConnectionState.NEEDS_REPAIR, True, "406"),
        ({"reason": 428}, ConnectionState.OFFLINE, False, "connection closed"),
        ({"reason": "428"}, ConnectionState.OFFLINE, False, "connection closed"),
        ({"reason": 408}, ConnectionState.OFFLINE, False, "connection lost"),
        ({"reason": 440}, ConnectionState.OFFLINE, False, "replaced"),
        ({"reason": 500}, ConnectionState.NEEDS_REPAIR, True, "bad session"),
        ({"reason": 503}, ConnectionState.OFFLINE, False, "unavailable"),
        ({"reason": 515}, ConnectionState.OFFLINE, False, "restart required"),
        (
            {"statusCode": 515, "reason": "Stream Errored (restart required)"},
            ConnectionState.OFFLINE,
            False,
            "Stream Errored (restart required) (515)",
        ),
        ({}, ConnectionState.OFFLINE, False, "disconnected"),
        (None, ConnectionState.OFFLINE, False, "disconnected"),
    ],
)
def test_disconnected_by_reason(
    data: Any, state: ConnectionState, repair: bool, reason: str
) -> None:
    event = one("disconnected", data)
    assert isinstance(event, ConnectionEvent)
    assert (event.state, event.needs_repair) == (state, repair)
    assert reason in event.reason


def test_heartbeats_are_signs_of_life() -> None:
    event = one("heartbeat", {"uptime": 123})
    assert event == ConnectionEvent(3, ConnectionState.CONNECTED, reason=HEARTBEAT_REASON)
    assert to_json(event, "Loja") == {
        "kind": "connection",
        "account": "Loja",
        "state": "connected",
        "needs_repair": False,
        "phone": "",
        "reason": "heartbeat",
    }
    assert one("heartbeat", None).reason == HEARTBEAT_REASON
    assert one("heartbeat", {"status": "connected", "phone": "5511988887777"}).phone == (
        "5511988887777"
    )
    # A heartbeat that says the socket is down is no sign of an open socket.
    down = one("heartbeat", {"status": "disconnected"})
    assert (down.state, down.reason) == (ConnectionState.OFFLINE, "heartbeat: offline")
    assert one("heartbeat", {"connected": False}).state is ConnectionState.OFFLINE


@pytest.mark.parametrize(
    "event", ["change_state", "loading_screen", "call", "message_ack", "group_join", "whatever"]
)
def test_events_caixa_does_not_follow_are_accepted_and_ignored(event: str) -> None:
    assert parse(event, {"anything": [1, 2, 3]}) == []


def test_event_names_are_read_without_regard_to_case() -> None:
    assert one("READY", {"wid": "5511988887777@c.us"}).phone == "5511988887777"


# --- hostile bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00garbage",
        b"[]",
        b"null",
        b"42",
        b'"heartbeat"',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"event": "heartbeat", "instanceId": "loja-centro", "timestamp": NaN}',
        b'{"event": "heartbeat", "instanceId": "loja-centro", "timestamp": Infinity}',
        b'{"event": "heartbeat", "instanceId": "loja-centro", "timestamp": 1' + b"0" * 5000 + b"}",
        b'{"event": 5, "instanceId": "loja-centro"}',
        b'{"event": "", "instanceId": "loja-centro"}',
        b'{"instanceId": "loja-centro", "data": {}}',
        b'{"event": "heartbeat", "instanceId": 5}',
        b'{"event": "heartbeat"}',
        b'{"event": "message", "instanceId": "loja-centro", "data": '
        + b'{"from": "5511999990001@c.us", "messageId": "x", "message": '
        + b'{"a": ' * 5000
        + b"1"
        + b"}" * 5000
        + b"}}",
    ],
)
def test_hostile_bodies_are_refused_with_a_payload_error(raw: bytes) -> None:
    try:
        parse_webhook(request(None, raw=raw), ACCOUNTS)
    except WebhookPayloadError as exc:
        assert exc.status_code == 400
    except WebhookAuthError as exc:
        assert exc.status_code == 403
    else:
        pytest.fail("accepted")


def test_lone_surrogates_and_nul_come_as_sent_and_are_cleaned_for_the_stores() -> None:
    # Cleaned on the way into the stores (clean_event, applied by both ingests, the same for
    # every provider), not by the parser: it passes the text on as it came.
    raw = json.dumps(
        envelope("message", _text_message(message="a\ud800b\x00c", pushName="\udfff"))
    ).encode()
    event = parse_webhook(request(None, raw=raw), ACCOUNTS).events[0]
    assert (event.text, event.sender_name) == ("a\ud800b\x00c", "\udfff")
    cleaned = clean_event(event)
    assert (cleaned.text, cleaned.sender_name) == ("a\ufffdbc", "\ufffd")
    json.dumps(to_json(cleaned, "Loja"), ensure_ascii=False).encode("utf-8")


_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "5511999990001@c.us",
            "123@lid",
            "1203@g.us",
            "status@broadcast",
            "LOGOUT",
            "2@qr",
            "REVOKE",
        ]
    )
)
_json = st.recursive(
    _json_leaf,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "from",
                    "to",
                    "message",
                    "messageId",
                    "pushName",
                    "fromMe",
                    "id",
                    "key",
                    "remoteJid",
                    "conversation",
                    "extendedTextMessage",
                    "imageMessage",
                    "text",
                    "caption",
                    "reactionMessage",
                    "protocolMessage",
                    "type",
                    "editedMessage",
                    "wid",
                    "user",
                    "server",
                    "_serialized",
                    "reason",
                    "statusCode",
                    "qr",
                    "status",
                    "timestamp",
                    "messageTimestamp",
                    "low",
                    "high",
                    "author",
                    "ephemeralMessage",
                    "locationMessage",
                    "degreesLatitude",
                    "contactsArrayMessage",
                    "contacts",
                    "remoteJidAlt",
                    "participant",
                ]
            )
            | st.text(max_size=10),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)
_EVENTS = st.sampled_from(
    [
        "message",
        "message_create",
        "qr",
        "code",
        "authenticated",
        "ready",
        "auth_failure",
        "disconnected",
        "heartbeat",
        "change_state",
    ]
) | st.text(max_size=12)


_JIDS = st.sampled_from(
    [
        "5511999990001@c.us",
        "5511999990001:3@s.whatsapp.net",
        "123456789@lid",
        "120363043211234567@g.us",
        "status@broadcast",
        "5511999990001",
    ]
) | st.text(max_size=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=_EVENTS, data=_json, timestamp=_json)
def test_generated_bodies_never_break_the_parser(event: str, data: Any, timestamp: Any) -> None:
    body = {"event": event, "instanceId": INSTANCE, "data": data, "timestamp": timestamp}
    _check_contract(request(None, raw=json.dumps(body).encode()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sender=_JIDS,
    message=_json,
    message_id=st.text(max_size=20),
    extra=st.dictionaries(
        st.sampled_from(
            ["fromMe", "to", "author", "type", "key", "id", "timestamp", "remoteJidAlt"]
        ),
        _json,
        max_size=3,
    ),
)
def test_generated_messages_never_break_the_parser(
    sender: str, message: Any, message_id: str, extra: dict[str, Any]
) -> None:
    data = {"from": sender, "message": message, "messageId": message_id, "pushName": "x", **extra}
    body = {"event": "message", "instanceId": INSTANCE, "data": data, "timestamp": TS_MS}
    _check_contract(request(None, raw=json.dumps(body).encode()))


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_random_bytes_never_break_the_parser(raw: bytes) -> None:
    _check_contract(request(None, raw=raw))


def _check_contract(req: WebhookRequest) -> None:
    try:
        result = parse_webhook(req, ACCOUNTS)
    except WebhookRejected as exc:
        assert 400 <= exc.status_code < 500
        # The catch-all in parse_webhook turns a bug into this: none may happen.
        assert exc.reason != "unreadable gateway payload"
        return
    assert isinstance(result, WebhookResult)
    for event in result.events:
        assert event.account_id == ACCOUNT.account_id
        json.dumps(to_json(event, "Loja"), ensure_ascii=False).encode("utf-8")


# --- what the gateway really sends: never refused -------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, data=st.data())
def test_an_authentic_well_formed_text_gives_its_text(text: str, data: st.DataObject) -> None:
    # Any text, in any JSON spelling, with the instance's token: stored as sent.
    raw = data.draw(json_bytes(envelope("message", _text_message(message=text))))

    (event,) = parse_webhook(request(None, raw=raw), ACCOUNTS).events

    assert isinstance(event, MessageEvent)
    assert (event.provider_message_id, event.text) == ("3EB0C431C26A1D5A8E4F", text)
