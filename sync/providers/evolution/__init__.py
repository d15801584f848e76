"""Evolution API (v2.3.x, Baileys 7): QR-linked numbers through a self-hosted Evolution server.

One Evolution "instance" is one linked WhatsApp number. Wire formats follow the Evolution API
source (``EvolutionAPI/evolution-api``, tag 2.3.6) and Baileys (``WhiskeySockets/Baileys``,
7.0.0-rc); each module cites the paths in those repositories it reads.

The modules: ``provider`` (its declaration, ``PROVIDER``) and ``account``; ``adapter``
(pairing, sending, backfill), ``connection`` (the link's state machine and reconnect policy),
``socket`` (events over Socket.IO when no webhook can reach us), ``webhook`` (pure: Evolution's
webhook POSTs as normalized events), ``errors`` (what each error answer means), ``limits``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync.providers.evolution.account import EvolutionAccount
from sync.providers.evolution.provider import PROVIDER
from sync.providers.exports import lazy_exports

if TYPE_CHECKING:
    from sync.providers.evolution.adapter import EvolutionAdapter, NumberCheck
    from sync.providers.evolution.connection import (
        REASON_BAD_SESSION,
        REASON_LOGGED_OUT,
        REASON_NOT_LINKED,
        REASON_QR_EXPIRED,
        REASON_QR_UNASKED,
        EvolutionLink,
        ReconnectPolicy,
    )
    from sync.providers.evolution.errors import error_for
    from sync.providers.evolution.limits import MAX_TEXT
    from sync.providers.evolution.webhook import (
        WEBHOOK_EVENTS,
        WEBHOOK_TOKEN_HEADER,
        normalize_records,
        parse_webhook,
    )

# The declaration is loaded with the package; the rest on first use (``exports.py``).
__all__ = [
    "MAX_TEXT",
    "PROVIDER",
    "REASON_BAD_SESSION",
    "REASON_LOGGED_OUT",
    "REASON_NOT_LINKED",
    "REASON_QR_EXPIRED",
    "REASON_QR_UNASKED",
    "WEBHOOK_EVENTS",
    "WEBHOOK_TOKEN_HEADER",
    "EvolutionAccount",
    "EvolutionAdapter",
    "EvolutionLink",
    "NumberCheck",
    "ReconnectPolicy",
    "error_for",
    "normalize_records",
    "parse_webhook",
]
__getattr__, __dir__ = lazy_exports(__name__, __all__)
