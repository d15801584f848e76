"""Normalized provider events: what every adapter turns webhooks, polls and sockets into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A message seen on a number, in either direction. ``timestamp`` is epoch seconds."""

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
    kind: str = field(default="message", init=False)


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A delivery receipt for an outgoing message.

    ``client_ref`` is our own message id when the provider echoes it back (the demo provider does;
    Meta does through ``biz_opaque_callback_data``); it lets a send whose answer was lost
    ("unknown") be settled even though we never learned the provider's id.
    """

    account_id: int
    provider_message_id: str
    status: DeliveryStatus
    timestamp: float
    error: str | None = None
    client_ref: str | None = None
    kind: str = field(default="status", init=False)


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """A number's link changed state."""

    account_id: int
    state: ConnectionState
    needs_repair: bool = False
    phone: str = ""
    reason: str = ""
    kind: str = field(default="connection", init=False)


ProviderEvent = MessageEvent | StatusEvent | ConnectionEvent
