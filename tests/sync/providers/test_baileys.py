"""``sync.providers.baileys``: Baileys' message content, read once for Evolution and the gateway.

Both carry Baileys' ``WAMessage``; the same content must make the same bubble whichever of the
two delivered it, so the last test runs one table of contents through both parsers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sync.domain.events import EditEvent, MessageEvent, ReactionEvent, RevokeEvent
from sync.domain.models import MessageType
from sync.providers import baileys
from sync.providers.accounts import Secret
from sync.providers.base import WebhookRequest
from sync.providers.evolution import parse_webhook as parse_evolution
from sync.providers.gateway import GatewayAccount
from sync.providers.gateway import parse_webhook as parse_gateway
from tests.sync.providers.evolution.harness import body, evolution_account, message_record, request

IMAGE = {"imageMessage": {"caption": "foto", "mimetype": "image/jpeg", "fileLength": "2048"}}
CONTENTS: list[dict[str, Any]] = [
    {"conversation": "oi"},
    {"extendedTextMessage": {"text": "sim", "contextInfo": {"stanzaId": "3EB0PREV"}}},
    IMAGE,
    {"ephemeralMessage": {"message": {"viewOnceMessageV2": {"message": IMAGE}}}},
    {"audioMessage": {"ptt": True, "seconds": 7, "mimetype": "audio/ogg; codecs=opus"}},
    {"documentWithCaptionMessage": {"message": {"documentMessage": {"fileName": "nota.pdf"}}}},
    {"locationMessage": {"degreesLatitude": -23.55, "degreesLongitude": -46.63, "name": "Loja"}},
    {"contactMessage": {"displayName": "Bia", "vcard": "TEL;waid=5511977776666:+55"}},
    {"buttonsResponseMessage": {"selectedButtonId": "sim", "selectedDisplayText": "Sim"}},
    {"listResponseMessage": {"title": "Bolo", "singleSelectReply": {"selectedRowId": "b1"}}},
    {"pollCreationMessageV3": {"name": "Qual sabor?"}, "messageContextInfo": {}},
    {"senderKeyDistributionMessage": {}, "conversation": "no grupo"},
    {"someFutureMessage": {"x": 1}},
]


def test_the_bubble_of_each_kind_of_content() -> None:
    def bubble(message: dict[str, Any]) -> baileys.Content:
        content = baileys.unwrap(message)
        return baileys.parse_content(baileys.content_type(content), content)

    assert bubble({"conversation": "oi"}) == baileys.Content(MessageType.TEXT, text="oi")
    image = bubble(CONTENTS[3])  # two wrappers deep
    assert (image.type, image.caption) == (MessageType.IMAGE, "foto")
    assert image.media == {"provider_type": "imageMessage", "mime_type": "image/jpeg", "size": 2048}
    voice = bubble(CONTENTS[4])
    assert voice.media is not None and (voice.media["voice"], voice.media["seconds"]) == (True, 7)
    card = bubble(CONTENTS[7])
    assert card.contacts == [
        {"name": "Bia", "vcard": "TEL;waid=5511977776666:+55", "phones": ["5511977776666"]}
    ]
    poll = bubble(CONTENTS[10])
    assert (poll.type, poll.text, poll.media) == (
        MessageType.UNKNOWN,
        "Qual sabor?",
        {"provider_type": "pollCreationMessageV3"},
    )
    assert bubble(CONTENTS[11]).text == "no grupo"  # key distribution rides along: not content
    assert baileys.only_silent({"senderKeyDistributionMessage": {}, "messageContextInfo": {}})
    assert baileys.reply_to_of(CONTENTS[1]) == "3EB0PREV"


def test_reactions_edits_and_deletes_are_not_bubbles() -> None:
    assert baileys.reaction_of({"reactionMessage": {"key": {"id": "3A1"}, "text": "👍"}}) == (
        "3A1",
        "👍",
    )
    assert baileys.reaction_of({"reactionMessage": {"text": "👍"}}) is None  # names nothing
    edit = {
        "editedMessage": {
            "message": {
                "protocolMessage": {
                    "type": "MESSAGE_EDIT",
                    "key": {"id": "3A1"},
                    "editedMessage": {"conversation": "corrigido"},
                }
            }
        }
    }
    protocol = baileys.protocol_of(edit)
    assert protocol is not None and baileys.protocol_action(protocol) == (
        "edit",
        "3A1",
        "corrigido",
    )
    assert baileys.protocol_action({"type": 0, "key": {"id": "3A1"}}) == ("revoke", "3A1", "")
    assert baileys.protocol_action({"type": 3}) is None  # a history sync notice
    assert baileys.message_timestamp({"low": 1_717_171_717, "high": 0}) == 1_717_171_717
    assert baileys.message_timestamp(1_717_171_717_000) == 1_717_171_717  # milliseconds


GATEWAY = GatewayAccount(
    account_id=7,
    name="Loja",
    instance="loja",
    base_url="https://gw.example",
    master_token=Secret(""),
    instance_token=Secret("token-for-tests"),
)


def _through_evolution(message: dict[str, Any]) -> Any:
    record = message_record(message)
    events = parse_evolution(request(body("messages.upsert", record)), [evolution_account("")])
    return events.events


def _through_gateway(message: dict[str, Any]) -> Any:
    data = {
        "key": {"remoteJid": "5511977776666@s.whatsapp.net", "fromMe": False, "id": "3A5F"},
        "message": message,
        "messageTimestamp": 1_717_171_717,
        "pushName": "Ana Souza",
    }
    envelope = {"event": "message", "instanceId": "loja", "data": data}
    call = WebhookRequest(
        method="POST",
        headers={"authorization": "Bearer token-for-tests"},
        body=json.dumps(envelope).encode(),
        instance="loja",
    )
    return parse_gateway(call, [GATEWAY]).events


@pytest.mark.parametrize("message", CONTENTS, ids=lambda m: next(iter(m)))
def test_evolution_and_the_gateway_make_the_same_bubble_of_the_same_content(
    message: dict[str, Any],
) -> None:
    (evolution,) = _through_evolution(message)
    (gateway,) = _through_gateway(message)
    assert isinstance(evolution, MessageEvent) and isinstance(gateway, MessageEvent)
    fields = ("type", "text", "caption", "media", "location", "contacts", "interactive", "reply_to")
    assert {f: getattr(gateway, f) for f in fields} == {f: getattr(evolution, f) for f in fields}


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ({"reactionMessage": {"key": {"id": "3A1"}, "text": "👍"}}, ReactionEvent),
        ({"protocolMessage": {"type": 0, "key": {"id": "3A1"}}}, RevokeEvent),
        (
            {
                "protocolMessage": {
                    "type": 14,
                    "key": {"id": "3A1"},
                    "editedMessage": {"conversation": "novo"},
                }
            },
            EditEvent,
        ),
    ],
)
def test_both_read_reactions_edits_and_deletes_alike(message: dict[str, Any], kind: type) -> None:
    (evolution,) = _through_evolution(message)
    (gateway,) = _through_gateway(message)
    assert type(evolution) is type(gateway) is kind
    assert evolution.target_message_id == gateway.target_message_id == "3A1"
