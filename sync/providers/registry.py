"""Every provider Caixa knows, by kind. Adding a provider = one package + one line here.

Each package (``sync/providers/<name>/``) declares itself in its ``PROVIDER`` (a
``base.ProviderSpec``): what it needs from the account, its webhook routes, its capabilities,
its adapter and webhook parser. Packages are named here, not imported: a package loads the
first time something asks about its provider, and even then only its declaration (its adapter,
parser and what they import load when first used), so starting the app on demo numbers never
pays for Meta's or Evolution's code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from sync.providers.base import ProviderSpec, WebhookParser

if TYPE_CHECKING:  # not at run time: the registry is on the app's start-up path
    import httpx

    from sync.domain.events import ProviderEvent
    from sync.providers.base import ProviderAccount, ProviderAdapter

PROVIDERS: Final[dict[str, str]] = {
    "demo": "sync.providers.demo",
    "meta": "sync.providers.meta_cloud",
    "evolution": "sync.providers.evolution",
    "gateway": "sync.providers.gateway",
}


def kinds() -> tuple[str, ...]:
    """Every provider's kind, in the order above (what the "Add a number" form offers)."""
    return tuple(PROVIDERS)


def provider(kind: str) -> ProviderSpec:
    """What provider ``kind`` declares (loads its package's declaration on first use);
    ``KeyError`` for a kind Caixa does not know."""
    spec = importlib.import_module(PROVIDERS[kind]).PROVIDER
    if not isinstance(spec, ProviderSpec) or spec.kind != kind:
        raise TypeError(f"{PROVIDERS[kind]}.PROVIDER does not declare provider {kind!r}")
    return spec


def providers() -> list[ProviderSpec]:
    """Every provider's declaration, in the order above."""
    return [provider(kind) for kind in PROVIDERS]


def account_kinds() -> tuple[str, ...]:
    """The providers numbers are added to (with an account type): not the demo."""
    return tuple(spec.kind for spec in providers() if spec.account_type is not None)


def webhook_providers() -> list[ProviderSpec]:
    """The providers that call Caixa back, i.e. have webhook routes and a parser."""
    return [spec for spec in providers() if spec.webhook_routes]


def adapter_class(kind: str) -> type:
    """The adapter class of provider ``kind`` (imports it)."""
    cls: type = provider(kind).load_adapter()  # type: ignore[assignment]
    return cls


def webhook_parser(kind: str) -> WebhookParser:
    """The pure webhook parser of provider ``kind``; ``KeyError`` when it receives none."""
    spec = provider(kind)
    if not spec.webhook_routes:
        raise KeyError(kind)
    return spec.load_webhook_parser()


def hook_url(public_url: str, account: ProviderAccount) -> str:
    """Where the provider must send this number's webhooks: its first declared route, its
    placeholders filled from the account ("" when no public address is known, or the provider
    calls no webhooks)."""
    routes = provider(account.provider).webhook_routes
    if not public_url or not routes:
        return ""
    route = routes[0]
    values = {name: quote(str(getattr(account, name)), safe="") for name in route.placeholders}
    return public_url.rstrip("/") + route.path.format(**values)


def build_adapter(
    account: ProviderAccount,
    http: httpx.AsyncClient,
    *,
    public_url: str = "",
    observer: Callable[[Sequence[ProviderEvent]], None] | None = None,
) -> ProviderAdapter:
    """The adapter of ``account``, as ``base.AdapterFactory`` says every adapter is built.

    ``observer`` sees the events an adapter receives itself, once stored (Evolution's Socket.IO
    events when there is no webhook address), as the receiver's observers see webhooks.
    """
    factory = provider(account.provider).load_adapter()
    return factory(account, http, webhook_url=hook_url(public_url, account), observer=observer)
