"""The built-in demo provider: fictitious customers who write, answer and read, with no network.

It is also the smallest model of a provider package: ``provider`` declares it (``PROVIDER``:
no account, no webhooks, its ``Capabilities``), ``adapter`` holds one class implementing
``ProviderAdapter``; ``corpus`` makes the demo's conversations
from ``sync/demo_data/`` (loaded only when a demo number starts: it is large).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync.providers.demo.provider import PROVIDER
from sync.providers.exports import lazy_exports

if TYPE_CHECKING:
    from sync.providers.demo.adapter import DemoProvider, DemoTiming

# The declaration is loaded with the package; the rest on first use (``exports.py``).
__all__ = [
    "PROVIDER",
    "DemoProvider",
    "DemoTiming",
]
__getattr__, __dir__ = lazy_exports(__name__, __all__)
