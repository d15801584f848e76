""" "Add a number": the form, the check against the provider (fake Graph API on loopback), and
the save into a real encrypted cache with the secrets in the keyring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from desktop.views.add_number_dialog import AddNumberDialog, AddNumberPresenter
from sync.providers.accounts import ProviderAccount
from sync.providers.meta_cloud import MetaAccount, MetaCloudAdapter
from sync.store.local.accounts import add_provider_account, list_account_summaries
from sync.store.local.cache_key import CacheKey
from sync.store.local.local_cache import LocalCache
from sync.store.secrets import KeyringAccountSecrets
from tests.fakes.loopback import serve
from tests.fakes.memory_keyring import MemoryKeyring
from tests.fakes.meta_server import FakeMeta

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun

TOKEN = "EAAG-good-token-for-the-dialog"


@pytest.fixture
def fake_meta() -> Iterator[tuple[FakeMeta, str]]:
    fake = FakeMeta(access_token=TOKEN, verified_name="Padaria Pão Quente")
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[LocalCache]:
    cache = LocalCache.open(tmp_path / "caixa-cache.db", CacheKey.generate())
    yield cache
    cache.close()


def _dialog(qtbot: QtBot, cache: LocalCache, keyring: MemoryKeyring) -> AddNumberDialog:
    store = KeyringAccountSecrets(cache.path, keyring)

    async def verify(account: ProviderAccount) -> object:
        async with httpx.AsyncClient(timeout=5) as http:
            assert isinstance(account, MetaAccount)
            return await MetaCloudAdapter(account, http).check()

    async def save(account: ProviderAccount) -> ProviderAccount:
        return add_provider_account(cache, account, store)

    dialog = AddNumberDialog(AddNumberPresenter(verify, save))  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _fill(dialog: AddNumberDialog, url: str, token: str) -> None:
    # The fake Graph API stands where graph.facebook.com would: ``base_url`` is a documented
    # option of the account description, passed with the form's values below.
    dialog.choose("meta")
    for field, value in {
        "name": "Padaria",
        "phone_number_id": "109876543210987",
        "waba_id": "201234567890123",
        "access_token": token,
        "app_secret": "app-secret",
        "verify_token": "verify",
    }.items():
        dialog.edits["meta"][field].setText(value)


def test_a_meta_number_is_checked_then_saved_with_secrets_in_the_keyring(
    qtbot: QtBot, arun: ARun, cache: LocalCache, fake_meta: tuple[FakeMeta, str]
) -> None:
    _, url = fake_meta
    keyring = MemoryKeyring()
    dialog = _dialog(qtbot, cache, keyring)
    _fill(dialog, url, TOKEN)
    with qtbot.waitSignal(dialog.presenter.checked) as checked:
        added = arun(dialog.presenter.submit("meta", {**dialog.values(), "base_url": url}))
    assert checked.args == ["Padaria Pão Quente"]
    assert added is not None and added.account_id > 0
    assert dialog.result() == AddNumberDialog.DialogCode.Accepted
    [summary] = list_account_summaries(cache)
    assert (summary.name, summary.provider) == ("Padaria", "meta")
    assert TOKEN not in json.dumps(summary.settings)  # the cache row has no secret...
    assert any(TOKEN in value for value in keyring.entries.values())  # ...the keyring has


def test_a_refused_token_saves_nothing_and_keeps_the_form(
    qtbot: QtBot, arun: ARun, cache: LocalCache, fake_meta: tuple[FakeMeta, str]
) -> None:
    _, url = fake_meta
    keyring = MemoryKeyring()
    dialog = _dialog(qtbot, cache, keyring)
    _fill(dialog, url, "EAAG-wrong")
    assert arun(dialog.presenter.submit("meta", {**dialog.values(), "base_url": url})) is None
    assert "refused" in dialog.message.text()
    assert dialog.isVisible() and dialog.edits["meta"]["name"].text() == "Padaria"
    assert list_account_summaries(cache) == [] and keyring.entries == {}


def test_bad_input_is_explained_before_any_call(
    qtbot: QtBot, arun: ARun, cache: LocalCache, fake_meta: tuple[FakeMeta, str]
) -> None:
    fake, url = fake_meta
    dialog = _dialog(qtbot, cache, MemoryKeyring())
    _fill(dialog, url, TOKEN)
    dialog.edits["meta"]["phone_number_id"].setText("not a number")
    assert arun(dialog.presenter.submit("meta", dialog.values())) is None
    assert "phone_number_id" in dialog.message.text()
    assert fake.requests == []
    assert list_account_summaries(cache) == []
