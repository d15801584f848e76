"""Every provider Caixa knows, by kind. Adding a provider = one file + one line here.

Modules are named, not imported: a provider's module (and what it imports) loads the first time
that provider is used, so starting the app on demo numbers never pays for Meta's or Evolution's.
Each module defines one adapter class (``ADAPTER``, implementing ``ProviderAdapter``) and, when
the provider calls us back, ``parse_webhook`` (see ``base.py``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Final

from sync.providers.base import WebhookRequest, WebhookResult

PROVIDER_MODULES: Final[dict[str, str]] = {
    "demo": "sync.providers.demo",
    "meta": "sync.providers.meta_cloud",
    "evolution": "sync.providers.evolution",
    "gateway": "sync.providers.gateway",
}

# The providers that reach us by webhook, i.e. have a receiver route and ``parse_webhook``.
WEBHOOK_PROVIDERS: Final = ("meta", "evolution", "gateway")

WebhookParser = Callable[[WebhookRequest, Sequence[Any]], WebhookResult]


def provider_module(kind: str) -> Any:
    """The module of provider ``kind``; ``KeyError`` for a kind Caixa does not know."""
    return importlib.import_module(PROVIDER_MODULES[kind])


def adapter_class(kind: str) -> type:
    """The adapter class of provider ``kind``."""
    cls: type = provider_module(kind).ADAPTER
    return cls


def webhook_parser(kind: str) -> WebhookParser:
    """The pure webhook parser of provider ``kind`` (one of ``WEBHOOK_PROVIDERS``)."""
    if kind not in WEBHOOK_PROVIDERS:
        raise KeyError(kind)
    parser: WebhookParser = provider_module(kind).parse_webhook
    return parser
