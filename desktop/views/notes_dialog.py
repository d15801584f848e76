"""A team conversation's internal notes: what colleagues wrote about it, and adding one.

Notes travel to the team like replies (written here at once, pushed, pulled by every desktop
that sees the number) but never reach the customer. The dialog follows the presenter: a note
added by a colleague shows up while it is open.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QDateTime, QLocale
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import bridge

if TYPE_CHECKING:
    from desktop.views.inbox_presenter import InboxPresenter
    from sync.store.local.queries import Note

# A note is a short remark, not a document; the server refuses longer texts anyway.
MAX_NOTE_CHARS = 2000


class NotesDialog(QDialog):
    """The open chat's notes, oldest first, and a line to add one (Enter adds it)."""

    def __init__(self, presenter: InboxPresenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.presenter = presenter
        self.setWindowTitle(self.tr("Notes"))
        self.setMinimumSize(460, 360)
        layout = QVBoxLayout(self)
        hint = QLabel(self.tr("Internal notes: your team sees them, the customer never does."))
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.list = QListWidget(self)
        self.list.setAccessibleName(self.tr("Notes"))
        self.list.setWordWrap(True)
        layout.addWidget(self.list, 1)
        self.empty_label = QLabel(self.tr("No notes yet."), self)
        layout.addWidget(self.empty_label)
        row = QHBoxLayout()
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(self.tr("Write a note for the team…"))
        self.edit.setAccessibleName(self.tr("New note"))
        self.edit.setMaxLength(MAX_NOTE_CHARS)
        self.edit.textChanged.connect(self._on_edit_text_changed)
        self.edit.returnPressed.connect(self._on_add_button_clicked)
        row.addWidget(self.edit, 1)
        self.add_button = QPushButton(self.tr("&Add note"), self)
        self.add_button.setEnabled(False)
        self.add_button.setAutoDefault(False)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        row.addWidget(self.add_button)
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        presenter.notes_changed.connect(self._on_presenter_notes_changed)
        self.edit.setFocus()

    def show_notes(self, notes: Sequence[Note]) -> None:
        """Fill the list (oldest first, the newest in view)."""
        self.list.clear()
        for note in notes:
            when = QDateTime.fromMSecsSinceEpoch(note.ts_ms).toLocalTime()
            stamp = QLocale().toString(when, QLocale.FormatType.ShortFormat)
            author = note.author or self.tr("Someone")
            self.list.addItem(f"{author} · {stamp}\n{note.body}")
        self.empty_label.setVisible(not notes)
        self.list.setVisible(bool(notes))
        if notes:
            self.list.scrollToBottom()

    def _on_presenter_notes_changed(self, notes: object) -> None:
        if isinstance(notes, list):
            self.show_notes(notes)

    def _on_edit_text_changed(self, text: str) -> None:
        self.add_button.setEnabled(bool(text.strip()))

    def _on_add_button_clicked(self) -> None:
        text = self.edit.text().strip()
        if not text:
            return
        self.edit.clear()
        bridge.spawn(self.presenter.add_note(text))
