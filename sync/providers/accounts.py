"""What it takes to reach one number through one provider: settings and secrets, validated.

The same JSON shape is used by ``caixa accounts add --from-json FILE``, by
``caixa webhook parse --account-json FILE`` and by the "Add a number" dialog::

    {"provider": "meta", "name", "phone_number_id", "waba_id", "access_token", "app_secret",
     "verify_token"}
    {"provider": "evolution", "name", "instance", "base_url", "api_key", "instance_token",
     "webhook_secret"}
    {"provider": "gateway", "name", "instance", "base_url", "master_token", "instance_token"}

Optional for Meta: ``base_url`` (default ``https://graph.facebook.com``) and ``api_version``.
Secrets are wrapped in ``Secret`` as soon as they are read, so they never show in a ``repr``, a
log line or an exception. Where each secret is kept is in ``sync/store/secrets.py``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

META_GRAPH_URL: Final = "https://graph.facebook.com"
META_API_VERSION: Final = "v23.0"


class Secret:
    """A credential. ``repr``/``str`` never show it; ``reveal()`` does, where it is used."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it."""
        return self._value

    def matches(self, candidate: str | bytes) -> bool:
        """Constant-time comparison with ``candidate`` (a token someone presented)."""
        if isinstance(candidate, str):
            candidate = candidate.encode("utf-8", "surrogateescape")
        return hmac.compare_digest(self._value.encode("utf-8", "surrogateescape"), candidate)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self.matches(other._value)

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not pickled")


class AccountConfigError(ValueError):
    """The account description is incomplete or malformed; the message says which field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaAccount:
    """A number on Meta's WhatsApp Cloud API."""

    provider: ClassVar[str] = "meta"
    secret_fields: ClassVar[tuple[str, ...]] = ("access_token", "app_secret", "verify_token")

    account_id: int = 0
    name: str
    phone_number_id: str
    waba_id: str
    access_token: Secret
    app_secret: Secret
    verify_token: Secret
    base_url: str = META_GRAPH_URL
    api_version: str = META_API_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class EvolutionAccount:
    """A QR-linked number on an Evolution API server (one Evolution "instance")."""

    provider: ClassVar[str] = "evolution"
    secret_fields: ClassVar[tuple[str, ...]] = ("api_key", "instance_token", "webhook_secret")

    account_id: int = 0
    name: str
    instance: str
    base_url: str
    api_key: Secret
    instance_token: Secret
    webhook_secret: Secret


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayAccount:
    """A QR-linked number on the self-hosted Baileys VPS gateway."""

    provider: ClassVar[str] = "gateway"
    secret_fields: ClassVar[tuple[str, ...]] = ("master_token", "instance_token")

    account_id: int = 0
    name: str
    instance: str
    base_url: str
    master_token: Secret
    instance_token: Secret


ProviderAccount = MetaAccount | EvolutionAccount | GatewayAccount

AccountType = type[MetaAccount] | type[EvolutionAccount] | type[GatewayAccount]
ACCOUNT_TYPES: Final[dict[str, AccountType]] = {
    MetaAccount.provider: MetaAccount,
    EvolutionAccount.provider: EvolutionAccount,
    GatewayAccount.provider: GatewayAccount,
}

# Which fields may be left out (or empty) and what they default to.
_OPTIONAL: Final[dict[str, dict[str, str]]] = {
    "meta": {"base_url": META_GRAPH_URL, "api_version": META_API_VERSION},
    # An instance token is optional on Evolution (the global API key works for every instance);
    # the webhook secret is made by Caixa when absent (see ``with_generated_secrets``).
    "evolution": {"instance_token": "", "webhook_secret": ""},
    # Either token is enough for a gateway: the master token for its own instances, or the
    # instance token for that one instance.
    "gateway": {"master_token": "", "instance_token": ""},
}

_DIGITS = re.compile(r"^[0-9]{5,32}$")
_INSTANCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


def account_from_json(data: Any, *, account_id: int = 0) -> ProviderAccount:
    """Validate an account description (the JSON shape above); raise ``AccountConfigError``.

    Unknown keys are refused (a typo must not silently drop a setting). Error messages name the
    field, never its value.
    """
    if not isinstance(data, Mapping):
        raise AccountConfigError("the account description must be a JSON object")
    provider = data.get("provider")
    if provider not in ACCOUNT_TYPES:
        known = ", ".join(sorted(ACCOUNT_TYPES))
        raise AccountConfigError(f"'provider' must be one of: {known}")
    cls = ACCOUNT_TYPES[provider]
    optional = _OPTIONAL[provider]
    names = [f.name for f in fields(cls) if f.name != "account_id"]
    unknown = sorted(set(data) - set(names) - {"provider"})
    if unknown:
        raise AccountConfigError(f"unknown field(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name in names:
        raw = data.get(name, optional.get(name))
        if raw is None:
            raise AccountConfigError(f"'{name}' is required")
        if not isinstance(raw, str):
            raise AccountConfigError(f"'{name}' must be a string")
        raw = raw.strip()
        if not raw and name not in optional:
            raise AccountConfigError(f"'{name}' must not be empty")
        values[name] = Secret(raw) if name in cls.secret_fields else raw
    _check(provider, values)
    return cls(account_id=account_id, **values)


def _check(provider: str, values: dict[str, Any]) -> None:
    if "name" in values and len(values["name"]) > 100:
        raise AccountConfigError("'name' is longer than 100 characters")
    if provider == "meta":
        for name in ("phone_number_id", "waba_id"):
            if not _DIGITS.match(values[name]):
                raise AccountConfigError(f"'{name}' must be the numeric id Meta shows")
        if not re.match(r"^v[0-9]+\.[0-9]+$", values["api_version"]):
            raise AccountConfigError("'api_version' must look like v23.0")
    else:
        if not _INSTANCE.match(values["instance"]):
            raise AccountConfigError(
                "'instance' may hold letters, digits, '.', '_' and '-' (up to 100)"
            )
        if provider == "gateway" and not (values["master_token"] or values["instance_token"]):
            raise AccountConfigError("a gateway needs 'master_token' or 'instance_token'")
    url = urlsplit(values["base_url"])
    if url.scheme not in ("http", "https") or not url.netloc:
        raise AccountConfigError("'base_url' must be an http:// or https:// address")


def account_to_json(account: ProviderAccount, *, with_secrets: bool = False) -> dict[str, Any]:
    """The JSON shape back; secrets only when ``with_secrets`` (never for display or logs)."""
    out: dict[str, Any] = {"provider": account.provider}
    for f in fields(account):
        if f.name == "account_id":
            continue
        value = getattr(account, f.name)
        if isinstance(value, Secret):
            if not with_secrets:
                continue
            value = value.reveal()
        out[f.name] = value
    return out


def public_settings(account: ProviderAccount) -> dict[str, str]:
    """The settings without secrets: what the cache's ``accounts.config`` column holds."""
    return {k: v for k, v in account_to_json(account).items() if k not in ("provider", "name")}


def secrets_of(account: ProviderAccount) -> dict[str, Secret]:
    """The account's secrets by field name (what goes to the keyring)."""
    return {name: getattr(account, name) for name in account.secret_fields}


def with_generated_secrets(account: ProviderAccount) -> ProviderAccount:
    """``account`` with a fresh random webhook secret when Evolution's was left empty.

    Evolution does not sign its webhooks, so Caixa makes a per-account secret and has Evolution
    send it back as the ``x-caixa-webhook-token`` header (see ``evolution/webhook.py``).
    """
    if isinstance(account, EvolutionAccount) and not account.webhook_secret:
        import dataclasses
        import secrets

        return dataclasses.replace(account, webhook_secret=Secret(secrets.token_urlsafe(32)))
    return account
