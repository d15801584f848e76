"""The first-run screen and the key dialogs: choices, validation, and no nested event loops."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel, QMessageBox

from desktop.views.cache_key_dialogs import (
    KeyProtection,
    KeyProtectionDialog,
    PasscodeDialog,
    ask_passcode,
    choose_key_protection,
    offer_cache_reset,
)
from desktop.views.first_run_view import FirstRunChoice, FirstRunView, run_first_run

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun


def _later(action):  # runs once the dialog is open and the coroutine is waiting on it
    QTimer.singleShot(50, action)


def _active(kind):
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, kind) and widget.isVisible():
            return widget
    raise AssertionError(f"no visible {kind.__name__}")


def test_first_run_offers_demo_numbers_and_team(qtbot: QtBot, arun: ARun) -> None:
    view = FirstRunView()
    qtbot.addWidget(view)
    assert view.demo_button.isEnabled()
    assert view.add_number_button.isEnabled()
    assert view.join_team_button.isEnabled()
    texts = " ".join(label.text() for label in view.findChildren(QLabel))
    assert "server" in texts and "later version" not in texts
    _later(lambda: qtbot.keyClick(view.demo_button, Qt.Key.Key_Space))
    assert arun(run_first_run(view)) is FirstRunChoice.DEMO


def test_first_run_can_start_by_joining_a_team(qtbot: QtBot, arun: ARun) -> None:
    view = FirstRunView()
    _later(lambda: qtbot.keyClick(view.join_team_button, Qt.Key.Key_Space))
    assert arun(run_first_run(view)) is FirstRunChoice.JOIN_TEAM


def test_first_run_can_start_by_adding_a_number(qtbot: QtBot, arun: ARun) -> None:
    view = FirstRunView()
    _later(lambda: qtbot.keyClick(view.add_number_button, Qt.Key.Key_Space))
    assert arun(run_first_run(view)) is FirstRunChoice.ADD_NUMBER


def test_closing_the_first_run_screen_means_quit(qtbot: QtBot, arun: ARun) -> None:
    view = FirstRunView()
    _later(view.close)
    assert arun(run_first_run(view)) is FirstRunChoice.QUIT


def test_key_protection_needs_matching_long_enough_passcode(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = KeyProtectionDialog(tmp_path / "cache-key.json")
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.passcode_edit.setText("abc")
    dialog.confirm_edit.setText("abc")
    ok.click()
    assert "at least" in dialog.error_label.text()
    assert dialog.result() == 0
    dialog.passcode_edit.setText("segredo-123")
    dialog.confirm_edit.setText("segredo-124")
    ok.click()
    assert "different" in dialog.error_label.text()
    dialog.confirm_edit.setText("segredo-123")
    ok.click()
    assert dialog.result() == 1
    assert dialog.protection() == KeyProtection("segredo-123")


def test_plain_key_file_only_on_explicit_opt_in(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = KeyProtectionDialog(tmp_path / "cache-key.json")
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.plain_radio.setChecked(True)
    assert not ok.isEnabled()
    dialog.understood_check.setChecked(True)
    assert ok.isEnabled()
    ok.click()
    assert dialog.protection() == KeyProtection(None)


def test_choose_key_protection_cancel_returns_none(
    qtbot: QtBot, arun: ARun, tmp_path: Path
) -> None:
    _later(lambda: _active(KeyProtectionDialog).reject())
    assert arun(choose_key_protection(tmp_path / "k.json")) is None


def test_ask_passcode_returns_what_was_typed(qtbot: QtBot, arun: ARun, tmp_path: Path) -> None:
    def type_and_accept() -> None:
        dialog = _active(PasscodeDialog)
        qtbot.keyClicks(dialog.passcode_edit, "minha senha")
        qtbot.keyClick(dialog.passcode_edit, Qt.Key.Key_Return)

    _later(type_and_accept)
    assert arun(ask_passcode(tmp_path / "k.json", retry=True)) == "minha senha"


def test_offer_cache_reset_choices(qtbot: QtBot, arun: ARun, tmp_path: Path) -> None:
    def click(role: QMessageBox.ButtonRole) -> None:
        box = _active(QMessageBox)
        next(b for b in box.buttons() if box.buttonRole(b) == role).click()

    _later(lambda: click(QMessageBox.ButtonRole.AcceptRole))
    assert arun(offer_cache_reset("wrong key", tmp_path / "c.db")) is True
    _later(lambda: click(QMessageBox.ButtonRole.RejectRole))
    assert arun(offer_cache_reset("wrong key", tmp_path / "c.db")) is False
