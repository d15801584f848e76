"""Evolution's webhooks: who may call, and every event it POSTs as normalized events.

Pure (no I/O): the receiver, the team server, ``caixa webhook parse`` and the adapter's event
socket (which carries the same bodies) share it. Bodies come from
``src/api/integrations/event/webhook/webhook.controller.ts`` (``{event, instance, data,
destination, date_time, sender, server_url, apikey}``, the instance's ``headers`` sent as HTTP
headers, ``webhookByEvents`` adding ``/messages-upsert``); event payloads from
``src/api/integrations/channel/whatsapp/whatsapp.baileys.service.ts`` (``prepareMessage``,
``connectionUpdate``, ``messages.update``, ``contactHandle``) and
``src/api/services/monitor.service.ts`` (``logout.instance`` / ``remove.instance``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

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
)
from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.providers.accounts import EvolutionAccount
from sync.providers.base import (
    WebhookAuthError,
    WebhookPayloadError,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
    log_skipped_item,
    parse_failure,
)
from sync.providers.evolution.connection import REASON_LOGGED_OUT, REASON_QR_EXPIRED, close_event
from sync.providers.evolution.jids import ignored_chat, is_group, jid_user, lid_of, phone_of
from sync.providers.evolution.values import (
    dict_of,
    id_of,
    long_of,
    num_of,
    str_of,
    timestamp_of,
)

log = logging.getLogger(__name__)

WEBHOOK_TOKEN_HEADER: Final = "x-caixa-webhook-token"
"""The header Evolution sends back on every webhook (set through the instance's webhook
``headers``): Evolution does not sign its webhooks, so this per-account secret is the proof."""

# The events Caixa subscribes to, in Evolution's configuration spelling
# (src/api/integrations/event/event.controller.ts: EventController.events). MESSAGES_SET (the
# phone's history sync) is left out on purpose: it can be thousands of messages in one POST;
# ``EvolutionAdapter.backfill`` reads the same history from /chat/findMessages, in pages.
WEBHOOK_EVENTS: Final = (
    "QRCODE_UPDATED",
    "CONNECTION_UPDATE",
    "MESSAGES_UPSERT",
    "MESSAGES_UPDATE",
    "MESSAGES_EDITED",
    "MESSAGES_DELETE",
    "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE",
    "CONTACTS_UPSERT",
    "CONTACTS_UPDATE",
    "LOGOUT_INSTANCE",
    "REMOVE_INSTANCE",
)


def parse_webhook(request: WebhookRequest, accounts: Sequence[EvolutionAccount]) -> WebhookResult:
    """Authenticate one Evolution webhook POST and normalize its body.

    Accepted only when ``x-caixa-webhook-token`` matches (constant time) the webhook secret of an
    account whose ``instance`` is both the path's (``request.instance``) and the body's
    ``instance``: a missing or wrong token is 401, a valid token whose body names another
    instance is 403. A ``data`` list keeps its valid items and skips (and logs) each broken one;
    a single ``data`` object that cannot be read refuses the call (see ``_each``). Pure: no I/O,
    nothing but ``WebhookRejected`` subclasses for any input.
    """
    try:
        return _parse_webhook(request, accounts)
    except WebhookRejected:
        raise
    except Exception as exc:  # a safety net: the normalizers below are written not to get here
        log.warning("evolution webhook: unexpected %s while parsing", type(exc).__name__)
        raise WebhookPayloadError("malformed Evolution webhook body") from None


def _parse_webhook(request: WebhookRequest, accounts: Sequence[EvolutionAccount]) -> WebhookResult:
    account = _authenticate(request, accounts)
    if request.method.upper() != "POST":
        raise WebhookPayloadError("Evolution webhooks are POST requests")
    try:
        body = json.loads(request.body)
    except (ValueError, RecursionError):
        raise WebhookPayloadError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise WebhookPayloadError("the body is not a JSON object")
    named = body.get("instance")
    if not isinstance(named, str) or not named:
        raise WebhookPayloadError("the body names no instance")
    if named != account.instance:
        raise WebhookAuthError("the body names another instance than the path", forbidden=True)
    event = event_name(body.get("event"), request.event)
    own = jid_user(str_of(body.get("sender")))
    events = normalize_event(account.account_id, event, body.get("data"), own)
    return WebhookResult(events=tuple(events))


def _authenticate(
    request: WebhookRequest, accounts: Sequence[EvolutionAccount]
) -> EvolutionAccount:
    token = ""
    for name, value in request.headers.items():
        if name.lower() == WEBHOOK_TOKEN_HEADER:
            token = value
            break
    if not token:
        raise WebhookAuthError(f"missing {WEBHOOK_TOKEN_HEADER} header")
    matched: EvolutionAccount | None = None
    # Every account of that instance is compared (several Evolution servers may reuse a name).
    for account in accounts:
        same = account.instance == request.instance and bool(account.webhook_secret)
        if same and account.webhook_secret.matches(token) and matched is None:
            matched = account
    if matched is None:
        raise WebhookAuthError("wrong webhook token for this instance")
    return matched


def event_name(body_event: Any, path_event: str) -> str:
    """``MESSAGES_UPSERT`` from ``messages.upsert``, ``MESSAGES_UPSERT`` or ``messages-upsert``.

    The body's ``event`` wins over the ``webhookByEvents`` path suffix: Evolution derives the
    suffix from that very field (webhook.controller.ts: ``transformedWe``), so they only
    disagree when something between rewrote the URL; the body is what Evolution meant.
    """
    raw: str = body_event if isinstance(body_event, str) and body_event.strip() else path_event
    if not raw.strip():
        raise WebhookPayloadError("the body names no event")
    # The same folding Evolution applies (webhook.controller.ts: event.replace(/[.-]/g, '_')).
    return re.sub(r"[.\-/\s]+", "_", raw.strip()).strip("_").upper()


def normalize_event(account_id: int, event: str, data: Any, own: str) -> list[ProviderEvent]:
    """The events of one Evolution event body's ``data`` (``own``: our number's digits)."""
    if event in ("MESSAGES_UPSERT", "SEND_MESSAGE", "MESSAGES_SET"):
        return _each(
            _message_records(data),
            "messages",
            lambda item: _normalize_message(account_id, item, own),
        )
    if event == "MESSAGES_UPDATE":
        return _each(data, "messages.update", lambda item: _receipt(account_id, item))
    if event in ("MESSAGES_EDITED", "SEND_MESSAGE_UPDATE"):
        mine = event == "SEND_MESSAGE_UPDATE"
        return _each(
            data,
            "messages.edited",
            lambda item: _protocol_event(account_id, item, None, 0.0, own, sent_by_us=mine),
        )
    if event == "MESSAGES_DELETE":
        return _each(data, "messages.delete", lambda item: _deleted(account_id, item, own))
    if event == "CONNECTION_UPDATE":
        return _connection(account_id, _require_dict(data, "connection.update"))
    if event == "QRCODE_UPDATED":
        return _qr(account_id, _require_dict(data, "qrcode.updated"))
    if event in ("CONTACTS_UPSERT", "CONTACTS_UPDATE", "CONTACTS_SET"):
        return _each(data, "contacts", lambda item: _contact(account_id, item))
    if event == "LOGOUT_INSTANCE":
        return [
            ConnectionEvent(
                account_id,
                ConnectionState.NEEDS_REPAIR,
                needs_repair=True,
                reason=REASON_LOGGED_OUT,
            )
        ]
    if event in ("REMOVE_INSTANCE", "INSTANCE_DELETE"):
        return [AccountRemovedEvent(account_id, reason="the instance was deleted on Evolution")]
    if event == "STATUS_INSTANCE":
        return _status_instance(account_id, data)
    # chats.*, presence.update, groups.*, call, labels.*, instance.create, ...: nothing to store.
    return []


def _require_dict(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise WebhookPayloadError(f"{what}: 'data' is not an object")
    return data


def _each(
    data: Any, what: str, normalize: Callable[[dict[str, Any]], list[ProviderEvent]]
) -> list[ProviderEvent]:
    """Events of ``data``: one object (what Evolution posts for most events), or a list of them
    (``contacts.upsert``, ``messages.set``, Baileys' own ``{messages: [...]}``).

    A single object that cannot be read refuses the call (400), as a body that is not what
    Evolution sends. In a list, each item stands alone: a broken one (not an object, no key,
    no id, no timestamp, or a parser bug) is skipped and logged with its position, and the
    others are stored: Evolution drops a call answered 400 at once (webhook.controller.ts,
    ``retryWebhookRequest``: ``NON_RETRYABLE_STATUS_CODES`` defaults to 400, 401, 403, 404 and
    422), so refusing the list would lose every good item beside the broken one.
    """
    if isinstance(data, dict):
        return normalize(data)
    if not isinstance(data, list):
        raise WebhookPayloadError(f"{what}: 'data' is neither an object nor a list of objects")
    out: list[ProviderEvent] = []
    for position, item in enumerate(data):
        at = f"{what} data[{position}]"
        if not isinstance(item, dict):
            log_skipped_item(log, "Evolution", at, "not an object")
            continue
        try:
            out.extend(normalize(item))
        except WebhookPayloadError as exc:
            log_skipped_item(log, "Evolution", at, exc.reason)
        except WebhookRejected:
            raise  # an authentication decision is never an item's to make
        except Exception as exc:  # a parser bug on this item: its neighbours still count
            log_skipped_item(log, "Evolution", at, parse_failure(exc))
    return out


def _message_records(data: Any) -> Any:
    record = dict_of(data)
    if record is not None and "key" not in record and isinstance(record.get("messages"), list):
        return record["messages"]  # {messages: [...], type}: Baileys' own upsert shape
    return data


@dataclass(frozen=True, slots=True)
class _Chat:
    key: str
    phone: str
    jid: str
    is_group: bool


def _chat_of(key: Mapping[str, Any], own: str) -> _Chat | None:
    """The conversation a message key belongs to, or None when it is not a chat for us.

    Where the phone comes from: ``remoteJidAlt`` (Baileys 7, Evolution >= 2.3.3), or the older
    ``senderPn`` / ``previousRemoteJid`` pair of Evolution 2.3.1-2.3.2, which rewrote
    ``remoteJid`` to the phone and kept the LID in ``previousRemoteJid``.
    """
    remote = str_of(key.get("remoteJid")).strip()
    if not remote or ignored_chat(remote):
        return None
    if is_group(remote):
        return _Chat(remote, "", remote, True)
    candidates = [
        remote,
        str_of(key.get("remoteJidAlt")),
        str_of(key.get("senderPn")),
        str_of(key.get("previousRemoteJid")),
    ]
    previous = lid_of(candidates[3])
    chat_jid = str_of(key.get("previousRemoteJid")) if previous else remote
    phone = ""
    for jid in candidates:
        digits = phone_of(jid)
        # The alternate of our own echo can be our own number (sender_pn): never our own chat.
        if digits and (digits != own or phone_of(remote) == own):
            phone = digits
            break
    if phone:
        return _Chat(phone, phone, chat_jid, False)
    lid = next((lid_of(j) for j in candidates if lid_of(j)), "")
    if lid:
        return _Chat(lid, "", chat_jid, False)
    if "@" not in remote:
        return None
    return _Chat(remote, "", remote, False)  # e.g. @bot: a chat, with no phone


def _sender_phone(key: Mapping[str, Any], item: Mapping[str, Any], chat: _Chat) -> str:
    if not chat.is_group:
        return chat.phone
    for jid in (
        key.get("participantAlt"),
        key.get("participantPn"),
        key.get("senderPn"),  # Evolution 2.3.1-2.3.2 (Baileys' sender_pn)
        key.get("participant"),
        item.get("participant"),
    ):
        digits = phone_of(str_of(jid))
        if digits:
            return digits
    return ""


# --- message content (Baileys WAProto Message) ------------------------------------------------

# Baileys src/Utils/messages.ts, normalizeMessageContent: FutureProofMessage wrappers whose
# ``message`` holds the real content. ``editedMessage`` is handled apart (it carries an edit).
_WRAPPERS: Final = (
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
_SILENT: Final = frozenset(
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
_MEDIA: Final[dict[str, MessageType]] = {
    "imageMessage": MessageType.IMAGE,
    "videoMessage": MessageType.VIDEO,
    "ptvMessage": MessageType.VIDEO,
    "audioMessage": MessageType.AUDIO,
    "documentMessage": MessageType.DOCUMENT,
    "stickerMessage": MessageType.STICKER,
}
_POLLS: Final = (
    "pollCreationMessage",
    "pollCreationMessageV2",
    "pollCreationMessageV3",
    "pollCreationMessageV5",
)
# protocolMessage.type (WAProto.proto, Message.ProtocolMessage.Type). Protobuf JSON names the
# enum (toJSON, as in messages.edited) or numbers it (a plain copy, as in messages.upsert).
_REVOKE: Final = frozenset({0, "REVOKE"})
_EDIT: Final = frozenset({14, "MESSAGE_EDIT"})


def _inner(content: Mapping[str, Any], wrapper: str) -> dict[str, Any] | None:
    """The ``message`` inside a FutureProofMessage wrapper, when there is one."""
    part = dict_of(content.get(wrapper))
    return dict_of(part.get("message")) if part is not None else None


def _unwrap(content: dict[str, Any]) -> dict[str, Any]:
    for _ in range(8):  # bounded: a hostile body can nest wrappers forever
        for wrapper in _WRAPPERS:
            inner = _inner(content, wrapper)
            if inner is not None:
                content = inner
                break
        else:
            return content
    return content


def _protocol_of(content: dict[str, Any]) -> dict[str, Any] | None:
    """A ProtocolMessage (edit, revoke, ...), bare or inside Baileys' ``editedMessage``."""
    protocol = dict_of(content.get("protocolMessage"))
    if protocol is None:
        edited = _inner(content, "editedMessage")
        protocol = dict_of(edited.get("protocolMessage")) if edited is not None else None
    return protocol


def _content_key(content: Mapping[str, Any]) -> str:
    # Baileys getContentType: the first key that is 'conversation' or names a ...Message.
    for name, value in content.items():
        if name in _SILENT or value is None:
            continue
        if name == "conversation" or "Message" in name:
            return name
    return ""


def _text_of(content: Mapping[str, Any]) -> str:
    """The text of a text message or the caption of a media message (an edit's new text)."""
    content = _unwrap(dict(content))
    if isinstance(content.get("conversation"), str):
        return str_of(content["conversation"])
    extended = dict_of(content.get("extendedTextMessage"))
    if extended is not None:
        return str_of(extended.get("text"))
    for name in _MEDIA:
        media = dict_of(content.get(name))
        if media is not None:
            return str_of(media.get("caption"))
    return ""


def _context_of(content: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    # prepareMessage moves an extendedTextMessage's contextInfo to the record's top level.
    for value in content.values():
        context = dict_of(dict_of(value) and value.get("contextInfo"))
        if context:
            return context
    return dict_of(item.get("contextInfo")) or {}


def _media_info(name: str, media: Mapping[str, Any], message: Mapping[str, Any]) -> dict[str, Any]:
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
    media_url = str_of(message.get("mediaUrl"))  # Evolution's S3 copy, when S3 is configured
    if media_url:
        info["media_url"] = media_url
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
class _Content:
    type: MessageType
    text: str = ""
    caption: str = ""
    media: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] | None = None
    interactive: dict[str, Any] | None = None


def _classify(name: str, content: Mapping[str, Any]) -> _Content:
    value = content.get(name)
    part = dict_of(value) or {}
    if name == "conversation":
        return _Content(MessageType.TEXT, text=str_of(value))
    if name == "extendedTextMessage":
        return _Content(MessageType.TEXT, text=str_of(part.get("text")))
    if name in _MEDIA:
        kind = _MEDIA[name]
        caption = "" if kind in (MessageType.AUDIO, MessageType.STICKER) else part.get("caption")
        return _Content(kind, caption=str_of(caption), media=_media_info(name, part, content))
    if name in ("locationMessage", "liveLocationMessage"):
        place = _location(part, live=name == "liveLocationMessage")
        if place is not None:
            return _Content(
                MessageType.LOCATION, location=place, caption=str_of(part.get("caption"))
            )
    if name == "contactMessage":
        return _Content(MessageType.CONTACTS, contacts=[_contact_card(part)])
    if name == "contactsArrayMessage":
        cards = part.get("contacts")
        listed = (
            [_contact_card(c) for c in cards if isinstance(c, dict)][:100]
            if isinstance(cards, list)
            else []
        )
        return _Content(MessageType.CONTACTS, text=str_of(part.get("displayName")), contacts=listed)
    if name == "buttonsResponseMessage":
        title = str_of(part.get("selectedDisplayText"))
        reply = {"type": "button_reply", "id": str_of(part.get("selectedButtonId")), "title": title}
        return _Content(MessageType.INTERACTIVE, text=title, interactive=reply)
    if name == "templateButtonReplyMessage":
        title = str_of(part.get("selectedDisplayText"))
        reply = {"type": "button_reply", "id": str_of(part.get("selectedId")), "title": title}
        return _Content(MessageType.INTERACTIVE, text=title, interactive=reply)
    if name == "listResponseMessage":
        title = str_of(part.get("title"))
        selected = dict_of(part.get("singleSelectReply")) or {}
        reply = {
            "type": "list_reply",
            "id": str_of(selected.get("selectedRowId")),
            "title": title,
            "description": str_of(part.get("description")),
        }
        return _Content(MessageType.INTERACTIVE, text=title, interactive=reply)
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
        return _Content(MessageType.INTERACTIVE, text=body, interactive=reply)
    if name == "buttonsMessage":
        return _Content(MessageType.INTERACTIVE, text=str_of(part.get("contentText")))
    if name == "listMessage":
        text = str_of(part.get("description")) or str_of(part.get("title"))
        return _Content(MessageType.INTERACTIVE, text=text)
    if name == "interactiveMessage":
        body = str_of((dict_of(part.get("body")) or {}).get("text"))
        return _Content(MessageType.INTERACTIVE, text=body)
    if name == "templateMessage":
        hydrated = dict_of(part.get("hydratedTemplate")) or dict_of(
            part.get("hydratedFourRowTemplate")
        )
        return _Content(
            MessageType.TEMPLATE, text=str_of((hydrated or {}).get("hydratedContentText"))
        )
    unknown = _Content(MessageType.UNKNOWN, media={"provider_type": name or "unknown"})
    if name in _POLLS:
        unknown.text = str_of(part.get("name"))
    return unknown


# --- one message record (messages.upsert / send.message / messages.set / findMessages) ---------


def _normalize_message(account_id: int, item: Mapping[str, Any], own: str) -> list[ProviderEvent]:
    key = dict_of(item.get("key"))
    if key is None:
        raise WebhookPayloadError("a message has no 'key'")
    message_id = id_of(key.get("id"))
    if not message_id:
        raise WebhookPayloadError("a message key has no usable 'id'")
    if not str_of(key.get("remoteJid")).strip():
        raise WebhookPayloadError("a message key has no 'remoteJid'")
    chat = _chat_of(key, own)
    if chat is None:
        return []  # status@broadcast, broadcast lists, newsletters
    timestamp = timestamp_of(item.get("messageTimestamp"))
    if timestamp is None:
        raise WebhookPayloadError("a message has no valid 'messageTimestamp'")
    from_me = key.get("fromMe") is True
    direction = Direction.OUT if from_me else Direction.IN
    raw = item.get("message")
    content = _unwrap(raw) if isinstance(raw, dict) else {}

    protocol = _protocol_of(content)
    if protocol is not None:
        return _protocol_event(account_id, protocol, key, timestamp, own, sent_by_us=from_me)
    name = _content_key(content)
    if name == "reactionMessage":
        return _reaction(account_id, dict_of(content[name]) or {}, key, item, chat, timestamp, own)
    if not name and content and all(k in _SILENT for k in content):
        return []  # only control parts (poll votes, key distribution): nothing to show
    if name:
        parsed = _classify(name, content)
    else:  # no content Caixa can read: a placeholder, never dropped
        provider_type = str_of(item.get("messageType"))[:100] or "unknown"
        parsed = _Content(MessageType.UNKNOWN, media={"provider_type": provider_type})
    context = _context_of(content, item)
    reply_to = id_of(context.get("stanzaId")) or None
    push_name = str_of(item.get("pushName"))
    if from_me and push_name == "Você":  # prepareMessage's placeholder for our own messages
        push_name = ""
    return [
        MessageEvent(
            account_id=account_id,
            provider_message_id=message_id,
            chat_key=chat.key,
            chat_phone=chat.phone,
            direction=direction,
            timestamp=timestamp,
            type=parsed.type,
            text=parsed.text,
            sender_name=push_name,
            sender_phone="" if from_me else _sender_phone(key, item, chat),
            is_group=chat.is_group,
            reply_to=reply_to,
            media=parsed.media,
            chat_jid=chat.jid,
            caption=parsed.caption,
            location=parsed.location,
            contacts=parsed.contacts,
            interactive=parsed.interactive,
        )
    ]


def _reaction(
    account_id: int,
    reaction: Mapping[str, Any],
    key: Mapping[str, Any],
    item: Mapping[str, Any],
    chat: _Chat,
    timestamp: float,
    own: str,
) -> list[ProviderEvent]:
    target = id_of((dict_of(reaction.get("key")) or {}).get("id"))
    if not target:
        return []  # a reaction to nothing: no bubble either way
    from_me = key.get("fromMe") is True
    return [
        ReactionEvent(
            account_id=account_id,
            provider_message_id=id_of(key.get("id")),
            target_message_id=target,
            emoji=str_of(reaction.get("text"))[:64],
            chat_key=chat.key,
            chat_phone=chat.phone,
            direction=Direction.OUT if from_me else Direction.IN,
            timestamp=timestamp,
            sender_phone="" if from_me else _sender_phone(key, item, chat),
            sender_name="" if from_me else str_of(item.get("pushName")),
            chat_jid=chat.jid,
            is_group=chat.is_group,
        )
    ]


def _protocol_event(
    account_id: int,
    protocol: Mapping[str, Any],
    outer_key: Mapping[str, Any] | None,
    timestamp: float,
    own: str,
    *,
    sent_by_us: bool,
) -> list[ProviderEvent]:
    """An edit or a delete-for-everyone (Baileys ProtocolMessage); other kinds carry nothing.

    From messages.upsert the outer key (our view of the chat) names the chat. messages.edited
    carries the bare ProtocolMessage, whose key is in the SENDER's perspective (Baileys
    process-message.ts, MESSAGE_EDIT): a customer's edit names OUR jid as ``remoteJid``. Such a
    chat is left empty; the target id alone identifies the message.
    """
    kind = protocol.get("type")
    if not isinstance(kind, int | str) or isinstance(kind, bool):
        return []
    if kind not in _REVOKE and kind not in _EDIT:
        return []  # history sync notices, key shares, ephemeral settings...
    target_key = dict_of(protocol.get("key")) or {}
    target = id_of(target_key.get("id"))
    if not target:
        raise WebhookPayloadError("an edit or delete names no message")
    if outer_key is not None:
        chat = _chat_of(outer_key, own)
        if chat is None:
            return []
        direction = Direction.OUT if outer_key.get("fromMe") is True else Direction.IN
        provider_id = id_of(outer_key.get("id"))
    else:
        remote = str_of(target_key.get("remoteJid"))
        if own and jid_user(remote) == own and not is_group(remote):
            chat, direction = _Chat("", "", "", False), Direction.IN
        else:
            chat = _chat_of(target_key, own) or _Chat("", "", "", False)
            mine = sent_by_us or target_key.get("fromMe") is True
            direction = Direction.OUT if mine else Direction.IN
        provider_id = ""
        timestamp = timestamp_of(protocol.get("timestampMs")) or 0.0
    if kind in _REVOKE:
        return [
            RevokeEvent(
                account_id=account_id,
                target_message_id=target,
                chat_key=chat.key,
                chat_phone=chat.phone,
                timestamp=timestamp,
                provider_message_id=provider_id,
                direction=direction,
                chat_jid=chat.jid,
            )
        ]
    edited = dict_of(protocol.get("editedMessage")) or {}
    return [
        EditEvent(
            account_id=account_id,
            target_message_id=target,
            text=_text_of(edited),
            chat_key=chat.key,
            chat_phone=chat.phone,
            timestamp=timestamp,
            provider_message_id=provider_id,
            direction=direction,
            chat_jid=chat.jid,
        )
    ]


# --- receipts, deletes, connection, QR, contacts ----------------------------------------------

# messages.update's ``status`` (src/utils/renderStatus.ts; 'DELETED' when Baileys gave none).
_STATUS: Final[dict[str, DeliveryStatus | None]] = {
    "ERROR": DeliveryStatus.FAILED,
    "PENDING": None,  # the clock icon: not yet on WhatsApp's server, nothing to record
    "SERVER_ACK": DeliveryStatus.SENT,
    "DELIVERY_ACK": DeliveryStatus.DELIVERED,
    "READ": DeliveryStatus.READ,
    "PLAYED": DeliveryStatus.PLAYED,
}
_STATUS_NUMBERS: Final = ("ERROR", "PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED")


def _receipt(account_id: int, item: Mapping[str, Any]) -> list[ProviderEvent]:
    """A messages.update: ``keyId`` is WhatsApp's message id, ``messageId`` Evolution's row id.

    Receipts are matched by message id alone; the chat is informative only, and it is never
    needed (a LID chat's receipt may name the LID where the message was stored under a phone).
    """
    key = dict_of(item.get("key")) or {}
    message_id = id_of(item.get("keyId")) or id_of(key.get("id")) or id_of(item.get("messageId"))
    if not message_id:
        raise WebhookPayloadError("messages.update: no message id")
    remote = str_of(item.get("remoteJid")) or str_of(key.get("remoteJid"))
    if ignored_chat(remote):
        return []
    raw = item.get("status")
    if raw is None:  # Baileys' own {key, update: {status}} shape
        raw = (dict_of(item.get("update")) or {}).get("status")
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < len(_STATUS_NUMBERS):
        raw = _STATUS_NUMBERS[raw]
    name = str_of(raw).strip().upper()
    if name == "DELETED":
        return [
            RevokeEvent(
                account_id,
                target_message_id=message_id,
                chat_key="",
                chat_phone="",
                timestamp=0.0,
                direction=Direction.OUT if item.get("fromMe") is True else Direction.IN,
            )
        ]
    if name not in _STATUS:
        return []  # a poll update or a status Caixa does not track
    status = _STATUS[name]
    if status is None:
        return []
    return [
        StatusEvent(
            account_id,
            message_id,
            status,
            # Evolution's receipts carry no time of their own (and date_time is the server's
            # local time labelled as UTC): 0 says "unknown".
            0.0,
            error="WhatsApp reported an error for this message" if name == "ERROR" else None,
            chat_phone=phone_of(remote),
        )
    ]


def _deleted(account_id: int, item: Mapping[str, Any], own: str) -> list[ProviderEvent]:
    """messages.delete: Baileys' key of the revoked message (revoke received), or Evolution's
    stored message row with its ``key`` (deleteMessageForEveryone through the API)."""
    key = dict_of(item.get("key")) or item
    target = id_of(key.get("id"))
    if not target:
        raise WebhookPayloadError("messages.delete: no message id")
    remote = str_of(key.get("remoteJid"))
    chat = _chat_of(key, own) if remote else _Chat("", "", "", False)
    if chat is None:
        return []
    return [
        RevokeEvent(
            account_id,
            target_message_id=target,
            chat_key=chat.key,
            chat_phone=chat.phone,
            timestamp=0.0,
            direction=Direction.OUT if key.get("fromMe") is True else Direction.IN,
            chat_jid=chat.jid,
        )
    ]


def _connection(account_id: int, data: Mapping[str, Any]) -> list[ProviderEvent]:
    state = str_of(data.get("state")).lower()
    reason = long_of(data.get("statusReason"))
    code = int(reason) if reason is not None and abs(reason) < 1e6 else None
    if state == "open":
        return [
            ConnectionEvent(
                account_id, ConnectionState.CONNECTED, phone=phone_of(str_of(data.get("wuid")))
            )
        ]
    if state == "connecting":
        return [ConnectionEvent(account_id, ConnectionState.CONNECTING)]
    if state == "close":
        return [close_event(account_id, code)]
    if state == "refused":  # the QR limit was reached (connectionUpdate: QRCODE.LIMIT)
        return [
            ConnectionEvent(
                account_id, ConnectionState.OFFLINE, needs_repair=True, reason=REASON_QR_EXPIRED
            )
        ]
    return []


def _status_instance(account_id: int, data: Any) -> list[ProviderEvent]:
    record = dict_of(data) or {}
    if str_of(record.get("status")).lower() != "closed":
        return []
    code = long_of(record.get("disconnectionReasonCode"))
    return [close_event(account_id, int(code) if code is not None and abs(code) < 1e6 else None)]


def _qr(account_id: int, data: Mapping[str, Any]) -> list[ProviderEvent]:
    qrcode = dict_of(data.get("qrcode"))
    if qrcode is None:
        if "statusCode" in data or "message" in data:  # "QR code limit reached, please login"
            return [
                ConnectionEvent(
                    account_id,
                    ConnectionState.OFFLINE,
                    needs_repair=True,
                    reason=REASON_QR_EXPIRED,
                )
            ]
        raise WebhookPayloadError("qrcode.updated: no 'qrcode'")
    code, pairing = str_of(qrcode.get("code")), str_of(qrcode.get("pairingCode"))
    if not code and not pairing:
        return []
    return [QrEvent(account_id, qr_code=code[:4096], pairing_code=pairing[:32])]


def _contact(account_id: int, item: Mapping[str, Any]) -> list[ProviderEvent]:
    """contacts.upsert / contacts.update: ``{remoteJid, pushName, profilePicUrl}``; Baileys'
    own ``{id, lid, phoneNumber, name, notify}`` fields are read too when present."""
    jid = str_of(item.get("remoteJid")) or str_of(item.get("id"))
    if not jid or "@" not in jid or ignored_chat(jid):
        return []
    alternates = [
        str_of(item.get(f)) for f in ("remoteJidAlt", "phoneNumber", "senderPn", "lid", "jid")
    ]
    phone = next((p for p in (phone_of(j) for j in [jid, *alternates]) if p), "")
    lid = next((x for x in (lid_of(j) for j in [jid, *alternates]) if x), "")
    name = ""
    for field in ("pushName", "name", "notify", "verifiedName"):
        name = str_of(item.get(field)).strip()
        if name:
            break
    if name == jid_user(jid):
        name = ""  # contactHandle's fallback is the JID's digits, not a name (and maybe a LID's)
    if is_group(jid):
        return [ContactEvent(account_id, chat_key=jid, jid=jid, name=name)]
    chat_key = phone or lid or jid
    return [ContactEvent(account_id, chat_key=chat_key, phone=phone, jid=jid, lid=lid, name=name)]


def normalize_records(
    account_id: int, records: Iterable[Mapping[str, Any]], *, own_phone: str = ""
) -> list[ProviderEvent]:
    """Events from stored message records (``/chat/findMessages``), normalized exactly as webhook
    messages, with the same ids, so a backfilled message and its webhook dedupe as one.

    Outgoing records also yield their best receipt (``MessageUpdate`` statuses).
    """
    out: list[ProviderEvent] = []
    for record in records:
        try:
            events = _normalize_message(account_id, record, own_phone)
        except WebhookRejected as exc:
            log.info("evolution backfill: skipped a record (%s)", exc.reason)
            continue
        out.extend(events)
        key = dict_of(record.get("key")) or {}
        updates = record.get("MessageUpdate")
        if events and key.get("fromMe") is True and isinstance(updates, list):
            best: DeliveryStatus | None = None
            for update in updates:
                status = _STATUS.get(str_of((dict_of(update) or {}).get("status")).upper())
                if status is not None and (best is None or best.can_become(status)):
                    best = status
            if best is not None and best.rank > DeliveryStatus.SENT.rank:
                out.append(StatusEvent(account_id, id_of(key.get("id")), best, 0.0))
    return out


def webhook_url_for(receiver_base: str, instance: str) -> str:
    """The URL Evolution should POST this instance's events to (the receiver's route)."""
    return f"{receiver_base.rstrip('/')}/hooks/evolution/{quote(instance, safe='')}"
