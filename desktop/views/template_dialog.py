"""Send an approved template: what WhatsApp allows once a customer's 24-hour window closed.

The dialog lists the number's approved templates (asked of Meta when it opens), shows one field
per ``{{n}}`` of the chosen template's header and body, and a live preview of what the customer
will read. Nothing is sent until every field is filled and "Send" is pressed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop import bridge

# (template, header values, body values) -> the queued message, or raise with a reason.
Send = Callable[[Any, Sequence[str], Sequence[str]], Awaitable[object]]
Load = Callable[[], Awaitable[Sequence[Any]]]


class TemplateDialog(QDialog):
    """Pick a template, fill its parameters, see the result, send."""

    def __init__(self, load: Load, send: Send, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._load = load
        self._send = send
        self._templates: list[Any] = []
        self._header_edits: list[QLineEdit] = []
        self._body_edits: list[QLineEdit] = []
        self.setWindowTitle(self.tr("Send a template"))
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        self.status = QLabel(self.tr("Loading the number's approved templates…"))
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.list = QListWidget(self)
        self.list.setAccessibleName(self.tr("Templates"))
        self.list.currentRowChanged.connect(self._on_list_current_row_changed)
        layout.addWidget(self.list, 1)
        self.form_holder = QWidget(self)
        self.form = QFormLayout(self.form_holder)
        layout.addWidget(self.form_holder)
        layout.addWidget(QLabel(self.tr("The customer will read:")))
        self.preview = QLabel(self)
        self.preview.setWordWrap(True)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview.setObjectName("templatePreview")  # styled by the app's sheet (caixa.qss)
        layout.addWidget(self.preview)
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self.error_label.setObjectName("formError")
        self.error_label.hide()
        layout.addWidget(self.error_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.send_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.send_button.setText(self.tr("&Send"))
        self.send_button.setEnabled(False)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.sent: object = None

    async def load(self) -> None:
        """Ask for the templates and show them (or why they could not be read)."""
        try:
            templates = list(await self._load())
        except Exception as exc:
            self.status.setText(
                self.tr("The templates could not be read: %1").replace("%1", str(exc))
            )
            return
        self._templates = templates
        if not templates:
            self.status.setText(
                self.tr(
                    "This number has no approved text template. Create one in Meta's WhatsApp "
                    "Manager; it can be used here once Meta approves it."
                )
            )
            return
        self.status.setText(self.tr("Choose a template:"))
        for template in templates:
            item = QListWidgetItem(f"{template.name} · {template.language}")
            item.setToolTip(template.body_text)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.list.setFocus()

    def _current(self) -> Any | None:
        row = self.list.currentRow()
        return self._templates[row] if 0 <= row < len(self._templates) else None

    def _on_list_current_row_changed(self, _row: int) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self._header_edits, self._body_edits = [], []
        template = self._current()
        if template is None:
            return
        for index in range(template.header_parameters):
            edit = QLineEdit(self.form_holder)
            edit.textChanged.connect(self._refresh)
            self.form.addRow(self.tr("Header {{%1}}").replace("%1", str(index + 1)), edit)
            self._header_edits.append(edit)
        for index in range(template.body_parameters):
            edit = QLineEdit(self.form_holder)
            edit.textChanged.connect(self._refresh)
            self.form.addRow(self.tr("Text {{%1}}").replace("%1", str(index + 1)), edit)
            self._body_edits.append(edit)
        self._refresh()

    def _values(self) -> tuple[list[str], list[str]]:
        return (
            [e.text().strip() for e in self._header_edits],
            [e.text().strip() for e in self._body_edits],
        )

    def _refresh(self) -> None:
        template = self._current()
        if template is None:
            self.preview.clear()
            self.send_button.setEnabled(False)
            return
        header, body = self._values()
        self.preview.setText(template.render(header, body))
        self.send_button.setEnabled(all(header) and all(body))

    @bridge.async_slot
    async def _on_buttons_accepted(self) -> None:
        template = self._current()
        if template is None or not self.send_button.isEnabled():
            return
        header, body = self._values()
        self.send_button.setEnabled(False)
        try:
            self.sent = await self._send(template, header, body)
        except Exception as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            self._refresh()
            return
        self.accept()


async def choose_and_send(load: Load, send: Send, parent: QWidget | None = None) -> object:
    """Show the dialog; what was sent, or None when the user cancelled."""
    dialog = TemplateDialog(load, send, parent)
    bridge.spawn(dialog.load())
    result = await bridge.exec_dialog(dialog)
    sent = dialog.sent if result == QDialog.DialogCode.Accepted else None
    dialog.deleteLater()
    return sent
