"""Evolution API (v2.3.x, Baileys 7): QR-linked numbers through a self-hosted Evolution server.

One Evolution "instance" is one linked WhatsApp number. The adapter creates (or reuses) the
instance, points its webhook at Caixa's receiver with a per-account secret header, shows the QR
or pairing code, sends text, media and reactions, marks messages read, checks numbers, and
backfills recent history. ``parse_webhook`` turns Evolution's webhook POSTs into normalized events.

Wire formats follow the Evolution API source (``EvolutionAPI/evolution-api``, tag 2.3.6) and
Baileys (``WhiskeySockets/Baileys``, 7.0.0-rc). Paths cited below are in those repositories:

- routes: ``src/api/routes/{instance,sendMessage,chat}.router.ts``,
  ``src/api/integrations/event/webhook/webhook.router.ts`` (``/webhook/set/{instance}``);
- auth: ``src/api/guards/auth.guard.ts`` (header ``apikey``: the global key works everywhere, an
  instance's token only on routes naming that instance and on ``fetchInstances``; ``create``
  needs the global key), ``src/api/guards/instance.guard.ts`` (404 for an unknown instance,
  403 when ``create`` names one in use);
- error bodies: ``src/main.ts`` (``{status, error, response: {message}}``) and
  ``src/exceptions/*.exception.ts``;
- webhook bodies: ``src/api/integrations/event/webhook/webhook.controller.ts``
  (``{event, instance, data, destination, date_time, sender, server_url, apikey}``, the
  instance's ``headers`` sent as HTTP headers, ``webhookByEvents`` adding ``/messages-upsert``);
- event payloads: ``src/api/integrations/channel/whatsapp/whatsapp.baileys.service.ts``
  (``prepareMessage``, ``connectionUpdate``, ``messages.update``, ``contactHandle``) and
  ``src/api/services/monitor.service.ts`` (``logout.instance`` / ``remove.instance``);
- message content: Baileys ``WAProto/WAProto.proto`` and ``src/Utils/messages.ts``
  (``normalizeMessageContent``: the ephemeral / view-once / document-with-caption wrappers);
  keys: ``src/Utils/decode-wa-message.ts`` (``remoteJidAlt`` / ``participantAlt``);
  disconnect codes: ``src/Types/index.ts`` (``DisconnectReason``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import mimetypes
import random
import re
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ClassVar, Final
from urllib.parse import quote, urlsplit

import httpx

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
from sync.domain.messages import OutgoingMessage
from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.providers.accounts import EvolutionAccount, Secret
from sync.providers.base import (
    AccountInfo,
    AuthError,
    Capabilities,
    DeliveryUnknown,
    EventSink,
    NotSent,
    PermanentSendError,
    ProviderError,
    RateLimited,
    SendResult,
    WebhookAuthError,
    WebhookPayloadError,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
    log_skipped_item,
    parse_failure,
)

log = logging.getLogger(__name__)

WEBHOOK_TOKEN_HEADER: Final = "x-caixa-webhook-token"
"""The header Evolution sends back on every webhook (set through the instance's webhook
``headers``): Evolution does not sign its webhooks, so this per-account secret is the proof."""

INTEGRATION: Final = "WHATSAPP-BAILEYS"  # src/api/types/wa.types.ts: Integration.WHATSAPP_BAILEYS

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

# WhatsApp's own limit on a text message; Evolution and Baileys publish none of their own.
MAX_TEXT: Final = 65_536
# src/main.ts: express.json({limit: '136mb'}) bounds a base64 body; base64 adds a third, so a
# local file above ~100 MB could never arrive. WhatsApp itself caps photos, videos, voice notes
# and stickers at 16 MB.
MAX_DOCUMENT_BYTES: Final = 100 * 1024 * 1024
MAX_MEDIA_BYTES: Final = 16 * 1024 * 1024
MAX_ID = 256  # longest message id accepted from a webhook (WhatsApp's are 16-40 characters)

# --- connection states and Baileys disconnect codes ---------------------------------------------
#
# Baileys (src/Types/index.ts, DisconnectReason): loggedOut 401, forbidden 403, connectionReplaced
# 440, badSession 500, restartRequired 515, multideviceMismatch 411, timedOut/connectionLost 408,
# connectionClosed 428, unavailableService 503. Evolution reconnects by itself on every close but
# loggedOut, forbidden, 402 and 406 (whatsapp.baileys.service.ts, connectionUpdate:
# ``codesToNotReconnect``); for those it deletes the session, so only a new pairing helps.

_REPAIR_REASONS: Final[dict[int, tuple[ConnectionState, str]]] = {
    401: (ConnectionState.NEEDS_REPAIR, "logged out: the phone removed this linked device"),
    403: (ConnectionState.BLOCKED, "WhatsApp refused this number (banned or restricted)"),
    402: (ConnectionState.NEEDS_REPAIR, "WhatsApp ended the session (code 402)"),
    406: (ConnectionState.NEEDS_REPAIR, "WhatsApp ended the session (code 406)"),
    # "Multi-device beta not joined" (Baileys socket.ts): reconnecting can never succeed.
    411: (ConnectionState.NEEDS_REPAIR, "the phone's WhatsApp does not support linked devices"),
    # badSession: the stored session keys are unusable. Baileys' own guidance for it is to delete
    # the session and scan again; reconnecting on the same keys only fails again, so the user is
    # asked to pair at once, as for a logout.
    500: (ConnectionState.NEEDS_REPAIR, "the session is broken (bad session): pair again"),
}
# Reconnectable closes. 440 means another connection took over the same session; Evolution itself
# reconnects on it, as Baileys' README example does.
_TRANSIENT_REASONS: Final[dict[int, str]] = {
    408: "the connection timed out",
    428: "the connection was closed",
    440: "another connection replaced this session",
    503: "WhatsApp is unavailable",
}
REASON_BAD_SESSION: Final = _REPAIR_REASONS[500][1]
REASON_LOGGED_OUT: Final = "logged out (Evolution ended the session)"
REASON_QR_EXPIRED: Final = "the QR code expired before the phone scanned it: pair again"
REASON_QR_UNASKED: Final = "WhatsApp asks for a new QR scan: pair again"
REASON_NOT_LINKED: Final = "no phone is linked to this instance yet: pair it"
# How long after request_pairing QRs are expected: Evolution gives up after QRCODE_LIMIT codes
# (30 by default, each valid for about 20-60 s), so a dialog left open is over by then.
PAIRING_WINDOW: Final = 15 * 60.0


def _close_event(account_id: int, code: int | None) -> ConnectionEvent:
    """What a ``close`` with Baileys status ``code`` means for the number."""
    if code in _REPAIR_REASONS:
        state, reason = _REPAIR_REASONS[code]
        return ConnectionEvent(account_id, state, needs_repair=True, reason=reason)
    if code == 515:
        # restartRequired: sent right after a scan; Evolution opens a new socket at once.
        return ConnectionEvent(account_id, ConnectionState.CONNECTING, reason="restarting")
    reason = _TRANSIENT_REASONS.get(code or 0, "the connection was closed")
    if code and code not in _TRANSIENT_REASONS:
        reason = f"{reason} (code {code})"
    return ConnectionEvent(account_id, ConnectionState.OFFLINE, reason=reason)


# === webhooks ====================================================================================


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
    event = _event_name(body.get("event"), request.event)
    own = _user(_str(body.get("sender")))
    events = _normalize_event(account.account_id, event, body.get("data"), own)
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


def _event_name(body_event: Any, path_event: str) -> str:
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


def _normalize_event(account_id: int, event: str, data: Any, own: str) -> list[ProviderEvent]:
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


# --- small typed accessors: a hostile body must not reach a TypeError -------------------------


def _str(value: Any) -> str:
    # Texts are kept as they came: NUL and lone surrogates are cleaned on the way into the
    # stores (sync.domain.text.clean_text, applied by both ingests), for every provider alike.
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _num(value: Any) -> float | None:
    """A finite number from a JSON number or a numeric string (never a bool)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # JSON allows a 4,000-digit integer
            return None
    elif isinstance(value, str) and len(value) < 40:
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _long(value: Any) -> float | None:
    """A protobuf int64 as JSON has it: a number, a numeric string or ``{low, high, unsigned}``."""
    long = _dict(value)
    if long is not None:
        low, high = long.get("low"), long.get("high")
        if isinstance(low, bool) or isinstance(high, bool):
            return None
        if not isinstance(low, int) or not isinstance(high, int):
            return None
        if not (-(2**31) <= low < 2**32 and -(2**31) <= high < 2**32):
            return None
        if long.get("unsigned") is True:
            high &= 0xFFFFFFFF
        elif high >= 2**31:
            high -= 2**32
        return float(high * 2**32 + (low & 0xFFFFFFFF))
    return _num(value)


def _timestamp(value: Any) -> float | None:
    """Epoch seconds from Baileys' ``messageTimestamp`` (seconds; milliseconds are tolerated)."""
    seconds = _long(value)
    if seconds is None or seconds <= 0:
        return None
    if seconds > 1e11:  # milliseconds (e.g. a protocolMessage's timestampMs)
        seconds /= 1000.0
    return seconds if seconds < 1e10 else None


def _id(value: Any) -> str:
    text = _str(value).strip()
    return text if 0 < len(text) <= MAX_ID else ""


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
    record = _dict(data)
    if record is not None and "key" not in record and isinstance(record.get("messages"), list):
        return record["messages"]  # {messages: [...], type}: Baileys' own upsert shape
    return data


# --- JIDs -----------------------------------------------------------------------------------------
#
# Baileys src/WABinary/jid-utils.ts: ``user[_agent][:device]@server``; phone-number servers are
# s.whatsapp.net, c.us and hosted; LIDs live on lid and hosted.lid. A LID's digits are NOT a
# phone number and are never used as one.

_PN_SERVERS: Final = frozenset({"s.whatsapp.net", "c.us", "hosted"})
_LID_SERVERS: Final = frozenset({"lid", "hosted.lid"})


def _split(jid: str) -> tuple[str, str]:
    user, at, server = jid.partition("@")
    if not at:
        return "", ""
    return user.split(":", 1)[0].split("_", 1)[0], server.lower()


def _user(jid: str) -> str:
    return _split(jid)[0]


def _phone_of(jid: str) -> str:
    """Digits of a phone-number JID; "" for a LID, a group or anything else."""
    user, server = _split(jid)
    if server in _PN_SERVERS and user.isdigit() and user.isascii() and 5 <= len(user) <= 20:
        return user
    return ""


def _lid_of(jid: str) -> str:
    """The LID JID (device stripped) of a LID; "" otherwise."""
    user, server = _split(jid)
    return f"{user}@{server}" if server in _LID_SERVERS and user else ""


def _is_group(jid: str) -> bool:
    return jid.endswith("@g.us")


def _ignored_chat(jid: str) -> bool:
    # status@broadcast (statuses), broadcast lists and newsletters (channels) are not chats.
    return jid.endswith("@broadcast") or jid.endswith("@newsletter")


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
    remote = _str(key.get("remoteJid")).strip()
    if not remote or _ignored_chat(remote):
        return None
    if _is_group(remote):
        return _Chat(remote, "", remote, True)
    candidates = [
        remote,
        _str(key.get("remoteJidAlt")),
        _str(key.get("senderPn")),
        _str(key.get("previousRemoteJid")),
    ]
    previous = _lid_of(candidates[3])
    chat_jid = _str(key.get("previousRemoteJid")) if previous else remote
    phone = ""
    for jid in candidates:
        digits = _phone_of(jid)
        # The alternate of our own echo can be our own number (sender_pn): never our own chat.
        if digits and (digits != own or _phone_of(remote) == own):
            phone = digits
            break
    if phone:
        return _Chat(phone, phone, chat_jid, False)
    lid = next((_lid_of(j) for j in candidates if _lid_of(j)), "")
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
        digits = _phone_of(_str(jid))
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
    part = _dict(content.get(wrapper))
    return _dict(part.get("message")) if part is not None else None


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
    protocol = _dict(content.get("protocolMessage"))
    if protocol is None:
        edited = _inner(content, "editedMessage")
        protocol = _dict(edited.get("protocolMessage")) if edited is not None else None
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
        return _str(content["conversation"])
    extended = _dict(content.get("extendedTextMessage"))
    if extended is not None:
        return _str(extended.get("text"))
    for name in _MEDIA:
        media = _dict(content.get(name))
        if media is not None:
            return _str(media.get("caption"))
    return ""


def _context_of(content: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    # prepareMessage moves an extendedTextMessage's contextInfo to the record's top level.
    for value in content.values():
        context = _dict(_dict(value) and value.get("contextInfo"))
        if context:
            return context
    return _dict(item.get("contextInfo")) or {}


def _media_info(name: str, media: Mapping[str, Any], message: Mapping[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {"provider_type": name}
    for field, out in (("mimetype", "mime_type"), ("fileName", "filename"), ("url", "url")):
        value = _str(media.get(field))
        if value:
            info[out] = value
    size = _long(media.get("fileLength"))
    if size is not None and size >= 0:
        info["size"] = int(size)
    seconds = _num(media.get("seconds"))
    if seconds is not None and seconds >= 0:
        info["seconds"] = seconds
    if name == "audioMessage":
        info["voice"] = media.get("ptt") is True
    if name == "ptvMessage":
        info["round"] = True
    if media.get("gifPlayback") is True:
        info["gif"] = True
    media_url = _str(message.get("mediaUrl"))  # Evolution's S3 copy, when S3 is configured
    if media_url:
        info["media_url"] = media_url
    return info


_WAID = re.compile(r"waid=(\d{5,20})")


def _contact_card(card: Mapping[str, Any]) -> dict[str, Any]:
    vcard = _str(card.get("vcard"))[:20_000]
    return {
        "name": _str(card.get("displayName")),
        "vcard": vcard,
        "phones": _WAID.findall(vcard),
    }


def _location(location: Mapping[str, Any], live: bool) -> dict[str, Any] | None:
    latitude = _num(location.get("degreesLatitude"))
    longitude = _num(location.get("degreesLongitude"))
    if latitude is None or longitude is None:
        return None
    out: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    for field in ("name", "address", "url", "comment", "caption"):
        value = _str(location.get(field))
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
    part = _dict(value) or {}
    if name == "conversation":
        return _Content(MessageType.TEXT, text=_str(value))
    if name == "extendedTextMessage":
        return _Content(MessageType.TEXT, text=_str(part.get("text")))
    if name in _MEDIA:
        kind = _MEDIA[name]
        caption = "" if kind in (MessageType.AUDIO, MessageType.STICKER) else part.get("caption")
        return _Content(kind, caption=_str(caption), media=_media_info(name, part, content))
    if name in ("locationMessage", "liveLocationMessage"):
        place = _location(part, live=name == "liveLocationMessage")
        if place is not None:
            return _Content(MessageType.LOCATION, location=place, caption=_str(part.get("caption")))
    if name == "contactMessage":
        return _Content(MessageType.CONTACTS, contacts=[_contact_card(part)])
    if name == "contactsArrayMessage":
        cards = part.get("contacts")
        listed = (
            [_contact_card(c) for c in cards if isinstance(c, dict)][:100]
            if isinstance(cards, list)
            else []
        )
        return _Content(MessageType.CONTACTS, text=_str(part.get("displayName")), contacts=listed)
    if name == "buttonsResponseMessage":
        title = _str(part.get("selectedDisplayText"))
        reply = {"type": "button_reply", "id": _str(part.get("selectedButtonId")), "title": title}
        return _Content(MessageType.INTERACTIVE, text=title, interactive=reply)
    if name == "templateButtonReplyMessage":
        title = _str(part.get("selectedDisplayText"))
        reply = {"type": "button_reply", "id": _str(part.get("selectedId")), "title": title}
        return _Content(MessageType.INTERACTIVE, text=title, interactive=reply)
    if name == "listResponseMessage":
        title = _str(part.get("title"))
        selected = _dict(part.get("singleSelectReply")) or {}
        reply = {
            "type": "list_reply",
            "id": _str(selected.get("selectedRowId")),
            "title": title,
            "description": _str(part.get("description")),
        }
        return _Content(MessageType.INTERACTIVE, text=title, interactive=reply)
    if name == "interactiveResponseMessage":
        body = _str((_dict(part.get("body")) or {}).get("text"))
        flow = _dict(part.get("nativeFlowResponseMessage")) or {}
        # The same keys as Meta's nfm_reply (meta_cloud.py), so a Flow's answer reads alike.
        reply = {
            "type": "nfm_reply",
            "name": _str(flow.get("name")),
            "body": body,
            "response_json": _str(flow.get("paramsJson"))[:20_000],
        }
        return _Content(MessageType.INTERACTIVE, text=body, interactive=reply)
    if name == "buttonsMessage":
        return _Content(MessageType.INTERACTIVE, text=_str(part.get("contentText")))
    if name == "listMessage":
        text = _str(part.get("description")) or _str(part.get("title"))
        return _Content(MessageType.INTERACTIVE, text=text)
    if name == "interactiveMessage":
        body = _str((_dict(part.get("body")) or {}).get("text"))
        return _Content(MessageType.INTERACTIVE, text=body)
    if name == "templateMessage":
        hydrated = _dict(part.get("hydratedTemplate")) or _dict(part.get("hydratedFourRowTemplate"))
        return _Content(
            MessageType.TEMPLATE, text=_str((hydrated or {}).get("hydratedContentText"))
        )
    unknown = _Content(MessageType.UNKNOWN, media={"provider_type": name or "unknown"})
    if name in _POLLS:
        unknown.text = _str(part.get("name"))
    return unknown


# --- one message record (messages.upsert / send.message / messages.set / findMessages) ---------


def _normalize_message(account_id: int, item: Mapping[str, Any], own: str) -> list[ProviderEvent]:
    key = _dict(item.get("key"))
    if key is None:
        raise WebhookPayloadError("a message has no 'key'")
    message_id = _id(key.get("id"))
    if not message_id:
        raise WebhookPayloadError("a message key has no usable 'id'")
    if not _str(key.get("remoteJid")).strip():
        raise WebhookPayloadError("a message key has no 'remoteJid'")
    chat = _chat_of(key, own)
    if chat is None:
        return []  # status@broadcast, broadcast lists, newsletters
    timestamp = _timestamp(item.get("messageTimestamp"))
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
        return _reaction(account_id, _dict(content[name]) or {}, key, item, chat, timestamp, own)
    if not name and content and all(k in _SILENT for k in content):
        return []  # only control parts (poll votes, key distribution): nothing to show
    if name:
        parsed = _classify(name, content)
    else:  # no content Caixa can read: a placeholder, never dropped
        provider_type = _str(item.get("messageType"))[:100] or "unknown"
        parsed = _Content(MessageType.UNKNOWN, media={"provider_type": provider_type})
    context = _context_of(content, item)
    reply_to = _id(context.get("stanzaId")) or None
    push_name = _str(item.get("pushName"))
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
    target = _id((_dict(reaction.get("key")) or {}).get("id"))
    if not target:
        return []  # a reaction to nothing: no bubble either way
    from_me = key.get("fromMe") is True
    return [
        ReactionEvent(
            account_id=account_id,
            provider_message_id=_id(key.get("id")),
            target_message_id=target,
            emoji=_str(reaction.get("text"))[:64],
            chat_key=chat.key,
            chat_phone=chat.phone,
            direction=Direction.OUT if from_me else Direction.IN,
            timestamp=timestamp,
            sender_phone="" if from_me else _sender_phone(key, item, chat),
            sender_name="" if from_me else _str(item.get("pushName")),
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
    target_key = _dict(protocol.get("key")) or {}
    target = _id(target_key.get("id"))
    if not target:
        raise WebhookPayloadError("an edit or delete names no message")
    if outer_key is not None:
        chat = _chat_of(outer_key, own)
        if chat is None:
            return []
        direction = Direction.OUT if outer_key.get("fromMe") is True else Direction.IN
        provider_id = _id(outer_key.get("id"))
    else:
        remote = _str(target_key.get("remoteJid"))
        if own and _user(remote) == own and not _is_group(remote):
            chat, direction = _Chat("", "", "", False), Direction.IN
        else:
            chat = _chat_of(target_key, own) or _Chat("", "", "", False)
            mine = sent_by_us or target_key.get("fromMe") is True
            direction = Direction.OUT if mine else Direction.IN
        provider_id = ""
        timestamp = _timestamp(protocol.get("timestampMs")) or 0.0
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
    edited = _dict(protocol.get("editedMessage")) or {}
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
    key = _dict(item.get("key")) or {}
    message_id = _id(item.get("keyId")) or _id(key.get("id")) or _id(item.get("messageId"))
    if not message_id:
        raise WebhookPayloadError("messages.update: no message id")
    remote = _str(item.get("remoteJid")) or _str(key.get("remoteJid"))
    if _ignored_chat(remote):
        return []
    raw = item.get("status")
    if raw is None:  # Baileys' own {key, update: {status}} shape
        raw = (_dict(item.get("update")) or {}).get("status")
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < len(_STATUS_NUMBERS):
        raw = _STATUS_NUMBERS[raw]
    name = _str(raw).strip().upper()
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
            chat_phone=_phone_of(remote),
        )
    ]


def _deleted(account_id: int, item: Mapping[str, Any], own: str) -> list[ProviderEvent]:
    """messages.delete: Baileys' key of the revoked message (revoke received), or Evolution's
    stored message row with its ``key`` (deleteMessageForEveryone through the API)."""
    key = _dict(item.get("key")) or item
    target = _id(key.get("id"))
    if not target:
        raise WebhookPayloadError("messages.delete: no message id")
    remote = _str(key.get("remoteJid"))
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
    state = _str(data.get("state")).lower()
    reason = _long(data.get("statusReason"))
    code = int(reason) if reason is not None and abs(reason) < 1e6 else None
    if state == "open":
        return [
            ConnectionEvent(
                account_id, ConnectionState.CONNECTED, phone=_phone_of(_str(data.get("wuid")))
            )
        ]
    if state == "connecting":
        return [ConnectionEvent(account_id, ConnectionState.CONNECTING)]
    if state == "close":
        return [_close_event(account_id, code)]
    if state == "refused":  # the QR limit was reached (connectionUpdate: QRCODE.LIMIT)
        return [
            ConnectionEvent(
                account_id, ConnectionState.OFFLINE, needs_repair=True, reason=REASON_QR_EXPIRED
            )
        ]
    return []


def _status_instance(account_id: int, data: Any) -> list[ProviderEvent]:
    record = _dict(data) or {}
    if _str(record.get("status")).lower() != "closed":
        return []
    code = _long(record.get("disconnectionReasonCode"))
    return [_close_event(account_id, int(code) if code is not None and abs(code) < 1e6 else None)]


def _qr(account_id: int, data: Mapping[str, Any]) -> list[ProviderEvent]:
    qrcode = _dict(data.get("qrcode"))
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
    code, pairing = _str(qrcode.get("code")), _str(qrcode.get("pairingCode"))
    if not code and not pairing:
        return []
    return [QrEvent(account_id, qr_code=code[:4096], pairing_code=pairing[:32])]


def _contact(account_id: int, item: Mapping[str, Any]) -> list[ProviderEvent]:
    """contacts.upsert / contacts.update: ``{remoteJid, pushName, profilePicUrl}``; Baileys'
    own ``{id, lid, phoneNumber, name, notify}`` fields are read too when present."""
    jid = _str(item.get("remoteJid")) or _str(item.get("id"))
    if not jid or "@" not in jid or _ignored_chat(jid):
        return []
    alternates = [
        _str(item.get(f)) for f in ("remoteJidAlt", "phoneNumber", "senderPn", "lid", "jid")
    ]
    phone = next((p for p in (_phone_of(j) for j in [jid, *alternates]) if p), "")
    lid = next((x for x in (_lid_of(j) for j in [jid, *alternates]) if x), "")
    name = ""
    for field in ("pushName", "name", "notify", "verifiedName"):
        name = _str(item.get(field)).strip()
        if name:
            break
    if name == _user(jid):
        name = ""  # contactHandle's fallback is the JID's digits, not a name (and maybe a LID's)
    if _is_group(jid):
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
        key = _dict(record.get("key")) or {}
        updates = record.get("MessageUpdate")
        if events and key.get("fromMe") is True and isinstance(updates, list):
            best: DeliveryStatus | None = None
            for update in updates:
                status = _STATUS.get(_str((_dict(update) or {}).get("status")).upper())
                if status is not None and (best is None or best.can_become(status)):
                    best = status
            if best is not None and best.rank > DeliveryStatus.SENT.rank:
                out.append(StatusEvent(account_id, _id(key.get("id")), best, 0.0))
    return out


# === the adapter =================================================================================


@dataclass(frozen=True, slots=True)
class NumberCheck:
    """What ``/chat/whatsappNumbers`` says of one number."""

    number: str
    exists: bool
    jid: str = ""
    name: str = ""
    lid: str = ""


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential backoff with full jitter: attempt ``n`` waits ``rng() * min(cap, base * 2**n)``.

    Attempts reset once a connection has stayed open ``stable_seconds`` (a flapping link keeps
    backing off); after ``max_attempts`` the adapter stops and says so.
    """

    base: float = 2.0
    cap: float = 300.0
    max_attempts: int = 12
    stable_seconds: float = 30.0


def webhook_url_for(receiver_base: str, instance: str) -> str:
    """The URL Evolution should POST this instance's events to (the receiver's route)."""
    return f"{receiver_base.rstrip('/')}/hooks/evolution/{quote(instance, safe='')}"


class EvolutionAdapter:
    """One QR-linked number on an Evolution API server (``QrLinkAdapter``)."""

    kind: ClassVar[str] = "evolution"
    capabilities: ClassVar[Capabilities] = Capabilities(
        templates=False,  # templates are Meta's; a linked phone sends free text at any time
        max_text_length=MAX_TEXT,
        # A linked personal number sending fast is what WhatsApp bans: stay at a human pace.
        sends_per_second=1.0,
        needs_qr_link=True,
        media=True,
        echoes_client_ref=False,
    )

    def __init__(
        self,
        account: EvolutionAccount,
        http: httpx.AsyncClient,
        *,
        webhook_url: str | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        reconnect: ReconnectPolicy | None = None,
        backfill_after_link: float = 20.0,
        backfill_limit: int = 500,
        socket_events: bool = True,
        observer: Callable[[Sequence[ProviderEvent]], None] | None = None,
    ) -> None:
        self.account_id = account.account_id
        self._account = account
        self._http = http
        self._webhook_url = webhook_url
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._policy = reconnect or ReconnectPolicy()
        self._backfill_delay = backfill_after_link
        self._backfill_limit = backfill_limit
        self._base = account.base_url.rstrip("/")
        self._sink: EventSink | None = None
        self._state = ConnectionState.OFFLINE
        self._reason = ""
        self._needs_repair = False
        self._phone = ""
        self._attempts = 0
        self._opened_at: float | None = None
        self._pairing_until: float | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        # Without a webhook address, events come over Evolution's Socket.IO (see _socket_loop).
        self._use_socket = socket_events and not webhook_url
        self._observer = observer
        self._socket_task: asyncio.Task[None] | None = None
        self.socket_connected = False

    def __repr__(self) -> str:
        return (
            f"EvolutionAdapter(kind={self.kind!r}, account_id={self.account_id}, "
            f"name={self._account.name!r})"
        )

    # --- state ------------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        """The link's state as last seen (webhooks, polls, the reconnect loop)."""
        return self._state

    @property
    def reason(self) -> str:
        """Why the link is not connected, in English ("" when connected)."""
        return self._reason

    @property
    def needs_repair(self) -> bool:
        """Only a new pairing can bring this number back (logged out, banned, session gone)."""
        return self._needs_repair

    def ready_to_send(self) -> bool:
        """True only while the WhatsApp connection is open."""
        return self._state is ConnectionState.CONNECTED and not self._closed

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        """Learn the link's state (never raises for provider trouble) and fix the webhook."""
        self._sink = sink
        if self._webhook_url:
            try:
                await self.ensure_webhook()
            except ProviderError as exc:  # check() below says what it means for the number
                log.warning("evolution %s: could not set the webhook: %s", self._path, exc)
        elif self._use_socket and self._socket_task is None:
            self._socket_task = self._spawn(self._socket_loop())
        try:
            info = await self.check()
        except ProviderError as exc:
            self._apply(ConnectionEvent(self.account_id, ConnectionState.OFFLINE, reason=_why(exc)))
        else:
            if info.state is ConnectionState.CONNECTED:
                self._apply(
                    ConnectionEvent(self.account_id, ConnectionState.CONNECTED, phone=info.phone)
                )
            elif info.state in (ConnectionState.NEEDS_REPAIR, ConnectionState.BLOCKED):
                self._apply(
                    ConnectionEvent(
                        self.account_id, info.state, needs_repair=True, reason=self._reason
                    )
                )
            elif info.state is ConnectionState.OFFLINE:
                self._apply(
                    ConnectionEvent(
                        self.account_id, ConnectionState.OFFLINE, reason="the connection was closed"
                    )
                )
            else:
                self._apply(ConnectionEvent(self.account_id, info.state))
        await self._push([self._snapshot()])

    async def aclose(self) -> None:
        """Stop the reconnect loop and any pending backfill."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._reconnect_task = None

    def observe(self, events: Sequence[ProviderEvent]) -> None:
        """Follow this number's events from the receiver: readiness, reconnects, re-pairing."""
        for event in events:
            if getattr(event, "account_id", None) != self.account_id:
                continue
            if isinstance(event, ConnectionEvent | QrEvent | AccountRemovedEvent):
                self._apply(event)

    def _snapshot(self) -> ConnectionEvent:
        return ConnectionEvent(
            self.account_id,
            self._state,
            needs_repair=self._needs_repair,
            phone=self._phone if self._state is ConnectionState.CONNECTED else "",
            reason=self._reason,
        )

    def _apply(self, event: ConnectionEvent | QrEvent | AccountRemovedEvent) -> None:
        """The reconnect policy: one loop at most, backoff with jitter, stop when only the user
        can help (logout, ban, removed instance, a QR nobody asked for)."""
        now = self._clock()
        if isinstance(event, AccountRemovedEvent):
            self._enter(ConnectionState.NEEDS_REPAIR, event.reason, repair=True)
            return
        if isinstance(event, QrEvent):
            if self._pairing:
                self._enter(ConnectionState.WAITING_FOR_QR, "", repair=False)
            else:
                # Evolution only shows a QR when the session is gone (it reconnects a live one
                # by itself): nobody is looking at this QR, the user has to pair again.
                self._enter(ConnectionState.NEEDS_REPAIR, REASON_QR_UNASKED, repair=True)
                self._spawn(self._push([self._snapshot()]))
            return
        if event.state is ConnectionState.CONNECTED:
            self._opened_at = now
            if event.phone:
                self._phone = event.phone
            self._enter(ConnectionState.CONNECTED, "", repair=False)
            if self._pairing:
                self._pairing_until = None
                self._attempts = 0
                self._spawn(self._backfill_after_link())
            return
        # Any state but open: was the last open stable? Then this is a fresh outage.
        if self._opened_at is not None and now - self._opened_at >= self._policy.stable_seconds:
            self._attempts = 0
        self._opened_at = None
        if event.needs_repair or event.state in (
            ConnectionState.NEEDS_REPAIR,
            ConnectionState.BLOCKED,
        ):
            self._enter(event.state, event.reason, repair=True)
            return
        if self._needs_repair and not self._pairing:
            return  # sticky: only a new pairing or an open link clears it (late closes don't)
        if event.state is not ConnectionState.OFFLINE:
            # connecting / waiting for QR: Evolution is at work, no nudge needed.
            self._enter(event.state, event.reason, repair=False)
            return
        self._enter(ConnectionState.OFFLINE, event.reason, repair=False)
        self._ensure_reconnecting()

    @property
    def _pairing(self) -> bool:
        """A pairing the user asked for is under way (QRs are expected, not a lost session)."""
        return self._pairing_until is not None and self._clock() < self._pairing_until

    def reconnect_now(self) -> None:
        """Start reconnecting again from the shortest delay (after the adapter gave up)."""
        self._attempts = 0
        if self._offline():
            self._ensure_reconnecting()

    def _offline(self) -> bool:
        return self._state is ConnectionState.OFFLINE and not self._needs_repair

    def _enter(self, state: ConnectionState, reason: str, *, repair: bool) -> None:
        self._state = state
        self._reason = reason
        self._needs_repair = repair
        if state is ConnectionState.CONNECTED or repair:
            self._stop_reconnecting()

    def _ensure_reconnecting(self) -> None:
        running = self._reconnect_task is not None and not self._reconnect_task.done()
        if self._closed or running:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # observed outside a loop (a CLI parse): nothing to run
        self._reconnect_task = self._spawn(self._reconnect_loop())

    def _stop_reconnecting(self) -> None:
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None and task is not _current_task():
            task.cancel()

    async def _reconnect_loop(self) -> None:
        policy = self._policy
        while self._offline():
            if self._attempts >= policy.max_attempts:
                self._reason = f"gave up reconnecting after {policy.max_attempts} attempts"
                log.warning("evolution %s: %s", self._account.instance, self._reason)
                await self._push([self._snapshot()])
                return
            delay = self._rng() * min(policy.cap, policy.base * 2**self._attempts)
            self._attempts += 1
            log.info(
                "evolution %s: reconnect attempt %d in %.1f s",
                self._account.instance,
                self._attempts,
                delay,
            )
            await self._sleep(delay)
            if not self._offline():
                return
            try:
                state = await self.connection_state()
                if state == "close":
                    await self._call("GET", f"/instance/connect/{self._path}")
                    continue
                if state == "open":
                    self._apply(ConnectionEvent(self.account_id, ConnectionState.CONNECTED))
                    await self._push([self._snapshot()])
                    return
            except AuthError as exc:
                self._reason = _why(exc)
                await self._push([self._snapshot()])
                return
            except ProviderError as exc:
                log.info("evolution %s: reconnect attempt failed: %s", self._account.instance, exc)

    # --- pairing -----------------------------------------------------------------------------

    async def request_pairing(self, *, phone: str = "") -> QrEvent:
        """Create (or reuse) the instance with Caixa's webhook and return the first QR.

        With ``phone`` Evolution also makes the 8-character pairing code
        (instance.controller.ts: ``create`` with ``number``; ``connect?number=`` for an instance
        that is closed). Later QRs and the link itself arrive as webhook events.
        """
        digits = "".join(ch for ch in phone if ch.isdigit())
        if phone and not 8 <= len(digits) <= 20:
            raise PermanentSendError("the pairing phone must be digits with the country code")
        row = await self._find_instance()
        self._pairing_until = self._clock() + PAIRING_WINDOW
        created = False
        if row is None:
            answer = await self._create(digits)
            if answer is not None:
                created = True
                qr = _qr_from(self.account_id, _dict(answer.get("qrcode")) or {})
                if qr.qr_code or qr.pairing_code:
                    self._enter(ConnectionState.WAITING_FOR_QR, "", repair=False)
                    self._kick_socket()
                    return qr
            row = {} if created else await self._find_instance() or {}
        elif self._webhook_url:
            await self.ensure_webhook()
        if digits and not created:
            linked = bool(_str(row.get("ownerJid")))
            if not linked and await self.connection_state() == "connecting":
                # connect ignores ?number= while a socket is up (instance.controller.ts,
                # connectToWhatsapp): close the unlinked socket so the code can be made.
                with contextlib.suppress(PermanentSendError):
                    await self._call("DELETE", f"/instance/logout/{self._path}")
        # A created instance already has its number (create's ``number``).
        result = await self.connect(phone="" if created else digits)
        if result is None:  # already open: nothing to scan
            self._pairing_until = None
            own = _phone_of(_str(row.get("ownerJid")))
            self._apply(ConnectionEvent(self.account_id, ConnectionState.CONNECTED, phone=own))
            await self._push([self._snapshot()])
            return QrEvent(self.account_id)
        self._enter(ConnectionState.WAITING_FOR_QR, "", repair=False)
        self._kick_socket()
        return result

    def _kick_socket(self) -> None:
        """Subscribe again now (the instance may have just been created): no backoff wait."""
        if not self._use_socket or self._closed:
            return
        if self._socket_task is not None and not self._socket_task.done():
            if self.socket_connected:
                return
            self._socket_task.cancel()
        self._socket_task = self._spawn(self._socket_loop())

    async def connect(self, *, phone: str = "") -> QrEvent | None:
        """``GET /instance/connect``: the current QR (and pairing code), or None when open."""
        params = {"number": phone} if phone else None
        answer = await self._call("GET", f"/instance/connect/{self._path}", params=params)
        record = _dict(answer) or {}
        if record.get("error") is True:  # connectToWhatsapp answers 200 {error, message}
            raise ProviderError(_scrub(f"Evolution could not connect: {record.get('message')}"))
        instance = _dict(record.get("instance"))
        if instance is not None and _str(instance.get("state")) == "open":
            return None
        return _qr_from(self.account_id, record)

    async def logout(self) -> None:
        """Unlink the phone; the instance stays, ready to pair again."""
        try:
            await self._call("DELETE", f"/instance/logout/{self._path}")
        except PermanentSendError as exc:
            if "not connected" not in exc.detail:  # 400 when already closed: nothing to do
                raise
        self._enter(ConnectionState.NEEDS_REPAIR, "logged out from Caixa", repair=True)

    async def delete(self) -> None:
        """Delete the instance on the Evolution server (an unknown instance counts as done)."""
        try:
            await self._call("DELETE", f"/instance/delete/{self._path}")
        except PermanentSendError as exc:
            if "does not exist" not in exc.detail:
                raise
        self._enter(ConnectionState.NEEDS_REPAIR, "the instance was deleted", repair=True)

    async def restart(self) -> None:
        """``POST /instance/restart``: reopen the socket (Evolution answers 200 even on error)."""
        answer = _dict(await self._call("POST", f"/instance/restart/{self._path}")) or {}
        if answer.get("error") is True:
            raise ProviderError("Evolution could not restart the instance (is it closed?)")

    async def connection_state(self) -> str:
        """``open``, ``connecting`` or ``close`` (``GET /instance/connectionState``)."""
        answer = _dict(await self._call("GET", f"/instance/connectionState/{self._path}")) or {}
        return _str((_dict(answer.get("instance")) or {}).get("state")) or "close"

    async def ensure_webhook(self) -> None:
        """Point the instance's webhook at Caixa, with the secret header (``/webhook/set``)."""
        if not self._webhook_url:
            raise PermanentSendError("no webhook address is configured for this number")
        await self._call("POST", f"/webhook/set/{self._path}", json={"webhook": self._webhook()})

    async def ensure_websocket(self) -> bool:
        """Subscribe this instance's events on Evolution's Socket.IO (``/websocket/set``).

        False when the server has Socket.IO turned off (``WEBSOCKET_ENABLED=false``: Evolution
        then answers 201 with an empty body and stores nothing).
        """
        body = {"websocket": {"enabled": True, "events": list(WEBHOOK_EVENTS)}}
        answer = await self._call("POST", f"/websocket/set/{self._path}", json=body)
        return bool(_dict(answer))

    async def _socket_loop(self) -> None:
        """Follow the instance's events over Socket.IO, reconnecting with backoff and jitter.

        # WORKAROUND(evolution): webhooks need an address Evolution can reach; a desktop behind
        # NAT has none, so it listens on Evolution's Socket.IO namespace ``/<instance>``
        # instead (src/api/integrations/event/websocket/websocket.controller.ts: emit() sends
        # the webhook body to ``socket.of('/' + instanceName)``; allowRequest takes the key from
        # ``?apikey=`` or from the ``apikey`` header).
        """
        attempts = 0
        while not self._closed:
            try:
                if not await self.ensure_websocket():
                    log.warning(
                        "evolution %s: Socket.IO is off on the server; events need a webhook"
                        " address (Settings → Webhooks)",
                        self._account.instance,
                    )
                    return
                await self._follow_socket()
                attempts = 0  # it was accepted, then ended: the backoff starts over
                log.info("evolution %s: event socket closed", self._account.instance)
            except _SocketRefused as exc:
                log.warning("evolution %s: %s", self._account.instance, exc)
            except (_SocketFailed, ProviderError) as exc:
                log.info(
                    "evolution %s: event socket: %s",
                    self._account.instance,
                    _scrub(str(exc), self._account),
                )
            self.socket_connected = False
            ceiling = min(self._policy.cap, self._policy.base * 2.0**attempts)
            attempts += 1
            await self._sleep(self._rng() * ceiling)

    async def _follow_socket(self) -> None:
        """Listen on ``/<instance>`` until an accepted connection ends; raise if none was made.

        python-socketio's own reconnection is off: the loop above reconnects, on the adapter's
        clock, and asks ``/websocket/set`` again each time (the instance may be new).
        """
        # python-socketio pulls in aiohttp (its asyncio transport): loaded only by the numbers
        # that listen on a socket, never on the app's start-up path.
        import aiohttp
        import socketio

        namespace = f"/{self._account.instance}"
        key = self._account.instance_token or self._account.api_key
        base = urlsplit(self._base)
        events: asyncio.Queue[Any] = asyncio.Queue()
        ended = object()
        refusal: list[str] = []

        def on_event(_name: str, *args: Any) -> None:
            # Queued, then handled one at a time below: python-socketio runs each handler in a
            # task of its own, and a status must not overtake the message it is about.
            events.put_nowait(args[0] if args else None)

        def on_connect_error(*args: Any) -> None:
            data = args[0] if args else None
            if isinstance(data, dict):  # a CONNECT_ERROR packet: {"message": ...}
                refusal.append(str(data.get("message"))[:200])

        quiet = _SocketLog(self._account)
        connector = aiohttp.TCPConnector(ssl=httpx.create_ssl_context())  # httpx's trust store
        # Bounds the handshake only: aiohttp lifts the read timeout once the WebSocket is open
        # (engineio's pings then tell a dead server), and has no total timeout on it.
        timeout = aiohttp.ClientTimeout(
            total=None, connect=SOCKET_CONNECT_TIMEOUT, sock_read=SOCKET_CONNECT_TIMEOUT
        )
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, trust_env=True
        ) as session:
            client = socketio.AsyncClient(
                reconnection=False,
                handle_sigint=False,  # Ctrl+C belongs to the app, not to a library
                # How long closing waits for the server's close frame: quitting the app stops
                # this task, and a server that went silent must not hold the quit for long.
                request_timeout=SOCKET_CLOSE_TIMEOUT,
                logger=quiet,
                engineio_logger=quiet,
                http_session=session,
                # aiohttp's default is 4 MiB; a history sync event can be larger.
                websocket_extra_options={"max_msg_size": MAX_SOCKET_MESSAGE},
            )
            client.on("*", on_event, namespace=namespace)
            client.on("disconnect", lambda *_: events.put_nowait(ended), namespace=namespace)
            client.on("connect_error", on_connect_error, namespace=namespace)
            # The key rides in the ``apikey`` header, which allowRequest reads as well as the
            # query: a URL ends up in logs (engineio's, proxies', Evolution's), a header does not.
            try:
                try:
                    await client.connect(
                        f"{base.scheme}://{base.netloc}",
                        headers={"apikey": key.reveal()},
                        transports=["websocket"],
                        namespaces=[namespace],
                        # engineio keeps only the URL's host: a path prefix goes here.
                        socketio_path=base.path.rstrip("/") + "/socket.io",
                        wait_timeout=SOCKET_CONNECT_TIMEOUT,
                    )
                except socketio.exceptions.ConnectionError as exc:
                    if refusal:
                        raise _SocketRefused(
                            f"the server refused the connection: {refusal[0]}"
                        ) from None
                    raise _SocketFailed(str(exc)) from None
                # A drop between the namespace's acceptance and connect() returning fires no
                # "disconnect"; wait() ends then all the same.
                watcher = asyncio.ensure_future(client.wait())
                watcher.add_done_callback(lambda _: events.put_nowait(ended))
                try:
                    self.socket_connected = True
                    while (body := await events.get()) is not ended:
                        await self._on_socket_event(body)
                finally:
                    watcher.cancel()
            finally:
                # Also when cancelled mid-handshake: no engineio task outlives the session.
                await client.disconnect()

    async def _on_socket_event(self, body: Any) -> None:
        """One Socket.IO event: the same body a webhook POST carries (already authenticated)."""
        record = _dict(body)
        if record is None or record.get("instance") != self._account.instance:
            return  # the namespace is the instance's own; anything else is not for us
        try:
            name = _event_name(record.get("event"), "")
            own = _user(_str(record.get("sender")))
            found = _normalize_event(self.account_id, name, record.get("data"), own)
        except WebhookRejected as exc:
            log.info("evolution %s: event ignored: %s", self._account.instance, exc)
            return
        if not found:
            return
        await self._push(found)
        # Webhooks reach adapters through the receiver's observers, after the commit; socket
        # events do the same here (the workspace's observer also tells the pairing dialog).
        if self._observer is not None:
            self._observer(found)
        else:
            self.observe(found)

    def _webhook(self) -> dict[str, Any]:
        # webhook.schema.ts: {enabled, url, headers, byEvents, base64, events}. The headers come
        # back on every POST (webhook.controller.ts: axios.create({headers: webhookHeaders})).
        return {
            "enabled": True,
            "url": self._webhook_url,
            "headers": {WEBHOOK_TOKEN_HEADER: self._account.webhook_secret.reveal()},
            "byEvents": False,
            "base64": False,
            "events": list(WEBHOOK_EVENTS),
        }

    async def _create(self, phone: str) -> dict[str, Any] | None:
        if not self._account.api_key:
            raise AuthError("creating an Evolution instance needs the server's global API key")
        body: dict[str, Any] = {
            "instanceName": self._account.instance,
            "integration": INTEGRATION,
            "qrcode": True,
        }
        if phone:
            body["number"] = phone
        if self._account.instance_token:
            body["token"] = self._account.instance_token.reveal()
        if self._webhook_url:
            body["webhook"] = self._webhook()
        try:
            answer = await self._call(
                "POST", "/instance/create", json=body, key=self._account.api_key
            )
        except AuthError as exc:
            if "already in use" in exc.detail:  # created meanwhile: reuse it
                if self._webhook_url:
                    await self.ensure_webhook()
                return None
            raise
        return _dict(answer) or {}

    async def _find_instance(self) -> dict[str, Any] | None:
        # The global key first: with an instance token, fetchInstances answers 401 both for a
        # wrong token and for a missing instance (instance.controller.ts, fetchInstances); the
        # global key tells them apart (404 "Instance ... not found").
        key = self._account.api_key or self._account.instance_token
        try:
            answer = await self._call(
                "GET",
                "/instance/fetchInstances",
                params={"instanceName": self._account.instance},
                key=key,
            )
        except PermanentSendError as exc:  # 404 "Instance ... not found"
            if "not found" in exc.detail:
                return None
            raise
        for row in answer if isinstance(answer, list) else []:
            if isinstance(row, dict) and row.get("name") == self._account.instance:
                return row
        return None

    async def check(self) -> AccountInfo:
        """Who this number is: profile name and phone (``fetchInstances``) and the live state."""
        row = await self._find_instance()
        if row is None:
            self._reason = REASON_NOT_LINKED
            return AccountInfo(state=ConnectionState.NEEDS_REPAIR)
        phone = _phone_of(_str(row.get("ownerJid")))
        if phone:
            self._phone = phone
        state = await self.connection_state()
        code = _long(row.get("disconnectionReasonCode"))
        if state == "open":
            conn = ConnectionState.CONNECTED
        elif state == "connecting":
            # Evolution says "connecting" both while it reconnects a session and while a QR
            # waits to be scanned: with no session (never linked, logged out, or pairing now)
            # it is the QR.
            ended = code is not None and int(code) in _REPAIR_REASONS
            waiting = self._pairing or not phone or ended
            conn = ConnectionState.WAITING_FOR_QR if waiting else ConnectionState.CONNECTING
        elif code is not None and int(code) in _REPAIR_REASONS:
            conn, self._reason = _REPAIR_REASONS[int(code)]
        elif not phone:
            conn, self._reason = ConnectionState.NEEDS_REPAIR, REASON_NOT_LINKED
        else:
            conn = ConnectionState.OFFLINE
        return AccountInfo(phone=phone, display_name=_str(row.get("profileName")), state=conn)

    # --- sending ------------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send text, media or a reaction (``/message/send*``); raise the errors of ``base``."""
        number = _target(message)
        quoted = {"quoted": {"key": {"id": message.reply_to}}} if message.reply_to else {}
        if message.type is MessageType.TEXT:
            if not message.text.strip():
                raise PermanentSendError("the message is empty")
            if len(message.text) > MAX_TEXT:
                raise PermanentSendError(f"the text is longer than {MAX_TEXT} characters")
            # sendMessageWithTyping: previews are on unless linkPreview is false.
            body = {"number": number, "text": message.text, "linkPreview": message.preview_url}
            answer = await self._send("sendText", {**body, **quoted})
        elif message.type in _SEND_MEDIA:
            answer = await self._send_media(message, number, quoted)
        elif message.type is MessageType.REACTION:
            answer = await self._send_reaction(message, number)
        else:
            raise PermanentSendError(
                f"{message.type.value} messages cannot be sent through Evolution (QR-linked)"
            )
        key = _dict((_dict(answer) or {}).get("key")) or {}
        provider_id = _id(key.get("id"))
        if not provider_id:
            raise DeliveryUnknown("Evolution took the message but named no id")
        return SendResult(provider_id)

    async def _send(self, route: str, body: dict[str, Any]) -> Any:
        return await self._call("POST", f"/message/{route}/{self._path}", json=body, sending=True)

    async def _send_media(
        self, message: OutgoingMessage, number: str, quoted: dict[str, Any]
    ) -> Any:
        media = message.media
        if media is None or not (media.link or media.path):
            raise PermanentSendError("a media message needs a link or a file")
        if len(message.text) > MAX_TEXT:
            raise PermanentSendError(f"the caption is longer than {MAX_TEXT} characters")
        kind = message.type
        if kind in (MessageType.AUDIO, MessageType.STICKER) and message.text.strip():
            raise PermanentSendError(f"WhatsApp shows no caption on a {kind.value}")
        source = await _media_source(media.link, media.path, kind)
        if kind is MessageType.AUDIO:
            # sendWhatsAppAudio: converted to Opus and sent as a voice note (ptt), as WhatsApp's
            # own app records them (whatsapp.baileys.service.ts, audioWhatsapp).
            audio = {"number": number, "audio": source, **quoted}
            return await self._send("sendWhatsAppAudio", audio)
        if kind is MessageType.STICKER:
            return await self._send("sendSticker", {"number": number, "sticker": source, **quoted})
        filename = media.filename or _filename(media.link, media.path, kind)
        body: dict[str, Any] = {
            "number": number,
            "mediatype": kind.value,  # image | document | video (mediaMessageSchema)
            "media": source,
            "fileName": filename,
            "caption": message.text,
        }
        mime = media.mime_type or mimetypes.guess_type(filename)[0] or ""
        if mime:
            body["mimetype"] = mime
        return await self._send("sendMedia", {**body, **quoted})

    async def _send_reaction(self, message: OutgoingMessage, number: str) -> Any:
        if not message.reply_to:
            raise PermanentSendError("a reaction needs the message it answers")
        emoji = message.reaction or ""
        if len(emoji) > 16:
            raise PermanentSendError("a reaction is one emoji")
        # reactionMessageSchema needs the whole key (id, remoteJid, fromMe); Baileys attaches the
        # reaction only with the right fromMe. Evolution's stored key is the truth.
        try:
            found = await self._find_messages({"key": {"id": message.reply_to}}, page=1, size=1)
        except DeliveryUnknown as exc:  # a lookup: nothing was sent yet
            raise NotSent(exc.detail) from None
        records = _records(found)
        key = _dict(records[0].get("key")) if records else None
        if key is None or _id(key.get("id")) != message.reply_to:
            key = {"id": message.reply_to, "remoteJid": _jid_for(number), "fromMe": False}
        target = {
            "id": message.reply_to,
            "remoteJid": _str(key.get("remoteJid")) or _jid_for(number),
            "fromMe": key.get("fromMe") is True,
        }
        participant = _str(key.get("participant"))
        if participant:
            target["participant"] = participant
        return await self._send("sendReaction", {"key": target, "reaction": emoji})

    async def mark_read(self, chat_key: str, provider_message_ids: Sequence[str]) -> None:
        """``POST /chat/markMessageAsRead`` for these inbound messages of one chat."""
        if not provider_message_ids:
            return
        jid = _jid_for(chat_key)
        # WORKAROUND(evolution): markMessageAsRead keeps only group and phone JIDs (isPnUser),
        # so a LID chat whose phone is unknown cannot be marked read.
        # https://github.com/EvolutionAPI/evolution-api/blob/2.3.6/src/api/integrations/channel/whatsapp/whatsapp.baileys.service.ts
        reads = [{"remoteJid": jid, "fromMe": False, "id": i} for i in provider_message_ids]
        await self._call(
            "POST", f"/chat/markMessageAsRead/{self._path}", json={"readMessages": reads}
        )

    async def check_numbers(self, phones: Sequence[str]) -> list[NumberCheck]:
        """Which of ``phones`` are on WhatsApp (``POST /chat/whatsappNumbers``)."""
        numbers = ["".join(ch for ch in p if ch.isdigit()) for p in phones]
        numbers = [n for n in dict.fromkeys(numbers) if n]
        if not numbers:
            return []
        answer = await self._call(
            "POST", f"/chat/whatsappNumbers/{self._path}", json={"numbers": numbers}
        )
        out = []
        for row in answer if isinstance(answer, list) else []:
            if isinstance(row, dict):
                out.append(
                    NumberCheck(
                        number=_str(row.get("number")),
                        exists=row.get("exists") is True,
                        jid=_str(row.get("jid")),
                        name=_str(row.get("name")),
                        lid=_str(row.get("lid")),
                    )
                )
        return out

    async def backfill(
        self,
        *,
        since: float | None = None,
        limit: int | None = None,
        page_size: int = 50,
        push: bool = True,
    ) -> list[ProviderEvent]:
        """Recent history from ``POST /chat/findMessages`` (newest first, paged), as events.

        Normalized exactly like webhook messages (same ids, so redelivery dedupes). Stops at
        ``limit`` messages or at the first page older than ``since`` (epoch seconds). With
        ``push`` the events also go to the sink, oldest first.
        """
        limit = self._backfill_limit if limit is None else limit
        records: list[dict[str, Any]] = []
        page = 1
        while len(records) < limit:
            found = await self._find_messages({}, page=page, size=page_size)
            batch = _records(found)
            records.extend(batch)
            pages = _num((_dict((_dict(found) or {}).get("messages")) or {}).get("pages")) or 0
            oldest = min(
                (t for t in (_timestamp(r.get("messageTimestamp")) for r in batch) if t),
                default=None,
            )
            if not batch or page >= pages or (since is not None and oldest and oldest < since):
                break
            page += 1
        records = records[:limit]
        if since is not None:
            records = [r for r in records if (_timestamp(r.get("messageTimestamp")) or 0) >= since]
        records.reverse()  # oldest first: previews end on the newest message
        events = normalize_records(self.account_id, records, own_phone=self._phone)
        if push and events:
            await self._push(events)
        return events

    async def _find_messages(self, where: dict[str, Any], *, page: int, size: int) -> Any:
        # chat.router.ts findMessages -> fetchMessages: {where, page, offset}; ordered by
        # messageTimestamp desc; answers {messages: {total, pages, currentPage, records}}.
        body = {"where": where, "page": page, "offset": size}
        return await self._call("POST", f"/chat/findMessages/{self._path}", json=body)

    async def _backfill_after_link(self) -> None:
        # The phone's history reaches Evolution some seconds after the link (messaging-history
        # .set): wait, then read what arrived.
        await self._sleep(self._backfill_delay)
        try:
            await self.backfill()
        except ProviderError as exc:
            log.warning("evolution %s: backfill failed: %s", self._account.instance, exc)

    # --- HTTP ---------------------------------------------------------------------------------

    @property
    def _path(self) -> str:
        return quote(self._account.instance, safe="")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        key: Secret | None = None,
        sending: bool = False,
    ) -> Any:
        secret = key or self._account.instance_token or self._account.api_key
        headers = {"apikey": secret.reveal()}
        try:
            response = await self._http.request(
                method, self._base + path, json=json, params=params, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(f"could not reach Evolution ({type(exc).__name__})") from None
        except (httpx.WriteError, httpx.WriteTimeout, httpx.UnsupportedProtocol) as exc:
            # The request was never fully written: Evolution cannot have acted on it.
            raise NotSent(f"the request did not reach Evolution ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            # Read timeout, dropped connection: the request may have been acted on.
            raise DeliveryUnknown(f"no answer from Evolution ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise self._error(response, sending)
        try:
            return response.json() if response.content else None
        except ValueError:
            if sending:
                raise DeliveryUnknown("Evolution's answer was not JSON") from None
            raise ProviderError("Evolution's answer was not JSON") from None

    def _error(self, response: httpx.Response, sending: bool) -> ProviderError:
        """Evolution's error answers (src/main.ts): ``{status, error, response: {message}}``."""
        status = response.status_code
        messages = _error_messages(response)
        text = _scrub("; ".join(_message_text(m) for m in messages)[:300], self._account)
        if status == 429:
            return RateLimited(text or "rate limited", retry_after=_retry_after(response, 30.0))
        if status in (401, 403):
            return AuthError(text or "Evolution refused the API key")
        if any(isinstance(m, dict) and m.get("exists") is False for m in messages):
            # sendMessageWithTyping: BadRequestException(isWA) for a number not on WhatsApp.
            return PermanentSendError("the number is not on WhatsApp")
        lowered = text.lower()
        if "rate-overlimit" in lowered:
            # WORKAROUND(evolution): WhatsApp's rate limit reaches us as a 400 "rate-overlimit"
            # (Baileys' Boom wrapped by sendMessageWithTyping's BadRequestException).
            # https://github.com/EvolutionAPI/evolution-api/blob/2.3.6/src/api/integrations/channel/whatsapp/whatsapp.baileys.service.ts
            return RateLimited("WhatsApp rate limit (rate-overlimit)", retry_after=60.0)
        if "connection closed" in lowered or "connection terminated" in lowered:
            # WORKAROUND(evolution): a closed socket shows up as 400 "Error: Connection Closed",
            # or 500 when whatsappNumber fails before the send; Baileys throws it before
            # writing (src/Socket/socket.ts, sendRawMessage: ``if (!ws.isOpen)``).
            # https://github.com/WhiskeySockets/Baileys/blob/master/src/Socket/socket.ts
            return NotSent("the WhatsApp connection is closed")
        if status in (400, 404, 413, 422):
            if sending and status == 400 and not _is_validation(lowered):
                # sendMessageWithTyping wraps everything after the hand-off to WhatsApp in the
                # same try (database writes, webhooks): an unexpected 400 may follow a send.
                return DeliveryUnknown(text or "Evolution answered 400")
            return PermanentSendError(text or f"Evolution answered {status}")
        if status == 500 and _evolution_shaped(response) and sending:
            # Evolution's own 500s on send routes come before the hand-off: whatsappNumber runs
            # outside sendMessageWithTyping's try, media preparation throws
            # InternalServerErrorException (whatsapp.baileys.service.ts).
            if any(p in lowered for p in _BAD_MEDIA):
                return PermanentSendError(text)
            return NotSent(text or "Evolution failed before sending")
        if status == 503:
            return NotSent(text or "Evolution is unavailable")
        if sending:
            return DeliveryUnknown(text or f"Evolution answered {status}")
        return ProviderError(text or f"Evolution answered {status}")

    # --- helpers -------------------------------------------------------------------------------

    async def _push(self, events: Sequence[ProviderEvent]) -> None:
        if self._sink is not None and events and not self._closed:
            await self._sink(events)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return None
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("evolution background task failed", exc_info=task.exception())


# --- send helpers --------------------------------------------------------------------------------

_SEND_MEDIA: Final = frozenset(
    {
        MessageType.IMAGE,
        MessageType.DOCUMENT,
        MessageType.AUDIO,
        MessageType.VIDEO,
        MessageType.STICKER,
    }
)
# Media preparation failures that no retry can fix (sharp / ffmpeg / the source URL).
_BAD_MEDIA: Final = (
    "unsupported image format",
    "failed to convert audio",
    "invalid media",
    "request failed with status code 404",
    "owned media must be a url or base64",
)
_VALIDATION: Final = (
    "is not of a type",
    "requires property",
    "cannot be empty",
    "is required",
    "is not one of enum",
    "does not match pattern",
    "invalid",
    "not compatible",
    "not found",
    "does not exist",
    "is not connected",
)


def _is_validation(lowered: str) -> bool:
    return any(marker in lowered for marker in _VALIDATION)


def _target(message: OutgoingMessage) -> str:
    phone = "".join(ch for ch in message.to_phone if ch.isdigit())
    if phone:
        return phone
    if message.chat_key.endswith(("@g.us", "@lid")):
        return message.chat_key
    digits = "".join(ch for ch in message.chat_key if ch.isdigit())
    if digits and digits == message.chat_key:
        return digits
    raise PermanentSendError("the message has no recipient")


def _jid_for(chat: str) -> str:
    if "@" in chat:
        return chat
    return f"{''.join(ch for ch in chat if ch.isdigit())}@s.whatsapp.net"


def _filename(link: str, path: str, kind: MessageType) -> str:
    # prepareMediaMessage needs a fileName for a base64 document (it regex-matches the media
    # string otherwise, and fails).
    if path:
        return Path(path).name
    name = Path(urlsplit(link).path).name
    if name:
        return name
    return {MessageType.IMAGE: "image.jpg", MessageType.VIDEO: "video.mp4"}.get(kind, "document")


async def _media_source(link: str, path: str, kind: MessageType) -> str:
    """A URL Evolution fetches, or the local file's bytes in base64 (``media`` is either)."""
    if link:
        scheme = urlsplit(link).scheme
        if scheme not in ("http", "https"):
            raise PermanentSendError("a media link must be an http(s) address")
        return link
    file = Path(path)
    limit = MAX_DOCUMENT_BYTES if kind is MessageType.DOCUMENT else MAX_MEDIA_BYTES
    try:
        size = file.stat().st_size
    except OSError:
        raise PermanentSendError(f"the file {file.name!r} cannot be read") from None
    if not file.is_file():
        raise PermanentSendError(f"{file.name!r} is not a file")
    if size > limit:
        raise PermanentSendError(
            f"the file is larger than WhatsApp's {limit // (1024 * 1024)} MB limit"
        )
    try:
        data = await asyncio.to_thread(file.read_bytes)
    except OSError:
        raise PermanentSendError(f"the file {file.name!r} cannot be read") from None
    return base64.b64encode(data).decode("ascii")


def _records(found: Any) -> list[dict[str, Any]]:
    records = (_dict((_dict(found) or {}).get("messages")) or {}).get("records")
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def _qr_from(account_id: int, record: Mapping[str, Any]) -> QrEvent:
    # wa.QrCode: {pairingCode, code, base64, count}
    return QrEvent(
        account_id,
        qr_code=_str(record.get("code")),
        pairing_code=_str(record.get("pairingCode")),
    )


def _error_messages(response: httpx.Response) -> list[Any]:
    try:
        body = response.json()
    except ValueError:
        return [response.text[:200]] if response.text else []
    record = _dict(body) or {}
    inner = _dict(record.get("response"))
    value = inner.get("message") if inner is not None else record.get("message")
    if value is None:
        value = record.get("error")
    if isinstance(value, list):
        return value[:20]
    return [value] if value is not None else []


def _message_text(message: Any) -> str:
    if isinstance(message, str):
        return message
    if isinstance(message, dict):
        inner = message.get("message")
        if isinstance(inner, str):
            return inner
        if isinstance(message.get("number"), str) and message.get("exists") is False:
            return f"{message['number']} is not on WhatsApp"
    try:
        return json.dumps(message)[:200]
    except (TypeError, ValueError):
        return ""


def _evolution_shaped(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "status" in body and "response" in body


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return default
    if value.isdigit():
        return float(value)
    with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
        moment = parsedate_to_datetime(value)
        return max(0.0, moment.timestamp() - time.time())
    return default


# --- Socket.IO ----------------------------------------------------------------------------------

# Evolution's history syncs (messages.set) are the largest events; 16 MiB like the receiver.
MAX_SOCKET_MESSAGE: Final = 16 * 1024 * 1024
SOCKET_CONNECT_TIMEOUT: Final = 10.0  # seconds for the handshake and the namespace's acceptance
SOCKET_CLOSE_TIMEOUT: Final = 2.0


class _SocketFailed(Exception):
    """The event socket could not connect, or its connection ended."""


class _SocketRefused(_SocketFailed):
    """The server refused the instance's namespace (a wrong key, an unknown instance)."""


class _SocketLog:
    """The logger handed to python-socketio and python-engineio: their INFO and DEBUG records
    dropped, the rest one level lower, the account's secrets masked.

    At INFO and DEBUG both libraries log every packet whole, and Evolution puts the instance's
    ``apikey`` in every event body (websocket.controller.ts, emit()), next to customers'
    messages: those records are dropped whatever the logging configuration says. Their warnings
    ("server sent close packet") come with every refused or dropped connection, which the
    adapter's loop reports itself, so they are details (INFO).
    """

    def __init__(self, account: EvolutionAccount) -> None:
        self._account = account
        self._log = log.getChild("socketio")

    def _emit(self, level: int, msg: object, args: tuple[object, ...], exc: bool) -> None:
        if not self._log.isEnabledFor(level):
            return
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(str(part) for part in (msg, *args))
        if exc:
            text += "\n" + traceback.format_exc()
        self._log.log(level, "%s", _scrub(text, self._account))

    def debug(self, msg: object, *args: object, **kwargs: object) -> None:
        """Dropped: packet dumps."""

    def info(self, msg: object, *args: object, **kwargs: object) -> None:
        """Dropped: packet dumps and connection chatter."""

    def warning(self, msg: object, *args: object, **kwargs: object) -> None:
        """Logged at INFO, secrets masked."""
        self._emit(logging.INFO, msg, args, bool(kwargs.get("exc_info")))

    def error(self, msg: object, *args: object, **kwargs: object) -> None:
        """Logged at WARNING, secrets masked."""
        self._emit(logging.WARNING, msg, args, bool(kwargs.get("exc_info")))

    def exception(self, msg: object, *args: object, **kwargs: object) -> None:
        """Logged at ERROR with the traceback as text (masked too), not as ``exc_info``."""
        self._emit(logging.ERROR, msg, args, True)


def _scrub(text: str, account: EvolutionAccount | None = None) -> str:
    if account is not None:
        for secret in (account.api_key, account.instance_token, account.webhook_secret):
            if secret and secret.reveal() in text:
                text = text.replace(secret.reveal(), "***")
    return text


def _why(exc: ProviderError) -> str:
    return exc.detail or exc.code


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


ADAPTER = EvolutionAdapter
