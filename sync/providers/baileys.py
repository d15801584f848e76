"""Baileys' message content (``WAProto.proto`` ``Message``), as Caixa's message fields.

Evolution's webhooks and the gateway's ``message`` events both carry Baileys' ``WAMessage``:
its ``message`` is a ``proto.IMessage`` with one content field (``conversation``,
``extendedTextMessage``, ``imageMessage``...), maybe inside the wrappers Baileys'
``normalizeMessageContent`` removes (ephemeral, view-once, document-with-caption...). This module
reads it once for both: the bubble's ``type``, ``text``, ``caption``, ``media``, ``location``,
``contacts``, ``interactive`` and the message it quotes, or the reaction, edit or delete-for-
everyone it carries instead. Sources: ``WhiskeySockets/Baileys`` ``WAProto/WAProto.proto``,
``src/Utils/messages.ts`` (``normalizeMessageContent``, ``getContentType``) and
``src/Utils/process-message.ts``.
https://github.com/WhiskeySockets/Baileys/blob/master/src/Utils/messages.ts
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sync.domain.models import MessageType
from sync.providers.json_fields import dict_of, long_of, num_of, str_of
from sync.providers.whatsapp_ids import message_id_of

# Baileys src/Utils/messages.ts, normalizeMessageContent: FutureProofMessage wrappers whose
# ``message`` holds the real content. ``editedMessage`` is handled apart (it carries an edit).
WRAPPERS: Final = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "associatedChildMessage",
    "groupMentionedMessage",
    "botInvokeMessage",
    "lottieStickerMessage",
    "groupStatusMessage",
    "groupStatusMessageV2",
)
# Content that acts on another message, never a bubble of its own.
SILENT: Final = frozenset(
    {
        "pollUpdateMessage",
        "encReactionMessage",
        "keepInChatMessage",
        "pinInChatMessage",
        "senderKeyDistributionMessage",
        "fastRatchetKeySenderKeyDistributionMessage",
        "messageContextInfo",
        "encEventResponseMessage",
        "encCommentMessage",
    }
)
MEDIA_TYPES: Final[dict[str, MessageType]] = {
    "imageMessage": MessageType.IMAGE,
    "videoMessage": MessageType.VIDEO,
    "ptvMessage": MessageType.VIDEO,
    "audioMessage": MessageType.AUDIO,
    "documentMessage": MessageType.DOCUMENT,
    "stickerMessage": MessageType.STICKER,
}
POLLS: Final = (
    "pollCreationMessage",
    "pollCreationMessageV2",
    "pollCreationMessageV3",
    "pollCreationMessageV5",
)
# protocolMessage.type (WAProto.proto, Message.ProtocolMessage.Type). Protobuf JSON names the
# enum (toJSON, as in messages.edited) or numbers it (a plain copy, as in messages.upsert).
REVOKE: Final = frozenset({0, "REVOKE"})
EDIT: Final = frozenset({14, "MESSAGE_EDIT"})


def _inner(content: Mapping[str, Any], wrapper: str) -> dict[str, Any] | None:
    """The ``message`` inside a FutureProofMessage wrapper, when there is one."""
    part = dict_of(content.get(wrapper))
    return dict_of(part.get("message")) if part is not None else None


def unwrap(content: Mapping[str, Any]) -> dict[str, Any]:
    """The content inside ``normalizeMessageContent``'s wrappers (the message itself if none)."""
    content = dict(content)
    for _ in range(8):  # bounded: a hostile body can nest wrappers forever
        for wrapper in WRAPPERS:
            inner = _inner(content, wrapper)
            if inner is not None:
                content = inner
                break
        else:
            return content
    return content


def protocol_of(content: Mapping[str, Any]) -> dict[str, Any] | None:
    """A ProtocolMessage (edit, revoke, ...), bare or inside Baileys' ``editedMessage``."""
    protocol = dict_of(content.get("protocolMessage"))
    if protocol is None:
        edited = _inner(content, "editedMessage")
        protocol = dict_of(edited.get("protocolMessage")) if edited is not None else None
    return protocol


def content_type(content: Mapping[str, Any]) -> str:
    """The content field that makes the bubble ("" when none), as Baileys' ``getContentType``:
    the first key that is ``conversation`` or names a ``...Message``, control parts aside."""
    for name, value in content.items():
        if name in SILENT or value is None:
            continue
        if name == "conversation" or "Message" in name:
            return name
    return ""


def text_of(content: Mapping[str, Any]) -> str:
    """The text of a text message or the caption of a media message (an edit's new text)."""
    content = unwrap(content)
    if isinstance(content.get("conversation"), str):
        return str_of(content["conversation"])
    extended = dict_of(content.get("extendedTextMessage"))
    if extended is not None:
        return str_of(extended.get("text"))
    for name in MEDIA_TYPES:
        media = dict_of(content.get(name))
        if media is not None:
            return str_of(media.get("caption"))
    return ""


def context_of(message: Mapping[str, Any]) -> dict[str, Any]:
    """The ``contextInfo`` of a message's content (what it quotes, mentions...), or {}."""
    for value in message.values():
        part = dict_of(value)
        context = dict_of(part.get("contextInfo")) if part is not None else None
        if context:
            return context
    return {}


def reply_to_of(message: Mapping[str, Any]) -> str:
    """The id of the message this one quotes ("" when none): ``contextInfo.stanzaId``."""
    return message_id_of(context_of(message).get("stanzaId"))


def reaction_of(message: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(target id, emoji)`` of a ``reactionMessage`` (an empty emoji removes a reaction);
    None when the content is not one, or names no message."""
    reaction = dict_of(message.get("reactionMessage"))
    if reaction is None:
        return None
    target = message_id_of((dict_of(reaction.get("key")) or {}).get("id"))
    return (target, str_of(reaction.get("text"))[:64]) if target else None


def protocol_action(protocol: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``("revoke", target id, "")`` or ``("edit", target id, new text)`` of a ProtocolMessage;
    None for the other kinds (history sync notices, key shares, ephemeral settings...), and
    ``("", "", "")`` for a revoke or an edit that names no message."""
    kind = protocol.get("type")
    if not isinstance(kind, int | str) or isinstance(kind, bool):
        return None
    if kind not in REVOKE and kind not in EDIT:
        return None
    target = message_id_of((dict_of(protocol.get("key")) or {}).get("id"))
    if not target:
        return ("", "", "")
    if kind in REVOKE:
        return ("revoke", target, "")
    return ("edit", target, text_of(dict_of(protocol.get("editedMessage")) or {}))


def only_silent(message: Mapping[str, Any]) -> bool:
    """Whether the content is nothing but control parts (poll votes, key distribution...)."""
    return bool(message) and all(name in SILENT for name in message)


def message_timestamp(value: Any) -> float | None:
    """Epoch seconds from Baileys' ``messageTimestamp`` (seconds; milliseconds are tolerated)."""
    seconds = long_of(value)
    if seconds is None or seconds <= 0:
        return None
    if seconds > 1e11:  # milliseconds (e.g. a protocolMessage's timestampMs)
        seconds /= 1000.0
    return seconds if seconds < 1e10 else None


def _media_info(name: str, media: Mapping[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {"provider_type": name}
    for field, out in (("mimetype", "mime_type"), ("fileName", "filename"), ("url", "url")):
        value = str_of(media.get(field))
        if value:
            info[out] = value
    size = long_of(media.get("fileLength"))
    if size is not None and size >= 0:
        info["size"] = int(size)
    seconds = num_of(media.get("seconds"))
    if seconds is not None and seconds >= 0:
        info["seconds"] = seconds
    if name == "audioMessage":
        info["voice"] = media.get("ptt") is True
    if name == "ptvMessage":
        info["round"] = True
    if media.get("gifPlayback") is True:
        info["gif"] = True
    return info


_WAID = re.compile(r"waid=(\d{5,20})")


def _contact_card(card: Mapping[str, Any]) -> dict[str, Any]:
    vcard = str_of(card.get("vcard"))[:20_000]
    return {
        "name": str_of(card.get("displayName")),
        "vcard": vcard,
        "phones": _WAID.findall(vcard),
    }


def _location(location: Mapping[str, Any], live: bool) -> dict[str, Any] | None:
    latitude = num_of(location.get("degreesLatitude"))
    longitude = num_of(location.get("degreesLongitude"))
    if latitude is None or longitude is None:
        return None
    out: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    for field in ("name", "address", "url", "comment", "caption"):
        value = str_of(location.get(field))
        if value:
            out[field] = value
    if live:
        out["live"] = True
    return out


@dataclass(slots=True)
class Content:
    """What a bubble shows, in the fields of ``MessageEvent``."""

    type: MessageType
    text: str = ""
    caption: str = ""
    media: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] | None = None
    interactive: dict[str, Any] | None = None


def parse_content(name: str, content: Mapping[str, Any]) -> Content:
    """The bubble of content field ``name`` (see ``content_type``) of an unwrapped message.

    A type this code does not know (or a poll) is kept as an ``UNKNOWN`` placeholder naming it
    (``media["provider_type"]``), never dropped.
    """
    value = content.get(name)
    part = dict_of(value) or {}
    if name == "conversation":
        return Content(MessageType.TEXT, text=str_of(value))
    if name == "extendedTextMessage":
        return Content(MessageType.TEXT, text=str_of(part.get("text")))
    if name in MEDIA_TYPES:
        kind = MEDIA_TYPES[name]
        caption = "" if kind in (MessageType.AUDIO, MessageType.STICKER) else part.get("caption")
        return Content(kind, caption=str_of(caption), media=_media_info(name, part))
    if name in ("locationMessage", "liveLocationMessage"):
        place = _location(part, live=name == "liveLocationMessage")
        if place is not None:
            return Content(
                MessageType.LOCATION, location=place, caption=str_of(part.get("caption"))
            )
    if name == "contactMessage":
        return Content(MessageType.CONTACTS, contacts=[_contact_card(part)])
    if name == "contactsArrayMessage":
        cards = part.get("contacts")
        listed = (
            [_contact_card(c) for c in cards if isinstance(c, dict)][:100]
            if isinstance(cards, list)
            else []
        )
        return Content(MessageType.CONTACTS, text=str_of(part.get("displayName")), contacts=listed)
    if name == "buttonsResponseMessage":
        title = str_of(part.get("selectedDisplayText"))
        reply = {"type": "button_reply", "id": str_of(part.get("selectedButtonId")), "title": title}
        return Content(MessageType.INTERACTIVE, text=title, interactive=reply)
    if name == "templateButtonReplyMessage":
        title = str_of(part.get("selectedDisplayText"))
        reply = {"type": "button_reply", "id": str_of(part.get("selectedId")), "title": title}
        return Content(MessageType.INTERACTIVE, text=title, interactive=reply)
    if name == "listResponseMessage":
        title = str_of(part.get("title"))
        selected = dict_of(part.get("singleSelectReply")) or {}
        reply = {
            "type": "list_reply",
            "id": str_of(selected.get("selectedRowId")),
            "title": title,
            "description": str_of(part.get("description")),
        }
        return Content(MessageType.INTERACTIVE, text=title, interactive=reply)
    if name == "interactiveResponseMessage":
        body = str_of((dict_of(part.get("body")) or {}).get("text"))
        flow = dict_of(part.get("nativeFlowResponseMessage")) or {}
        # The same keys as Meta's nfm_reply (meta_cloud/webhook.py), so a Flow's answer reads alike.
        reply = {
            "type": "nfm_reply",
            "name": str_of(flow.get("name")),
            "body": body,
            "response_json": str_of(flow.get("paramsJson"))[:20_000],
        }
        return Content(MessageType.INTERACTIVE, text=body, interactive=reply)
    if name == "buttonsMessage":
        return Content(MessageType.INTERACTIVE, text=str_of(part.get("contentText")))
    if name == "listMessage":
        text = str_of(part.get("description")) or str_of(part.get("title"))
        return Content(MessageType.INTERACTIVE, text=text)
    if name == "interactiveMessage":
        body = str_of((dict_of(part.get("body")) or {}).get("text"))
        return Content(MessageType.INTERACTIVE, text=body)
    if name == "templateMessage":
        hydrated = dict_of(part.get("hydratedTemplate")) or dict_of(
            part.get("hydratedFourRowTemplate")
        )
        return Content(
            MessageType.TEMPLATE, text=str_of((hydrated or {}).get("hydratedContentText"))
        )
    unknown = Content(MessageType.UNKNOWN, media={"provider_type": name or "unknown"})
    if name in POLLS:
        unknown.text = str_of(part.get("name"))
    return unknown
