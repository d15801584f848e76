"""What it takes to reach one number on an Evolution API server (the fields ``provider.py``
declares)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sync.providers.accounts import Secret


@dataclass(frozen=True, slots=True, kw_only=True)
class EvolutionAccount:
    """A QR-linked number on an Evolution API server (one Evolution "instance")."""

    provider: ClassVar[str] = "evolution"

    account_id: int = 0
    name: str
    instance: str
    base_url: str
    api_key: Secret
    instance_token: Secret
    webhook_secret: Secret
