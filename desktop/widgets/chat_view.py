"""The chat's list view: asks for older messages at the top and keeps the reader's place.

When a page of older messages is inserted above, the view keeps the same distance from the
bottom, so what the user was reading does not jump. When a message arrives and the user was at
the bottom, the view follows it; when they were reading further up, it stays put.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QPalette, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from desktop.compat import override
from desktop.models.message_list_model import MessageListModel
from desktop.widgets import painting
from desktop.widgets.message_delegate import MessageDelegate

_Index = QModelIndex | QPersistentModelIndex

# How close to the top (in pixels) counts as "scrolled to the top".
TOP_THRESHOLD = 48


class ChatView(QListView):
    """A ``QListView`` of bubbles over a ``MessageListModel``."""

    top_reached = Signal()
    bottom_reached = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._top_margin = 0
        self.setObjectName("chatView")
        self.message_delegate = MessageDelegate(self)
        self.setItemDelegate(self.message_delegate)
        self.setUniformItemSizes(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setMouseTracking(False)
        self.verticalScrollBar().setSingleStep(24)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Base, painting.CHAT_BACKGROUND)
        palette.setColor(QPalette.ColorRole.Window, painting.CHAT_BACKGROUND)
        self.setPalette(palette)
        self.setAutoFillBackground(True)  # the margin above a short chat
        self.viewport().setAutoFillBackground(True)
        self._keep_from_bottom: int | None = None
        self._follow = False
        self._settling = False
        self.verticalScrollBar().valueChanged.connect(self._on_scroll_bar_value_changed)

    @override
    def setModel(self, model: object) -> None:  # type: ignore[override]
        super().setModel(model)  # type: ignore[arg-type]
        if isinstance(model, MessageListModel):
            model.modelAboutToBeReset.connect(self._on_model_about_to_be_reset)
            model.modelReset.connect(self._on_model_reset)
            model.rowsAboutToBeInserted.connect(self._on_model_rows_about_to_be_inserted)
            model.rowsInserted.connect(self._on_model_rows_inserted)
            model.dataChanged.connect(self._on_model_data_changed)

    def _model(self) -> MessageListModel | None:
        model = self.model()
        return model if isinstance(model, MessageListModel) else None

    def at_bottom(self) -> bool:
        """True when the newest loaded message is in view."""
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def reveal(self, row: int) -> None:
        """Select the message at ``row`` and scroll it to the middle of the view."""
        model = self._model()
        if model is None or not 0 <= row < model.rowCount():
            return
        index = model.index(row, 0)
        self.doItemsLayout()
        self.setCurrentIndex(index)
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def check_edges(self) -> None:
        """Ask for more when the top (or a not yet loaded bottom) is already in view."""
        if self._settling:
            return
        model = self._model()
        if model is None or model.rowCount() == 0:
            return
        bar = self.verticalScrollBar()
        if model.has_older and bar.value() <= bar.minimum() + TOP_THRESHOLD:
            self.top_reached.emit()
        elif model.has_newer and bar.value() >= bar.maximum() - TOP_THRESHOLD:
            self.bottom_reached.emit()

    # -- Qt overrides ------------------------------------------------------------------------

    @override
    def updateGeometries(self) -> None:
        super().updateGeometries()
        # A short chat sits at the bottom, next to the composer, as on a phone: the empty room
        # goes above the viewport, so rows and scrolling work as in any list.
        available = self.height() - 2 * self.frameWidth()
        model = self._model()
        content = self.contentsSize().height() if model is not None and model.rowCount() else 0
        top = max(0, available - content) if content else 0
        if top != self._top_margin:
            self._top_margin = top
            self.setViewportMargins(0, top, 0, 0)

    @override
    def resizeEvent(self, e: QResizeEvent) -> None:
        was_at_bottom = self.at_bottom()
        if self.message_delegate.set_width(self.viewport().width()):
            self.scheduleDelayedItemsLayout()
        super().resizeEvent(e)
        if was_at_bottom:
            self.doItemsLayout()
            self.scrollToBottom()

    # -- model and scroll bar ----------------------------------------------------------------

    def _on_scroll_bar_value_changed(self, value: int) -> None:
        self.check_edges()

    def _on_model_about_to_be_reset(self) -> None:
        self._settling = True

    def _on_model_reset(self) -> None:
        self.message_delegate.set_width(self.viewport().width())
        self.message_delegate.set_font(self.font())
        self.doItemsLayout()
        self.scrollToBottom()
        self._settling = False

    def _on_model_rows_about_to_be_inserted(self, parent: _Index, first: int, last: int) -> None:
        bar = self.verticalScrollBar()
        model = self._model()
        if first == 0 and model is not None and model.rowCount() > 0:
            self._keep_from_bottom = bar.maximum() - bar.value()
        else:
            self._follow = self.at_bottom()

    def _on_model_rows_inserted(self, parent: _Index, first: int, last: int) -> None:
        keep, follow = self._keep_from_bottom, self._follow
        self._keep_from_bottom, self._follow = None, False
        if keep is None and not follow:
            return
        # Lay out now (instead of on Qt's next idle pass) so the scroll range is already right.
        self._settling = True
        try:
            self.doItemsLayout()
            bar = self.verticalScrollBar()
            if keep is not None:
                bar.setValue(bar.maximum() - keep)
            else:
                self.scrollToBottom()
        finally:
            self._settling = False

    def _on_model_data_changed(
        self, top_left: _Index, bottom_right: _Index, roles: Sequence[int] = ()
    ) -> None:
        size_roles = {int(Qt.ItemDataRole.DisplayRole), int(MessageListModel.DaySeparatorRole)}
        if not roles or size_roles.intersection(int(r) for r in roles):
            self.scheduleDelayedItemsLayout()
