"""Numbers over the cache: all-or-nothing adds, unique names, secrets where secrets.py says.

Keyrings are in-memory fakes handed in; the machine's own keyring is never touched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import pytest
from keyring.backends import fail

from sync.providers.accounts import Secret, account_from_json
from sync.providers.evolution import EvolutionAccount
from sync.providers.meta_cloud import MetaAccount
from sync.store.local import queries
from sync.store.local.accounts import (
    DuplicateAccountName,
    add_provider_account,
    list_account_summaries,
    load_provider_account,
    load_provider_accounts,
    remove_account,
)
from sync.store.local.local_cache import LocalCache
from sync.store.secrets import (
    AccountSecrets,
    CacheAccountSecrets,
    KeyringAccountSecrets,
    NoSecretStore,
    SecretsEntryInvalid,
    load_from_cache,
)
from tests.fakes.memory_keyring import MemoryKeyring
from tests.sync.helpers import scalar
from tests.sync.server.payloads import (
    evolution_account_json,
    gateway_account_json,
    meta_account_json,
)


def _secrets(
    cache: LocalCache, keyring: MemoryKeyring | None, key_file: bool = False
) -> AccountSecrets:
    return AccountSecrets(
        cache.path,
        key_file=cache.path.parent / "key.json" if key_file else None,
        keyring_backend=keyring if keyring is not None else fail.Keyring(),
    )


def _accounts(cache: LocalCache) -> int:
    return int(scalar(cache, "SELECT COUNT(*) FROM accounts"))


def test_where_new_secrets_go(cache: LocalCache) -> None:
    assert _secrets(cache, MemoryKeyring()).store_for_new_account().where == "keyring"
    assert _secrets(cache, None, key_file=True).store_for_new_account().where == "cache"
    # A usable keyring wins even with a key file: credentials stay out of the cache file.
    assert _secrets(cache, MemoryKeyring(), key_file=True).store_for_new_account().where == (
        "keyring"
    )
    with pytest.raises(NoSecretStore, match="--key-file"):
        _secrets(cache, None).store_for_new_account()


def test_an_added_number_loads_back_with_its_secrets(cache: LocalCache) -> None:
    keyring = MemoryKeyring()
    secrets = _secrets(cache, keyring)
    added = add_provider_account(
        cache, account_from_json(meta_account_json()), secrets.store_for_new_account()
    )

    (loaded,) = load_provider_accounts(cache, secrets)

    assert isinstance(loaded, MetaAccount)
    assert loaded == added
    assert loaded.account_id > 0
    assert loaded.access_token.reveal() == "EAAG-test-access-token"
    assert load_provider_account(cache, secrets, added.account_id) == added
    (summary,) = list_account_summaries(cache)
    assert summary.name == "Loja Meta"
    assert summary.settings["phone_number_id"] == "106540352242922"
    assert "access_token" not in summary.settings


def test_load_by_provider_and_skip_numbers_without_provider_settings(cache: LocalCache) -> None:
    secrets = _secrets(cache, None, key_file=True)
    store = secrets.store_for_new_account()
    queries.add_account(cache, name="Demo", provider="demo")
    for description in (meta_account_json(), evolution_account_json(), gateway_account_json()):
        add_provider_account(cache, account_from_json(description), store)

    assert [a.provider for a in load_provider_accounts(cache, secrets)] == [
        "meta",
        "evolution",
        "gateway",
    ]
    assert [a.name for a in load_provider_accounts(cache, secrets, "gateway")] == [
        "Oficina Gateway"
    ]


def test_evolution_gets_a_webhook_secret(cache: LocalCache) -> None:
    description = {**evolution_account_json(), "webhook_secret": ""}
    secrets = _secrets(cache, None, key_file=True)

    added = add_provider_account(
        cache, account_from_json(description), secrets.store_for_new_account()
    )

    assert isinstance(added, EvolutionAccount)
    assert len(added.webhook_secret.reveal()) >= 32
    (loaded,) = load_provider_accounts(cache, secrets)
    assert loaded == added


def test_names_are_unique_whatever_the_case_and_spaces(cache: LocalCache) -> None:
    store = CacheAccountSecrets()
    add_provider_account(cache, account_from_json(meta_account_json("Loja Centro")), store)

    with pytest.raises(DuplicateAccountName, match="already exists"):
        add_provider_account(
            cache, account_from_json(gateway_account_json("  loja   CENTRO ")), store
        )

    assert _accounts(cache) == 1


class FailingAfterWrite(KeyringAccountSecrets):
    """Writes the keyring entry, then fails (as a commit failing after it would)."""

    def save(self, cache: LocalCache, account_id: int, secrets: Mapping[str, Secret]) -> None:
        super().save(cache, account_id, secrets)
        raise OSError("disk full")


def test_a_failure_after_the_keyring_write_takes_the_entry_back(cache: LocalCache) -> None:
    keyring = MemoryKeyring()
    store = FailingAfterWrite(cache.path, keyring)

    with pytest.raises(OSError, match="disk full"):
        add_provider_account(cache, account_from_json(meta_account_json()), store)

    assert keyring.entries == {}
    assert _accounts(cache) == 0


def test_a_reused_id_never_inherits_a_removed_numbers_credentials(cache: LocalCache) -> None:
    keyring = MemoryKeyring()
    # A number kept headless, then deleted behind our back (no secrets clean-up).
    first = add_provider_account(
        cache, account_from_json(meta_account_json("Antiga")), CacheAccountSecrets()
    )
    cache.conn.exec_driver_sql("DELETE FROM accounts WHERE id = ?", (first.account_id,))
    secrets = _secrets(cache, keyring)

    second = add_provider_account(
        cache, account_from_json(gateway_account_json()), secrets.store_for_new_account()
    )

    assert second.account_id == first.account_id  # SQLite reused the id
    assert load_from_cache(cache, second.account_id) is None
    assert load_provider_accounts(cache, secrets) == [second]


def test_remove_forgets_the_number_and_its_secrets_everywhere(cache: LocalCache) -> None:
    keyring = MemoryKeyring()
    secrets = _secrets(cache, keyring)
    kept = add_provider_account(cache, account_from_json(meta_account_json()), secrets.keyring)
    gone = add_provider_account(cache, account_from_json(gateway_account_json()), secrets.in_cache)

    remove_account(cache, secrets, gone.account_id)
    remove_account(cache, secrets, kept.account_id)

    assert _accounts(cache) == 0
    assert not any(user.startswith("account:") for _, user in keyring.entries)
    assert load_from_cache(cache, gone.account_id) is None


def test_a_number_whose_secrets_are_gone_is_left_out_with_a_warning(
    cache: LocalCache, caplog: pytest.LogCaptureFixture
) -> None:
    keyring = MemoryKeyring()
    secrets = _secrets(cache, keyring)
    lost = add_provider_account(cache, account_from_json(meta_account_json()), secrets.keyring)
    kept = add_provider_account(cache, account_from_json(gateway_account_json()), secrets.keyring)
    keyring.entries.pop(secrets.keyring.entry(lost.account_id))

    with caplog.at_level(logging.WARNING):
        loaded = load_provider_accounts(cache, secrets)

    assert loaded == [kept]
    assert "left out" in caplog.text and "credentials" in caplog.text


def test_a_damaged_keyring_entry_is_reported_without_its_content(cache: LocalCache) -> None:
    keyring = MemoryKeyring()
    secrets = _secrets(cache, keyring)
    added = add_provider_account(cache, account_from_json(meta_account_json()), secrets.keyring)
    keyring.entries[secrets.keyring.entry(added.account_id)] = '{"app_secret": "s3cr3t-leak"'

    with pytest.raises(SecretsEntryInvalid) as raised:
        secrets.load(cache, added.account_id)

    assert "s3cr3t-leak" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_nothing_secret_in_reprs(cache: LocalCache) -> None:
    keyring = MemoryKeyring()
    secrets = _secrets(cache, keyring)
    added = add_provider_account(cache, account_from_json(meta_account_json()), secrets.keyring)
    shown = " ".join(
        repr(x)
        for x in (secrets, secrets.keyring, secrets.in_cache, added, *list_account_summaries(cache))
    )

    for value in json.loads(keyring.entries[secrets.keyring.entry(added.account_id)]).values():
        assert value not in shown


def test_an_update_goes_where_the_secrets_already_are(cache: LocalCache) -> None:
    headless = _secrets(cache, None, key_file=True)
    added = add_provider_account(
        cache, account_from_json(gateway_account_json()), headless.store_for_new_account()
    )
    # A keyring appears later (the machine got a desktop session); the number stays where it was.
    keyring = MemoryKeyring()
    now = _secrets(cache, keyring, key_file=True)
    updated = {**(now.load(cache, added.account_id) or {}), "instance_token": Secret("issued")}

    now.update(cache, added.account_id, updated)

    assert keyring.entries == {}
    loaded = now.load(cache, added.account_id)
    assert loaded is not None and loaded["instance_token"].reveal() == "issued"
