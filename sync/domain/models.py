"""Domain types: accounts (WhatsApp numbers), conversations, messages and their states."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


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


class DeliveryStatus(enum.StrEnum):
    """Where an outgoing message is on its way to the customer.

    ``queued`` → ``sending`` → ``sent`` → ``delivered`` → ``read`` (→ ``played`` for voice notes).
    ``unknown`` means the provider was called but its answer was lost: the message is never resent
    blindly, a later status event settles it. ``failed`` is terminal. Inbound messages carry
    ``received``.
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


@dataclass(frozen=True, slots=True)
class Account:
    """One WhatsApp number served through one provider."""

    id: int
    name: str
    provider: str
    phone: str
    display_name: str = ""
    state: ConnectionState = ConnectionState.OFFLINE
    config: dict[str, Any] = field(default_factory=dict)
    state_reason: str = ""  # why it is offline / needs re-pairing, as the provider said


@dataclass(frozen=True, slots=True)
class Conversation:
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


@dataclass(frozen=True, slots=True)
class Message:
    """One message as stored in the cache. ``timestamp_ms`` is epoch milliseconds, UTC."""

    seq: int
    id: str
    account_id: int
    conversation_id: int
    provider_message_id: str | None
    direction: Direction
    timestamp_ms: int
    type: MessageType
    text: str
    sender_name: str
    reply_to: str | None
    status: DeliveryStatus
    error: str | None
    media: dict[str, Any] | None = None
    edited: bool = False  # the sender changed the text
    revoked: bool = False  # the sender deleted it for everyone (the text is gone)
    reactions: str = ""  # the emoji reactions on it, one per sender, in no particular order


@dataclass(frozen=True, slots=True)
class MediaRef:
    """Media to send, by a public ``link`` the provider fetches or a local ``path`` to upload."""

    link: str = ""
    path: str = ""
    mime_type: str = ""
    filename: str = ""


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """An approved message template (what Meta requires once the 24-hour window has closed).

    ``body_parameters`` fill ``{{1}}``, ``{{2}}``... of the body, ``header_parameters`` those of a
    text header; ``components``, when given, is sent as is (Meta's own shape) and wins.
    """

    name: str
    language: str
    body_parameters: tuple[str, ...] = ()
    header_parameters: tuple[str, ...] = ()
    components: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """What the outbox hands to a provider adapter: one message, identified by our own id.

    ``type`` says which of the optional parts is used:

    - TEXT: ``text`` (``preview_url`` asks for a link preview);
    - IMAGE / DOCUMENT / AUDIO / VIDEO / STICKER: ``media``, with ``text`` as the caption;
    - TEMPLATE: ``template``;
    - INTERACTIVE: ``interactive``, provider-neutral: ``{"type": "button", "body": str,
      "header"?: str, "footer"?: str, "buttons": [{"id", "title"}]}`` or ``{"type": "list",
      "body": str, "header"?, "footer"?, "button": str, "sections": [{"title", "rows": [{"id",
      "title", "description"?}]}]}``;
    - REACTION: ``reaction`` (an emoji; empty removes ours) to the message ``reply_to``.

    ``reply_to`` (a provider message id) quotes that message for every other type.
    """

    client_id: str
    account_id: int
    to_phone: str
    chat_key: str
    type: MessageType
    text: str
    reply_to: str | None = None
    preview_url: bool = False
    media: MediaRef | None = None
    template: TemplateRef | None = None
    interactive: dict[str, Any] | None = None
    reaction: str | None = None
