"""The inbox window: numbers on the left, their conversations, the open chat. Wiring only.

What it shows comes from ``InboxPresenter``'s models; what the user does becomes one presenter
call, started on the event loop with ``bridge.spawn`` so the window never waits for the disk.
"""

from __future__ import annotations

import time
from string import Template
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop import bridge
from desktop.compat import override
from desktop.models.account_list_model import AccountListModel, account_label
from desktop.models.conversation_list_model import ConversationListModel
from desktop.views.inbox_presenter import InboxPresenter
from desktop.widgets import painting
from desktop.widgets.account_delegate import AccountDelegate
from desktop.widgets.conversation_delegate import ConversationDelegate
from sync.domain.models import Conversation, DeliveryStatus, Direction

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from PySide6.QtGui import QCloseEvent
    from PySide6.QtWidgets import QMenu

    from desktop.views.notes_dialog import NotesDialog
    from desktop.views.search_dialog import SearchDialog
    from sync.domain.messages import Message
    from sync.store.queries import Note

_Index = QModelIndex | QPersistentModelIndex
_HEADER_AVATAR = 38

_STYLE = Template("""
#rail { background: $rail; border: none; }
#railTitle { color: $text; font-weight: 600; padding: 16px 18px 8px 18px; }
#listPane, #chatHeader, #composerBar { background: #FFFFFF; }
#listHeader { background: #FFFFFF; border-bottom: 1px solid $divider; }
#listTitle { color: $text; font-weight: 600; }
#chatHeader { border-bottom: 1px solid $divider; }
#chatTitle { color: $text; font-weight: 600; }
#chatSubtitle, #placeholder { color: $muted; }
#composerBar { border-top: 1px solid $divider; }
#composer { background: #F4F5F7; border-radius: 10px; }
#sendButton { background: $accent; color: white; border: none; border-radius: 10px;
              padding: 7px 16px; font-weight: 600; }
#sendButton:disabled { background: #B9DCC6; }
#sendButton:focus { outline: none; border: 2px solid #14803F; }
#sendError { color: #C0392B; }
#windowNote { color: $muted; }
#searchButton { border: 1px solid $divider; border-radius: 8px; padding: 4px 10px;
                background: #FFFFFF; color: $muted; }
#searchButton:hover { background: $hover; }
#addNumberButton, #receiverButton { border: none; color: $muted; padding: 8px 18px;
                                    text-align: left; background: transparent; }
#addNumberButton:hover, #receiverButton:hover { color: $text; }
QSplitter::handle { background: $divider; }
""").substitute(
    {
        "rail": painting.RAIL_BACKGROUND.name(),
        "text": painting.TEXT.name(),
        "muted": painting.TEXT_MUTED.name(),
        "divider": painting.DIVIDER.name(),
        "accent": painting.ACCENT.name(),
        "hover": painting.HOVER.name(),
    }
)


class MainWindow(QMainWindow):
    """The inbox. ``closed`` is emitted when the user closes it (the app then shuts down)."""

    closed = Signal()

    def __init__(
        self, presenter: InboxPresenter, parent: QWidget | None = None, *, defer_chat: bool = False
    ) -> None:
        """``defer_chat``: build the (hidden) chat page later, with ``finish_building``.

        The app's first paint shows the rail and the list with the placeholder where the chat
        goes; the chat page's widgets and modules are made right after, before any chat opens.
        """
        super().__init__(parent)
        self._chat_built = False
        self._window_closed = False  # Meta's 24-hour window of the open chat has closed
        self.presenter = presenter
        self._search: SearchDialog | None = None
        self._changing_rows = False  # the list model is moving rows: not a user selection
        self.setWindowTitle(self.tr("Caixa"))
        self.resize(1200, 760)
        self.setStyleSheet(_STYLE)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setHandleWidth(1)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self._build_rail())
        splitter.addWidget(self._build_list())
        splitter.addWidget(self._build_chat())
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 0)
        splitter.setStretchFactor(2, 1)
        splitter.setSizes([230, 370, 600])
        self.splitter = splitter
        self.setCentralWidget(splitter)

        self.setTabOrder(self.rail_view, self.conversation_view)
        self._connect_presenter()
        if not defer_chat:
            self.finish_building()

    def set_banner(self, banner: QWidget) -> None:
        """Show ``banner`` (the team's offline / session line) above the whole inbox."""
        holder = QWidget(self)
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.takeCentralWidget()
        layout.addWidget(banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(holder)
        self.banner = banner

    def finish_building(self) -> None:
        """Build the chat page if ``defer_chat`` left it out (idempotent)."""
        if self._chat_built:
            return
        self._chat_built = True
        # Keys wait for the event loop anyway, which starts after this: the shortcuts (and the
        # types they need) are made here rather than before the first paint.
        self._add_shortcuts()
        self.chat_stack.addWidget(self._build_chat_page())
        self.setTabOrder(self.conversation_view, self.chat_view)
        self.setTabOrder(self.chat_view, self.composer)
        self.setTabOrder(self.composer, self.send_button)
        # Whether the window is in front, followed from here on rather than in changeEvent: that
        # override would have PySide wrap each change event of the start-up in Python (building
        # QEvent's Python type alone costs ~3 ms before the first paint).
        app = QGuiApplication.instance()
        assert isinstance(app, QGuiApplication)
        app.focusWindowChanged.connect(self._on_app_focus_window_changed)
        self._on_app_focus_window_changed()

    # -- building ----------------------------------------------------------------------------

    def _build_rail(self) -> QWidget:
        rail = QWidget(self)
        rail.setObjectName("rail")
        rail.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        rail.setMinimumWidth(180)
        layout = QVBoxLayout(rail)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        title = QLabel(self.tr("Numbers"), rail)
        title.setObjectName("railTitle")
        layout.addWidget(title)
        view = QListView(rail)
        view.setObjectName("railView")
        view.setAccessibleName(self.tr("WhatsApp numbers"))
        view.setFrameShape(QFrame.Shape.NoFrame)
        view.setUniformItemSizes(True)
        view.setMouseTracking(True)
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setItemDelegate(AccountDelegate(view))
        _set_base(view, painting.RAIL_BACKGROUND)
        view.setModel(self.presenter.accounts)
        view.selectionModel().currentChanged.connect(self._on_rail_current_changed)
        view.setCurrentIndex(self.presenter.accounts.index(0, 0))
        layout.addWidget(view)
        self.rail_view = view
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._on_rail_view_context_menu_requested)
        self.add_number_button = QToolButton(rail)
        self.add_number_button.setObjectName("addNumberButton")
        self.add_number_button.setText(self.tr("+ Add a number"))
        self.add_number_button.setToolTip(self.tr("Connect another WhatsApp number"))
        self.add_number_button.clicked.connect(self._on_add_number_button_clicked)
        layout.addWidget(self.add_number_button)
        self.receiver_button = QToolButton(rail)
        self.receiver_button.setObjectName("receiverButton")
        self.receiver_button.setText(self.tr("Webhooks…"))
        self.receiver_button.setToolTip(
            self.tr("Where this computer receives the providers' webhooks")
        )
        self.receiver_button.clicked.connect(self._on_receiver_button_clicked)
        layout.addWidget(self.receiver_button)
        self.team_button = QToolButton(rail)
        self.team_button.setObjectName("teamButton")
        self.team_button.clicked.connect(self._on_team_button_clicked)
        self.team_button.hide()
        layout.addWidget(self.team_button)
        self._team_action: Callable[[QWidget], Awaitable[None]] | None = None
        return rail

    def set_workspace_actions(
        self,
        *,
        join_team: Callable[[QWidget], Awaitable[None]] | None,
        leave_team: Callable[[QWidget], Awaitable[None]] | None,
    ) -> None:
        """Offer "Join a team…" (a solo workspace) or "Leave the team…" (a team's) in the rail.

        A team's numbers are added and received on its server, so a team workspace has no
        "Add a number" nor "Webhooks…" here.
        """
        if leave_team is not None:
            self.add_number_button.hide()
            self.receiver_button.hide()
            self.team_button.setText(self.tr("Leave the team…"))
            self.team_button.setToolTip(
                self.tr("Stop following the team's server on this computer")
            )
            self._team_action = leave_team
        elif join_team is not None:
            self.team_button.setText(self.tr("Join a team…"))
            self.team_button.setToolTip(
                self.tr("Share conversations with colleagues through your team's Caixa server")
            )
            self._team_action = join_team
        else:
            self._team_action = None
        self.team_button.setVisible(self._team_action is not None)

    def _on_team_button_clicked(self) -> None:
        if self._team_action is not None:
            bridge.spawn(self._team_action(self))

    def _build_list(self) -> QWidget:
        pane = QWidget(self)
        pane.setObjectName("listPane")
        pane.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        pane.setMinimumWidth(260)
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        header = QWidget(pane)
        header.setObjectName("listHeader")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        row = QHBoxLayout(header)
        row.setContentsMargins(16, 12, 12, 12)
        self.list_title = QLabel(self.tr("All numbers"), header)
        self.list_title.setObjectName("listTitle")
        row.addWidget(self.list_title, 1)
        self.search_button = QToolButton(header)
        self.search_button.setObjectName("searchButton")
        self.search_button.setText(self.tr("Search…"))
        self.search_button.setToolTip(self.tr("Search every conversation (Ctrl+F)"))
        self.search_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.search_button.clicked.connect(self.open_search)
        row.addWidget(self.search_button)
        layout.addWidget(header)

        model = self.presenter.conversations
        # Connected before the view's selection model exists, so these run before it reacts to
        # the same signal (it moves "current" off a removed row, which is no user choice).
        model.rowsAboutToBeRemoved.connect(self._on_conversations_rows_about_to_change)
        model.rowsRemoved.connect(self._on_conversations_rows_changed)
        model.rowsAboutToBeMoved.connect(self._on_conversations_rows_about_to_change)
        model.rowsMoved.connect(self._on_conversations_rows_changed)
        model.modelAboutToBeReset.connect(self._on_conversations_rows_about_to_change)
        model.modelReset.connect(self._on_conversations_model_reset)

        view = QListView(pane)
        view.setObjectName("conversationView")
        view.setAccessibleName(self.tr("Conversations"))
        view.setFrameShape(QFrame.Shape.NoFrame)
        view.setUniformItemSizes(True)  # one row height: a million rows lay out instantly
        view.setMouseTracking(True)
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setItemDelegate(ConversationDelegate(view))
        _set_base(view, painting.BUBBLE_IN)
        view.setModel(model)
        view.selectionModel().currentChanged.connect(self._on_conversation_view_current_changed)
        view.clicked.connect(self._on_conversation_view_clicked)
        view.activated.connect(self._on_conversation_view_clicked)
        layout.addWidget(view)
        self.conversation_view = view
        return pane

    def _build_chat(self) -> QWidget:
        self.chat_stack = QStackedWidget(self)
        self.chat_stack.setMinimumWidth(360)
        placeholder = QLabel(self.tr("Choose a conversation to read and reply."), self)
        placeholder.setObjectName("placeholder")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        placeholder.setAutoFillBackground(True)
        _set_window(placeholder, painting.CHAT_BACKGROUND)
        self.chat_stack.addWidget(placeholder)
        return self.chat_stack

    def _build_chat_page(self) -> QWidget:
        from PySide6.QtWidgets import QPushButton

        from desktop.widgets.chat_view import ChatView
        from desktop.widgets.composer import Composer

        chat = QWidget(self)
        layout = QVBoxLayout(chat)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        header = QWidget(chat)
        header.setObjectName("chatHeader")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        header_row = QHBoxLayout(header)
        header_row.setContentsMargins(16, 8, 18, 8)
        header_row.setSpacing(12)
        self.chat_avatar = QLabel(header)
        self.chat_avatar.setFixedSize(_HEADER_AVATAR, _HEADER_AVATAR)
        header_row.addWidget(self.chat_avatar)
        titles = QVBoxLayout()
        titles.setSpacing(1)
        self.chat_title = QLabel(header)
        self.chat_title.setObjectName("chatTitle")
        self.chat_subtitle = QLabel(header)
        self.chat_subtitle.setObjectName("chatSubtitle")
        titles.addWidget(self.chat_title)
        titles.addWidget(self.chat_subtitle)
        header_row.addLayout(titles, 1)
        # Team mode: who has this conversation, and taking it.
        self.assignment_label = QLabel(header)
        self.assignment_label.setObjectName("chatSubtitle")
        self.assignment_label.hide()
        header_row.addWidget(self.assignment_label)
        self.claim_button = QPushButton(self.tr("&Take this conversation"), header)
        self.claim_button.hide()
        self.claim_button.clicked.connect(self._on_claim_button_clicked)
        header_row.addWidget(self.claim_button)
        self.assign_button = QPushButton(self.tr("A&ssign…"), header)
        self.assign_button.setToolTip(self.tr("Give this conversation to someone of the team"))
        self.assign_button.hide()
        self.assign_button.clicked.connect(self._on_assign_button_clicked)
        header_row.addWidget(self.assign_button)
        self.assign_menu: QMenu | None = None
        self.notes_button = QPushButton(header)
        self.notes_button.setToolTip(self.tr("The team's internal notes on this conversation"))
        self.notes_button.hide()
        self.notes_button.clicked.connect(self.open_notes)
        header_row.addWidget(self.notes_button)
        self._notes: list[Note] = []
        self._notes_dialog: NotesDialog | None = None
        layout.addWidget(header)

        self.chat_view = ChatView(chat)
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
        self.composer = Composer(bar)
        self.composer.setAccessibleName(self.tr("Message"))
        self.composer.submitted.connect(self._on_composer_submitted)
        self.composer.textChanged.connect(self._on_composer_text_changed)
        row.addWidget(self.composer, 1)
        self.send_button = QPushButton(self.tr("Send"), bar)
        self.send_button.setObjectName("sendButton")
        self.send_button.setToolTip(self.tr("Send (Enter) · new line: Shift+Enter"))
        self.send_button.setEnabled(False)
        self.send_button.clicked.connect(self._on_send_button_clicked)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        # Once Meta's 24-hour window closed, an approved template is the only way to write.
        self.template_button = QPushButton(self.tr("Send a &template…"), bar)
        self.template_button.hide()
        self.template_button.clicked.connect(self._on_template_button_clicked)
        row.addWidget(self.template_button, 0, Qt.AlignmentFlag.AlignBottom)
        bar_layout.addLayout(row)
        layout.addWidget(bar)
        self._chat_page = chat
        return chat

    def _add_shortcuts(self) -> None:
        from PySide6.QtGui import QKeySequence, QShortcut

        for number in range(10):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.activated.connect(lambda row=number: self.select_rail_row(row))
        # "Ctrl" is Cmd on macOS, as Mac users expect.
        QShortcut(QKeySequence("Ctrl+F"), self).activated.connect(self.open_search)

    def _connect_presenter(self) -> None:
        p = self.presenter
        p.account_selected.connect(self._on_presenter_account_selected)
        p.conversation_opened.connect(self._on_presenter_conversation_opened)
        p.conversation_updated.connect(self._on_presenter_conversation_updated)
        p.message_revealed.connect(self._on_presenter_message_revealed)
        p.older_loaded.connect(self._on_presenter_more_loaded)
        p.newer_loaded.connect(self._on_presenter_more_loaded)
        p.message_queued.connect(self._on_presenter_message_queued)
        p.send_failed.connect(self._on_presenter_send_failed)
        p.reply_window_changed.connect(self._on_presenter_reply_window_changed)
        p.assignment_changed.connect(self._on_presenter_assignment_changed)
        p.notes_changed.connect(self._on_presenter_notes_changed)
        p.assignment_refused.connect(self._on_presenter_assignment_refused)
        p.accounts.dataChanged.connect(self._on_accounts_data_changed)
        p.accounts.modelReset.connect(self._on_accounts_model_reset)

    # -- actions -----------------------------------------------------------------------------

    def select_rail_row(self, row: int) -> None:
        """Ctrl+0 shows every number, Ctrl+1…9 one number (rail rows)."""
        if 0 <= row < self.presenter.accounts.rowCount():
            self.rail_view.setCurrentIndex(self.presenter.accounts.index(row, 0))

    def open_search(self) -> None:
        """Show the search dialog (made on first use: start-up doesn't pay for it)."""
        if self._search is None:
            from desktop.views.search_dialog import SearchDialog

            self._search = SearchDialog(self.presenter, self)
        self._search.present()

    async def add_number(self) -> object | None:
        """ "Add a number": the dialog, then, for QR-linked numbers, the pairing dialog."""
        from desktop.views import number_flows

        return await number_flows.add_number(self.presenter.backend, self)

    async def configure_receiver(self) -> bool:
        """Ask where to receive webhooks and apply it."""
        from desktop.views import number_flows

        return await number_flows.configure_receiver(self.presenter.backend, self)

    async def relink_number(self, account_id: int) -> bool:
        """Show the pairing dialog for a QR-linked number (after a logout, or to finish linking)."""
        from desktop.views import number_flows

        return await number_flows.relink_number(self.presenter.backend, account_id, self)

    def _on_rail_view_context_menu_requested(self, pos: QPoint) -> None:
        from PySide6.QtWidgets import QMenu

        index = self.rail_view.indexAt(pos)
        account_id = index.data(AccountListModel.AccountIdRole) if index.isValid() else None
        if account_id is None or not self.presenter.attached:
            return
        workspace = self.presenter.backend.workspace
        if workspace is None or not workspace.is_qr_linked(account_id):
            return
        menu = QMenu(self)
        action = menu.addAction(self.tr("Link this number again…"))
        action.triggered.connect(lambda: bridge.spawn(self.relink_number(account_id)))
        menu.popup(self.rail_view.viewport().mapToGlobal(pos))

    def _on_add_number_button_clicked(self) -> None:
        bridge.spawn(self.add_number())

    def _on_receiver_button_clicked(self) -> None:
        bridge.spawn(self.configure_receiver())

    @property
    def search_dialog(self) -> SearchDialog | None:
        """The search dialog, once opened."""
        return self._search

    # -- Qt overrides ------------------------------------------------------------------------

    @override
    def closeEvent(self, event: QCloseEvent) -> None:
        self.presenter.close()
        if self._search is not None:
            self._search.close()
        super().closeEvent(event)
        self.closed.emit()

    def _on_app_focus_window_changed(self, *_: object) -> None:
        self.presenter.attentive = self.isActiveWindow()

    # -- rail --------------------------------------------------------------------------------

    def _on_rail_current_changed(self, current: _Index, previous: _Index) -> None:
        if not current.isValid():
            return
        account_id = current.data(AccountListModel.AccountIdRole)
        if account_id != self.presenter.account_id:
            bridge.spawn(self.presenter.select_account(account_id))

    def _on_presenter_account_selected(self, account_id: int | None) -> None:
        row = self.presenter.accounts.row_of(account_id)
        if row is not None and self.rail_view.currentIndex().row() != row:
            self.rail_view.setCurrentIndex(self.presenter.accounts.index(row, 0))
        self._update_list_title()

    def _on_accounts_data_changed(self, *_: object) -> None:
        self._update_list_title()

    def _on_accounts_model_reset(self) -> None:
        row = self.presenter.accounts.row_of(self.presenter.account_id) or 0
        self.rail_view.setCurrentIndex(self.presenter.accounts.index(row, 0))
        self._update_list_title()

    def _update_list_title(self) -> None:
        account_id = self.presenter.account_id
        account = None if account_id is None else self.presenter.accounts.account(account_id)
        self.list_title.setText(
            self.tr("All numbers") if account is None else account_label(account)
        )

    # -- conversation list -------------------------------------------------------------------

    def _on_conversations_rows_about_to_change(self, *_: object) -> None:
        self._changing_rows = True

    def _on_conversations_rows_changed(self, *_: object) -> None:
        self._changing_rows = False

    def _on_conversations_model_reset(self) -> None:
        self._changing_rows = False
        self._select_open_conversation()

    def _on_conversation_view_current_changed(self, current: _Index, previous: _Index) -> None:
        if self._changing_rows or not current.isValid():
            return
        conversation_id = current.data(ConversationListModel.ConversationIdRole)
        opened = self.presenter.current_conversation
        if opened is None or opened.id != conversation_id:
            bridge.spawn(self.presenter.open_conversation(conversation_id))

    def _on_conversation_view_clicked(self, index: _Index) -> None:
        self.composer.setFocus(Qt.FocusReason.OtherFocusReason)

    def _select_open_conversation(self) -> None:
        opened = self.presenter.current_conversation
        model = self.presenter.conversations
        row = None if opened is None else model.row_of(opened.id)
        selection = self.conversation_view.selectionModel()
        if row is None:
            selection.clearCurrentIndex()
            selection.clearSelection()
            return
        index = model.index(row, 0)
        if self.conversation_view.currentIndex() != index:
            self.conversation_view.setCurrentIndex(index)
        self.conversation_view.scrollTo(index)

    # -- chat --------------------------------------------------------------------------------

    def _on_presenter_conversation_opened(self, conversation: Conversation | None) -> None:
        self.send_error.hide()
        if conversation is None:
            self.chat_stack.setCurrentIndex(0)
            self._select_open_conversation()
            return
        self._show_header(conversation)
        self.chat_stack.setCurrentWidget(self._chat_page)
        self._select_open_conversation()
        # A short chat may not fill the view: ask for older messages until it does.
        QTimer.singleShot(0, self.chat_view.check_edges)

    def _on_presenter_reply_window_changed(self, window: object) -> None:
        """Meta's 24-hour rule in the composer: when it closes, and a closed window explained."""
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

    def _on_presenter_assignment_changed(self, assignment: object) -> None:
        if not self._chat_built:
            return
        features = self.presenter.features
        if not features.assignments:
            self.assignment_label.hide()
            self.claim_button.hide()
            self.assign_button.hide()
            return
        if assignment is None:
            text, mine = self.tr("Nobody has this conversation yet"), False
        else:
            name, mine = assignment  # type: ignore[misc]
            text = (
                self.tr("You have this conversation")
                if mine
                else self.tr("%1 has this conversation").replace("%1", str(name))
            )
        self.assignment_label.setText(text)
        self.assignment_label.show()
        self.claim_button.setVisible(features.can_take and not mine)
        self.assign_button.setVisible(features.can_assign)

    def _on_assign_button_clicked(self) -> None:
        bridge.spawn(self.show_assign_menu())

    async def show_assign_menu(self) -> None:
        """Supervisors: a menu of the team (and "Nobody") under the Assign… button."""
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
            self,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _on_presenter_notes_changed(self, notes: object) -> None:
        if not self._chat_built:
            return
        if not isinstance(notes, list):  # solo mode: no notes
            self.notes_button.hide()
            return
        self._notes = notes
        self.notes_button.setText(self.tr("&Notes (%1)").replace("%1", str(len(notes))))
        self.notes_button.show()

    def open_notes(self) -> None:
        """The open chat's team notes, with a line to add one (team mode)."""
        from desktop.views.notes_dialog import NotesDialog

        if self._notes_dialog is None:
            self._notes_dialog = NotesDialog(self.presenter, self)
        self._notes_dialog.show_notes(self._notes)
        self._notes_dialog.open()

    def _on_claim_button_clicked(self) -> None:
        bridge.spawn(self.presenter.claim())

    def _on_reply_window_timer(self) -> None:
        conversation = self.presenter.current_conversation
        if conversation is not None:
            bridge.spawn(self.presenter._refresh_reply_window(conversation))

    def _on_presenter_conversation_updated(self, conversation: Conversation) -> None:
        self._show_header(conversation)

    def _show_header(self, conversation: Conversation) -> None:
        from PySide6.QtGui import QPainter, QPixmap

        name = conversation.customer_name or conversation.customer_phone
        self.chat_title.setText(name)
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(int(_HEADER_AVATAR * ratio), int(_HEADER_AVATAR * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painting.paint_avatar(
            painter,
            QRect(0, 0, _HEADER_AVATAR, _HEADER_AVATAR),
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

    def _on_presenter_message_revealed(self, row: int) -> None:
        self.chat_view.reveal(row)

    def _on_presenter_more_loaded(self, added: int) -> None:
        if added:
            self.chat_view.check_edges()

    def _on_presenter_message_queued(self, message: Message) -> None:
        self.send_error.hide()
        self.chat_view.doItemsLayout()
        self.chat_view.scrollToBottom()

    def _on_presenter_send_failed(self, text: str, reason: str) -> None:
        if not self.composer.toPlainText():
            self.composer.setPlainText(text)
        self.send_error.setText(self.tr("Not sent: {reason}").replace("{reason}", reason))
        self.send_error.show()

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
                self,
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

    def _on_chat_view_top_reached(self) -> None:
        bridge.spawn(self.presenter.load_older())

    def _on_chat_view_bottom_reached(self) -> None:
        bridge.spawn(self.presenter.load_newer())

    def _on_composer_submitted(self, text: str) -> None:
        if self._window_closed:  # kept in the composer: nothing typed is lost
            self.composer.setPlainText(text)
            return
        bridge.spawn(self.presenter.send_text(text))

    def _on_composer_text_changed(self) -> None:
        self._update_send_button()

    def _on_template_button_clicked(self) -> None:
        bridge.spawn(self.send_template())

    async def send_template(self) -> object:
        """Pick an approved template, fill it, send it (the window-closed path)."""
        from desktop.views.template_dialog import choose_and_send

        return await choose_and_send(
            self.presenter.list_templates, self.presenter.send_template, self
        )

    def _update_send_button(self) -> None:
        has_text = bool(self.composer.toPlainText().strip())
        self.send_button.setEnabled(has_text and not self._window_closed)

    def _on_send_button_clicked(self) -> None:
        self.composer.submit()
        self.composer.setFocus(Qt.FocusReason.OtherFocusReason)


def _set_base(view: QAbstractItemView, colour: object) -> None:
    palette = view.palette()
    palette.setColor(QPalette.ColorRole.Base, colour)  # type: ignore[arg-type]
    view.setPalette(palette)


def _set_window(widget: QWidget, colour: object) -> None:
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.Window, colour)  # type: ignore[arg-type]
    widget.setPalette(palette)
