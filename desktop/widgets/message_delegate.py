"""Paints chat bubbles: inbound left and white, outbound right and green, with day separators,
the time and the delivery mark tucked in the bubble's corner.

Bubble heights depend on the text and the view's width, and laying text out is the costly part
of painting a chat, so each row's layout is cached and thrown away only when the width changes
(or the text does). A status change repaints one bubble without measuring anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QTextCharFormat,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from desktop.compat import override
from desktop.models.message_list_model import MessageListModel
from desktop.widgets import painting
from sync.domain.messages import Message
from sync.domain.models import Direction, MessageType

_Index = QModelIndex | QPersistentModelIndex

SIDE_MARGIN = 18
PAD_X = 10
PAD_Y = 6
META_GAP = 10
SEPARATOR_HEIGHT = 36
GROUP_GAP = 8  # above a bubble that starts a new run of one side's messages
RUN_GAP = 2  # between bubbles of the same run
MAX_BUBBLE = 560
_CACHE_LIMIT = 2000


@dataclass(slots=True)
class _Bubble:
    """A measured bubble: its text laid out, and the sizes that follow."""

    layout: QTextLayout
    text_width: float
    text_height: float
    width: int  # bubble, padding included
    height: int
    meta_inline: bool  # time and tick fit beside the last line


class MessageDelegate(QStyledItemDelegate):
    """Chat rows. Call ``set_width`` with the viewport width when it changes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._width = 600
        self._cache: dict[tuple[str, str, bool], _Bubble] = {}
        self._font = QFont()
        self._small = QFont()

    def set_width(self, width: int) -> bool:
        """The viewport width rows are laid out for; True when it changed (sizes are stale)."""
        if width == self._width:
            return False
        self._width = width
        self._cache.clear()
        return True

    def set_font(self, font: QFont) -> None:
        """The font of bubble text (the view's)."""
        if font == self._font:
            return
        self._font = QFont(font)
        self._small = QFont(font)
        self._small.setPointSizeF(font.pointSizeF() * 0.78)
        self._cache.clear()

    def _max_text_width(self) -> int:
        bubble = min(MAX_BUBBLE, int((self._width - 2 * SIDE_MARGIN) * 0.78))
        return max(80, bubble - 2 * PAD_X)

    def _meta_width(self, message: Message, time_text: str) -> int:
        width = QFontMetrics(self._small).horizontalAdvance(time_text)
        if message.direction is Direction.OUT:
            width += painting.TICK_WIDTH
        return width

    def _bubble(self, message: Message, body: str, time_text: str) -> _Bubble:
        outgoing = message.direction is Direction.OUT
        key = (message.id, body, outgoing)
        bubble = self._cache.get(key)
        if bubble is not None:
            return bubble
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        max_text = self._max_text_width()
        layout = QTextLayout(body.replace("\n", "\u2028"), self._font)
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        layout.setTextOption(option)
        if message.type is not MessageType.TEXT:
            head = QTextLayout.FormatRange()
            head.start = 0
            head.length = painting.utf16_len(body.split("\n", 1)[0])
            char_format = QTextCharFormat()
            char_format.setForeground(painting.TEXT_MUTED)
            head.format = char_format
            layout.setFormats([head])
        layout.beginLayout()
        y = 0.0
        widest = 0.0
        last = 0.0
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(max_text)
            line.setPosition(QPointF(0, y))
            y += line.height()
            last = line.naturalTextWidth()
            widest = max(widest, last)
        layout.endLayout()
        meta = self._meta_width(message, time_text)
        small_height = QFontMetrics(self._small).height()
        if last + META_GAP + meta <= max_text:
            inline = True
            content_w = max(widest, last + META_GAP + meta)
            content_h = y
        else:
            inline = False
            content_w = max(widest, meta)
            content_h = y + small_height
        bubble = _Bubble(
            layout,
            widest,
            y,
            int(content_w) + 2 * PAD_X + 1,
            int(content_h) + 2 * PAD_Y + 1,
            inline,
        )
        self._cache[key] = bubble
        return bubble

    @staticmethod
    def _starts_run(index: _Index) -> bool:
        if index.row() == 0 or index.data(MessageListModel.DaySeparatorRole):
            return True
        previous = index.siblingAtRow(index.row() - 1)
        return bool(previous.data(MessageListModel.OutgoingRole)) != bool(
            index.data(MessageListModel.OutgoingRole)
        )

    @override
    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        message = index.data(MessageListModel.MessageRole)
        if not isinstance(message, Message):
            return QSize(self._width, 0)
        bubble = self._bubble(
            message,
            str(index.data(Qt.ItemDataRole.DisplayRole)),
            str(index.data(MessageListModel.TimeRole)),
        )
        height = bubble.height + (GROUP_GAP if self._starts_run(index) else RUN_GAP)
        if index.data(MessageListModel.DaySeparatorRole):
            height += SEPARATOR_HEIGHT
        return QSize(self._width, height)

    @override
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        message = index.data(MessageListModel.MessageRole)
        if not isinstance(message, Message):
            return
        rect = QRect(option.rect)
        time_text = str(index.data(MessageListModel.TimeRole))
        bubble = self._bubble(message, str(index.data(Qt.ItemDataRole.DisplayRole)), time_text)
        outgoing = message.direction is Direction.OUT
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)

        top = rect.top()
        separator = index.data(MessageListModel.DaySeparatorRole)
        if separator:
            self._paint_separator(
                painter, QRect(rect.left(), top, rect.width(), SEPARATOR_HEIGHT), str(separator)
            )
            top += SEPARATOR_HEIGHT
        top += GROUP_GAP if self._starts_run(index) else RUN_GAP

        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(
                QRect(rect.left(), top - 2, rect.width(), bubble.height + 4),
                painting.BUBBLE_SELECTED_TINT,
            )

        left = rect.right() - SIDE_MARGIN - bubble.width if outgoing else rect.left() + SIDE_MARGIN
        box = QRectF(left, top, bubble.width, bubble.height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(painting.BUBBLE_SHADOW)
        painter.drawRoundedRect(box.translated(0, 1), 9, 9)
        painter.setBrush(painting.BUBBLE_OUT if outgoing else painting.BUBBLE_IN)
        painter.drawRoundedRect(box, 9, 9)

        painter.setPen(painting.TEXT)
        bubble.layout.draw(painter, QPointF(left + PAD_X, top + PAD_Y))

        small_metrics = QFontMetrics(self._small)
        meta_bottom = box.bottom() - PAD_Y + 1
        meta_right = box.right() - PAD_X
        meta = QRect(
            int(meta_right - self._meta_width(message, time_text)),
            int(meta_bottom - small_metrics.height()),
            self._meta_width(message, time_text),
            small_metrics.height(),
        )
        painter.setFont(self._small)
        painter.setPen(painting.TEXT_MUTED)
        painter.drawText(meta, painting.LEFT_MIDDLE, time_text)
        if outgoing:
            tick = QRect(
                meta.right() - painting.TICK_WIDTH + 3,
                meta.top(),
                painting.TICK_WIDTH,
                meta.height(),
            )
            painting.paint_status(painter, tick, message.status)
        painter.restore()

    def _paint_separator(self, painter: QPainter, rect: QRect, label: str) -> None:
        font = QFont(self._small)
        font.setWeight(QFont.Weight.DemiBold)
        metrics = QFontMetrics(font)
        width = metrics.horizontalAdvance(label) + 24
        height = metrics.height() + 8
        pill = QRectF(
            rect.center().x() - width / 2, rect.center().y() - height / 2 + 2, width, height
        )
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255, 215))
        painter.drawRoundedRect(pill, height / 2, height / 2)
        painter.setFont(font)
        painter.setPen(painting.TEXT_MUTED)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, label)
