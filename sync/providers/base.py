"""The one interface every provider adapter implements, and the errors adapters raise.

An adapter turns a provider's API into normalized events (``sync.domain.events``) pushed into
an ``EventSink``, and sends ``OutgoingMessage``s. It declares what it can do as data
(``Capabilities``) and takes its ``httpx.AsyncClient`` from the caller, so tests can hand it a
loopback server. How the outbox reacts to each error is part of the contract:

- ``RateLimited`` / ``NotSent``: the provider certainly did not take the message → retried later.
- ``PermanentSendError`` / ``AuthError``: it never will → "failed" with the reason shown.
- ``DeliveryUnknown`` (and any unexpected exception): it may have → "unknown", never resent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

from sync.domain.events import ProviderEvent
from sync.domain.models import OutgoingMessage

EventSink = Callable[[Sequence[ProviderEvent]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an adapter can do, as data the engine and the UI read."""

    templates: bool
    max_text_length: int
    sends_per_second: float
    needs_qr_link: bool
    media: bool
    echoes_client_ref: bool  # status events carry our own message id (settles "unknown")


@dataclass(frozen=True, slots=True)
class SendResult:
    """The provider took the message and named it."""

    provider_message_id: str


class ProviderError(Exception):
    """Base of every adapter error. ``code`` is stable, for the UI to translate."""

    code: ClassVar[str] = "provider_error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail


class AuthError(ProviderError):
    """The credentials were refused (expired token, logged-out instance)."""

    code = "auth"


class RateLimited(ProviderError):
    """Too many requests; the message was not taken. Retry after ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(self, detail: str = "", retry_after: float = 1.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotSent(ProviderError):
    """A transient failure that certainly happened before the provider took the message."""

    code = "not_sent"


class PermanentSendError(ProviderError):
    """The provider refused this message for good (invalid number, window closed, ...)."""

    code = "rejected"


class DeliveryUnknown(ProviderError):
    """The request may have reached the provider but no answer came back."""

    code = "unknown"


@runtime_checkable
class ProviderAdapter(Protocol):
    """One WhatsApp number through one provider."""

    kind: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    account_id: int

    async def start(self, sink: EventSink) -> None:
        """Connect and begin pushing events into ``sink``; returns once started."""
        ...

    def ready_to_send(self) -> bool:
        """Whether a send now would be attempted (connected, not paused)."""
        ...

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Hand one message to the provider, or raise one of the errors above."""
        ...

    async def mark_read(self, chat_key: str, provider_message_ids: Sequence[str]) -> None:
        """Tell the provider the agent read these inbound messages."""
        ...

    async def aclose(self) -> None:
        """Stop background work and release connections."""
        ...
