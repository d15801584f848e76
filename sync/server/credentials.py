"""Provider credentials at rest on the team server: encrypted with the server key.

``CAIXA_SECRET_KEY`` is 32 random bytes, URL-safe base64 (``caixa-server keygen`` prints one).
Each account's secrets are one AES-256-GCM blob in ``accounts.secrets``: a 12-byte random nonce,
then the ciphertext of their JSON; the account id is the associated data, so a blob copied onto
another account's row does not decrypt. Settings that are not secret stay readable in
``accounts.config``; desktops never receive either column.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from sync.providers.accounts import (
    ProviderAccount,
    Secret,
    account_from_json,
    public_settings,
    secrets_of,
)

KEY_BYTES = 32
_NONCE_BYTES = 12


class ServerKeyError(ValueError):
    """The server key is missing or malformed, or does not open a stored credential."""


def generate_key() -> str:
    """A new server key, as ``CAIXA_SECRET_KEY`` expects it."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


class ServerKey:
    """The server key: encrypts and decrypts account credentials. Never shown in a repr."""

    __slots__ = ("_aead",)

    def __init__(self, encoded: str | Secret) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        text = encoded.reveal() if isinstance(encoded, Secret) else encoded
        try:
            raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raw = b""
        if len(raw) != KEY_BYTES:
            raise ServerKeyError(
                "CAIXA_SECRET_KEY must be 32 random bytes in URL-safe base64"
                " (make one with `caixa-server keygen`)"
            )
        self._aead = AESGCM(raw)

    def __repr__(self) -> str:
        return "ServerKey('***')"

    def seal(self, account_id: int, secrets: dict[str, Secret]) -> bytes:
        """Encrypt one account's secrets, bound to its id."""
        plain = json.dumps({k: v.reveal() for k, v in secrets.items()}).encode("utf-8")
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain, _aad(account_id))

    def open(self, account_id: int, blob: bytes) -> dict[str, Secret]:
        """Decrypt what ``seal`` made for this account."""
        from cryptography.exceptions import InvalidTag

        try:
            plain = self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _aad(account_id))
        except (InvalidTag, ValueError):
            raise ServerKeyError(
                f"the credentials of account {account_id} do not open with this server key"
            ) from None
        return {k: Secret(str(v)) for k, v in json.loads(plain).items()}


def _aad(account_id: int) -> bytes:
    return f"caixa-account:{account_id}".encode("ascii")


def split_account(account: ProviderAccount) -> tuple[dict[str, Any], dict[str, Secret]]:
    """(settings for ``accounts.config``, secrets for ``seal``)."""
    return public_settings(account), secrets_of(account)


def join_account(
    key: ServerKey,
    *,
    account_id: int,
    name: str,
    provider: str,
    config: dict[str, Any],
    sealed: bytes | None,
) -> ProviderAccount:
    """Rebuild the full account (settings + decrypted secrets) from its row.

    ``accounts.config`` also holds the server's own settings of a number (``pacing``, read by
    the dispatcher); only the provider account's fields are passed on.
    """
    from sync.providers import registry

    secrets = key.open(account_id, sealed) if sealed else {}
    try:
        known = {f.name for f in registry.provider(provider).account_fields}
    except KeyError:  # a kind this server does not know: account_from_json says so
        known = set(config)
    data: dict[str, Any] = {k: v for k, v in config.items() if k in known}
    data.update({"provider": provider, "name": name})
    data.update({k: v.reveal() for k, v in secrets.items()})
    return account_from_json(data, account_id=account_id)
