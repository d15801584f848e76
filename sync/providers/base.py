"""The one interface every provider adapter implements, what a provider declares, and errors.

A provider is a package (``sync/providers/<name>/``) that declares itself as data in a
``ProviderSpec`` (its ``PROVIDER``): what it needs from the account, the webhook routes it
answers, what it can do (``Capabilities``), and where its adapter and webhook parser are. The
registry lists the packages; the receiver, the "Add a number" form and the composer read the
declarations instead of naming providers.

An adapter turns a provider's API into normalized events (``sync.domain.events``) pushed into
an ``EventSink``, and sends ``OutgoingMessage``s. It takes its ``httpx.AsyncClient`` from the
caller, so tests can hand it a loopback server. How the outbox reacts to each error is part of
the contract:

- ``RateLimited`` / ``NotSent``: the provider certainly did not take the message → retried later.
- ``PermanentSendError`` / ``AuthError``: it never will → "failed" with the reason shown.
- ``DeliveryUnknown`` (and any unexpected exception): it may have → "unknown", never resent.
"""

from __future__ import annotations

import importlib
import logging
import os
import string
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import Field, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol, runtime_checkable

from sync.domain.events import ProviderEvent, QrEvent
from sync.domain.messages import OutgoingMessage
from sync.domain.models import ConnectionState

if TYPE_CHECKING:
    import httpx

EventSink = Callable[[Sequence[ProviderEvent]], Awaitable[None]]
EventObserver = Callable[[Sequence[ProviderEvent]], None]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an adapter can do, as data the engine and the UI (the composer) read."""

    templates: bool  # approved message templates can be sent (``list_templates``)
    max_text_length: int  # the longest text a message may hold, in characters
    sends_per_second: float  # the pace the dispatcher keeps for one number
    needs_qr_link: bool  # the number is linked by scanning a QR code (``QrLinkAdapter``)
    media: bool  # images, documents, audio... can be sent
    echoes_client_ref: bool  # status events carry our own message id (settles "unknown")
    # Free-form messages may go out only within 24 hours of the customer's last message
    # (Meta's customer-service window); outside it, only templates.
    service_window: bool = False
    reactions: bool = False  # a reaction to a message can be sent
    replies: bool = False  # a message can quote the one it answers
    edits: bool = False  # a sent message can be edited
    deletes_for_everyone: bool = False  # a sent message can be deleted for everyone


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
    """Too many requests; the message was not taken. Retry after ``retry_after`` seconds.

    ``per_recipient``: the limit is on messages to this one customer (Meta's pair rate limit),
    not on the number: only that customer's messages wait.
    """

    code = "rate_limited"

    def __init__(
        self, detail: str = "", retry_after: float = 1.0, *, per_recipient: bool = False
    ) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.per_recipient = per_recipient


class NotSent(ProviderError):
    """A transient failure that certainly happened before the provider took the message."""

    code = "not_sent"


class PermanentSendError(ProviderError):
    """The provider refused this message for good (invalid number, window closed, ...)."""

    code = "rejected"


class DeliveryUnknown(ProviderError):
    """The request may have reached the provider but no answer came back."""

    code = "unknown"


class ProviderAccount(Protocol):
    """One number's settings and secrets for its provider: each provider's account dataclass
    (``MetaAccount``...), whose fields are the ones its ``ProviderSpec`` declares."""

    # A dataclass (what ``dataclasses.replace`` and ``fields`` need, as typeshed spells it).
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    @property
    def provider(self) -> str:
        """The provider's kind (``ProviderSpec.kind``)."""
        ...

    @property
    def account_id(self) -> int:
        """The number's id in the store (0 before it is stored)."""
        ...

    @property
    def name(self) -> str:
        """The number's name, as the user gave it."""
        ...


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
# Each provider that receives webhooks has a pure function
#
#     parse_webhook(request: WebhookRequest, accounts: Sequence[<account type>]) -> WebhookResult
#
# named by its declaration (``ProviderSpec.webhook_parser``). It authenticates the request
# against the accounts it could belong to, then normalizes the body; it does no I/O, so the
# receiver, the team server and ``caixa webhook parse`` share it. It raises ``WebhookAuthError``
# (answered 401/403, CLI exit 2) or ``WebhookPayloadError`` (answered 4xx, CLI exit 3), never
# anything else for any input: both store nothing. A body that is valid but carries nothing for
# us gives a result with no events.


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One webhook call as received: the raw bytes, before any parsing.

    ``instance`` and ``event`` are what the provider's route (``WebhookRoute``) put in those
    placeholders: ``/hooks/evolution/{instance}`` gives ``instance`` and, with Evolution's
    ``webhookByEvents``, ``event`` (``messages-upsert``). Header names are lower case.
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


# --- what a provider declares --------------------------------------------------------------------


class FieldCheck(StrEnum):
    """How an account field's value is checked; the value is the reason code of a refusal."""

    TEXT = "text"  # any text
    NAME = "name"  # the number's name: at most ``NAME_MAX`` characters
    URL = "url"  # an http:// or https:// address
    DIGITS = "digits"  # a numeric id (5 to 32 digits)
    INSTANCE = "instance"  # letters, digits, ".", "_" and "-" (up to 100), no leading symbol
    API_VERSION = "api_version"  # a Graph API version such as v23.0


NAME_MAX: Final = 100


@dataclass(frozen=True, slots=True)
class AccountField:
    """One setting or secret a number needs, as the JSON description, the store and the "Add a
    number" form know it."""

    name: str  # the JSON key and the account dataclass's field
    label: str  # for people, in English; the desktop translates it (a table keyed by ``name``)
    secret: bool = False  # kept with the secrets (keyring), masked in the form, never logged
    required: bool = True  # an empty value is refused (else it becomes ``default``)
    check: FieldCheck = FieldCheck.TEXT
    default: str = ""  # what an optional field left out or empty becomes
    in_form: bool = True  # asked by the "Add a number" form (advanced settings are not)
    generated: bool = False  # left empty, Caixa makes a random secret (``with_generated_secrets``)
    from_name: bool = False  # left empty in the form, it is made from the number's name


NAME_FIELD: Final = AccountField("name", "Name shown in Caixa", check=FieldCheck.NAME)
"""The field every number has: its name in the rail, the CLI and the logs."""


@dataclass(frozen=True, slots=True)
class WebhookRoute:
    """A path the receiver answers for a provider, as a Starlette path template.

    Its ``{instance}`` and ``{event}`` become ``WebhookRequest.instance`` and ``.event``. The
    first route of a provider is the address Caixa gives it (``registry.hook_url``), its
    placeholders filled from the account's attributes of the same name.
    """

    path: str
    methods: tuple[str, ...] = ("POST",)

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The names in braces, in order."""
        return tuple(name for _, name, _, _ in string.Formatter().parse(self.path) if name)


WEBHOOK_PLACEHOLDERS: Final = frozenset({"instance", "event"})


class AdapterFactory(Protocol):
    """How every adapter class is built (``registry.build_adapter``).

    ``webhook_url`` is where the provider must send this number's webhooks ("" when no public
    address is known); ``observer`` sees the events an adapter receives itself (not through the
    receiver), once stored. An adapter with no use for one of them takes it and ignores it.
    """

    def __call__(
        self,
        account: Any,
        http: httpx.AsyncClient,
        *,
        webhook_url: str = "",
        observer: EventObserver | None = None,
    ) -> ProviderAdapter:
        """Make the adapter of ``account``."""
        ...


WebhookParser = Callable[[WebhookRequest, Sequence[Any]], WebhookResult]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """What a provider declares, as data: each provider package's ``PROVIDER``.

    Its adapter and webhook parser are named (``"module:name"``), not imported, so reading a
    declaration (the registry does, early) loads neither.
    """

    kind: str  # stored with each number (``accounts.provider``); never changes
    label: str  # for people, in English (the desktop translates it, keyed by ``kind``)
    description: str  # one sentence for people choosing a kind of number, in English
    capabilities: Capabilities
    adapter: str  # the adapter class (``AdapterFactory``), as "module:Class"
    account_type: type[Any] | None = None  # its account dataclass; None: no numbers are added
    account_fields: tuple[AccountField, ...] = ()  # in the form's order
    one_of: tuple[tuple[str, ...], ...] = ()  # of each group, at least one field must be given
    webhook_routes: tuple[WebhookRoute, ...] = ()
    webhook_parser: str = ""  # ``parse_webhook`` (see above), as "module:function"

    def __post_init__(self) -> None:
        names = [f.name for f in self.account_fields]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.kind}: an account field is declared twice")
        if self.account_fields and names[0] != NAME_FIELD.name:
            raise ValueError(f"{self.kind}: the first account field is the number's name")
        if any(name not in names for group in self.one_of for name in group):
            raise ValueError(f"{self.kind}: one_of names an undeclared field")
        for route in self.webhook_routes:
            if not route.path.startswith("/") or not set(route.placeholders) <= (
                WEBHOOK_PLACEHOLDERS
            ):
                raise ValueError(f"{self.kind}: bad webhook route {route.path!r}")
        if self.webhook_routes:
            first = self.webhook_routes[0].placeholders
            if not self.webhook_parser or any(name not in names for name in first):
                raise ValueError(f"{self.kind}: its first route must be filled from the account")

    def field(self, name: str) -> AccountField:
        """The declared field ``name``; ``KeyError`` when there is none."""
        for found in self.account_fields:
            if found.name == name:
                return found
        raise KeyError(name)

    @property
    def secret_fields(self) -> tuple[str, ...]:
        """The names of the fields kept as secrets."""
        return tuple(f.name for f in self.account_fields if f.secret)

    def load_adapter(self) -> AdapterFactory:
        """The adapter class (imports its module)."""
        factory: AdapterFactory = _load(self.adapter)
        return factory

    def load_webhook_parser(self) -> WebhookParser:
        """The webhook parser (imports its module); ``LookupError`` when it has none."""
        if not self.webhook_parser:
            raise LookupError(f"{self.kind} receives no webhooks")
        parser: WebhookParser = _load(self.webhook_parser)
        return parser


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
