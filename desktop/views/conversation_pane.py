"""The conversation list: the chosen number's conversations (or every number's), newest first.

Picking a row opens its chat (through the presenter); the row of the open chat stays selected
while rows move and the list reloads. Its header names the number and offers the search.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop import bridge
from desktop.models.account_list_model import account_label
from desktop.models.conversation_list_model import ConversationListModel
from desktop.widgets import painting
from desktop.widgets.conversation_delegate import ConversationDelegate

if TYPE_CHECKING:
    from desktop.views.inbox_presenter import InboxPresenter

_Index = QModelIndex | QPersistentModelIndex


class ConversationPane(QWidget):
    """The header (which number, Search…) over the list of conversations."""

    search_requested = Signal()
    conversation_clicked = Signal()  # a row was clicked or activated: the user wants to reply

    def __init__(self, presenter: InboxPresenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.presenter = presenter
        self._changing_rows = False  # the list model is moving rows: not a user selection
        self.setObjectName("listPane")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumWidth(260)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        header = QWidget(self)
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
        self.search_button.clicked.connect(self.search_requested)
        row.addWidget(self.search_button)
        layout.addWidget(header)

        model = presenter.conversations
        # Connected before the view's selection model exists, so these run before it reacts to
        # the same signal (it moves "current" off a removed row, which is no user choice).
        model.rowsAboutToBeRemoved.connect(self._on_conversations_rows_about_to_change)
        model.rowsRemoved.connect(self._on_conversations_rows_changed)
        model.rowsAboutToBeMoved.connect(self._on_conversations_rows_about_to_change)
        model.rowsMoved.connect(self._on_conversations_rows_changed)
        model.modelAboutToBeReset.connect(self._on_conversations_rows_about_to_change)
        model.modelReset.connect(self._on_conversations_model_reset)

        view = QListView(self)
        view.setObjectName("conversationView")
        view.setAccessibleName(self.tr("Conversations"))
        view.setFrameShape(QFrame.Shape.NoFrame)
        view.setUniformItemSizes(True)  # one row height: a million rows lay out instantly
        view.setMouseTracking(True)
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setItemDelegate(ConversationDelegate(view))
        painting.set_palette_colour(view, QPalette.ColorRole.Base, painting.BUBBLE_IN)
        view.setModel(model)
        view.selectionModel().currentChanged.connect(self._on_conversation_view_current_changed)
        view.clicked.connect(self._on_conversation_view_clicked)
        view.activated.connect(self._on_conversation_view_clicked)
        layout.addWidget(view)
        self.conversation_view = view

        presenter.account_selected.connect(self._on_presenter_account_selected)
        presenter.conversation_opened.connect(self._on_presenter_conversation_opened)
        presenter.accounts.dataChanged.connect(self._on_accounts_data_changed)
        presenter.accounts.modelReset.connect(self._on_accounts_model_reset)

    # -- the header --------------------------------------------------------------------------

    def _on_presenter_account_selected(self, account_id: int | None) -> None:
        self._update_list_title()

    def _on_accounts_data_changed(self, *_: object) -> None:
        self._update_list_title()

    def _on_accounts_model_reset(self) -> None:
        self._update_list_title()

    def _update_list_title(self) -> None:
        account_id = self.presenter.account_id
        account = None if account_id is None else self.presenter.accounts.account(account_id)
        self.list_title.setText(
            self.tr("All numbers") if account is None else account_label(account)
        )

    # -- the list ----------------------------------------------------------------------------

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
        self.conversation_clicked.emit()

    def _on_presenter_conversation_opened(self, conversation: object) -> None:
        self._select_open_conversation()

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
