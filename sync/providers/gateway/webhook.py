"""The gateway's webhooks: who may call, and what every event it POSTs becomes.

The gateway POSTs ``{event, instanceId, data, timestamp}`` to ``/hooks/gateway/{instance}`` with
``Authorization: Bearer <instance token>``; events are named after whatsapp-web.js's client
events (``src/util/Constants.js``: ``qr``, ``authenticated``, ``auth_failure``, ``ready``,
``message``, ``disconnected``) and a ``message`` is whatsapp-web.js' ``Message``
(``src/structures/Message.js``) or Baileys' ``WAMessage`` (``WAProto/WAProto.proto``,
``src/Utils/messages.ts``). Pure (no I/O).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sync.domain.events import (
    ConnectionEvent,
    EditEvent,
    MessageEvent,
    ProviderEvent,
    QrEvent,
    ReactionEvent,
    RevokeEvent,
)
from sync.domain.ids import chat_key_for_phone
from sync.domain.models import ConnectionState, Direction, MessageType
from sync.providers import baileys
from sync.providers.base import (
    WebhookAuthError,
    WebhookPayloadError,
    WebhookRequest,
    WebhookResult,
)
from sync.providers.gateway.account import GatewayAccount
from sync.providers.gateway.connection import (
    HEARTBEAT_REASON,
    classify_disconnect,
    parse_status,
    phone_of_me,
)
from sync.providers.gateway.limits import MAX_ID
from sync.providers.gateway.values import (
    clean,
    epoch_seconds,
    error_text,
    find_str,
    first_str,
    id_of,
    jid_of,
    number,
    qr_of,
    str_at,
)

log = logging.getLogger(__name__)


def parse_webhook(request: WebhookRequest, accounts: Sequence[GatewayAccount]) -> WebhookResult:
    """Authenticate one gateway call and normalize its event (see the module's docstring).

    The account is the one whose ``instance`` is the path's; the bearer token must be that
    account's instance token or its master token (the master token already controls every
    instance of the gateway, so accepting it grants nothing more, and it is the only token a
    number added with the master token alone knows). A token of another instance is answered
    403; a missing or unknown one 401; a body whose ``instanceId`` is not the path's 403.
    Unknown events give no events (200). Never raises anything but ``WebhookRejected``.
    """
    try:
        return _parse(request, accounts)
    except (WebhookAuthError, WebhookPayloadError):
        raise
    except RecursionError:
        raise WebhookPayloadError("payload nested too deeply") from None
    except Exception as exc:
        # A bug in the normalization: refuse the call (4xx) rather than fail the receiver. The
        # message is not logged (it could quote the body); the type and place are.
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"line {tb.tb_lineno}" if tb is not None else "?"
        log.warning("gateway webhook normalization failed: %s at %s", type(exc).__name__, where)
        raise WebhookPayloadError("unreadable gateway payload") from None


def _parse(request: WebhookRequest, accounts: Sequence[GatewayAccount]) -> WebhookResult:
    if request.method.upper() != "POST":
        raise WebhookPayloadError("the gateway only POSTs its events")
    account = _authenticate(request, accounts)
    body = _load_json(request.body)
    if not isinstance(body, Mapping):
        raise WebhookPayloadError("the body must be a JSON object")
    instance_id = body.get("instanceId")
    if not isinstance(instance_id, str) or not instance_id:
        raise WebhookPayloadError("'instanceId' is missing")
    if instance_id != request.instance:
        raise WebhookAuthError("the body's instanceId is not the path's instance", forbidden=True)
    event = body.get("event")
    if not isinstance(event, str) or not event.strip():
        raise WebhookPayloadError("'event' is missing")
    sent_at = epoch_seconds(body.get("timestamp"))
    data = body.get("data")
    return WebhookResult(events=tuple(_normalize(account, event, data, sent_at)))


def _authenticate(request: WebhookRequest, accounts: Sequence[GatewayAccount]) -> GatewayAccount:
    # Two gateways may both have an instance of this name: the token picks the account.
    named = [a for a in accounts if a.instance == request.instance]
    if not named or not request.instance:
        raise WebhookAuthError("unknown gateway instance")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise WebhookAuthError("missing bearer token")
    # Header values arrive decoded as ISO-8859-1 (webhook_request.py): back to the bytes sent.
    try:
        candidate = token.encode("latin-1")
    except UnicodeEncodeError:
        candidate = token.encode("utf-8", "surrogateescape")
    found: GatewayAccount | None = None
    for account in named:
        # Every comparison runs (no early exit), so timing does not tell which one matched.
        own = [s.matches(candidate) for s in (account.instance_token, account.master_token) if s]
        if any(own) and found is None:
            found = account
    if found is not None:
        return found
    others = [a.instance_token for a in accounts if a.instance != request.instance]
    if any([s.matches(candidate) for s in others if s]):
        raise WebhookAuthError("token of another instance", forbidden=True)
    raise WebhookAuthError("bad token")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WebhookPayloadError(f"the body is not JSON ({type(exc).__name__})") from None


def _normalize(
    account: GatewayAccount, event: str, data: Any, sent_at: float | None
) -> list[ProviderEvent]:
    name = event.strip().lower()
    aid = account.account_id
    if name in ("message", "message_create"):
        return _message_events(aid, data, sent_at)
    if name in ("qr", "qrcode", "qr_code"):  # whatsapp-web.js' name first; aliases a gateway uses
        qr_code, pairing = qr_of(data)
        if not qr_code and not pairing:
            raise WebhookPayloadError("qr event without a QR code")
        return [QrEvent(aid, qr_code=clean(qr_code), pairing_code=clean(pairing))]
    if name == "code":  # whatsapp-web.js' pairing code event (Client.js, Events.CODE_RECEIVED)
        pairing = find_str(data, ("code",), ("pairingCode",)) if isinstance(data, Mapping) else ""
        if isinstance(data, str):
            pairing = data.strip()
        if not pairing:
            raise WebhookPayloadError("code event without a pairing code")
        return [QrEvent(aid, pairing_code=clean(pairing, 64))]
    if name == "authenticated":
        # whatsapp-web.js passes the auth strategy's payload (once the session itself): never
        # copied anywhere.
        return [ConnectionEvent(aid, ConnectionState.CONNECTING, reason="authenticated")]
    if name == "ready":
        phone = phone_of_me(data) if isinstance(data, Mapping) else ""
        if not phone and isinstance(data, str):
            jid = jid_of(data)
            phone = jid.phone if jid is not None else ""
        return [ConnectionEvent(aid, ConnectionState.CONNECTED, phone=phone)]
    if name == "auth_failure":
        message = data if isinstance(data, str) else error_text(data)
        reason = (
            f"authentication failed: {clean(message, 200)}"
            if message
            else ("authentication failed")
        )
        return [
            ConnectionEvent(aid, ConnectionState.NEEDS_REPAIR, needs_repair=True, reason=reason)
        ]
    if name == "disconnected":
        state, repair, reason = classify_disconnect(data)
        return [ConnectionEvent(aid, state, needs_repair=repair, reason=reason)]
    if name == "heartbeat":
        status = parse_status(data)
        if status.state in (None, ConnectionState.CONNECTED):
            return [
                ConnectionEvent(
                    aid, ConnectionState.CONNECTED, phone=status.phone, reason=HEARTBEAT_REASON
                )
            ]
        repair = status.state in (ConnectionState.NEEDS_REPAIR, ConnectionState.BLOCKED)
        return [
            ConnectionEvent(
                aid, status.state, needs_repair=repair, reason=f"heartbeat: {status.state}"
            )
        ]
    return []  # an event Caixa does not follow (change_state, call, ...): accepted, ignored


# --- messages ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Content:
    """What a message carries, whatever form it came in."""

    type: MessageType = MessageType.TEXT
    text: str = ""
    caption: str = ""
    media: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] | None = None
    interactive: dict[str, Any] | None = None
    reply_to: str | None = None
    reaction: tuple[str, str] | None = None  # (target id, emoji)
    revoked: str | None = None  # target id
    edited: tuple[str, str] | None = None  # (target id, new text)
    extra: dict[str, Any] = field(default_factory=dict)


# whatsapp-web.js Message.type (Constants.js MessageTypes) → our types.
_WWEBJS_TYPES: Final[dict[str, MessageType]] = {
    "chat": MessageType.TEXT,
    "text": MessageType.TEXT,
    "conversation": MessageType.TEXT,
    "image": MessageType.IMAGE,
    "video": MessageType.VIDEO,
    "audio": MessageType.AUDIO,
    "ptt": MessageType.AUDIO,
    "voice": MessageType.AUDIO,
    "document": MessageType.DOCUMENT,
    "sticker": MessageType.STICKER,
    "location": MessageType.LOCATION,
    "vcard": MessageType.CONTACTS,
    "multi_vcard": MessageType.CONTACTS,
    "contact": MessageType.CONTACTS,
    "buttons_response": MessageType.INTERACTIVE,
    "list_response": MessageType.INTERACTIVE,
    "template_button_reply": MessageType.INTERACTIVE,
}
_MEDIA_TYPES: Final = frozenset(
    {
        MessageType.IMAGE,
        MessageType.VIDEO,
        MessageType.AUDIO,
        MessageType.DOCUMENT,
        MessageType.STICKER,
    }
)


def _placeholder(provider_type: str) -> _Content:
    return _Content(type=MessageType.UNKNOWN, media={"provider_type": provider_type or "unknown"})


def _baileys_content(message: Mapping[str, Any]) -> _Content:
    """A Baileys ``proto.IMessage`` (the ``message`` of a ``WAMessage``), read by
    ``sync.providers.baileys`` as Evolution's are."""
    content = baileys.unwrap(message)
    protocol = baileys.protocol_of(content)
    if protocol is not None:
        action = baileys.protocol_action(protocol)
        if action is not None and action[0] == "revoke":
            return _Content(revoked=action[1])
        if action is not None and action[0] == "edit":
            return _Content(edited=(action[1], action[2]))
        return _Content(type=MessageType.UNKNOWN, extra={"skip": True})  # key shares, syncs
    name = baileys.content_type(content)
    if name == "reactionMessage":
        reaction = baileys.reaction_of(content)
        return _Content(reaction=reaction) if reaction is not None else _placeholder(name)
    if not name and baileys.only_silent(content):
        return _Content(type=MessageType.UNKNOWN, extra={"skip": True})  # control parts only
    parsed = baileys.parse_content(name, content)
    return _Content(
        type=parsed.type,
        text=parsed.text,
        caption=parsed.caption,
        media=parsed.media,
        location=parsed.location,
        contacts=parsed.contacts,
        interactive=parsed.interactive,
        reply_to=baileys.reply_to_of(content) or None,
    )


def _wwebjs_content(data: Mapping[str, Any], body: str) -> _Content:
    """A whatsapp-web.js-style message: ``body`` plus ``type`` (Message.js)."""
    raw_type = data.get("type")
    type_name = raw_type.strip().lower() if isinstance(raw_type, str) else ""
    type_ = _WWEBJS_TYPES.get(type_name) if type_name else MessageType.TEXT
    if type_ is None:
        # A ``type`` we do not know may not be a content type at all (Baileys' upsert type is
        # "notify"): a text that came along is still the text.
        if body.strip():
            return _Content(text=body)
        return _placeholder(type_name)
    if type_ is MessageType.TEXT:
        if not body.strip():
            # The design's forwardToEngines passes the text only: an empty one means content it
            # did not pass on (media, a poll...). Kept as a placeholder, never dropped.
            return _placeholder(type_name if type_name not in ("", "chat", "text") else "")
        return _Content(text=body)
    if type_ in _MEDIA_TYPES:
        media: dict[str, Any] = {"provider_type": type_name}
        mime = str_at(data, "mimetype") or str_at(data, "mimeType")
        if mime:
            media["mime_type"] = mime[:300]
        name = str_at(data, "filename") or str_at(data, "fileName")
        if name:
            media["filename"] = name[:300]
        return _Content(type=type_, caption=body, media=media)
    if type_ is MessageType.LOCATION:
        loc = data.get("location")
        lat = number(loc.get("latitude")) if isinstance(loc, Mapping) else None
        lng = number(loc.get("longitude")) if isinstance(loc, Mapping) else None
        if lat is None or lng is None:
            return _placeholder(type_name)
        location = {
            "latitude": lat,
            "longitude": lng,
            "name": str_at(loc, "name") or str_at(loc, "description"),
            "address": str_at(loc, "address"),
        }
        return _Content(type=type_, location=location)
    if type_ is MessageType.CONTACTS:
        cards = data.get("vCards")
        vcards = [c for c in cards if isinstance(c, str)][:100] if isinstance(cards, list) else []
        if not vcards and body:
            vcards = [body]
        return _Content(type=type_, contacts=[{"name": "", "vcard": clean(v)} for v in vcards])
    interactive = {
        "type": type_name,
        "id": str_at(data, "selectedButtonId") or str_at(data, "selectedRowId"),
        "title": body,
    }
    return _Content(type=type_, text=body, interactive=interactive)


def _content_of(data: Mapping[str, Any], wa_message: Mapping[str, Any] | None) -> _Content:
    raw = data.get("message")
    if isinstance(raw, str):
        content = _wwebjs_content(data, clean(raw))
    elif wa_message is not None and isinstance(wa_message.get("message"), Mapping):
        content = _baileys_content(wa_message["message"])
    elif (
        isinstance(raw, Mapping)
        and ("body" in raw or "type" in raw)
        and not any(k == "conversation" or "Message" in k for k in raw)
    ):
        body = raw.get("body")
        content = _wwebjs_content(raw, clean(body) if isinstance(body, str) else "")
    elif isinstance(raw, Mapping):
        content = _baileys_content(raw)
    elif raw is None and isinstance(data.get("body"), str):
        content = _wwebjs_content(data, clean(data["body"]))
    elif raw is None and isinstance(data.get("text"), str):
        content = _wwebjs_content(data, clean(data["text"]))
    elif raw is None:
        content = _placeholder(clean(data.get("type"), 60))
    else:
        raise WebhookPayloadError("'message' must be a string or an object")
    quoted = str_at(data, "quotedMessageId") or str_at(data, "quotedMsgId")
    if quoted and content.reply_to is None:
        content.reply_to = quoted[:MAX_ID]
    return content


def _message_events(aid: int, data: Any, sent_at: float | None) -> list[ProviderEvent]:
    """A ``message`` event: ``data: {from, message, messageId, pushName}`` (forwardToEngines).

    Liberal about the rest: ``message`` may be the text (the design), a Baileys content object
    or a whole Baileys ``WAMessage`` (``{key, message, messageTimestamp, pushName}``), or a
    whatsapp-web.js-like ``{body, type}``; ``fromMe`` makes it ours (``direction`` out).
    """
    if not isinstance(data, Mapping):
        raise WebhookPayloadError("a message event needs a 'data' object")
    raw_message = data.get("message")
    wa: Mapping[str, Any] | None = None
    if isinstance(raw_message, Mapping) and isinstance(raw_message.get("key"), Mapping):
        wa = raw_message  # a whole WAMessage
    elif isinstance(data.get("key"), Mapping):
        wa = data  # the WAMessage's fields at the top of data
    key: Mapping[str, Any] = wa["key"] if wa is not None else {}

    from_me_raw = data.get("fromMe", key.get("fromMe"))
    if isinstance(data.get("id"), Mapping) and from_me_raw is None:
        from_me_raw = data["id"].get("fromMe")
    # JavaScript booleans; a gateway that stringifies its fields sends "true".
    from_me = from_me_raw is True or from_me_raw == 1 or from_me_raw == "true"
    sender_raw = first_str(
        data.get("from"), data.get("chatId"), data.get("remoteJid"), key.get("remoteJid")
    )
    to_raw = first_str(data.get("to"))
    # whatsapp-web.js (Message.js): ``from`` is the sender, so for our own messages the chat is
    # ``to``; Baileys' ``key.remoteJid`` is always the chat. Take ``to`` only when it is a chat.
    chat_raw = to_raw if from_me and to_raw and jid_of(to_raw) is not None else sender_raw
    if not chat_raw:
        raise WebhookPayloadError("a message event needs 'from'")
    chat = jid_of(clean(chat_raw, 200))
    if chat is None:
        raise WebhookPayloadError("'from' is not a WhatsApp chat id")
    if chat.ignored:
        return []  # status@broadcast, broadcast lists, channels: not conversations

    provider_id = first_str(
        data.get("messageId"), id_of(data.get("id")), key.get("id"), data.get("msgId")
    )
    provider_id = clean(provider_id, MAX_ID + 1)
    if not provider_id or len(provider_id) > MAX_ID:
        raise WebhookPayloadError("a message event needs a 'messageId'")

    timestamp = (
        epoch_seconds(data.get("timestamp"))
        or epoch_seconds(data.get("messageTimestamp"))
        or epoch_seconds(data.get("t"))
        or (epoch_seconds(wa.get("messageTimestamp")) if wa is not None else None)
        or sent_at
        or time.time()  # nothing says when: the moment it arrived
    )
    push_name = clean(
        first_str(
            data.get("pushName"),
            data.get("notifyName"),
            data.get("pushname"),
            wa.get("pushName") if wa is not None else None,
        ),
        200,
    )

    # The phone: from a phone JID, or (LID chats) from an alternate phone JID the gateway passed
    # (Baileys 7 ``key.remoteJidAlt``); never from LID digits.
    chat_phone = chat.phone
    if chat.is_lid:
        for alt in (
            data.get("remoteJidAlt"),
            key.get("remoteJidAlt"),
            data.get("senderPn"),
            key.get("senderPn"),
            data.get("fromAlt"),
        ):
            alt_jid = jid_of(alt) if isinstance(alt, str) else None
            if alt_jid is not None and alt_jid.phone:
                chat_phone = alt_jid.phone
                break
    if chat.is_group:
        chat_key = chat.normalized
    elif chat_phone:
        chat_key = chat_key_for_phone(chat_phone)
    else:
        chat_key = chat.normalized

    sender_phone = ""
    if chat.is_group:
        author_raw = first_str(data.get("author"), data.get("participant"), key.get("participant"))
        author = jid_of(author_raw) if author_raw else None
        if author is not None and author.phone:
            sender_phone = author.phone
        else:
            alt_raw = first_str(
                data.get("participantAlt"),
                key.get("participantAlt"),
                data.get("participantPn"),
                key.get("participantPn"),
            )
            alt = jid_of(alt_raw) if alt_raw else None
            if alt is not None and alt.phone:
                sender_phone = alt.phone
    elif not from_me:
        sender_phone = chat_phone

    direction = Direction.OUT if from_me else Direction.IN
    content = _content_of(data, wa)
    chat_jid = clean(chat.raw, 200)
    if content.reaction is not None:
        target, emoji = content.reaction
        return [
            ReactionEvent(
                account_id=aid,
                provider_message_id=provider_id,
                target_message_id=target,
                emoji=emoji,
                chat_key=chat_key,
                chat_phone=chat_phone,
                direction=direction,
                timestamp=timestamp,
                sender_phone=sender_phone,
                sender_name="" if from_me else push_name,
                chat_jid=chat_jid,
                is_group=chat.is_group,
            )
        ]
    if content.revoked is not None:
        return [
            RevokeEvent(
                account_id=aid,
                target_message_id=content.revoked,
                chat_key=chat_key,
                chat_phone=chat_phone,
                timestamp=timestamp,
                provider_message_id=provider_id,
                direction=direction,
                chat_jid=chat_jid,
            )
        ]
    if content.edited is not None:
        target, text = content.edited
        return [
            EditEvent(
                account_id=aid,
                target_message_id=target,
                text=text,
                chat_key=chat_key,
                chat_phone=chat_phone,
                timestamp=timestamp,
                provider_message_id=provider_id,
                direction=direction,
                chat_jid=chat_jid,
            )
        ]
    if content.extra.get("skip"):
        return []  # protocol housekeeping (key shares, history sync notices): no bubble
    return [
        MessageEvent(
            account_id=aid,
            provider_message_id=provider_id,
            chat_key=chat_key,
            chat_phone=chat_phone,
            direction=direction,
            timestamp=timestamp,
            type=content.type,
            text=content.text,
            sender_name="" if from_me else push_name,
            sender_phone=sender_phone,
            is_group=chat.is_group,
            reply_to=content.reply_to,
            media=content.media,
            chat_jid=chat_jid,
            caption=content.caption,
            location=content.location,
            contacts=content.contacts,
            interactive=content.interactive,
        )
    ]
