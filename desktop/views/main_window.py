"""The inbox window: the rail of numbers, their conversations, the open chat. Assembly only.

Each pane is its own module (``rail_pane``, ``conversation_pane``, ``chat_pane`` with
``chat_header``) and follows ``InboxPresenter`` itself; this window puts them side by side,
wires what crosses panes (a picked conversation puts the keyboard in the composer), and holds
what is the whole window's: the keyboard shortcuts, the search dialog, the team banner, and
whether the window is in front.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow, QSplitter, QVBoxLayout, QWidget

from desktop.compat import override
from desktop.views.chat_pane import ChatPane
from desktop.views.conversation_pane import ConversationPane
from desktop.views.inbox_presenter import InboxPresenter
from desktop.views.rail_pane import RailPane

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from PySide6.QtGui import QCloseEvent

    from desktop.views.search_dialog import SearchDialog


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
        self.presenter = presenter
        self._search: SearchDialog | None = None
        self.setWindowTitle(self.tr("Caixa"))
        self.resize(1200, 760)

        self.rail_pane = RailPane(presenter, self)
        self.conversation_pane = ConversationPane(presenter, self)
        self.chat_pane = ChatPane(presenter, self)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.setHandleWidth(1)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.rail_pane)
        splitter.addWidget(self.conversation_pane)
        splitter.addWidget(self.chat_pane)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 0)
        splitter.setStretchFactor(2, 1)
        splitter.setSizes([230, 370, 600])
        self.splitter = splitter
        self.setCentralWidget(splitter)

        self.conversation_pane.search_requested.connect(self.open_search)
        self.conversation_pane.conversation_clicked.connect(self.chat_pane.focus_composer)
        self.setTabOrder(self.rail_pane.rail_view, self.conversation_pane.conversation_view)
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

    def set_workspace_actions(
        self,
        *,
        join_team: Callable[[QWidget], Awaitable[None]] | None,
        leave_team: Callable[[QWidget], Awaitable[None]] | None,
    ) -> None:
        """Offer "Join a team…" or "Leave the team…" in the rail (see ``RailPane``)."""
        self.rail_pane.set_workspace_actions(join_team=join_team, leave_team=leave_team)

    async def add_number(self) -> object | None:
        """ "Add a number" (the first-run screen's choice lands here)."""
        return await self.rail_pane.add_number()

    def finish_building(self) -> None:
        """Build the chat page if ``defer_chat`` left it out (idempotent)."""
        if self._chat_built:
            return
        self._chat_built = True
        # Keys wait for the event loop anyway, which starts after this: the shortcuts (and the
        # types they need) are made here rather than before the first paint.
        self._add_shortcuts()
        chat = self.chat_pane
        chat.build()
        self.setTabOrder(self.conversation_pane.conversation_view, chat.chat_view)
        self.setTabOrder(chat.chat_view, chat.composer)
        self.setTabOrder(chat.composer, chat.send_button)
        # Whether the window is in front, followed from here on rather than in changeEvent: that
        # override would have PySide wrap each change event of the start-up in Python (building
        # QEvent's Python type alone costs ~3 ms before the first paint).
        app = QGuiApplication.instance()
        assert isinstance(app, QGuiApplication)
        app.focusWindowChanged.connect(self._on_app_focus_window_changed)
        self._on_app_focus_window_changed()

    def _add_shortcuts(self) -> None:
        from PySide6.QtGui import QKeySequence, QShortcut

        for number in range(10):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.activated.connect(lambda row=number: self.rail_pane.select_row(row))
        # "Ctrl" is Cmd on macOS, as Mac users expect.
        QShortcut(QKeySequence("Ctrl+F"), self).activated.connect(self.open_search)

    # -- search ------------------------------------------------------------------------------

    def open_search(self) -> None:
        """Show the search dialog (made on first use: start-up doesn't pay for it)."""
        if self._search is None:
            from desktop.views.search_dialog import SearchDialog

            self._search = SearchDialog(self.presenter, self)
        self._search.present()

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
