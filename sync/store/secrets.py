"""Every secret Caixa keeps, and where. If Caixa stores a secret, it is listed here.

1. The local cache's key
========================

A random 256-bit key that opens the SQLCipher cache. Kept in the OS keyring (service ``caixa``,
user name ``cache-key:<absolute path of the cache file>``, the key as 64 hex characters) or, on
machines without one and only when the user names it, in a key file (``--key-file PATH`` /
``CAIXA_KEY_FILE``), plain or sealed under a passcode. The whole story, formats included, is in
``sync/store/local/cache_key.py``; this module does not repeat it.

2. The credentials of each number (account secrets)
===================================================

The fields each provider declares secret (``ProviderSpec.secret_fields``, in its
``sync/providers/<provider>/provider.py``):

- Meta Cloud API: ``access_token``, ``app_secret`` (verifies ``X-Hub-Signature-256``),
  ``verify_token`` (the webhook GET handshake);
- Evolution API: ``api_key``, ``instance_token``, ``webhook_secret`` (the ``x-caixa-webhook-token``
  header Caixa asks Evolution to send back with every webhook);
- VPS gateway: ``master_token``, ``instance_token``.

The account's other settings (ids, URLs, instance names) are not secret: they live in the
``accounts.config`` JSON column of the cache. The secrets live in ONE of two places:

**The OS keyring** (the default), one entry per number:

- service: ``caixa``
- user name: ``account:<absolute path of the cache file>:<account id>``
  (for example ``account:/home/ana/.local/share/Caixa/caixa-cache.db:3``)
- password: a JSON object of the secret fields, e.g.
  ``{"access_token": "...", "app_secret": "...", "verify_token": "..."}``

Naming the entry after the cache file keeps two caches (the demo's, a second data folder) from
ever reading each other's credentials, exactly as the cache key's entry does.

**Inside the encrypted cache**, in its ``meta`` table (row ``key`` =
``account-secrets:<account id>``, ``value`` = the same JSON object), only when the machine has
no usable keyring AND the user named a key file (``--key-file`` / ``CAIXA_KEY_FILE``): a
headless machine, typically the shop's always-on PC running ``caixa receive``. Why there and
not in a file of their own: the cache is already encrypted at rest by SQLCipher with the key
the user chose to keep in that file, so the credentials get exactly the protection the messages
get, with nothing new in clear on disk, and they are written in the same transaction as the
account row (a number is never half added).
With neither a keyring nor a key file Caixa refuses to store credentials at all
(``NoSecretStore``): it never writes them in clear. (The ``meta`` table, not a table of their
own, because the schema had no room for one yet; a dedicated ``account_secrets`` table with
``ON DELETE CASCADE`` is the natural next step, with a migration that moves these rows.)

Reading prefers the cache when it holds a row for the account (where it was written), then the
keyring; an update goes where the secrets already are. Deleting a number deletes both. An id
SQLite reuses for a new number starts with no in-cache secrets (``add_provider_account``).

3. The team login token
=======================

When the desktop has joined a team, the token ``caixa-server`` returned at login (the password
itself is never kept). Same two places, same rule:

- the OS keyring: service ``caixa``, user name ``team-token:<absolute path of the team cache>``,
  password the token;
- with no usable keyring and a key file named: the team cache's ``meta`` row ``team-token``.

Logging out or a refused token deletes it from both.

Secrets are ``sync.providers.accounts.Secret`` objects everywhere in memory: never in a
``repr``, a log line or an exception message (every error below names the entry, never a value).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from sync.providers.accounts import Secret
from sync.store.local.cache_key import KEYRING_SERVICE, keyring_backend_usable

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from sync.store.local.local_cache import LocalCache

ACCOUNT_USERNAME_PREFIX: Final = "account:"
CACHE_KEY_PREFIX: Final = "account-secrets:"

WHERE_KEYRING: Final = "keyring"
WHERE_CACHE: Final = "cache"


class SecretStoreError(Exception):
    """Base of this module's errors: English, fit to show a user, never holding a secret."""


class NoSecretStore(SecretStoreError):
    """No keyring Caixa can use and no key file: credentials would have nowhere safe to go."""


class KeyringFailed(SecretStoreError):
    """The keyring refused a read or write (locked, denied) or did not keep what it was given."""


class SecretsEntryInvalid(SecretStoreError):
    """A stored entry exists but is not the JSON object of secrets Caixa wrote."""


class AccountSecretStore(Protocol):
    """Where one cache's account secrets are written (the keyring or the cache itself).

    Every method takes the open cache and runs on the database thread, inside the caller's
    transaction when there is one (the in-cache store writes in it).
    """

    where: str

    def save(self, cache: LocalCache, account_id: int, secrets: Mapping[str, Secret]) -> None:
        """Store (or replace) the secrets of ``account_id``."""
        ...

    def delete(self, cache: LocalCache, account_id: int) -> None:
        """Forget the secrets of ``account_id``; nothing stored is not an error."""
        ...


def _absolute(path: Path) -> Path:
    # As for the cache key's entry: "..", "~" and symlinks must all give the same entry name.
    return Path(path).expanduser().resolve()


def _encode(secrets: Mapping[str, Secret]) -> str:
    return json.dumps({name: value.reveal() for name, value in sorted(secrets.items())})


def _decode(text: str) -> dict[str, Secret] | None:
    """The secrets in ``text``, or None when it is not a JSON object of strings.

    No exception leaves this function: json's errors carry the whole document (the secrets).
    """
    try:
        data: object = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        return None
    return {k: Secret(v) for k, v in data.items()}


class KeyringAccountSecrets:
    """Account secrets in the OS keyring, one entry per account (see the module docstring)."""

    where = WHERE_KEYRING

    def __init__(self, cache_path: Path, backend: KeyringBackend | None = None) -> None:
        self._cache_path = _absolute(cache_path)
        self._given_backend = backend

    def __repr__(self) -> str:
        return f"KeyringAccountSecrets({str(self._cache_path)!r})"

    def entry(self, account_id: int) -> tuple[str, str]:
        """The keyring entry of ``account_id`` as ``(service, username)``."""
        return KEYRING_SERVICE, f"{ACCOUNT_USERNAME_PREFIX}{self._cache_path}:{account_id:d}"

    def available(self) -> bool:
        """Whether the keyring is one Caixa may keep credentials in (nothing is read)."""
        return keyring_backend_usable(self._backend())

    def save(self, cache: LocalCache, account_id: int, secrets: Mapping[str, Secret]) -> None:
        """Write the entry and read it back (a keyring that forgets is reported now)."""
        import keyring.errors

        backend = self._usable_backend()
        service, username = self.entry(account_id)
        value = _encode(secrets)
        try:
            backend.set_password(service, username, value)
            stored = backend.get_password(service, username)
        except keyring.errors.KeyringError as exc:
            raise self._failed("write to", exc) from None
        if stored is None or _decode(stored) != _decode(value):
            raise KeyringFailed(
                "The system keyring accepted the number's credentials but did not keep them."
            )

    def load(self, account_id: int) -> dict[str, Secret] | None:
        """The secrets of ``account_id``, or None when the keyring has no entry for it."""
        import keyring.errors

        backend = self._usable_backend()
        service, username = self.entry(account_id)
        try:
            value = backend.get_password(service, username)
        except keyring.errors.KeyringError as exc:
            raise self._failed("read from", exc) from None
        if value is None:
            return None
        secrets = _decode(value)
        if secrets is None:
            raise SecretsEntryInvalid(
                f"The system keyring entry (service {service!r}, user {username!r}) "
                "does not hold credentials Caixa wrote."
            )
        return secrets

    def delete(self, cache: LocalCache, account_id: int) -> None:
        """Remove the entry; a missing entry (or a missing keyring) is not an error."""
        import keyring.errors

        backend = self._backend()
        if not keyring_backend_usable(backend):
            return
        service, username = self.entry(account_id)
        try:
            backend.delete_password(service, username)
        except keyring.errors.PasswordDeleteError:
            pass  # most backends say "no such entry" this way
        except keyring.errors.KeyringError as exc:
            raise self._failed("delete from", exc) from None

    def _backend(self) -> KeyringBackend:
        if self._given_backend is not None:
            return self._given_backend
        import keyring

        return keyring.get_keyring()

    def _usable_backend(self) -> KeyringBackend:
        backend = self._backend()
        if not keyring_backend_usable(backend):
            raise NoSecretStore(
                "This computer has no system keyring Caixa can keep the numbers' credentials in."
            )
        return backend

    @staticmethod
    def _failed(action: str, exc: Exception) -> KeyringFailed:
        # The backend's own message is left out: we cannot vouch for what it contains.
        return KeyringFailed(
            f"Caixa could not {action} the system keyring ({type(exc).__name__}). "
            "If it is locked, unlock it and try again."
        )


def _cache_key(account_id: int) -> str:
    return f"{CACHE_KEY_PREFIX}{account_id:d}"


class CacheAccountSecrets:
    """Account secrets inside the encrypted cache (headless machines with a key file)."""

    where = WHERE_CACHE

    def __repr__(self) -> str:
        return "CacheAccountSecrets()"

    def save(self, cache: LocalCache, account_id: int, secrets: Mapping[str, Secret]) -> None:
        """Write the row (in the caller's transaction, when one is open)."""
        cache.conn.exec_driver_sql(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (_cache_key(account_id), _encode(secrets)),
        )

    def delete(self, cache: LocalCache, account_id: int) -> None:
        """Delete the row, if any."""
        cache.conn.exec_driver_sql("DELETE FROM meta WHERE key = ?", (_cache_key(account_id),))


def load_from_cache(cache: LocalCache, account_id: int) -> dict[str, Secret] | None:
    """The secrets kept in the cache for ``account_id``, or None when there are none."""
    row = cache.conn.exec_driver_sql(
        "SELECT value FROM meta WHERE key = ?", (_cache_key(account_id),)
    ).first()
    if row is None:
        return None
    secrets = _decode(str(row[0]))
    if secrets is None:
        raise SecretsEntryInvalid(
            f"The credentials kept in the cache for number {account_id} are damaged."
        )
    return secrets


class AccountSecrets:
    """Reads and writes one cache's account secrets wherever the rules above put them."""

    def __init__(
        self,
        cache_path: Path,
        *,
        key_file: Path | None = None,
        keyring_backend: KeyringBackend | None = None,
    ) -> None:
        self.keyring = KeyringAccountSecrets(cache_path, keyring_backend)
        self.in_cache = CacheAccountSecrets()
        self._key_file = key_file

    def __repr__(self) -> str:
        return f"AccountSecrets({self.keyring!r}, key_file={self._key_file is not None})"

    def store_for_new_account(self) -> AccountSecretStore:
        """Where a number added now keeps its secrets; ``NoSecretStore`` when nowhere is safe."""
        if self.keyring.available():
            return self.keyring
        if self._key_file is not None:
            return self.in_cache
        raise NoSecretStore(
            "This computer has no system keyring to keep the number's credentials in. "
            "On a machine without one, run Caixa with --key-file PATH (or CAIXA_KEY_FILE): "
            "the credentials are then kept inside the encrypted cache."
        )

    def load(self, cache: LocalCache, account_id: int) -> dict[str, Secret] | None:
        """The secrets of ``account_id`` from the cache table, else the keyring; None if absent."""
        found = load_from_cache(cache, account_id)
        if found is not None:
            return found
        if not self.keyring.available():
            return None
        return self.keyring.load(account_id)

    def update(self, cache: LocalCache, account_id: int, secrets: Mapping[str, Secret]) -> None:
        """Replace the secrets of an existing number where they are kept now.

        Not ``store_for_new_account()``: a number added headless keeps its secrets in the cache
        even once a keyring appears, and ``load`` reads the cache first, so writing the new
        value to the keyring would leave the old one in force.
        """
        if load_from_cache(cache, account_id) is not None:
            self.in_cache.save(cache, account_id, secrets)
        else:
            self.store_for_new_account().save(cache, account_id, secrets)

    def delete(self, cache: LocalCache, account_id: int) -> None:
        """Forget the secrets of ``account_id`` everywhere."""
        self.in_cache.delete(cache, account_id)
        self.keyring.delete(cache, account_id)


TEAM_TOKEN_USERNAME_PREFIX: Final = "team-token:"
TEAM_TOKEN_META_KEY: Final = "team-token"


class TeamTokenStore:
    """The team login token of one team cache (section 3 of the module docstring)."""

    def __init__(
        self,
        cache_path: Path,
        *,
        key_file: Path | None = None,
        keyring_backend: KeyringBackend | None = None,
    ) -> None:
        self._keyring = KeyringAccountSecrets(cache_path, keyring_backend)
        self._username = f"{TEAM_TOKEN_USERNAME_PREFIX}{_absolute(cache_path)}"
        self._key_file = key_file

    def __repr__(self) -> str:
        return f"TeamTokenStore({self._username!r})"

    def save(self, cache: LocalCache, token: Secret) -> None:
        """Keep ``token`` (keyring first); ``NoSecretStore`` when nowhere is safe."""
        import keyring.errors

        if self._keyring.available():
            backend = self._keyring._usable_backend()
            try:
                backend.set_password(KEYRING_SERVICE, self._username, token.reveal())
            except keyring.errors.KeyringError as exc:
                raise KeyringAccountSecrets._failed("write to", exc) from None
            cache.conn.exec_driver_sql("DELETE FROM meta WHERE key = ?", (TEAM_TOKEN_META_KEY,))
            return
        if self._key_file is None:
            raise NoSecretStore(
                "This computer has no system keyring to keep the team login in. Run Caixa with "
                "--key-file PATH (or CAIXA_KEY_FILE) to keep it inside the encrypted cache."
            )
        cache.conn.exec_driver_sql(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (TEAM_TOKEN_META_KEY, token.reveal()),
        )

    def load(self, cache: LocalCache) -> Secret | None:
        """The saved token, or None (never logged in, logged out, or the keyring forgot it)."""
        import keyring.errors

        row = cache.conn.exec_driver_sql(
            "SELECT value FROM meta WHERE key = ?", (TEAM_TOKEN_META_KEY,)
        ).first()
        if row is not None:
            return Secret(str(row[0]))
        if not self._keyring.available():
            return None
        try:
            value = self._keyring._usable_backend().get_password(KEYRING_SERVICE, self._username)
        except keyring.errors.KeyringError as exc:
            raise KeyringAccountSecrets._failed("read from", exc) from None
        return Secret(value) if value else None

    def delete(self, cache: LocalCache | None = None) -> None:
        """Forget the token everywhere (missing entries are fine). Without ``cache`` only the
        keyring entry goes (the cache itself is being deleted)."""
        import keyring.errors

        if cache is not None:
            cache.conn.exec_driver_sql("DELETE FROM meta WHERE key = ?", (TEAM_TOKEN_META_KEY,))
        if not self._keyring.available():
            return
        try:
            self._keyring._usable_backend().delete_password(KEYRING_SERVICE, self._username)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise KeyringAccountSecrets._failed("delete from", exc) from None
