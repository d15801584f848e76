""" "Add a number": the form, the check against the provider (fake Graph API on loopback), and
the save into a real encrypted cache with the secrets in the keyring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from PySide6.QtCore import QCoreApplication, QLocale, QTranslator
from PySide6.QtWidgets import QLineEdit

from desktop.app import resources_dir
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
TRANSLATIONS = resources_dir() / "translations"


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
    # The field as the form labels it, never its internal name.
    assert "Phone number ID" in dialog.message.text()
    assert "phone_number_id" not in dialog.message.text()
    assert fake.requests == []
    assert list_account_summaries(cache) == []


def test_a_refusal_is_worded_in_the_users_language(
    qtbot: QtBot, arun: ARun, cache: LocalCache
) -> None:
    translator = QTranslator()
    assert translator.load(QLocale("pt_BR"), "caixa", "_", str(TRANSLATIONS))
    QCoreApplication.installTranslator(translator)
    try:
        dialog = _dialog(qtbot, cache, MemoryKeyring())
        dialog.choose("evolution")
        dialog.edits["evolution"]["name"].setText("Loja")
        dialog.edits["evolution"]["base_url"].setText("evolution.example")  # no scheme
        dialog.edits["evolution"]["api_key"].setText("key")
        assert arun(dialog.presenter.submit("evolution", dialog.values())) is None
        text = dialog.message.text()
        assert "Endereço do servidor" in text and "https://" in text
        assert "base_url" not in text and "must" not in text
    finally:
        QCoreApplication.removeTranslator(translator)


def test_every_kind_of_number_gets_the_form_its_provider_declares(
    qtbot: QtBot, cache: LocalCache
) -> None:
    from sync.providers import registry

    dialog = _dialog(qtbot, cache, MemoryKeyring())
    assert [b.property("kind") for b in dialog.kinds.buttons()] == list(registry.account_kinds())
    for kind in registry.account_kinds():
        spec = registry.provider(kind)
        asked = [f.name for f in spec.account_fields if f.in_form]
        assert list(dialog.edits[kind]) == asked
        for field in spec.account_fields:
            if field.in_form:
                edit = dialog.edits[kind][field.name]
                hidden = edit.echoMode() is QLineEdit.EchoMode.Password
                assert hidden == field.secret, (kind, field.name)
                assert edit.accessibleName() and edit.accessibleName() != field.name


def test_a_qr_linked_number_is_saved_without_a_check_and_its_instance_named(
    qtbot: QtBot, arun: ARun, cache: LocalCache
) -> None:
    checked: list[ProviderAccount] = []
    saved: list[ProviderAccount] = []

    async def verify(account: ProviderAccount) -> object:
        checked.append(account)
        raise AssertionError("a QR-linked number is checked by pairing it")

    async def save(account: ProviderAccount) -> ProviderAccount:
        saved.append(account)
        return account

    presenter = AddNumberPresenter(verify, save)  # type: ignore[arg-type]
    values = {"name": "Loja Centro", "base_url": "https://evo.example", "api_key": "k"}
    added = arun(presenter.submit("evolution", values))
    assert added is not None and checked == [] and saved == [added]
    assert added.instance == "caixa-loja-centro"
