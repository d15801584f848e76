"""The numbers of a real workspace: added from a validated description, listed, loaded back.

A number is one row of ``accounts`` (name, provider, state, and its public settings as the
``config`` JSON) plus its secrets, kept where ``sync/store/secrets.py`` says. Adding is all or
nothing: the row and the secrets are written in one transaction (the keyring entry is written
inside it and removed again if the commit fails), so a failure never leaves half a number behind.

Every function takes the open ``LocalCache`` and runs on the database thread.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync.domain.models import ConnectionState
from sync.providers.accounts import (
    ACCOUNT_TYPES,
    AccountConfigError,
    ProviderAccount,
    account_from_json,
    account_to_json,
    public_settings,
    secrets_of,
    with_generated_secrets,
)
from sync.store.secrets import (
    AccountSecrets,
    AccountSecretStore,
    CacheAccountSecrets,
    KeyringAccountSecrets,
)

if TYPE_CHECKING:
    from sync.store.local.local_cache import LocalCache

log = logging.getLogger(__name__)


class AccountStoreError(Exception):
    """Base of this module's errors; the message is English, user-presentable, secret-free."""


class DuplicateAccountName(AccountStoreError):
    """Another number already has this name (names tell numbers apart in the rail and CLI)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a number named {name!r} already exists; choose another name")
        self.name = name


class MissingAccountSecrets(AccountStoreError):
    """The number's credentials are nowhere to be found (keyring entry deleted, other machine)."""


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """What ``caixa accounts list`` and the rail show about a number: never a secret."""

    id: int
    name: str
    provider: str
    phone: str
    display_name: str
    state: ConnectionState
    state_reason: str
    settings: dict[str, str]


def add_provider_account(
    cache: LocalCache, account: ProviderAccount, store: AccountSecretStore
) -> ProviderAccount:
    """Add ``account`` (validated by ``account_from_json``); return it with its new id.

    Evolution gets a random webhook secret when none was given. Raises ``DuplicateAccountName``
    when the name is taken (compared without regard to case or surrounding spaces), and the
    secret store's errors; in every failure nothing was written.
    """
    account = with_generated_secrets(account)
    secrets = secrets_of(account)
    wrote_keyring = False
    try:
        with cache.transaction() as conn:
            # Checked inside the write transaction (BEGIN IMMEDIATE holds the write lock), so
            # two concurrent adds cannot both pass the check.
            wanted = _name_key(account.name)
            for (existing,) in conn.exec_driver_sql("SELECT name FROM accounts"):
                if _name_key(str(existing)) == wanted:
                    raise DuplicateAccountName(account.name)
            (sort_order,) = conn.exec_driver_sql(
                "SELECT COALESCE(MAX(sort_order) + 1, 0) FROM accounts"
            ).one()
            (account_id,) = conn.exec_driver_sql(
                "INSERT INTO accounts (name, provider, state, config, sort_order, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    account.name,
                    account.provider,
                    ConnectionState.OFFLINE.value,
                    json.dumps(public_settings(account), sort_keys=True),
                    int(sort_order),
                    int(time.time() * 1000),
                ),
            ).one()
            account_id = int(account_id)
            # Ids of deleted numbers are reused (SQLite takes max + 1): credentials a removed
            # number left in the cache must never be read as this one's.
            CacheAccountSecrets().delete(cache, account_id)
            # Set before the call: a keyring that took the entry and then failed the read-back
            # must be cleaned up too.
            wrote_keyring = isinstance(store, KeyringAccountSecrets)
            store.save(cache, account_id, secrets)
    except BaseException:
        if wrote_keyring:
            # The commit failed after the keyring entry was written: take it back, so nothing
            # of this number is left anywhere.
            try:
                store.delete(cache, account_id)
            except Exception:
                log.warning("could not remove the keyring entry of a number whose add failed")
        raise
    import dataclasses

    return dataclasses.replace(account, account_id=account_id)


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def list_account_summaries(cache: LocalCache) -> list[AccountSummary]:
    """Every number with its state, in rail order (demo and real providers alike)."""
    rows = cache.conn.exec_driver_sql(
        "SELECT id, name, provider, phone, display_name, state, state_reason, config"
        " FROM accounts ORDER BY sort_order, id"
    )
    out: list[AccountSummary] = []
    for r in rows:
        try:
            settings = json.loads(r[7])
        except ValueError:
            settings = {}
        try:
            state = ConnectionState(r[5])
        except ValueError:
            state = ConnectionState.OFFLINE
        out.append(
            AccountSummary(
                id=int(r[0]),
                name=str(r[1]),
                provider=str(r[2]),
                phone=str(r[3]),
                display_name=str(r[4]),
                state=state,
                state_reason=str(r[6]),
                settings=settings if isinstance(settings, dict) else {},
            )
        )
    return out


def load_provider_accounts(
    cache: LocalCache, secrets: AccountSecrets, provider: str | None = None
) -> list[ProviderAccount]:
    """The real numbers (optionally of one provider) with their secrets, ready for adapters.

    A number whose stored settings no longer validate, or whose secrets are missing, is left
    out with a warning (naming the number, never a value): one damaged entry must not stop
    the others from receiving messages. Numbers of providers without account settings (the
    demo) are not returned.
    """
    sql = "SELECT id, name, provider, config FROM accounts"
    params: tuple[str, ...] = ()
    if provider is not None:
        sql += " WHERE provider = ?"
        params = (provider,)
    out: list[ProviderAccount] = []
    for account_id, name, kind, config in list(
        cache.conn.exec_driver_sql(sql + " ORDER BY sort_order, id", params)
    ):
        if kind not in ACCOUNT_TYPES:
            continue
        try:
            out.append(_load_one(cache, secrets, int(account_id), str(name), str(kind), config))
        except (AccountStoreError, AccountConfigError) as exc:
            log.warning("number %d (%s) left out: %s", account_id, kind, exc)
    return out


def load_provider_account(
    cache: LocalCache, secrets: AccountSecrets, account_id: int
) -> ProviderAccount:
    """One real number with its secrets; ``AccountStoreError``/``AccountConfigError`` if not."""
    row = cache.conn.exec_driver_sql(
        "SELECT id, name, provider, config FROM accounts WHERE id = ?", (account_id,)
    ).first()
    if row is None or row[2] not in ACCOUNT_TYPES:
        raise AccountStoreError(f"there is no number {account_id} with provider settings")
    return _load_one(cache, secrets, int(row[0]), str(row[1]), str(row[2]), row[3])


def _load_one(
    cache: LocalCache,
    secrets: AccountSecrets,
    account_id: int,
    name: str,
    provider: str,
    config: str,
) -> ProviderAccount:
    try:
        settings = json.loads(config)
    except ValueError:
        settings = None
    if not isinstance(settings, dict):
        raise AccountStoreError(f"the settings of number {account_id} are damaged")
    found = secrets.load(cache, account_id)
    if found is None:
        raise MissingAccountSecrets(
            f"the credentials of number {account_id} ({name!r}) are not in the keyring "
            "nor in the cache; add the number again"
        )
    description = {
        **settings,
        **{k: v.reveal() for k, v in found.items()},
        "provider": provider,
        "name": name,
    }
    return account_from_json(description, account_id=account_id)


def remove_account(cache: LocalCache, secrets: AccountSecrets, account_id: int) -> None:
    """Delete a number, its conversations and messages (cascade), and its secrets."""
    with cache.transaction() as conn:
        secrets.in_cache.delete(cache, account_id)
        conn.exec_driver_sql("DELETE FROM accounts WHERE id = ?", (account_id,))
    secrets.keyring.delete(cache, account_id)


def describe(account: ProviderAccount) -> dict[str, object]:
    """The number as JSON for display (``caixa accounts add`` prints it): no secrets."""
    return {"id": account.account_id, **account_to_json(account)}
