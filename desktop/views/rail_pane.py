"""The rail: the WhatsApp numbers on the left, and what a workspace offers about them.

Choosing a number lists its conversations (the conversation pane follows the presenter);
"Add a number", "Webhooks…" and "Link this number again…" run the flows of ``number_flows``;
"Join a team…" / "Leave the team…" is whatever action the app gives (``set_workspace_actions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QListView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop import bridge
from desktop.models.account_list_model import AccountListModel
from desktop.widgets import painting
from desktop.widgets.account_delegate import AccountDelegate

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from desktop.views.inbox_presenter import InboxPresenter

_Index = QModelIndex | QPersistentModelIndex


class RailPane(QWidget):
    """The numbers, "every number" first; buttons for the workspace under them."""

    def __init__(self, presenter: InboxPresenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.presenter = presenter
        self._team_action: Callable[[QWidget], Awaitable[None]] | None = None
        self.setObjectName("rail")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumWidth(180)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        title = QLabel(self.tr("Numbers"), self)
        title.setObjectName("railTitle")
        layout.addWidget(title)

        view = QListView(self)
        view.setObjectName("railView")
        view.setAccessibleName(self.tr("WhatsApp numbers"))
        view.setFrameShape(QFrame.Shape.NoFrame)
        view.setUniformItemSizes(True)
        view.setMouseTracking(True)
        view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setItemDelegate(AccountDelegate(view))
        painting.set_palette_colour(view, QPalette.ColorRole.Base, painting.RAIL_BACKGROUND)
        view.setModel(presenter.accounts)
        view.selectionModel().currentChanged.connect(self._on_rail_view_current_changed)
        view.setCurrentIndex(presenter.accounts.index(0, 0))
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._on_rail_view_context_menu_requested)
        layout.addWidget(view)
        self.rail_view = view

        self.add_number_button = QToolButton(self)
        self.add_number_button.setObjectName("addNumberButton")
        self.add_number_button.setText(self.tr("+ Add a number"))
        self.add_number_button.setToolTip(self.tr("Connect another WhatsApp number"))
        self.add_number_button.clicked.connect(self._on_add_number_button_clicked)
        layout.addWidget(self.add_number_button)
        self.receiver_button = QToolButton(self)
        self.receiver_button.setObjectName("receiverButton")
        self.receiver_button.setText(self.tr("Webhooks…"))
        self.receiver_button.setToolTip(
            self.tr("Where this computer receives the providers' webhooks")
        )
        self.receiver_button.clicked.connect(self._on_receiver_button_clicked)
        layout.addWidget(self.receiver_button)
        self.team_button = QToolButton(self)
        self.team_button.setObjectName("teamButton")
        self.team_button.clicked.connect(self._on_team_button_clicked)
        self.team_button.hide()
        layout.addWidget(self.team_button)

        presenter.account_selected.connect(self._on_presenter_account_selected)
        presenter.accounts.modelReset.connect(self._on_accounts_model_reset)

    def set_workspace_actions(
        self,
        *,
        join_team: Callable[[QWidget], Awaitable[None]] | None,
        leave_team: Callable[[QWidget], Awaitable[None]] | None,
    ) -> None:
        """Offer "Join a team…" (a solo workspace) or "Leave the team…" (a team's).

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

    def select_row(self, row: int) -> None:
        """Show row ``row``'s conversations: 0 every number's, 1… one number's."""
        if 0 <= row < self.presenter.accounts.rowCount():
            self.rail_view.setCurrentIndex(self.presenter.accounts.index(row, 0))

    # -- actions -----------------------------------------------------------------------------

    async def add_number(self) -> object | None:
        """ "Add a number": the dialog, then, for QR-linked numbers, the pairing dialog."""
        from desktop.views import number_flows

        return await number_flows.add_number(self.presenter.backend, self.window())

    async def configure_receiver(self) -> bool:
        """Ask where to receive webhooks and apply it."""
        from desktop.views import number_flows

        return await number_flows.configure_receiver(self.presenter.backend, self.window())

    async def relink_number(self, account_id: int) -> bool:
        """Show the pairing dialog for a QR-linked number (after a logout, or to finish linking)."""
        from desktop.views import number_flows

        return await number_flows.relink_number(self.presenter.backend, account_id, self.window())

    def _on_add_number_button_clicked(self) -> None:
        bridge.spawn(self.add_number())

    def _on_receiver_button_clicked(self) -> None:
        bridge.spawn(self.configure_receiver())

    def _on_team_button_clicked(self) -> None:
        if self._team_action is not None:
            bridge.spawn(self._team_action(self.window()))

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

    # -- following the presenter -------------------------------------------------------------

    def _on_rail_view_current_changed(self, current: _Index, previous: _Index) -> None:
        if not current.isValid():
            return
        account_id = current.data(AccountListModel.AccountIdRole)
        if account_id != self.presenter.account_id:
            bridge.spawn(self.presenter.select_account(account_id))

    def _on_presenter_account_selected(self, account_id: int | None) -> None:
        row = self.presenter.accounts.row_of(account_id)
        if row is not None and self.rail_view.currentIndex().row() != row:
            self.rail_view.setCurrentIndex(self.presenter.accounts.index(row, 0))

    def _on_accounts_model_reset(self) -> None:
        row = self.presenter.accounts.row_of(self.presenter.account_id) or 0
        self.rail_view.setCurrentIndex(self.presenter.accounts.index(row, 0))
