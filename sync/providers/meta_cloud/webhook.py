"""Meta's webhooks: the GET handshake, the signature, every notification as events."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

from sync.domain.events import (
    AccountRemovedEvent,
    ConnectionEvent,
    EditEvent,
    MessageEvent,
    ProviderEvent,
    ReactionEvent,
    RevokeEvent,
    StatusEvent,
)
from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.providers.base import (
    WebhookAuthError,
    WebhookPayloadError,
    WebhookRejected,
    WebhookRequest,
    WebhookResult,
    log_skipped_item,
    parse_failure,
)
from sync.providers.meta_cloud.account import MetaAccount
from sync.providers.meta_cloud.values import as_list, clean, clip, is_number
from sync.providers.whatsapp_ids import ascii_digits, phone_digits

log = logging.getLogger(__name__)

_BUSINESS_OBJECT: Final = "whatsapp_business_account"
_SIGNATURE_HEADER: Final = "x-hub-signature-256"
_CHALLENGE_MAX: Final = 1024
_STATUS: Final[dict[str, DeliveryStatus]] = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "played": DeliveryStatus.PLAYED,
    "failed": DeliveryStatus.FAILED,
}
_MEDIA_TYPES: Final[dict[str, MessageType]] = {
    "image": MessageType.IMAGE,
    "video": MessageType.VIDEO,
    "audio": MessageType.AUDIO,
    "document": MessageType.DOCUMENT,
    "sticker": MessageType.STICKER,
}


def parse_webhook(request: WebhookRequest, accounts: Sequence[MetaAccount]) -> WebhookResult:
    """Authenticate and normalize one call Meta made to ``/hooks/meta``.

    GET is the subscription handshake ([SIG]): ``hub.mode=subscribe`` and a ``hub.verify_token``
    equal to one number's verify token answer ``hub.challenge``; anything else is refused 403.
    POST must carry ``X-Hub-Signature-256`` made with the app secret of at least one number
    (numbers may belong to different apps); each change is then routed by its
    ``metadata.phone_number_id`` to the numbers whose secret verified it (account-level changes
    by the WABA id of their entry). Changes for numbers we do not serve are skipped.

    Only a body that is not a WABA notification (not JSON, not an object, another ``object``,
    no ``entry`` list) is refused. Inside one, a broken entry, change, message or status (or one
    whose reading raises) is skipped and logged with its position, and the rest is kept.

    Raises only ``WebhookAuthError`` and ``WebhookPayloadError``, whatever the input.
    """
    try:
        # The receiver hands over whatever its directory holds: keep Meta numbers only.
        metas = [a for a in cast("Sequence[object]", accounts) if isinstance(a, MetaAccount)]
        if request.method == "GET":
            return _handshake(request, metas)
        if request.method != "POST":
            raise WebhookPayloadError("Meta webhooks are GET or POST")
        verified = _verified_accounts(request, metas)
        return WebhookResult(events=tuple(_parse_body(request.body, verified)))
    except WebhookRejected:
        raise
    except Exception as exc:  # a bug must still answer 4xx, never 5xx; logged without the body
        log.error("Meta webhook could not be parsed: %s", type(exc).__name__)
        raise WebhookPayloadError("unreadable payload") from None


def _handshake(request: WebhookRequest, accounts: Sequence[MetaAccount]) -> WebhookResult:
    mode = request.query.get("hub.mode", "")
    token = request.query.get("hub.verify_token", "")
    challenge = request.query.get("hub.challenge", "")
    matched = False
    if mode == "subscribe" and token:
        for account in accounts:  # no early exit: every token is compared
            if account.verify_token and account.verify_token.matches(token):
                matched = True
    if not matched:
        raise WebhookAuthError("verification token refused", forbidden=True)
    if not challenge or len(challenge) > _CHALLENGE_MAX or not challenge.isprintable():
        raise WebhookPayloadError("missing or malformed hub.challenge")
    return WebhookResult(response_text=challenge)


def _verified_accounts(
    request: WebhookRequest, accounts: Sequence[MetaAccount]
) -> list[MetaAccount]:
    header = request.headers.get(_SIGNATURE_HEADER, "")
    if not header:
        raise WebhookAuthError("missing X-Hub-Signature-256")
    prefix, _, presented = header.partition("=")
    if prefix.strip().lower() != "sha256" or not presented:
        raise WebhookAuthError("malformed X-Hub-Signature-256")
    candidate = presented.strip().lower().encode("latin-1", "replace")
    raw: object = request.body
    body = bytes(raw) if isinstance(raw, bytes | bytearray) else b""
    verified: list[MetaAccount] = []
    digests: dict[str, bool] = {}
    for account in accounts:
        secret = account.app_secret.reveal()
        if not secret:
            continue
        if secret not in digests:
            expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
            digests[secret] = hmac.compare_digest(expected.encode("ascii"), candidate)
        if digests[secret]:
            verified.append(account)
    if not verified:
        raise WebhookAuthError("signature does not match any Meta number's app secret")
    return verified


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def finite_float(text: str) -> float:
    """A JSON number as a float, refusing the infinities a huge literal becomes."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _parse_body(body: bytes, accounts: Sequence[MetaAccount]) -> list[ProviderEvent]:
    try:
        data = json.loads(
            bytes(body).decode("utf-8"),
            parse_constant=_reject_constant,
            parse_float=finite_float,
        )
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise WebhookPayloadError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookPayloadError("the body is not a JSON object")
    if data.get("object") != _BUSINESS_OBJECT:
        raise WebhookPayloadError("not a WhatsApp Business Account webhook")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise WebhookPayloadError("'entry' must be a list")
    by_number: dict[str, list[MetaAccount]] = {}
    by_waba: dict[str, list[MetaAccount]] = {}
    for account in accounts:
        by_number.setdefault(account.phone_number_id, []).append(account)
        by_waba.setdefault(account.waba_id, []).append(account)
    # The envelope is right (a WABA notification with its entry list): from here on, one broken
    # entry, change, message or status is skipped and logged, never the whole call. Meta retries
    # a call not answered 200 "with decreasing frequency ... for up to 7 days", the same body
    # each time (https://developers.facebook.com/documentation/business-messaging/whatsapp/
    # webhooks/overview, "Webhook delivery failure"): refusing it for one bad item would lose
    # every good one beside it, for good.
    events: list[ProviderEvent] = []
    for e, entry in enumerate(entries):
        at = f"entry[{e}]"
        if not isinstance(entry, dict):
            _skipped(at, "the entry is not an object")
            continue
        changes = entry.get("changes")
        if not isinstance(changes, list):
            _skipped(at, "the entry has no 'changes' list")
            continue
        waba_id = entry.get("id")
        for c, change in enumerate(changes):
            where = f"{at}.changes[{c}]"
            if not isinstance(change, dict):
                _skipped(where, "the change is not an object")
                continue
            field = change.get("field")
            value = change.get("value")
            if not isinstance(field, str) or not isinstance(value, dict):
                _skipped(where, "the change has no 'field' and 'value' object")
                continue
            try:
                events.extend(_change_events(field, value, waba_id, by_number, by_waba, where))
            except Exception as exc:  # a parser bug on this change: its neighbours still count
                _skipped(where, parse_failure(exc))
    return events


def _skipped(position: str, reason: str) -> None:
    log_skipped_item(log, "Meta", position, reason)


def _change_events(
    field: str,
    value: dict[str, Any],
    waba_id: object,
    by_number: Mapping[str, Sequence[MetaAccount]],
    by_waba: Mapping[str, Sequence[MetaAccount]],
    where: str,
) -> list[ProviderEvent]:
    """Events of one ``entry[].changes[]`` item, for each number of ours it concerns."""
    events: list[ProviderEvent] = []
    if field in ("messages", "smb_message_echoes"):
        metadata = value.get("metadata")
        number_id = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
        if isinstance(number_id, str):
            for account in by_number.get(number_id, ()):
                events.extend(
                    _messages_change(account, value, echoes=field != "messages", where=where)
                )
    elif field == "account_update" and isinstance(waba_id, str):
        for account in by_waba.get(waba_id, ()):
            events.extend(_account_update(account, value))
    # Other fields (template status, quality, security, calls...) carry nothing we store.
    return events


def _messages_change(
    account: MetaAccount, value: dict[str, Any], *, echoes: bool, where: str = "value"
) -> list[ProviderEvent]:
    """Events of one ``messages`` (or ``smb_message_echoes``) change value ([HOOKS]).

    Each message and status is read on its own: a broken one is skipped and logged, with its
    position under ``where``, and the others are kept.
    """
    metadata = value.get("metadata")
    business = (
        ascii_digits(clean(metadata.get("display_phone_number")))
        if isinstance(metadata, dict)
        else ""
    )
    names, senders = _contact_names(value.get("contacts"))
    events: list[ProviderEvent] = []
    key = "message_echoes" if echoes else "messages"
    items = value.get(key)
    if isinstance(items, list):
        single_name = next(iter(names.values())) if len(names) == 1 else ""
        for i, item in enumerate(items):
            at = f"{where}.value.{key}[{i}]"
            if not isinstance(item, dict):
                _skipped(at, "the message is not an object")
                continue
            try:
                events.extend(
                    _message_events(account, item, names, single_name, senders, business, echoes)
                )
            except _SkipItem as skip:
                _skipped(at, skip.reason)
            except Exception as exc:  # a parser bug on this message: its neighbours still count
                _skipped(at, parse_failure(exc))
    statuses = value.get("statuses")
    if isinstance(statuses, list) and not echoes:
        for i, item in enumerate(statuses):
            at = f"{where}.value.statuses[{i}]"
            if not isinstance(item, dict):
                _skipped(at, "the status is not an object")
                continue
            try:
                status = _status_event(account, item)
            except _SkipItem as skip:
                _skipped(at, f"status {skip.reason}")
                continue
            except Exception as exc:  # a parser bug on this status: its neighbours still count
                _skipped(at, parse_failure(exc))
                continue
            if status is not None:
                events.append(status)
    return events


class _SkipItem(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _contact_names(contacts: object) -> tuple[dict[str, str], set[str]]:
    """``{wa_id or user_id: profile name}`` from ``value.contacts`` ([OAS] ``ContactProfile``)."""
    names: dict[str, str] = {}
    senders: set[str] = set()
    if isinstance(contacts, list):
        for contact in contacts:
            if not isinstance(contact, dict):
                continue
            profile = contact.get("profile")
            name = clean(profile.get("name")) if isinstance(profile, dict) else ""
            for key in ("wa_id", "user_id"):
                ident = clean(contact.get(key))
                if ident:
                    senders.add(ident)
                    names.setdefault(ident, name)
    return names, senders


def _timestamp(value: object) -> float:
    """Meta's message time: epoch seconds, as a string of digits (or a number)."""
    if isinstance(value, str) and value.isascii() and value.strip().isdigit():
        seconds = float(int(value.strip()))
    elif is_number(value):
        seconds = float(value)
    else:
        raise _SkipItem("no timestamp")
    if not 0 < seconds < 1e11:
        raise _SkipItem("timestamp out of range")
    return seconds


def _message_events(
    account: MetaAccount,
    item: dict[str, Any],
    names: dict[str, str],
    single_name: str,
    senders: set[str],
    business: str,
    echo: bool,
) -> list[ProviderEvent]:
    message_id = clean(item.get("id"))
    if not message_id:
        raise _SkipItem("no message id")
    timestamp = _timestamp(item.get("timestamp"))
    sender_raw = clean(item.get("from")).strip()
    sender_id = clean(item.get("from_user_id")).strip()
    sender_phone = phone_digits(sender_raw)
    group_id = clean(item.get("group_id")).strip()
    if echo:
        # smb_message_echoes: "from" is the business, "to" the customer ([HOOKS]).
        direction = Direction.OUT
        peer_raw = clean(item.get("to")).strip()
        peer_id = clean(item.get("to_user_id")).strip()
        sender_name = ""
    else:
        direction = Direction.IN
        if business and sender_phone == business:  # our own message in a group
            direction = Direction.OUT
        peer_raw, peer_id = sender_raw, sender_id
        sender_name = names.get(sender_raw) or names.get(sender_id) or ""
        if not sender_name and single_name and len(senders) <= 1:
            sender_name = single_name
    peer_phone = phone_digits(peer_raw)
    if group_id:
        chat_key = chat_jid = group_id
        chat_phone = ""
        is_group = True
    else:
        # A phone's digits; else the business-scoped user id (BSUID) when the user hides the
        # number behind a username (never a phone made up from it).
        ident = peer_phone or peer_id or (peer_raw if peer_raw and not peer_phone else "")
        if not ident:
            raise _SkipItem("no chat")
        chat_key = peer_phone or ident
        chat_jid = peer_raw or peer_id
        chat_phone = peer_phone
        is_group = False
    context = item.get("context")
    reply_to = clean(context.get("id")) if isinstance(context, dict) else ""
    kind = clean(item.get("type"))
    common: dict[str, Any] = {
        "account_id": account.account_id,
        "chat_key": chat_key,
        "chat_phone": chat_phone,
        "timestamp": timestamp,
        "chat_jid": chat_jid,
    }
    if kind == "reaction":
        reaction = item.get("reaction")
        reaction = reaction if isinstance(reaction, dict) else {}
        target = clean(reaction.get("message_id"))
        if not target:
            raise _SkipItem("reaction without target")
        return [
            ReactionEvent(
                provider_message_id=message_id,
                target_message_id=target,
                emoji=clean(reaction.get("emoji")),  # absent/empty: the reaction was removed
                direction=direction,
                sender_phone=sender_phone if not echo else business,
                sender_name=sender_name,
                is_group=is_group,
                **common,
            )
        ]
    if kind == "revoke":
        revoke = item.get("revoke")
        target = clean(revoke.get("original_message_id")) if isinstance(revoke, dict) else ""
        if not target:
            raise _SkipItem("revoke without target")
        return [
            RevokeEvent(
                target_message_id=target,
                provider_message_id=message_id,
                direction=direction,
                **common,
            )
        ]
    if kind == "edit":
        edit = item.get("edit")
        edit = edit if isinstance(edit, dict) else {}
        target = clean(edit.get("original_message_id"))
        if not target:
            raise _SkipItem("edit without target")
        inner = edit.get("message")
        text = ""
        if isinstance(inner, dict):
            inner_type = clean(inner.get("type"))
            content = inner.get(inner_type)
            if isinstance(content, dict):
                text = clean(content.get("body")) or clean(content.get("caption"))
        return [
            EditEvent(
                target_message_id=target,
                text=text,
                provider_message_id=message_id,
                direction=direction,
                **common,
            )
        ]
    fields = _content(kind, item)
    return [
        MessageEvent(
            provider_message_id=message_id,
            direction=direction,
            sender_name=sender_name,
            sender_phone=sender_phone if not echo else business,
            is_group=is_group,
            reply_to=reply_to or None,
            **common,
            **fields,
        )
    ]


def _content(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    """``type``, ``text``, ``caption``, ``media``... of a MessageEvent, per Meta message type."""
    body = item.get(kind) if kind else None
    obj = body if isinstance(body, dict) else {}
    out: dict[str, Any] = {}
    if kind == "text":
        out["type"] = MessageType.TEXT
        out["text"] = clean(obj.get("body"))
    elif kind in _MEDIA_TYPES:
        out["type"] = _MEDIA_TYPES[kind]
        media: dict[str, Any] = {}
        for key in ("id", "mime_type", "sha256", "filename", "url"):
            value = clean(obj.get(key))
            if value:
                media[key] = value
        for flag in ("voice", "animated"):
            if isinstance(obj.get(flag), bool):
                media[flag] = obj[flag]
        out["media"] = media
        out["caption"] = clean(obj.get("caption"))
    elif kind == "location":
        out["type"] = MessageType.LOCATION
        location: dict[str, Any] = {}
        for key in ("latitude", "longitude"):
            coordinate = obj.get(key)
            if is_number(coordinate):
                location[key] = float(coordinate)
            elif isinstance(coordinate, str):  # the send schema spells them as strings
                with contextlib.suppress(ValueError):
                    location[key] = finite_float(coordinate)
        for key in ("name", "address", "url"):
            text = clean(obj.get(key))
            if text:
                location[key] = text
        out["location"] = location
    elif kind == "contacts":
        out["type"] = MessageType.CONTACTS
        out["contacts"] = [_shared_contact(c) for c in as_list(item.get("contacts"))]
    elif kind == "interactive":
        out["type"] = MessageType.INTERACTIVE
        out.update(_interactive_reply(obj))
    elif kind == "button":
        # A template's quick-reply button ([OAS] ButtonMessage).
        out["type"] = MessageType.INTERACTIVE
        text = clean(obj.get("text"))
        out["text"] = text
        out["interactive"] = {"type": "button", "payload": clean(obj.get("payload")), "text": text}
    elif kind == "order":
        out["type"] = MessageType.INTERACTIVE
        items = []
        for product in as_list(obj.get("product_items")):
            if isinstance(product, dict):
                items.append(
                    {
                        key: product[key]
                        for key in ("product_retailer_id", "quantity", "item_price", "currency")
                        if isinstance(product.get(key), str) or is_number(product.get(key))
                    }
                )
        text = clean(obj.get("text"))
        out["text"] = text
        out["interactive"] = {
            "type": "order",
            "catalog_id": clean(obj.get("catalog_id")),
            "text": text,
            "product_items": items,
        }
    else:
        # Known as "unsupported"/"unknown" ([OAS] UnsupportedMessage), or a type newer than
        # this code (system, request_welcome, ...): kept as a placeholder, never dropped.
        out["type"] = MessageType.UNKNOWN
        placeholder: dict[str, Any] = {"provider_type": kind}
        if kind == "system":
            placeholder["system_type"] = clean(obj.get("type"))
            new_id = clean(obj.get("wa_id")) or clean(obj.get("user_id"))
            if new_id:
                placeholder["wa_id"] = new_id
            out["text"] = clean(obj.get("body"))
        unsupported = item.get("unsupported")
        if isinstance(unsupported, dict) and clean(unsupported.get("type")):
            placeholder["unsupported_type"] = clean(unsupported.get("type"))
        out["media"] = placeholder
    errors = _errors(item.get("errors"))
    if errors:
        media_out = out.get("media") or {}
        media_out["errors"] = errors
        out["media"] = media_out
    referral = item.get("referral")
    if isinstance(referral, dict) and "interactive" not in out:
        # A message sent from a click-to-WhatsApp ad or post ([OAS] ReferralObject).
        info: dict[str, Any] = {"type": "referral"}
        for key in (
            "source_url",
            "source_id",
            "source_type",
            "headline",
            "body",
            "media_type",
            "image_url",
            "video_url",
            "thumbnail_url",
            "ctwa_clid",
        ):
            text = clean(referral.get(key))
            if text:
                info[key] = text
        out["interactive"] = info
    return out


def _interactive_reply(obj: dict[str, Any]) -> dict[str, Any]:
    """A tap on our buttons or list, or a Flow's answer ([OAS] InteractiveMessageReply)."""
    subtype = clean(obj.get("type"))
    reply = obj.get(subtype) if subtype else None
    reply = reply if isinstance(reply, dict) else {}
    if subtype in ("button_reply", "list_reply"):
        info: dict[str, Any] = {
            "type": subtype,
            "id": clean(reply.get("id")),
            "title": clean(reply.get("title")),
        }
        if subtype == "list_reply":
            info["description"] = clean(reply.get("description"))
        return {"text": info["title"], "interactive": info}
    if subtype == "nfm_reply":
        # A Flow's completion: name, body and the answers as a JSON string.
        info = {
            "type": subtype,
            "name": clean(reply.get("name")),
            "body": clean(reply.get("body")),
            "response_json": clean(reply.get("response_json")),
        }
        return {"text": info["body"], "interactive": info}
    info = {"type": subtype}  # a subtype newer than this code: its plain fields
    for key, value in reply.items():
        if isinstance(key, str) and (isinstance(value, str) or is_number(value)):
            info[key] = value
    return {"interactive": info}


_CONTACT_PARTS: Final[dict[str, tuple[str, ...]]] = {
    "addresses": ("street", "city", "state", "zip", "country", "country_code", "type"),
    "emails": ("email", "type"),
    "phones": ("phone", "wa_id", "type"),
    "urls": ("url", "type"),
}


def _shared_contact(contact: object) -> dict[str, Any]:
    """A shared vCard as Meta sends it ([OAS] ContactObject), keeping only its text fields."""
    out: dict[str, Any] = {}
    if not isinstance(contact, dict):
        return out
    name = contact.get("name")
    if isinstance(name, dict):
        out["name"] = {
            k: name[k]
            for k in (
                "formatted_name",
                "first_name",
                "last_name",
                "middle_name",
                "prefix",
                "suffix",
            )
            if isinstance(name.get(k), str)
        }
    org = contact.get("org")
    if isinstance(org, dict):
        out["org"] = {
            k: org[k] for k in ("company", "department", "title") if isinstance(org.get(k), str)
        }
    for part, keys in _CONTACT_PARTS.items():
        values = [
            {k: v[k] for k in keys if isinstance(v.get(k), str)}
            for v in as_list(contact.get(part))
            if isinstance(v, dict)
        ]
        if values:
            out[part] = values
    for key in ("birthday", "vcard"):
        if isinstance(contact.get(key), str):
            out[key] = contact[key]
    return out


def _errors(value: object) -> list[dict[str, Any]]:
    """``errors[]`` ([OAS] StatusError / ErrorObject) as flat dicts."""
    out = []
    for error in as_list(value):
        if not isinstance(error, dict):
            continue
        item: dict[str, Any] = {}
        code = error.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            item["code"] = code
        for key in ("title", "message"):
            text = clean(error.get(key))
            if text:
                item[key] = text
        error_data = error.get("error_data")
        details = clean(error_data.get("details")) if isinstance(error_data, dict) else ""
        if details:
            item["details"] = details
        if item:
            out.append(item)
    return out


def _error_text(errors: list[dict[str, Any]]) -> str:
    """One line per error: ``(#131047) Re-engagement message: <details>``."""
    parts = []
    for error in errors:
        head = f"(#{error['code']})" if "code" in error else ""
        title = error.get("title") or error.get("message") or ""
        line = " ".join(p for p in (head, title) if p)
        details = error.get("details", "")
        if details and details != title:
            line = f"{line}: {details}" if line else details
        parts.append(line)
    return clip("; ".join(p for p in parts if p), 500)


def _status_event(account: MetaAccount, item: dict[str, Any]) -> StatusEvent | None:
    """One entry of ``statuses`` ([OAS] ``Statuses``; [HOOKS] status); None for a status value
    we do not track, ``_SkipItem`` for one that cannot be read."""
    message_id = clean(item.get("id"))
    if not message_id:
        raise _SkipItem("without a message id")
    status = _STATUS.get(clean(item.get("status")))
    if status is None:
        return None  # e.g. "warning" (catalog) or "deleted": nothing to show on a bubble
    timestamp = _timestamp(item.get("timestamp"))  # _SkipItem: the caller logs it
    errors = _errors(item.get("errors"))
    error: str | None = _error_text(errors) or None
    if status is DeliveryStatus.FAILED and not error:
        error = "failed"
    recipient = clean(item.get("recipient_id"))
    is_group = clean(item.get("recipient_type")) == "group" or bool(clean(item.get("group_id")))
    opaque = clean(item.get("biz_opaque_callback_data"))
    return StatusEvent(
        account_id=account.account_id,
        provider_message_id=message_id,
        status=status,
        timestamp=timestamp,
        error=error,
        client_ref=opaque or None,
        chat_phone="" if is_group else phone_digits(recipient),
    )


def _account_update(account: MetaAccount, value: dict[str, Any]) -> list[ProviderEvent]:
    """WABA-level ``account_update`` events that change whether this number can send.

    [HOOKS] account_update: ``ACCOUNT_DELETED`` → the number is gone; ``DISABLED_UPDATE`` with
    ``ban_info.waba_ban_state`` ``DISABLE`` (banned) / ``REINSTATE``; ``ACCOUNT_RESTRICTION``
    with ``restriction_info``; ``ACCOUNT_OFFBOARDED`` / ``ACCOUNT_RECONNECTED`` (coexistence
    device change); ``PARTNER_REMOVED`` / ``PARTNER_APP_UNINSTALLED`` (our app lost access).
    Everything else (verification, pricing, partner added...) is ignored.
    """
    event = clean(value.get("event"))
    if event == "ACCOUNT_DELETED":
        return [
            AccountRemovedEvent(
                account.account_id, reason="the WhatsApp Business Account was deleted"
            )
        ]
    if event == "DISABLED_UPDATE":
        ban = value.get("ban_info")
        states = ban.get("waba_ban_state") if isinstance(ban, dict) else None
        state_list = [
            s for s in (states if isinstance(states, list) else [states]) if isinstance(s, str)
        ]
        if "DISABLE" in state_list:
            return [
                ConnectionEvent(
                    account.account_id,
                    ConnectionState.BLOCKED,
                    needs_repair=True,
                    reason="the WhatsApp Business Account was disabled by Meta",
                )
            ]
        if "REINSTATE" in state_list:
            return [
                ConnectionEvent(
                    account.account_id,
                    ConnectionState.CONNECTED,
                    reason="the WhatsApp Business Account was reinstated",
                )
            ]
        return []
    if event == "ACCOUNT_RESTRICTION":
        kinds = [
            clean(r.get("restriction_type"))
            for r in as_list(value.get("restriction_info"))
            if isinstance(r, dict)
        ]
        detail = ", ".join(k for k in kinds if k) or "restricted"
        return [
            ConnectionEvent(
                account.account_id,
                ConnectionState.BLOCKED,
                needs_repair=True,
                reason=clip(f"the account is restricted by Meta: {detail}", 300),
            )
        ]
    if event == "ACCOUNT_OFFBOARDED":
        return [
            ConnectionEvent(
                account.account_id,
                ConnectionState.NEEDS_REPAIR,
                needs_repair=True,
                reason="the number was moved off Cloud API (device change or re-registration)",
            )
        ]
    if event == "ACCOUNT_RECONNECTED":
        return [
            ConnectionEvent(account.account_id, ConnectionState.CONNECTED, reason="reconnected")
        ]
    if event in ("PARTNER_REMOVED", "PARTNER_APP_UNINSTALLED"):
        return [
            ConnectionEvent(
                account.account_id,
                ConnectionState.NEEDS_REPAIR,
                needs_repair=True,
                reason="this app no longer has access to the WhatsApp Business Account",
            )
        ]
    return []
