"""The chat pane: a placeholder until a chat is open, then the chat page — its header, its
messages and the composer.

The page is built by ``build``, which the app runs right after the first paint: the first paint
shows the placeholder, and the page's widgets and modules are made before any chat opens.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QStackedWidget, QWidget

from desktop import bridge
from desktop.widgets import painting
from sync.domain.models import DeliveryStatus, Direction

if TYPE_CHECKING:
    from PySide6.QtWidgets import QPushButton

    from desktop.views.chat_header import ChatHeader
    from desktop.views.inbox_presenter import InboxPresenter
    from desktop.widgets.chat_view import ChatView
    from desktop.widgets.composer import Composer
    from sync.domain.messages import Message
    from sync.domain.models import Conversation


class ChatPane(QStackedWidget):
    """Page 0: "Choose a conversation"; page 1 (once built): the open chat."""

    def __init__(self, presenter: InboxPresenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.presenter = presenter
        self._built = False
        self._window_closed = False  # the open chat's 24-hour window has closed
        self.setMinimumWidth(360)
        placeholder = QLabel(self.tr("Choose a conversation to read and reply."), self)
        placeholder.setObjectName("placeholder")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        placeholder.setAutoFillBackground(True)
        painting.set_palette_colour(
            placeholder, QPalette.ColorRole.Window, painting.CHAT_BACKGROUND
        )
        self.addWidget(placeholder)

    @property
    def built(self) -> bool:
        """Whether ``build`` made the chat page."""
        return self._built

    def build(self) -> None:
        """Make the chat page and follow the presenter's chat (idempotent)."""
        if self._built:
            return
        self._built = True
        from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout

        from desktop.views.chat_header import ChatHeader
        from desktop.widgets.chat_view import ChatView
        from desktop.widgets.composer import Composer

        chat = QWidget(self)
        layout = QVBoxLayout(chat)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.header: ChatHeader = ChatHeader(self.presenter, chat)
        layout.addWidget(self.header)

        self.chat_view: ChatView = ChatView(chat)
        self.chat_view.setAccessibleName(self.tr("Messages"))
        self.chat_view.setModel(self.presenter.messages)
        self.chat_view.top_reached.connect(self._on_chat_view_top_reached)
        self.chat_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.chat_view.customContextMenuRequested.connect(self._on_chat_view_context_menu_requested)
        self.chat_view.bottom_reached.connect(self._on_chat_view_bottom_reached)
        layout.addWidget(self.chat_view, 1)

        bar = QWidget(chat)
        bar.setObjectName("composerBar")
        bar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        bar_layout = QVBoxLayout(bar)
        bar_layout.setContentsMargins(14, 8, 14, 10)
        bar_layout.setSpacing(4)
        self.send_error = QLabel(bar)
        self.send_error.setObjectName("sendError")
        self.send_error.setWordWrap(True)
        self.send_error.hide()
        bar_layout.addWidget(self.send_error)
        self.window_note = QLabel(bar)
        self.window_note.setObjectName("windowNote")
        self.window_note.setWordWrap(True)
        self.window_note.hide()
        bar_layout.addWidget(self.window_note)
        row = QHBoxLayout()
        row.setSpacing(10)
        self.composer: Composer = Composer(bar)
        self.composer.setAccessibleName(self.tr("Message"))
        self.composer.submitted.connect(self._on_composer_submitted)
        self.composer.textChanged.connect(self._on_composer_text_changed)
        row.addWidget(self.composer, 1)
        self.send_button: QPushButton = QPushButton(self.tr("Send"), bar)
        self.send_button.setObjectName("sendButton")
        self.send_button.setToolTip(self.tr("Send (Enter) · new line: Shift+Enter"))
        self.send_button.setEnabled(False)
        self.send_button.clicked.connect(self._on_send_button_clicked)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        # Once the 24-hour window closed, an approved template is the only way to write.
        self.template_button: QPushButton = QPushButton(self.tr("Send a &template…"), bar)
        self.template_button.hide()
        self.template_button.clicked.connect(self._on_template_button_clicked)
        row.addWidget(self.template_button, 0, Qt.AlignmentFlag.AlignBottom)
        bar_layout.addLayout(row)
        layout.addWidget(bar)
        self._chat_page = chat
        self.addWidget(chat)

        p = self.presenter
        p.conversation_opened.connect(self._on_presenter_conversation_opened)
        p.message_revealed.connect(self._on_presenter_message_revealed)
        p.older_loaded.connect(self._on_presenter_more_loaded)
        p.newer_loaded.connect(self._on_presenter_more_loaded)
        p.message_queued.connect(self._on_presenter_message_queued)
        p.send_failed.connect(self._on_presenter_send_failed)
        p.reply_window_changed.connect(self._on_presenter_reply_window_changed)

    def focus_composer(self) -> None:
        """Put the keyboard in the composer (a conversation was just picked)."""
        if self._built:
            self.composer.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- the open chat -----------------------------------------------------------------------

    def _on_presenter_conversation_opened(self, conversation: Conversation | None) -> None:
        self.send_error.hide()
        if conversation is None:
            self.setCurrentIndex(0)
            return
        self.header.show_conversation(conversation)
        self.setCurrentWidget(self._chat_page)
        # A short chat may not fill the view: ask for older messages until it does.
        QTimer.singleShot(0, self.chat_view.check_edges)

    def _on_presenter_message_revealed(self, row: int) -> None:
        self.chat_view.reveal(row)

    def _on_presenter_more_loaded(self, added: int) -> None:
        if added:
            self.chat_view.check_edges()

    def _on_chat_view_top_reached(self) -> None:
        bridge.spawn(self.presenter.load_older())

    def _on_chat_view_bottom_reached(self) -> None:
        bridge.spawn(self.presenter.load_newer())

    # -- the 24-hour window ------------------------------------------------------------------

    def _on_presenter_reply_window_changed(self, window: object) -> None:
        """The 24-hour rule in the composer: when it closes, and a closed window explained."""
        self._window_closed = False
        self.template_button.hide()
        if window is None:
            self.window_note.hide()
        elif getattr(window, "is_open", False):
            closes_at = float(getattr(window, "closes_at", 0.0))
            hours = max(0.0, (closes_at - time.time()) / 3600)
            if hours >= 1:
                text = self.tr("Reply window open for %n more hour(s).", "", int(hours))
            else:
                text = self.tr("Reply window closes in less than an hour.")
            self.window_note.setText(text)
            self.window_note.show()
            # Flip to "closed" when it closes while the chat stays open.
            QTimer.singleShot(
                int(min(hours * 3600 * 1000 + 1000, 2**31 - 1)), self._on_reply_window_timer
            )
        else:
            self._window_closed = True
            self.template_button.setVisible(self.presenter.can_send_templates())
            self.window_note.setText(
                self.tr(
                    "The customer last wrote more than 24 hours ago: WhatsApp lets a business "
                    "write again only with an approved template, until the customer replies."
                )
            )
            self.window_note.show()
        self._update_send_button()

    def _on_reply_window_timer(self) -> None:
        bridge.spawn(self.presenter.refresh_reply_window())

    def _on_template_button_clicked(self) -> None:
        bridge.spawn(self.send_template())

    async def send_template(self) -> object:
        """Pick an approved template, fill it, send it (the window-closed path)."""
        from desktop.views.template_dialog import choose_and_send

        return await choose_and_send(
            self.presenter.list_templates, self.presenter.send_template, self.window()
        )

    # -- writing -----------------------------------------------------------------------------

    def _on_composer_submitted(self, text: str) -> None:
        if self._window_closed:  # kept in the composer: nothing typed is lost
            self.composer.setPlainText(text)
            return
        bridge.spawn(self.presenter.send_text(text))

    def _on_composer_text_changed(self) -> None:
        self._update_send_button()

    def _update_send_button(self) -> None:
        has_text = bool(self.composer.toPlainText().strip())
        self.send_button.setEnabled(has_text and not self._window_closed)

    def _on_send_button_clicked(self) -> None:
        self.composer.submit()
        self.composer.setFocus(Qt.FocusReason.OtherFocusReason)

    def _on_presenter_message_queued(self, message: Message) -> None:
        self.send_error.hide()
        self.chat_view.doItemsLayout()
        self.chat_view.scrollToBottom()

    def _on_presenter_send_failed(self, text: str, reason: str) -> None:
        if not self.composer.toPlainText():
            self.composer.setPlainText(text)
        self.send_error.setText(self.tr("Not sent: {reason}").replace("{reason}", reason))
        self.send_error.show()

    # -- sending again -----------------------------------------------------------------------

    async def send_again(self, message: Message) -> Message | None:
        """Send a failed or possibly unsent message again, asking first when it may have gone."""
        if message.status is DeliveryStatus.UNKNOWN:
            from PySide6.QtWidgets import QMessageBox

            box = QMessageBox(
                QMessageBox.Icon.Question,
                self.tr("Send again?"),
                self.tr(
                    "Caixa lost the answer while sending this message: it may have reached the "
                    "customer. Send it again anyway?"
                ),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                self.window(),
            )
            box.setDefaultButton(QMessageBox.StandardButton.No)
            answer = await bridge.exec_dialog(box)
            box.deleteLater()
            if answer != QMessageBox.StandardButton.Yes:
                return None
        return await self.presenter.send_again(message.id)

    def _on_chat_view_context_menu_requested(self, pos: QPoint) -> None:
        from PySide6.QtWidgets import QMenu

        index = self.chat_view.indexAt(pos)
        if not index.isValid():
            return
        message = self.presenter.messages.message(index.row())
        if (
            message.direction is not Direction.OUT
            or message.status not in (DeliveryStatus.UNKNOWN, DeliveryStatus.FAILED)
            or not self.presenter.features.can_send_again  # a team's agent: a supervisor's call
        ):
            return
        menu = QMenu(self)
        action = menu.addAction(self.tr("Send again"))
        action.triggered.connect(lambda: bridge.spawn(self.send_again(message)))
        menu.popup(self.chat_view.viewport().mapToGlobal(pos))
