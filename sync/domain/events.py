"""Normalized provider events: what every adapter turns webhooks, polls and sockets into.

Every event names the account (our number) it belongs to. Chats are identified twice:
``chat_key`` is the conversation key in the store (digits of the customer's phone for a one-to-one
chat, the group's JID for a group, the ``@lid`` JID when the phone is unknown), ``chat_jid`` is
the provider's own chat id as it came (``5511...@s.whatsapp.net``, ``...@lid``, ``...@g.us``, or a
bare phone for Meta). A LID chat whose phone is known carries the phone's key and both JIDs
(``chat_jid`` the LID, ``chat_phone`` the phone), so a LID and its phone are one conversation.

``to_json`` gives the documented, stable JSON form (``caixa webhook parse`` prints it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Final

from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.domain.text import clean_json, clean_text


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A message seen on a number, in either direction. ``timestamp`` is epoch seconds.

    ``text`` is the body of a text message (or the title/body of an interactive answer);
    ``caption`` the caption of a media message. Types the adapter does not know arrive as
    ``MessageType.UNKNOWN`` with the provider's type name in ``media['provider_type']``: kept as a
    placeholder, never dropped.
    """

    account_id: int
    provider_message_id: str
    chat_key: str
    chat_phone: str
    direction: Direction
    timestamp: float
    type: MessageType
    text: str = ""
    sender_name: str = ""
    sender_phone: str = ""
    is_group: bool = False
    reply_to: str | None = None
    media: dict[str, Any] | None = None
    chat_jid: str = ""
    caption: str = ""
    location: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] | None = None
    interactive: dict[str, Any] | None = None
    kind: str = field(default="message", init=False)


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A delivery receipt for an outgoing message.

    ``client_ref`` is our own message id when the provider echoes it back (the demo provider does;
    Meta does through ``biz_opaque_callback_data``); it lets a send whose answer was lost
    ("unknown") be settled even though we never learned the provider's id. Receipts are matched
    by the message id alone: ``chat_phone`` is informative.
    """

    account_id: int
    provider_message_id: str
    status: DeliveryStatus
    timestamp: float
    error: str | None = None
    client_ref: str | None = None
    chat_phone: str = ""
    kind: str = field(default="status", init=False)


@dataclass(frozen=True, slots=True)
class ReactionEvent:
    """An emoji reaction to a message (shown on its bubble, never as a bubble of its own).

    An empty ``emoji`` removes the sender's earlier reaction.
    """

    account_id: int
    provider_message_id: str
    target_message_id: str
    emoji: str
    chat_key: str
    chat_phone: str
    direction: Direction
    timestamp: float
    sender_phone: str = ""
    sender_name: str = ""
    chat_jid: str = ""
    is_group: bool = False
    kind: str = field(default="reaction", init=False)


@dataclass(frozen=True, slots=True)
class EditEvent:
    """The sender changed the text (or caption) of an earlier message."""

    account_id: int
    target_message_id: str
    text: str
    chat_key: str
    chat_phone: str
    timestamp: float
    provider_message_id: str = ""
    direction: Direction = Direction.IN
    chat_jid: str = ""
    kind: str = field(default="edit", init=False)


@dataclass(frozen=True, slots=True)
class RevokeEvent:
    """The sender deleted an earlier message for everyone."""

    account_id: int
    target_message_id: str
    chat_key: str
    chat_phone: str
    timestamp: float
    provider_message_id: str = ""
    direction: Direction = Direction.IN
    chat_jid: str = ""
    kind: str = field(default="revoke", init=False)


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """A number's link changed state. ``needs_repair``: only the user can fix it (re-pair)."""

    account_id: int
    state: ConnectionState
    needs_repair: bool = False
    phone: str = ""
    reason: str = ""
    kind: str = field(default="connection", init=False)


@dataclass(frozen=True, slots=True)
class QrEvent:
    """A new pairing QR (its text payload) and/or 8-character pairing code to show the user."""

    account_id: int
    qr_code: str = ""
    pairing_code: str = ""
    kind: str = field(default="qr", init=False)


@dataclass(frozen=True, slots=True)
class ContactEvent:
    """A contact's name or identity became known (push name, address book, LID ↔ phone)."""

    account_id: int
    chat_key: str
    phone: str = ""
    jid: str = ""
    lid: str = ""
    name: str = ""
    kind: str = field(default="contact", init=False)


@dataclass(frozen=True, slots=True)
class AccountRemovedEvent:
    """The provider says this number is gone (instance deleted, number deregistered)."""

    account_id: int
    reason: str = ""
    kind: str = field(default="account_removed", init=False)


ProviderEvent = (
    MessageEvent
    | StatusEvent
    | ReactionEvent
    | EditEvent
    | RevokeEvent
    | ConnectionEvent
    | QrEvent
    | ContactEvent
    | AccountRemovedEvent
)


# Per event class, the fields an event is made from (``kind`` is not one): read once.
_INIT_FIELDS: Final[dict[type, tuple[str, ...]]] = {}


def clean_event(event: ProviderEvent) -> ProviderEvent:
    """``event`` with ``clean_text`` applied to every text in it, ready for a store.

    Every string field (message text, caption, sender and contact names, edit text, reaction
    emoji, ids, error and reason strings) and every string inside the dict and list fields
    (media, location names, shared contacts, interactive answers). The event itself comes back
    when nothing needed cleaning, which is the usual case. Both ingests call this on every
    event before writing it.
    """
    names = _INIT_FIELDS.get(type(event))
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(event) if f.init)
        _INIT_FIELDS[type(event)] = names
    changes: dict[str, Any] = {}
    for name in names:
        value = getattr(event, name)
        # type() and not isinstance(): enum members (StrEnum) are str too and stay as they are.
        if type(value) is str:
            cleaned: Any = clean_text(value)
        elif isinstance(value, dict | list):
            cleaned = clean_json(value)
        else:
            continue
        if cleaned is not value:
            changes[name] = cleaned
    return dataclasses.replace(event, **changes) if changes else event


def to_json(event: ProviderEvent, account: str) -> dict[str, Any]:
    """The documented JSON form of ``event``; ``account`` is the number's name.

    Keys are stable (the README documents them): ``kind`` first, then ``account``, then the
    event's own fields. Enums become their string values; ``account_id`` is internal and left out.
    """
    out: dict[str, Any] = {"kind": event.kind, "account": account}
    if isinstance(event, MessageEvent):
        out.update(
            provider_message_id=event.provider_message_id,
            chat_phone=event.chat_phone,
            chat_jid=event.chat_jid,
            chat_key=event.chat_key,
            is_group=event.is_group,
            direction=event.direction.value,
            sender_phone=event.sender_phone,
            sender_name=event.sender_name,
            timestamp=_seconds(event.timestamp),
            type=event.type.value,
            text=event.text,
            caption=event.caption,
            reply_to=event.reply_to,
            media=event.media,
            location=event.location,
            contacts=event.contacts,
            interactive=event.interactive,
        )
    elif isinstance(event, StatusEvent):
        out.update(
            provider_message_id=event.provider_message_id,
            status=event.status.value,
            error=event.error,
            timestamp=_seconds(event.timestamp),
            chat_phone=event.chat_phone,
            client_ref=event.client_ref,
        )
    elif isinstance(event, ReactionEvent):
        out.update(
            provider_message_id=event.provider_message_id,
            target_message_id=event.target_message_id,
            emoji=event.emoji,
            chat_phone=event.chat_phone,
            chat_jid=event.chat_jid,
            chat_key=event.chat_key,
            is_group=event.is_group,
            direction=event.direction.value,
            sender_phone=event.sender_phone,
            sender_name=event.sender_name,
            timestamp=_seconds(event.timestamp),
            # The same facts under the names messages use, for readers that key on those.
            reply_to=event.target_message_id,
            text=event.emoji,
        )
    elif isinstance(event, EditEvent | RevokeEvent):
        out.update(
            provider_message_id=event.provider_message_id,
            target_message_id=event.target_message_id,
            chat_phone=event.chat_phone,
            chat_jid=event.chat_jid,
            chat_key=event.chat_key,
            direction=event.direction.value,
            timestamp=_seconds(event.timestamp),
            reply_to=event.target_message_id,
        )
        if isinstance(event, EditEvent):
            out["text"] = event.text
    elif isinstance(event, ConnectionEvent):
        out.update(
            state=event.state.value,
            needs_repair=event.needs_repair,
            phone=event.phone,
            reason=event.reason,
        )
    elif isinstance(event, QrEvent):
        out.update(qr_code=event.qr_code, pairing_code=event.pairing_code)
    elif isinstance(event, ContactEvent):
        out.update(
            chat_key=event.chat_key,
            phone=event.phone,
            jid=event.jid,
            lid=event.lid,
            name=event.name,
        )
    else:
        out.update(reason=event.reason)
    return out


def _seconds(timestamp: float) -> int | float:
    """Whole seconds print as an integer (what every provider sends), fractions stay."""
    return int(timestamp) if float(timestamp).is_integer() else timestamp


class UnstorableEvents(Exception):
    """The events hold a value the cache cannot take (an integer past 64 bits, an infinite
    timestamp, a reference to a number that no longer exists): storing them again will fail
    again, so the caller should refuse them as bad input rather than ask for a retry."""
