"""Every provider Caixa knows, by kind. Adding a provider = one package + one line here.

Packages are named, not imported: a provider's package (and what it imports) loads the first
time that provider is used, so starting the app on demo numbers never pays for Meta's or
Evolution's. Each package's ``adapter`` module defines one adapter class (``ADAPTER``,
implementing ``ProviderAdapter``) and, when the provider calls us back, its ``webhook`` module
``parse_webhook`` (see ``base.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from sync.providers.base import WebhookRequest, WebhookResult

if TYPE_CHECKING:  # not at run time: the registry is on the app's start-up path
    import httpx

    from sync.domain.events import ProviderEvent
    from sync.providers.accounts import ProviderAccount
    from sync.providers.base import ProviderAdapter

PROVIDER_MODULES: Final[dict[str, str]] = {
    "demo": "sync.providers.demo",
    "meta": "sync.providers.meta_cloud",
    "evolution": "sync.providers.evolution",
    "gateway": "sync.providers.gateway",
}

# The providers that reach us by webhook, i.e. have a receiver route and ``parse_webhook``.
WEBHOOK_PROVIDERS: Final = ("meta", "evolution", "gateway")

WebhookParser = Callable[[WebhookRequest, Sequence[Any]], WebhookResult]


def provider_module(kind: str, module: str) -> Any:
    """Module ``module`` of provider ``kind``'s package; ``KeyError`` for an unknown kind."""
    return importlib.import_module(f"{PROVIDER_MODULES[kind]}.{module}")


def adapter_class(kind: str) -> type:
    """The adapter class of provider ``kind``."""
    cls: type = provider_module(kind, "adapter").ADAPTER
    return cls


def webhook_parser(kind: str) -> WebhookParser:
    """The pure webhook parser of provider ``kind`` (one of ``WEBHOOK_PROVIDERS``)."""
    if kind not in WEBHOOK_PROVIDERS:
        raise KeyError(kind)
    parser: WebhookParser = provider_module(kind, "webhook").parse_webhook
    return parser


def hook_url(public_url: str, account: ProviderAccount) -> str:
    """Where the provider must POST this number's webhooks ("" when no address is known)."""
    if not public_url:
        return ""
    base = public_url.rstrip("/")
    if account.provider in ("evolution", "gateway"):
        return f"{base}/hooks/{account.provider}/{getattr(account, 'instance', '')}"
    return f"{base}/hooks/{account.provider}"


def build_adapter(
    account: ProviderAccount,
    http: httpx.AsyncClient,
    *,
    public_url: str = "",
    observer: Callable[[Sequence[ProviderEvent]], None] | None = None,
) -> ProviderAdapter:
    """The adapter of ``account`` (its provider's class from the registry).

    ``observer`` sees the events an adapter receives itself, once stored (Evolution's Socket.IO
    events when there is no webhook address), as the receiver's observers see webhooks.
    """
    cls: Any = adapter_class(account.provider)
    if account.provider == "evolution":
        adapter: ProviderAdapter = cls(
            account, http, webhook_url=hook_url(public_url, account), observer=observer
        )
    elif account.provider == "gateway":
        adapter = cls(account, http, webhook_url=hook_url(public_url, account))
    else:
        adapter = cls(account, http)
    return adapter
