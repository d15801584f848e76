"""Search every conversation of every number, as you type. Wiring only: the presenter searches.

Typing restarts a 150 ms timer, so a fast typist runs one query, not one per key. Enter (or a
double-click) opens the selected hit, or the first one; Up/Down move through the hits without
leaving the text box; Esc closes.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFrame,
    QLabel,
    QLineEdit,
    QListView,
    QVBoxLayout,
    QWidget,
)

from desktop import bridge
from desktop.compat import override
from desktop.views.inbox_presenter import SEARCH_LIMIT, InboxPresenter
from desktop.widgets.search_hit_delegate import SearchHitDelegate

_Index = QModelIndex | QPersistentModelIndex

DEBOUNCE_MS = 150


class SearchDialog(QDialog):
    """A non-modal search window over ``presenter.search_hits``."""

    def __init__(self, presenter: InboxPresenter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.presenter = presenter
        self.setWindowTitle(self.tr("Search all conversations"))
        self.setModal(False)
        self.resize(640, 520)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 10)
        layout.setSpacing(8)

        self.query_edit = QLineEdit(self)
        self.query_edit.setPlaceholderText(self.tr("Search messages in every number"))
        self.query_edit.setClearButtonEnabled(True)
        self.query_edit.setAccessibleName(self.tr("Search text"))
        self.query_edit.textChanged.connect(self._on_query_edit_text_changed)
        self.query_edit.returnPressed.connect(self._on_query_edit_return_pressed)
        self.query_edit.installEventFilter(self)
        layout.addWidget(self.query_edit)

        self.status_label = QLabel(self)
        self.status_label.setObjectName("searchStatus")
        layout.addWidget(self.status_label)

        self.results = QListView(self)
        self.results.setAccessibleName(self.tr("Search results"))
        self.results.setUniformItemSizes(True)
        self.results.setFrameShape(QFrame.Shape.StyledPanel)
        self.results.setMouseTracking(True)
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.setItemDelegate(SearchHitDelegate(self.results))
        self.results.setModel(presenter.search_hits)
        self.results.activated.connect(self._on_results_activated)
        layout.addWidget(self.results, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        presenter.search_finished.connect(self._on_presenter_search_finished)
        self.setTabOrder(self.query_edit, self.results)

    def present(self) -> None:
        """Show (or raise) the dialog with the text box focused and selected."""
        if self.isVisible():
            self.raise_()  # behind the main window: bring it back
        else:
            self.show()
        self.activateWindow()
        self.query_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.query_edit.selectAll()

    def open_row(self, row: int) -> None:
        """Open the hit at ``row`` in the main window and close the search."""
        model = self.presenter.search_hits
        if not 0 <= row < model.rowCount():
            return
        hit = model.hit(row)
        self.accept()
        bridge.spawn(self.presenter.open_hit(hit))

    # -- Qt overrides ------------------------------------------------------------------------

    @override
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.query_edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() in (
                Qt.Key.Key_Down,
                Qt.Key.Key_Up,
                Qt.Key.Key_PageDown,
                Qt.Key.Key_PageUp,
            ):
                self._move_selection(event.key())
                return True
        return super().eventFilter(watched, event)

    # -- handlers ----------------------------------------------------------------------------

    def _move_selection(self, key: Qt.Key) -> None:
        model = self.presenter.search_hits
        count = model.rowCount()
        if not count:
            return
        row = self.results.currentIndex().row()
        step = {
            Qt.Key.Key_Down: 1,
            Qt.Key.Key_Up: -1,
            Qt.Key.Key_PageDown: 8,
            Qt.Key.Key_PageUp: -8,
        }[key]
        row = max(0, min(count - 1, (row if row >= 0 else -1) + step))
        self.results.setCurrentIndex(model.index(row, 0))

    def _on_query_edit_text_changed(self, text: str) -> None:
        self._timer.start()

    def _on_timer_timeout(self) -> None:
        bridge.spawn(self.presenter.search(self.query_edit.text()))

    def _on_query_edit_return_pressed(self) -> None:
        if self._timer.isActive():  # Enter before the debounce fired: search, then open
            self._timer.stop()
            bridge.spawn(self._search_and_open(self.query_edit.text()))
            return
        row = self.results.currentIndex().row()
        self.open_row(row if row >= 0 else 0)

    async def _search_and_open(self, text: str) -> None:
        if await self.presenter.search(text):
            self.open_row(0)

    def _on_results_activated(self, index: _Index) -> None:
        self.open_row(index.row())

    def _on_presenter_search_finished(self, query: str, count: int) -> None:
        if not query:
            self.status_label.setText("")
        elif count == 0:
            self.status_label.setText(self.tr("No messages found"))
        elif count >= SEARCH_LIMIT:
            self.status_label.setText(self.tr("The newest %n matches", "", count))
        else:
            self.status_label.setText(self.tr("%n message(s) found", "", count))
        if count:
            self.results.setCurrentIndex(self.presenter.search_hits.index(0, 0))
