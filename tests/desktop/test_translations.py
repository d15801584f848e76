"""Every user-visible string has a pt_BR translation, and the compiled file is current."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QLocale, QTranslator

from desktop.app import install_translations, resources_dir

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import update_translations  # noqa: E402

TS = resources_dir() / "translations" / "caixa_pt_BR.ts"
QM = TS.with_suffix(".qm")


def test_every_string_in_the_code_has_a_pt_br_translation(tmp_path: Path) -> None:
    current = tmp_path / TS.name
    shutil.copy(TS, current)
    update_translations.update(current)  # what lupdate finds in the code today
    missing = update_translations.unfinished(current)
    assert missing == [], (
        "untranslated strings; run `uv run python scripts/update_translations.py` and "
        f"translate them in {TS.name}: {missing}"
    )
    assert current.read_text(encoding="utf-8") == TS.read_text(encoding="utf-8"), (
        "the .ts file is not current: run `uv run python scripts/update_translations.py`"
    )


def test_the_compiled_translation_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / QM.name
    update_translations.release(TS, fresh)
    assert fresh.read_bytes() == QM.read_bytes(), "run scripts/update_translations.py"


@pytest.mark.parametrize(
    ("context", "source", "expected"),
    [
        ("ChatPane", "Send", "Enviar"),
        ("Formatting", "Yesterday", "Ontem"),
        ("FirstRunView", "&Try the demo", "&Experimentar a demonstração"),
    ],
)
def test_pt_br_is_loaded_for_a_brazilian_locale(
    qapp, context: str, source: str, expected: str
) -> None:
    translator = QTranslator()
    assert translator.load(QLocale("pt_BR"), "caixa", "_", str(TS.parent))
    QCoreApplication.installTranslator(translator)
    try:
        assert QCoreApplication.translate(context, source) == expected
    finally:
        QCoreApplication.removeTranslator(translator)


def test_install_translations_follows_the_lang_flag(qapp) -> None:
    before = set(qapp.findChildren(QTranslator))
    install_translations(qapp, "pt_BR")
    added = set(qapp.findChildren(QTranslator)) - before
    try:
        assert QCoreApplication.translate("ChatPane", "Send") == "Enviar"
    finally:
        for translator in added:
            QCoreApplication.removeTranslator(translator)
            translator.deleteLater()
        QLocale.setDefault(QLocale("en_US"))
    assert QCoreApplication.translate("ChatPane", "Send") == "Send"


def test_why_a_message_was_not_queued_is_said_in_the_users_language(qapp) -> None:
    from desktop.views.inbox_presenter import InboxPresenter
    from sync.client.push import CommandError
    from sync.store.local.outbox import OutboxError

    presenter = InboxPresenter(None)
    assert presenter.reason(OutboxError("that message no longer exists", "gone")) == (
        "that message no longer exists"
    )
    before = set(qapp.findChildren(QTranslator))
    install_translations(qapp, "pt_BR")
    added = set(qapp.findChildren(QTranslator)) - before
    try:
        assert presenter.reason(OutboxError("x", "gone")) == "essa mensagem não existe mais"
        assert presenter.reason(CommandError("x", "empty")) == (
            "uma mensagem vazia não pode ser enviada"
        )
        assert presenter.reason(OutboxError("a new reason")) == "a new reason"  # unforeseen
    finally:
        for translator in added:
            QCoreApplication.removeTranslator(translator)
            translator.deleteLater()
        QLocale.setDefault(QLocale("en_US"))
        presenter.deleteLater()


def test_why_the_engine_failed_a_message_is_said_in_the_users_language(qapp) -> None:
    from desktop.models.formatting import status_tooltip
    from sync.domain.models import DeliveryStatus
    from sync.domain.outbox import UNCONFIRMED_REASON, gave_up

    gave = gave_up(50, "not_sent: connection refused")
    before = set(qapp.findChildren(QTranslator))
    install_translations(qapp, "pt_BR")
    try:
        assert status_tooltip(DeliveryStatus.FAILED, UNCONFIRMED_REASON) == (
            "Não enviada: o provedor nunca a confirmou, então ela não foi enviada"
            " (envie de novo se precisar)"
        )
        assert status_tooltip(DeliveryStatus.FAILED, gave) == (
            "Não enviada: o Caixa desistiu depois de 50 tentativas (not_sent: connection refused)"
        )
        # The provider's own words come as they are.
        assert status_tooltip(
            DeliveryStatus.FAILED, "rejected: (#131026) Message undeliverable"
        ) == ("Não enviada: rejected: (#131026) Message undeliverable")
    finally:
        for translator in set(qapp.findChildren(QTranslator)) - before:
            QCoreApplication.removeTranslator(translator)
            translator.deleteLater()
        QLocale.setDefault(QLocale("en_US"))
    assert status_tooltip(DeliveryStatus.FAILED, gave) == (
        "Not sent: Caixa gave up after 50 attempts (not_sent: connection refused)"
    )
