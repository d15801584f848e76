"""``caixa accounts add|list``: numbers added headless, secrets kept where secrets.py says.

Every test hands in a keyring backend (an in-memory one, or keyring's "fail" backend for a
machine without one); none reads or writes the machine's own keyring.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordSetError

from sync.cli import parse
from sync.commands import accounts as accounts_command
from sync.store.local.accounts import load_provider_accounts
from sync.store.local.cache_key import KeyFileStore, KeyringKeyStore
from sync.store.local.local_cache import CACHE_FILE_NAME, LocalCache
from sync.store.secrets import AccountSecrets
from tests.fakes.memory_keyring import MemoryKeyring
from tests.sync.helpers import rows, scalar
from tests.sync.server.payloads import (
    evolution_account_json,
    gateway_account_json,
    meta_account_json,
)

SECRET_VALUES = (
    "EAAG-test-access-token",
    "meta-app-secret-for-tests",
    "meta-verify-token-for-tests",
    "evolution-api-key-for-tests",
    "evolution-webhook-secret-for-tests",
    "gateway-instance-token-for-tests",
)


@pytest.fixture(autouse=True)
def _no_caixa_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CAIXA_DATA_DIR", "CAIXA_KEY_FILE", "CAIXA_PASSCODE"):
        monkeypatch.delenv(name, raising=False)


class Cli:
    """Runs ``caixa accounts ...`` in process with a given keyring; keeps what it printed."""

    def __init__(self, tmp_path: Path, keyring: KeyringBackend) -> None:
        self.tmp_path = tmp_path
        self.data_dir = tmp_path / "data"
        self.keyring = keyring
        self.out = ""
        self.err = ""

    @property
    def cache_path(self) -> Path:
        return self.data_dir / CACHE_FILE_NAME

    def file(self, description: dict[str, Any] | str, name: str = "number.json") -> Path:
        path = self.tmp_path / name
        text = description if isinstance(description, str) else json.dumps(description)
        path.write_text(text, encoding="utf-8")
        return path

    def __call__(self, *argv: str, key_file: Path | None = None) -> int:
        common = ["--data-dir", str(self.data_dir)]
        if key_file is not None:
            common += ["--key-file", str(key_file)]
        args = parse(["accounts", *argv, *common])
        out, err = io.StringIO(), io.StringIO()
        code = accounts_command.run(args, stdout=out, stderr=err, keyring_backend=self.keyring)
        self.out, self.err = out.getvalue(), err.getvalue()
        for secret in SECRET_VALUES:
            assert secret not in self.out and secret not in self.err, "a secret was printed"
        return code

    def add(self, description: dict[str, Any] | str, **kw: Any) -> int:
        return self("add", "--from-json", str(self.file(description)), **kw)

    def open_cache(self, key_file: Path | None = None) -> LocalCache:
        if key_file is not None:
            key = KeyFileStore(key_file).load()
        else:
            loaded = KeyringKeyStore(self.cache_path, self.keyring).load()
            assert loaded is not None
            key = loaded
        return LocalCache.open(self.cache_path, key)


@pytest.fixture
def keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def cli(tmp_path: Path, keyring: MemoryKeyring) -> Cli:
    return Cli(tmp_path, keyring)


@pytest.fixture
def headless(tmp_path: Path) -> Iterator[tuple[Cli, Path]]:
    """A machine without a keyring, with a key file."""
    yield Cli(tmp_path, fail.Keyring()), tmp_path / "cache-key.json"


# --- add, with a keyring ------------------------------------------------------------------------


def test_add_puts_the_secrets_in_the_keyring_and_the_settings_in_the_cache(
    cli: Cli, keyring: MemoryKeyring
) -> None:
    assert cli.add(meta_account_json()) == 0

    printed = json.loads(cli.out)
    assert printed["name"] == "Loja Meta"
    assert printed["provider"] == "meta"
    assert printed["phone_number_id"] == "106540352242922"
    assert "access_token" not in printed and "app_secret" not in printed
    entry = ("caixa", f"account:{cli.cache_path.resolve()}:{printed['id']}")
    assert json.loads(keyring.entries[entry]) == {
        "access_token": "EAAG-test-access-token",
        "app_secret": "meta-app-secret-for-tests",
        "verify_token": "meta-verify-token-for-tests",
    }
    cache = cli.open_cache()
    try:
        (config,) = rows(cache, "SELECT config FROM accounts WHERE id = ?", printed["id"])[0]
        assert all(secret not in config for secret in SECRET_VALUES)
        assert json.loads(config)["waba_id"] == "102290129340398"
        assert scalar(cache, "SELECT COUNT(*) FROM meta WHERE key LIKE 'account-secrets:%'") == 0
        loaded = load_provider_accounts(
            cache, AccountSecrets(cli.cache_path, keyring_backend=keyring)
        )
    finally:
        cache.close()
    assert len(loaded) == 1
    assert loaded[0].account_id == printed["id"]
    assert loaded[0].app_secret.reveal() == "meta-app-secret-for-tests"  # type: ignore[union-attr]


def test_each_provider_can_be_added_and_listed_with_its_state(cli: Cli) -> None:
    for description in (meta_account_json(), evolution_account_json(), gateway_account_json()):
        assert cli.add(description) == 0, cli.err

    assert cli("list") == 0
    lines = [line.split("\t") for line in cli.out.splitlines()]
    assert [(name, provider, state) for name, provider, _, state in lines] == [
        ("Loja Meta", "meta", "offline"),
        ("Loja Evolution", "evolution", "offline"),
        ("Oficina Gateway", "gateway", "offline"),
    ]
    assert cli("list", "--json") == 0
    records = [json.loads(line) for line in cli.out.splitlines()]
    assert [r["provider"] for r in records] == ["meta", "evolution", "gateway"]
    assert all(r["state"] == "offline" for r in records)


def test_evolution_gets_a_generated_webhook_secret_when_none_is_given(
    cli: Cli, keyring: MemoryKeyring
) -> None:
    first = {**evolution_account_json("Loja 1"), "webhook_secret": ""}
    second = {**evolution_account_json("Loja 2"), "instance": "loja-2"}
    del second["webhook_secret"]

    assert cli.add(first) == 0
    assert cli.add(second) == 0

    secrets = [
        json.loads(value)["webhook_secret"]
        for (_, user), value in keyring.entries.items()
        if user.startswith("account:")
    ]
    assert len(secrets) == 2
    assert all(len(s) >= 32 for s in secrets)
    assert secrets[0] != secrets[1]


def test_list_shows_the_state_and_its_reason(cli: Cli) -> None:
    assert cli.add(gateway_account_json()) == 0
    account_id = json.loads(cli.out)["id"]
    cache = cli.open_cache()
    try:
        cache.conn.exec_driver_sql(
            "UPDATE accounts SET state = 'needs_repair', state_reason = 'logged out',"
            " phone = '5511988887777' WHERE id = ?",
            (account_id,),
        )
    finally:
        cache.close()

    assert cli("list") == 0
    assert cli.out == "Oficina Gateway\tgateway\t5511988887777\tneeds_repair (logged out)\n"


def test_list_without_a_cache_says_there_are_no_numbers(cli: Cli) -> None:
    assert cli("list") == 0
    assert cli.out == ""
    assert "no numbers yet" in cli.err
    assert not cli.cache_path.exists()


# --- add, headless (no keyring, a key file) -----------------------------------------------------


def test_without_a_keyring_the_secrets_are_kept_inside_the_encrypted_cache(
    headless: tuple[Cli, Path],
) -> None:
    cli, key_file = headless

    assert cli.add(meta_account_json(), key_file=key_file) == 0
    assert "encrypted cache" in cli.err

    account_id = json.loads(cli.out)["id"]
    assert KeyFileStore(key_file).exists()
    # Nothing in clear on disk: not in the key file, not in the cache's pages.
    on_disk = key_file.read_bytes() + b"".join(
        p.read_bytes() for p in cli.data_dir.iterdir() if p.is_file()
    )
    assert all(secret.encode() not in on_disk for secret in SECRET_VALUES)
    cache = cli.open_cache(key_file)
    try:
        (stored,) = rows(
            cache, "SELECT value FROM meta WHERE key = ?", f"account-secrets:{account_id}"
        )[0]
        assert json.loads(stored)["app_secret"] == "meta-app-secret-for-tests"
        secrets = AccountSecrets(cli.cache_path, key_file=key_file, keyring_backend=cli.keyring)
        loaded = load_provider_accounts(cache, secrets, "meta")
    finally:
        cache.close()
    assert [a.name for a in loaded] == ["Loja Meta"]
    assert cli("list", key_file=key_file) == 0
    assert cli.out.startswith("Loja Meta\tmeta\t")


def test_without_a_keyring_or_a_key_file_nothing_is_added(tmp_path: Path) -> None:
    cli = Cli(tmp_path, fail.Keyring())

    assert cli.add(meta_account_json()) == 1

    assert "keyring" in cli.err and "--key-file" in cli.err
    assert not cli.data_dir.exists() or not any(cli.data_dir.iterdir())


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        pytest.param('{"provider": "meta", "name": ', "not valid JSON", id="bad JSON"),
        pytest.param(
            {**meta_account_json(), "app_secert": "meta-app-secret-for-tests"},
            "unknown field(s): app_secert",
            id="unknown field",
        ),
        pytest.param(
            {k: v for k, v in meta_account_json().items() if k != "app_secret"},
            "'app_secret' is required",
            id="missing field",
        ),
        pytest.param({**meta_account_json(), "provider": "telegram"}, "'provider'", id="provider"),
        pytest.param([meta_account_json()], "JSON object", id="not an object"),
        pytest.param(
            {**meta_account_json(), "phone_number_id": "+55 11 9999"},
            "phone_number_id",
            id="bad id",
        ),
    ],
)
def test_a_bad_description_is_refused_clearly_and_stores_nothing(
    cli: Cli, keyring: MemoryKeyring, description: dict[str, Any] | str, expected: str
) -> None:
    assert cli.add(description) == 1

    assert expected in cli.err
    assert cli.err.startswith("caixa: ")
    assert keyring.entries == {} or all(
        not user.startswith("account:") for _, user in keyring.entries
    )
    assert not cli.cache_path.exists()


def test_a_missing_file_is_refused(cli: Cli) -> None:
    args = ["add", "--from-json", str(cli.tmp_path / "nope.json")]
    assert cli(*args) == 1
    assert "cannot read" in cli.err


def test_names_are_unique(cli: Cli, keyring: MemoryKeyring) -> None:
    assert cli.add(meta_account_json("Loja")) == 0
    entries = dict(keyring.entries)

    assert cli.add({**gateway_account_json(), "name": "  loja "}) == 1

    assert "already exists" in cli.err
    assert keyring.entries == entries
    assert cli("list") == 0
    assert len(cli.out.splitlines()) == 1


class RefusingKeyring(MemoryKeyring):
    """A keyring that is there but refuses writes (a denied Keychain prompt)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        if username.startswith("account:"):
            raise PasswordSetError("denied")
        super().set_password(service, username, password)


class ForgetfulKeyring(MemoryKeyring):
    """A keyring that accepts account entries and then does not give them back."""

    def get_password(self, service: str, username: str) -> str | None:
        if username.startswith("account:"):
            return None
        return super().get_password(service, username)


@pytest.mark.parametrize("backend", [RefusingKeyring, ForgetfulKeyring])
def test_a_keyring_failure_leaves_no_half_added_number(
    tmp_path: Path, backend: type[MemoryKeyring]
) -> None:
    keyring = backend()
    cli = Cli(tmp_path, keyring)

    assert cli.add(meta_account_json()) == 1

    assert "keyring" in cli.err
    assert not any(user.startswith("account:") for _, user in keyring.entries)
    # The cache made for this number is gone too: the app's first run is not skipped.
    assert not cli.cache_path.exists()
