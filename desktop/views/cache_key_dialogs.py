"""Dialogs about the local cache's key: no keyring, passcode, and a cache that will not open.

The rule they serve: the key is never written in clear unless the user explicitly says so, and
a key problem ends in a clear choice, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop.bridge import exec_dialog

MIN_PASSCODE_LENGTH = 6


@dataclass(frozen=True, slots=True)
class KeyProtection:
    """The user's choice: a passcode, or (explicitly) none."""

    passcode: str | None


class KeyProtectionDialog(QDialog):
    """Shown when the computer has no keyring to keep the cache key in."""

    def __init__(self, key_file: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Where should Caixa keep its key?"))
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        explanation = QLabel(
            self.tr(
                "Caixa encrypts your messages on this computer. Its key is normally kept in the "
                "system keyring, but this computer has none available. You can keep the key in "
                "a file instead:"
            )
        )
        explanation.setWordWrap(True)
        layout.addWidget(explanation)
        path_label = QLabel(str(key_file))
        path_label.setObjectName("filePath")  # styled by the app's sheet (caixa.qss)
        layout.addWidget(path_label)

        self.protected_radio = QRadioButton(
            self.tr("Protect the key with a &passcode (recommended)")
        )
        self.plain_radio = QRadioButton(self.tr("Keep the key in the file &without protection"))
        group = QButtonGroup(self)
        group.addButton(self.protected_radio)
        group.addButton(self.plain_radio)
        self.protected_radio.setChecked(True)
        layout.addWidget(self.protected_radio)

        form = QFormLayout()
        self.passcode_edit = QLineEdit()
        self.passcode_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm_edit = QLineEdit()
        self.confirm_edit.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(self.tr("Passcode:"), self.passcode_edit)
        form.addRow(self.tr("Repeat it:"), self.confirm_edit)
        layout.addLayout(form)

        layout.addWidget(self.plain_radio)
        self.understood_check = QCheckBox(
            self.tr("I understand that anyone who can read this file can read my messages")
        )
        layout.addWidget(self.understood_check)

        self.error_label = QLabel()
        self.error_label.setObjectName("formError")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for widget in (self.protected_radio, self.plain_radio, self.understood_check):
            widget.toggled.connect(self._update)
        self._update()

    def _update(self) -> None:
        protected = self.protected_radio.isChecked()
        self.passcode_edit.setEnabled(protected)
        self.confirm_edit.setEnabled(protected)
        self.understood_check.setEnabled(not protected)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(protected or self.understood_check.isChecked())
        self.error_label.clear()

    def _on_buttons_accepted(self) -> None:
        if self.protected_radio.isChecked():
            passcode = self.passcode_edit.text()
            if len(passcode) < MIN_PASSCODE_LENGTH:
                self.error_label.setText(
                    self.tr("The passcode needs at least %n characters.", "", MIN_PASSCODE_LENGTH)
                )
                return
            if passcode != self.confirm_edit.text():
                self.error_label.setText(self.tr("The two passcodes are different."))
                return
        self.accept()

    def protection(self) -> KeyProtection:
        """What was chosen (meaningful after the dialog was accepted)."""
        if self.protected_radio.isChecked():
            return KeyProtection(self.passcode_edit.text())
        return KeyProtection(None)


async def choose_key_protection(key_file: Path) -> KeyProtection | None:
    """Ask how to keep the key without a keyring; None when the user cancels."""
    dialog = KeyProtectionDialog(key_file)
    try:
        if await exec_dialog(dialog) != QDialog.DialogCode.Accepted:
            return None
        return dialog.protection()
    finally:
        dialog.deleteLater()


class PasscodeDialog(QDialog):
    """Asks for the passcode that unlocks the cache key."""

    def __init__(self, key_file: Path, *, retry: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Unlock Caixa"))
        layout = QVBoxLayout(self)
        text = (
            self.tr("That passcode is not right. Try again:")
            if retry
            else self.tr("Type your passcode to open your messages:")
        )
        label = QLabel(text)
        label.setWordWrap(True)
        layout.addWidget(label)
        self.passcode_edit = QLineEdit()
        self.passcode_edit.setEchoMode(QLineEdit.EchoMode.Password)
        layout.addWidget(self.passcode_edit)
        hint = QLabel(self.tr("Key file: %1").replace("%1", str(key_file)))
        hint.setObjectName("hint")
        layout.addWidget(hint)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


async def ask_passcode(key_file: Path, *, retry: bool) -> str | None:
    """The passcode for a protected key file; None when the user cancels."""
    dialog = PasscodeDialog(key_file, retry=retry)
    try:
        if await exec_dialog(dialog) != QDialog.DialogCode.Accepted:
            return None
        return dialog.passcode_edit.text()
    finally:
        dialog.deleteLater()


def cache_reset_box(reason: str, cache_path: Path) -> QMessageBox:
    """The question asked when the cache cannot be opened with the key at hand."""
    box = QMessageBox()
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(
        QCoreApplication.translate("CacheKeyDialogs", "Caixa cannot open your messages")
    )
    box.setText(
        QCoreApplication.translate("CacheKeyDialogs", "Caixa could not open its local cache.")
    )
    box.setInformativeText(
        QCoreApplication.translate(
            "CacheKeyDialogs",
            "Start with a new, empty cache? The current file is kept, renamed, beside the new "
            "one, so it can still be opened if the right key turns up. Messages of connected "
            "numbers will be downloaded again.",
        )
    )
    box.setDetailedText(f"{reason}\n\n{cache_path}")
    box.addButton(
        QCoreApplication.translate("CacheKeyDialogs", "&Start a new cache"),
        QMessageBox.ButtonRole.AcceptRole,
    )
    box.addButton(
        QCoreApplication.translate("CacheKeyDialogs", "&Quit"), QMessageBox.ButtonRole.RejectRole
    )
    return box


async def offer_cache_reset(reason: str, cache_path: Path) -> bool:
    """True when the user chose to start a new cache."""
    box = cache_reset_box(reason, cache_path)
    try:
        await exec_dialog(box)
        return box.buttonRole(box.clickedButton()) == QMessageBox.ButtonRole.AcceptRole
    finally:
        box.deleteLater()


async def show_error(title: str, text: str) -> None:
    """A plain error message, awaited without a nested event loop."""
    box = QMessageBox(QMessageBox.Icon.Critical, title, text)
    try:
        await exec_dialog(box)
    finally:
        box.deleteLater()


async def confirm(title: str, text: str, parent: Any = None) -> bool:
    """A yes/no question (the safe answer, No, is the default); True for Yes."""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        parent,
    )
    box.setDefaultButton(QMessageBox.StandardButton.No)
    try:
        await exec_dialog(box)
        return box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)
    finally:
        box.deleteLater()
