"""Domain types: accounts (WhatsApp numbers), conversations and the states of both and of
messages (the messages themselves are in ``sync.domain.messages``)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple


class ConnectionState(enum.StrEnum):
    """How a number's link to its provider stands, as shown by the dot in the rail."""

    CONNECTING = "connecting"
    WAITING_FOR_QR = "waiting_for_qr"
    CONNECTED = "connected"
    OFFLINE = "offline"
    NEEDS_REPAIR = "needs_repair"
    BLOCKED = "blocked"


class Direction(enum.StrEnum):
    """Whether a message came from the customer or went to them."""

    IN = "in"
    OUT = "out"


class MessageType(enum.StrEnum):
    """The kind of content a message carries; unknown kinds are kept as placeholders."""

    TEXT = "text"
    IMAGE = "image"
    DOCUMENT = "document"
    AUDIO = "audio"
    VIDEO = "video"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    INTERACTIVE = "interactive"
    TEMPLATE = "template"
    REACTION = "reaction"  # outgoing only: inbound reactions are ReactionEvents, not bubbles
    UNKNOWN = "unknown"


def preview_of(type_: MessageType, text: str) -> str:
    """The one-line preview a conversation list shows for a message (both stores write it)."""
    line = text.replace("\n", " ").strip()
    if type_ is MessageType.TEXT or line:
        return line[:120]
    return f"[{type_.value}]"


class DeliveryStatus(enum.StrEnum):
    """Where an outgoing message is on its way to the customer.

    ``queued`` → ``sending`` → ``sent`` → ``delivered`` → ``read`` (→ ``played`` for voice notes).
    ``unknown`` means the provider was called but its answer was lost: the message is never resent
    blindly, a later status event settles it (it ranks between ``sending`` and ``sent``).
    ``failed`` is terminal. Inbound messages carry ``received``, and keep it.
    """

    QUEUED = "queued"
    SENDING = "sending"
    UNKNOWN = "unknown"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    RECEIVED = "received"

    @property
    def rank(self) -> int:
        """Position on the way to the customer; a status only ever moves to a higher rank."""
        return _RANK[self]

    def can_become(self, new: DeliveryStatus) -> bool:
        """True when moving from this status to ``new`` is progress, never a step back.

        The same status again is not progress: a repeated receipt is no news and changes nothing.
        ``failed`` is terminal, and a message the customer's phone already acknowledged
        (delivered, read, played) cannot fail any more: a late "failed" after "delivered"
        is stale news.
        """
        if self is DeliveryStatus.FAILED or self is DeliveryStatus.RECEIVED:
            return False
        if new is DeliveryStatus.FAILED:
            return self.rank < DeliveryStatus.DELIVERED.rank
        return new.rank > self.rank


_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.UNKNOWN: 2,
    DeliveryStatus.SENT: 3,
    DeliveryStatus.DELIVERED: 4,
    DeliveryStatus.READ: 5,
    DeliveryStatus.PLAYED: 6,
    DeliveryStatus.FAILED: 7,
    DeliveryStatus.RECEIVED: 0,
}


class Account(NamedTuple):
    """One WhatsApp number served through one provider.

    (Account and Conversation are named tuples rather than frozen dataclasses: the first paint
    makes both, and defining a dataclass costs most of a millisecond on that path.)
    """

    id: int
    name: str
    provider: str
    phone: str
    display_name: str = ""
    state: ConnectionState = ConnectionState.OFFLINE
    config: Mapping[str, Any] = MappingProxyType({})  # read-only: a default shared by all
    state_reason: str = ""  # why it is offline / needs re-pairing, as the provider said


class Conversation(NamedTuple):
    """A chat between one number and one customer (or group)."""

    id: int
    account_id: int
    chat_key: str
    customer_phone: str
    customer_name: str
    last_message_at: int
    last_preview: str
    last_direction: Direction | None
    last_status: DeliveryStatus | None
    unread_count: int
