"""What it takes to reach one number on the VPS gateway (the fields ``provider.py`` declares)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sync.providers.accounts import Secret


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayAccount:
    """A QR-linked number on the self-hosted Baileys VPS gateway."""

    provider: ClassVar[str] = "gateway"

    account_id: int = 0
    name: str
    instance: str
    base_url: str
    master_token: Secret
    instance_token: Secret
