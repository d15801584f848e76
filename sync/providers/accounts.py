"""What it takes to reach one number through one provider: settings and secrets, validated.

The same JSON shape is used by ``caixa accounts add --from-json FILE``, by
``caixa webhook parse --account-json FILE`` and by the "Add a number" dialog: ``provider`` (a
kind of ``registry.py``), ``name``, and the fields that provider declares
(``ProviderSpec.account_fields``), e.g.::

    {"provider": "meta", "name", "phone_number_id", "waba_id", "access_token", "app_secret",
     "verify_token"}
    {"provider": "evolution", "name", "instance", "base_url", "api_key", "instance_token",
     "webhook_secret"}
    {"provider": "gateway", "name", "instance", "base_url", "master_token", "instance_token"}

Each provider's account dataclass (``MetaAccount``...) lives in its package and holds exactly
those fields. Secrets are wrapped in ``Secret`` as soon as they are read, so they never show in
a ``repr``, a log line or an exception. Where each secret is kept is in
``sync/store/secrets.py``.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from sync.providers.base import NAME_MAX, FieldCheck, ProviderAccount

if TYPE_CHECKING:
    from sync.providers.base import AccountField, ProviderSpec

__all__ = [
    "ACCOUNT_TYPES",
    "AccountConfigError",
    "ProviderAccount",
    "Secret",
    "account_from_json",
    "account_to_json",
    "public_settings",
    "secrets_of",
    "with_generated_secrets",
]


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
    """The account description is incomplete or malformed.

    The message is English and names the field (for the CLI and the logs), never its value.
    ``field`` is the field it is about ("" for the whole description), ``fields`` all of them
    (``one_of``: "give one of these"), and ``reason`` a stable code a user interface words in
    its own language with the fields' labels: ``required``, ``not_text``, ``one_of``, a
    ``FieldCheck`` value (``url``, ``digits``, ``name``...), or for a description no form makes
    ``not_object``, ``provider``, ``unknown_fields``.
    """

    def __init__(self, message: str, *, reason: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reason = reason
        self.fields = fields
        self.field = fields[0] if fields else ""


def account_from_json(data: Any, *, account_id: int = 0) -> ProviderAccount:
    """Validate an account description (the JSON shape above); raise ``AccountConfigError``.

    Unknown keys are refused (a typo must not silently drop a setting). An optional field left
    out or empty takes its declared default.
    """
    from sync.providers import registry

    if not isinstance(data, Mapping):
        raise AccountConfigError(
            "the account description must be a JSON object", reason="not_object"
        )
    kind = data.get("provider")
    known = registry.account_kinds()
    if not isinstance(kind, str) or kind not in known:
        raise AccountConfigError(
            f"'provider' must be one of: {', '.join(sorted(known))}",
            reason="provider",
            fields=("provider",),
        )
    spec = registry.provider(kind)
    declared = {f.name for f in spec.account_fields}
    unknown = sorted(set(data) - declared - {"provider"})
    if unknown:
        raise AccountConfigError(
            f"unknown field(s): {', '.join(unknown)}",
            reason="unknown_fields",
            fields=tuple(unknown),
        )
    values: dict[str, Any] = {}
    for field in spec.account_fields:
        text = _value(field, data.get(field.name))
        values[field.name] = Secret(text) if field.secret else text
    for group in spec.one_of:
        if not any(values[name] for name in group):
            names = " or ".join(f"'{name}'" for name in group)
            raise AccountConfigError(
                f"a {kind} number needs {names}", reason="one_of", fields=group
            )
    assert spec.account_type is not None  # account_kinds() lists only those with accounts
    account: ProviderAccount = spec.account_type(account_id=account_id, **values)
    return account


def _value(field: AccountField, raw: Any) -> str:
    """The field's value as given, stripped and checked (its default when optional and empty)."""
    if raw is None and field.required:
        raise AccountConfigError(
            f"'{field.name}' is required", reason="required", fields=(field.name,)
        )
    if raw is not None and not isinstance(raw, str):
        raise AccountConfigError(
            f"'{field.name}' must be a string", reason="not_text", fields=(field.name,)
        )
    text = (raw or "").strip()
    if not text:
        if field.required:
            raise AccountConfigError(
                f"'{field.name}' must not be empty", reason="required", fields=(field.name,)
            )
        return field.default
    problem = _CHECKS[field.check](text)
    if problem:
        raise AccountConfigError(
            f"'{field.name}' {problem}", reason=field.check.value, fields=(field.name,)
        )
    return text


_DIGITS = re.compile(r"[0-9]{5,32}")
_INSTANCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
_API_VERSION = re.compile(r"v[0-9]+\.[0-9]+")


def _check_text(text: str) -> str:
    return ""


def _check_name(text: str) -> str:
    return f"is longer than {NAME_MAX} characters" if len(text) > NAME_MAX else ""


def _check_url(text: str) -> str:
    try:
        url = urlsplit(text)
    except ValueError:  # "http://[" (an unclosed IPv6 address), for one
        url = urlsplit("")
    if url.scheme in ("http", "https") and url.netloc:
        return ""
    return "must be an http:// or https:// address"


def _check_digits(text: str) -> str:
    return "" if _DIGITS.fullmatch(text) else "must be a numeric id"


def _check_instance(text: str) -> str:
    if _INSTANCE.fullmatch(text):
        return ""
    return "may hold letters, digits, '.', '_' and '-' (up to 100)"


def _check_api_version(text: str) -> str:
    return "" if _API_VERSION.fullmatch(text) else "must look like v23.0"


# What each check says of a value it refuses, in English ("" when the value is fine).
_CHECKS: Final[dict[FieldCheck, Callable[[str], str]]] = {
    FieldCheck.TEXT: _check_text,
    FieldCheck.NAME: _check_name,
    FieldCheck.URL: _check_url,
    FieldCheck.DIGITS: _check_digits,
    FieldCheck.INSTANCE: _check_instance,
    FieldCheck.API_VERSION: _check_api_version,
}


def _spec_of(account: ProviderAccount) -> ProviderSpec:
    from sync.providers import registry

    return registry.provider(account.provider)


def account_to_json(account: ProviderAccount, *, with_secrets: bool = False) -> dict[str, Any]:
    """The JSON shape back; secrets only when ``with_secrets`` (never for display or logs)."""
    out: dict[str, Any] = {"provider": account.provider}
    for field in _spec_of(account).account_fields:
        value = getattr(account, field.name)
        if isinstance(value, Secret):
            if not with_secrets:
                continue
            value = value.reveal()
        out[field.name] = value
    return out


def public_settings(account: ProviderAccount) -> dict[str, str]:
    """The settings without secrets: what the cache's ``accounts.config`` column holds."""
    return {k: v for k, v in account_to_json(account).items() if k not in ("provider", "name")}


def secrets_of(account: ProviderAccount) -> dict[str, Secret]:
    """The account's secrets by field name (what goes to the keyring)."""
    return {name: getattr(account, name) for name in _spec_of(account).secret_fields}


def with_generated_secrets(account: ProviderAccount) -> ProviderAccount:
    """``account`` with a fresh random value in each empty field its provider generates
    (``AccountField.generated``: Evolution's webhook secret, which Evolution then sends back
    as a header, since it does not sign its webhooks)."""
    made = {
        field.name: Secret(secrets.token_urlsafe(32))
        for field in _spec_of(account).account_fields
        if field.generated and not getattr(account, field.name)
    }
    if not made:
        return account
    updated: ProviderAccount = dataclasses.replace(account, **made)
    return updated


class _AccountTypes(Mapping[str, type[Any]]):
    """The account dataclass of each provider numbers are added to, by kind; read from the
    registry when asked, so importing this module loads no provider."""

    def __getitem__(self, kind: str) -> type[Any]:
        from sync.providers import registry

        if kind not in registry.account_kinds():
            raise KeyError(kind)
        found = registry.provider(kind).account_type
        assert found is not None
        return found

    def __iter__(self) -> Iterator[str]:
        from sync.providers import registry

        return iter(registry.account_kinds())

    def __len__(self) -> int:
        from sync.providers import registry

        return len(registry.account_kinds())


ACCOUNT_TYPES: Final[Mapping[str, type[Any]]] = _AccountTypes()
"""The account type of each provider numbers are added to (not the demo), by kind."""
