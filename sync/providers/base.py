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

import logging
import os
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

from sync.domain.events import ProviderEvent, QrEvent
from sync.domain.messages import OutgoingMessage
from sync.domain.models import ConnectionState

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
class AccountInfo:
    """What the provider says about the number (checked when it is added, shown in the rail)."""

    phone: str = ""
    display_name: str = ""
    state: ConnectionState = ConnectionState.CONNECTED


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


@runtime_checkable
class CheckedAdapter(ProviderAdapter, Protocol):
    """An adapter of a real provider: it can check its credentials and follow webhook events."""

    async def check(self) -> AccountInfo:
        """Ask the provider who this number is; ``AuthError`` when the credentials are refused."""
        ...

    def observe(self, events: Sequence[ProviderEvent]) -> None:
        """See this account's events as the receiver ingests them (connection state, heartbeats).

        Webhooks reach the receiver, not the adapter; this is how the adapter learns that its
        number connected, dropped or was logged out, and reacts (readiness, reconnect, re-pair).
        Must not block or raise.
        """
        ...


@runtime_checkable
class QrLinkAdapter(CheckedAdapter, Protocol):
    """A number linked by scanning a QR code (Evolution, the gateway)."""

    async def request_pairing(self, *, phone: str = "") -> QrEvent:
        """Create or reuse the instance and start linking; return the first QR.

        With ``phone`` (digits with country code) the provider also makes an 8-character pairing
        code. Later QRs, and the connection once the phone scans, arrive as events.
        """
        ...

    async def logout(self) -> None:
        """Unlink the phone (the instance stays, ready to pair again)."""
        ...


# --- webhooks ------------------------------------------------------------------------------------
#
# Each provider module that receives webhooks has a pure function
#
#     parse_webhook(request: WebhookRequest, accounts: Sequence[<account type>]) -> WebhookResult
#
# listed in ``registry.WEBHOOK_PARSERS``. It authenticates the request against the accounts it
# could belong to, then normalizes the body; it does no I/O, so the receiver, the team server and
# ``caixa webhook parse`` share it. It raises ``WebhookAuthError`` (answered 401/403, CLI exit 2)
# or ``WebhookPayloadError`` (answered 4xx, CLI exit 3), never anything else for any input: both
# store nothing. A body that is valid but carries nothing for us gives a result with no events.


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One webhook call as received: the raw bytes, before any parsing.

    ``path`` is what follows the provider's route: ``/hooks/evolution/{instance}`` gives
    ``instance`` and, with Evolution's ``webhookByEvents``, ``event`` (``messages-upsert``);
    ``/hooks/gateway/{instance}`` gives ``instance``. Header names are lower case.
    """

    method: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    instance: str = ""
    event: str = ""


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What a webhook meant: events to ingest, and the answer's text (Meta's GET challenge)."""

    events: Sequence[ProviderEvent] = ()
    response_text: str = ""


def log_skipped_item(logger: logging.Logger, provider: str, position: str, reason: str) -> None:
    """Log one item of a webhook call that was left out while the rest of the call is stored.

    A provider retries a refused call with the same body for days, so one broken item in a
    batch must not refuse its valid neighbours: the parser skips it and says so here, at WARNING,
    with the provider, where the item sits in the body (``entry[0].changes[1].messages[2]``,
    ``data[3]``) and why; never the item itself, which may quote a customer or a token.
    """
    logger.warning("%s webhook: skipped %s (%s)", provider, position, reason)


def parse_failure(exc: BaseException) -> str:
    """The reason for an item whose parsing raised unexpectedly (a parser bug): the exception's
    type and innermost frame, never its message (which may quote the body)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"could not be parsed: {type(exc).__name__}{where}"


class WebhookRejected(Exception):
    """The request is refused and stores nothing. ``reason`` is short, English, secret-free."""

    status_code: int = 400
    exit_code: ClassVar[int] = 3

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WebhookAuthError(WebhookRejected):
    """Bad or missing signature/token, or a token for another account: 401 (or 403)."""

    status_code = 401
    exit_code = 2

    def __init__(self, reason: str, *, forbidden: bool = False) -> None:
        super().__init__(reason)
        if forbidden:
            self.status_code = 403


class WebhookPayloadError(WebhookRejected):
    """The body is not what the provider sends (bad JSON, wrong shape): 400."""

    status_code = 400
    exit_code = 3
