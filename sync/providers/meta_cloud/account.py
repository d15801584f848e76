"""What it takes to reach one number on Meta's Cloud API (the fields ``provider.py`` declares)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from sync.providers.accounts import Secret

META_GRAPH_URL: Final = "https://graph.facebook.com"
META_API_VERSION: Final = "v23.0"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaAccount:
    """A number on Meta's WhatsApp Cloud API."""

    provider: ClassVar[str] = "meta"

    account_id: int = 0
    name: str
    phone_number_id: str
    waba_id: str
    access_token: Secret
    app_secret: Secret
    verify_token: Secret
    base_url: str = META_GRAPH_URL
    api_version: str = META_API_VERSION
