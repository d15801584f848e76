"""The open chat's header: who the customer is, through which number, and (where the backend
has them) who has the conversation and its internal notes.

Built with the chat page, after the first paint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop import bridge
from desktop.models.account_list_model import account_label
from desktop.widgets import painting

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMenu

    from desktop.backend import Assignment
    from desktop.views.inbox_presenter import InboxPresenter
    from desktop.views.notes_dialog import NotesDialog
    from sync.domain.models import Conversation
    from sync.store.local.queries import Note

_AVATAR = 38


class ChatHeader(QWidget):
    """Avatar, name and number; "Take this conversation", "Assign…" and "Notes" when offered."""

    def __init__(self, presenter: InboxPresenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.presenter = presenter
        self.setObjectName("chatHeader")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 8, 18, 8)
        row.setSpacing(12)
        self.chat_avatar = QLabel(self)
        self.chat_avatar.setFixedSize(_AVATAR, _AVATAR)
        row.addWidget(self.chat_avatar)
        titles = QVBoxLayout()
        titles.setSpacing(1)
        self.chat_title = QLabel(self)
        self.chat_title.setObjectName("chatTitle")
        self.chat_subtitle = QLabel(self)
        self.chat_subtitle.setObjectName("chatSubtitle")
        titles.addWidget(self.chat_title)
        titles.addWidget(self.chat_subtitle)
        row.addLayout(titles, 1)
        # Who has this conversation, and taking it (where conversations have owners).
        self.assignment_label = QLabel(self)
        self.assignment_label.setObjectName("chatSubtitle")
        self.assignment_label.hide()
        row.addWidget(self.assignment_label)
        self.claim_button = QPushButton(self.tr("&Take this conversation"), self)
        self.claim_button.hide()
        self.claim_button.clicked.connect(self._on_claim_button_clicked)
        row.addWidget(self.claim_button)
        self.assign_button = QPushButton(self.tr("A&ssign…"), self)
        self.assign_button.setToolTip(self.tr("Give this conversation to someone of the team"))
        self.assign_button.hide()
        self.assign_button.clicked.connect(self._on_assign_button_clicked)
        row.addWidget(self.assign_button)
        self.assign_menu: QMenu | None = None
        self.notes_button = QPushButton(self)
        self.notes_button.setToolTip(self.tr("The team's internal notes on this conversation"))
        self.notes_button.hide()
        self.notes_button.clicked.connect(self.open_notes)
        row.addWidget(self.notes_button)
        self._notes: list[Note] = []
        self._notes_dialog: NotesDialog | None = None

        presenter.conversation_updated.connect(self.show_conversation)
        presenter.assignment_changed.connect(self._on_presenter_assignment_changed)
        presenter.notes_changed.connect(self._on_presenter_notes_changed)
        presenter.assignment_refused.connect(self._on_presenter_assignment_refused)

    def show_conversation(self, conversation: Conversation) -> None:
        """The customer's avatar, name and phone, and the number the chat goes through."""
        from PySide6.QtGui import QPainter, QPixmap

        name = conversation.customer_name or conversation.customer_phone
        self.chat_title.setText(name)
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(int(_AVATAR * ratio), int(_AVATAR * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painting.paint_avatar(
            painter,
            QRect(0, 0, _AVATAR, _AVATAR),
            painting.initials(name),
            painting.avatar_colour(conversation.id),
            self.font(),
        )
        painter.end()
        self.chat_avatar.setPixmap(pixmap)
        parts = []
        if conversation.customer_name and conversation.customer_phone:
            parts.append(conversation.customer_phone)
        account = self.presenter.accounts.account(conversation.account_id)
        if account is not None:
            parts.append(self.tr("via {number}").replace("{number}", account_label(account)))
        self.chat_subtitle.setText("  ·  ".join(parts))

    # -- who has it --------------------------------------------------------------------------

    def _on_presenter_assignment_changed(self, assignment: Assignment | None) -> None:
        features = self.presenter.features
        if not features.assignments:
            self.assignment_label.hide()
            self.claim_button.hide()
            self.assign_button.hide()
            return
        if assignment is None:
            text, mine = self.tr("Nobody has this conversation yet"), False
        else:
            mine = assignment.mine
            text = (
                self.tr("You have this conversation")
                if mine
                else self.tr("%1 has this conversation").replace("%1", assignment.name)
            )
        self.assignment_label.setText(text)
        self.assignment_label.show()
        self.claim_button.setVisible(features.can_take and not mine)
        self.assign_button.setVisible(features.can_assign)

    def _on_claim_button_clicked(self) -> None:
        bridge.spawn(self.presenter.claim())

    def _on_assign_button_clicked(self) -> None:
        bridge.spawn(self.show_assign_menu())

    async def show_assign_menu(self) -> None:
        """A menu of the team (and "Nobody") under the Assign… button."""
        from PySide6.QtWidgets import QMenu

        if self.assign_menu is not None:
            self.assign_menu.deleteLater()
        people = await self.presenter.teammates()
        menu = QMenu(self)
        for person in people:
            action = menu.addAction(person.name)
            action.setData(person.id)
        menu.addSeparator()
        nobody = menu.addAction(self.tr("Nobody"))
        nobody.setData(None)
        menu.triggered.connect(lambda action: bridge.spawn(self.presenter.assign(action.data())))
        self.assign_menu = menu
        menu.popup(self.assign_button.mapToGlobal(self.assign_button.rect().bottomLeft()))

    def _on_presenter_assignment_refused(self, reason: str) -> None:
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(
            QMessageBox.Icon.Warning,
            self.tr("Not assigned"),
            (
                self.tr("That person cannot take this conversation: they do not see its number.")
                if "cannot take this conversation" in reason  # the server's words for it
                else self.tr("The server did not assign this conversation: %1").replace(
                    "%1", reason
                )
            ),
            QMessageBox.StandardButton.Ok,
            self.window(),
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- notes -------------------------------------------------------------------------------

    def _on_presenter_notes_changed(self, notes: object) -> None:
        if not isinstance(notes, list):  # the backend has no notes
            self.notes_button.hide()
            return
        self._notes = notes
        self.notes_button.setText(self.tr("&Notes (%1)").replace("%1", str(len(notes))))
        self.notes_button.show()

    def open_notes(self) -> None:
        """The open chat's notes, with a line to add one."""
        from desktop.views.notes_dialog import NotesDialog

        if self._notes_dialog is None:
            self._notes_dialog = NotesDialog(self.presenter, self.window())
        self._notes_dialog.show_notes(self._notes)
        self._notes_dialog.open()
