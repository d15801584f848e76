"""Plain dataclasses and enums shared by every part of Caixa's core."""

from sync.domain.events import (
    ConnectionEvent,
    MessageEvent,
    ProviderEvent,
    StatusEvent,
)
from sync.domain.ids import uuid7
from sync.domain.models import (
    Account,
    ConnectionState,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    MessageType,
    OutgoingMessage,
)

__all__ = [
    "Account",
    "ConnectionEvent",
    "ConnectionState",
    "Conversation",
    "DeliveryStatus",
    "Direction",
    "Message",
    "MessageEvent",
    "MessageType",
    "OutgoingMessage",
    "ProviderEvent",
    "StatusEvent",
    "uuid7",
]
