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
from sync.providers import baileys
from sync.providers.base import (
    WebhookAuthError,
    WebhookPayloadError,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
    log_skipped_item,
    parse_failure,
)
from sync.providers.evolution.account import EvolutionAccount
from sync.providers.evolution.connection import REASON_LOGGED_OUT, REASON_QR_EXPIRED, close_event
from sync.providers.json_fields import dict_of, long_of, str_of
from sync.providers.whatsapp_ids import (
    is_group_jid,
    is_ignored_chat,
    jid_user,
    lid_of_jid,
    message_id_of,
    phone_of_jid,
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
    if not remote or is_ignored_chat(remote):
        return None
    if is_group_jid(remote):
        return _Chat(remote, "", remote, True)
    candidates = [
        remote,
        str_of(key.get("remoteJidAlt")),
        str_of(key.get("senderPn")),
        str_of(key.get("previousRemoteJid")),
    ]
    previous = lid_of_jid(candidates[3])
    chat_jid = str_of(key.get("previousRemoteJid")) if previous else remote
    phone = ""
    for jid in candidates:
        digits = phone_of_jid(jid)
        # The alternate of our own echo can be our own number (sender_pn): never our own chat.
        if digits and (digits != own or phone_of_jid(remote) == own):
            phone = digits
            break
    if phone:
        return _Chat(phone, phone, chat_jid, False)
    lid = next((lid_of_jid(j) for j in candidates if lid_of_jid(j)), "")
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
        digits = phone_of_jid(str_of(jid))
        if digits:
            return digits
    return ""


# --- one message record (messages.upsert / send.message / messages.set / findMessages) ---------


def _normalize_message(account_id: int, item: Mapping[str, Any], own: str) -> list[ProviderEvent]:
    key = dict_of(item.get("key"))
    if key is None:
        raise WebhookPayloadError("a message has no 'key'")
    message_id = message_id_of(key.get("id"))
    if not message_id:
        raise WebhookPayloadError("a message key has no usable 'id'")
    if not str_of(key.get("remoteJid")).strip():
        raise WebhookPayloadError("a message key has no 'remoteJid'")
    chat = _chat_of(key, own)
    if chat is None:
        return []  # status@broadcast, broadcast lists, newsletters
    timestamp = baileys.message_timestamp(item.get("messageTimestamp"))
    if timestamp is None:
        raise WebhookPayloadError("a message has no valid 'messageTimestamp'")
    from_me = key.get("fromMe") is True
    direction = Direction.OUT if from_me else Direction.IN
    raw = dict_of(item.get("message"))
    content = baileys.unwrap(raw) if raw is not None else {}

    protocol = baileys.protocol_of(content)
    if protocol is not None:
        return _protocol_event(account_id, protocol, key, timestamp, own, sent_by_us=from_me)
    name = baileys.content_type(content)
    if name == "reactionMessage":
        return _reaction(account_id, content, key, item, chat, timestamp)
    if not name and baileys.only_silent(content):
        return []  # only control parts (poll votes, key distribution): nothing to show
    if name:
        parsed = baileys.parse_content(name, content)
    else:  # no content Caixa can read: a placeholder, never dropped
        provider_type = str_of(item.get("messageType"))[:100] or "unknown"
        parsed = baileys.Content(MessageType.UNKNOWN, media={"provider_type": provider_type})
    media_url = str_of(content.get("mediaUrl"))
    if parsed.media is not None and media_url and name in baileys.MEDIA_TYPES:
        # Evolution's copy of the media in its S3 bucket, when one is configured: Evolution
        # adds it to the message (whatsapp.baileys.service.ts, prepareMessage).
        parsed.media["media_url"] = media_url
    # WORKAROUND(evolution): prepareMessage moves an extendedTextMessage's contextInfo to the
    # record's top level, so the quoted message is looked for there too.
    # https://github.com/EvolutionAPI/evolution-api/blob/2.3.6/src/api/integrations/channel/whatsapp/whatsapp.baileys.service.ts
    reply_to = baileys.reply_to_of(content) or message_id_of(
        (dict_of(item.get("contextInfo")) or {}).get("stanzaId")
    )
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
            reply_to=reply_to or None,
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
    content: Mapping[str, Any],
    key: Mapping[str, Any],
    item: Mapping[str, Any],
    chat: _Chat,
    timestamp: float,
) -> list[ProviderEvent]:
    reaction = baileys.reaction_of(content)
    if reaction is None:
        return []  # a reaction to nothing: no bubble either way
    target, emoji = reaction
    from_me = key.get("fromMe") is True
    return [
        ReactionEvent(
            account_id=account_id,
            provider_message_id=message_id_of(key.get("id")),
            target_message_id=target,
            emoji=emoji,
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
    action = baileys.protocol_action(protocol)
    if action is None:
        return []  # history sync notices, key shares, ephemeral settings...
    kind, target, new_text = action
    if not target:
        raise WebhookPayloadError("an edit or delete names no message")
    target_key = dict_of(protocol.get("key")) or {}
    if outer_key is not None:
        chat = _chat_of(outer_key, own)
        if chat is None:
            return []
        direction = Direction.OUT if outer_key.get("fromMe") is True else Direction.IN
        provider_id = message_id_of(outer_key.get("id"))
    else:
        remote = str_of(target_key.get("remoteJid"))
        if own and jid_user(remote) == own and not is_group_jid(remote):
            chat, direction = _Chat("", "", "", False), Direction.IN
        else:
            chat = _chat_of(target_key, own) or _Chat("", "", "", False)
            mine = sent_by_us or target_key.get("fromMe") is True
            direction = Direction.OUT if mine else Direction.IN
        provider_id = ""
        timestamp = baileys.message_timestamp(protocol.get("timestampMs")) or 0.0
    if kind == "revoke":
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
    return [
        EditEvent(
            account_id=account_id,
            target_message_id=target,
            text=new_text,
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
    message_id = (
        message_id_of(item.get("keyId"))
        or message_id_of(key.get("id"))
        or message_id_of(item.get("messageId"))
    )
    if not message_id:
        raise WebhookPayloadError("messages.update: no message id")
    remote = str_of(item.get("remoteJid")) or str_of(key.get("remoteJid"))
    if is_ignored_chat(remote):
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
            chat_phone=phone_of_jid(remote),
        )
    ]


def _deleted(account_id: int, item: Mapping[str, Any], own: str) -> list[ProviderEvent]:
    """messages.delete: Baileys' key of the revoked message (revoke received), or Evolution's
    stored message row with its ``key`` (deleteMessageForEveryone through the API)."""
    key = dict_of(item.get("key")) or item
    target = message_id_of(key.get("id"))
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
                account_id, ConnectionState.CONNECTED, phone=phone_of_jid(str_of(data.get("wuid")))
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
    if not jid or "@" not in jid or is_ignored_chat(jid):
        return []
    alternates = [
        str_of(item.get(f)) for f in ("remoteJidAlt", "phoneNumber", "senderPn", "lid", "jid")
    ]
    phone = next((p for p in (phone_of_jid(j) for j in [jid, *alternates]) if p), "")
    lid = next((x for x in (lid_of_jid(j) for j in [jid, *alternates]) if x), "")
    name = ""
    for field in ("pushName", "name", "notify", "verifiedName"):
        name = str_of(item.get(field)).strip()
        if name:
            break
    if name == jid_user(jid):
        name = ""  # contactHandle's fallback is the JID's digits, not a name (and maybe a LID's)
    if is_group_jid(jid):
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
                out.append(StatusEvent(account_id, message_id_of(key.get("id")), best, 0.0))
    return out
