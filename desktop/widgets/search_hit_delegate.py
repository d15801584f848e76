"""Paints a search hit: customer · number and date, then the message with the match highlighted."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QTextCharFormat, QTextLayout, QTextOption
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from desktop.compat import override
from desktop.models.search_hit_model import SearchHitModel
from desktop.widgets import painting
from sync.domain.models import Direction
from sync.store.local.search import SearchHit

_Index = QModelIndex | QPersistentModelIndex

ROW_HEIGHT = 58
# Characters kept before the first match when the text has to be cut to show it.
_LEAD = 24


def snippet(text: str, spans: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """One line of ``text`` that shows the first match, with the spans shifted to match it."""
    line = text.replace("\n", " ")
    if not spans or spans[0][0] <= _LEAD:
        return line, spans
    cut = spans[0][0] - _LEAD
    space = line.rfind(" ", 0, cut + 8)
    if space > cut - 12:
        cut = space + 1
    shifted = [(start - cut + 1, length) for start, length in spans if start >= cut]
    return "…" + line[cut:], shifted


class SearchHitDelegate(QStyledItemDelegate):
    """Search results (uniform height)."""

    @override
    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return QSize(300, ROW_HEIGHT)

    @override
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        hit = index.data(SearchHitModel.HitRole)
        if not isinstance(hit, SearchHit):
            return
        rect = QRect(option.rect)
        state = option.state
        font = QFont(option.font)
        painter.save()
        if state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, painting.SELECTION.darker(103))
        elif state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, painting.HOVER)
        left, right = rect.left() + 14, rect.right() - 14
        bold = QFont(font)
        bold.setWeight(QFont.Weight.DemiBold)
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.85)
        bold_metrics, small_metrics, metrics = (
            QFontMetrics(bold),
            QFontMetrics(small),
            QFontMetrics(font),
        )
        line1 = QRect(left, rect.top() + 8, right - left, bold_metrics.height())
        line2 = QRect(left, line1.bottom() + 5, right - left, metrics.height())

        when = str(index.data(SearchHitModel.WhenRole) or "")
        painter.setFont(small)
        painter.setPen(painting.TEXT_MUTED)
        painter.drawText(line1, painting.RIGHT_MIDDLE, when)
        name_room = line1.width() - small_metrics.horizontalAdvance(when) - 12
        customer = hit.customer_name or hit.customer_phone
        account = str(index.data(SearchHitModel.AccountNameRole) or "")
        account_text = f"  · {account}" if account else ""
        account_room = min(small_metrics.horizontalAdvance(account_text) + 4, name_room // 2)
        name = bold_metrics.elidedText(
            customer, Qt.TextElideMode.ElideRight, max(0, name_room - account_room)
        )
        painter.setFont(bold)
        painter.setPen(painting.TEXT)
        painter.drawText(line1, painting.LEFT_MIDDLE, name)
        if account_text:
            x = left + bold_metrics.horizontalAdvance(name)
            painter.setFont(small)
            painter.setPen(painting.TEXT_MUTED)
            painter.drawText(
                QRect(x, line1.top(), account_room, line1.height()),
                painting.LEFT_MIDDLE,
                small_metrics.elidedText(account_text, Qt.TextElideMode.ElideRight, account_room),
            )

        spans = index.data(SearchHitModel.SpansRole) or []
        text, spans = snippet(hit.text, list(spans))
        if hit.direction is Direction.OUT:
            text = self.tr("You: ") + text
            offset = len(self.tr("You: "))
            spans = [(start + offset, length) for start, length in spans]
        layout = QTextLayout(text, font)
        option_ = QTextOption()
        option_.setWrapMode(QTextOption.WrapMode.NoWrap)
        layout.setTextOption(option_)
        formats = []
        for start, length in spans:
            highlight = QTextLayout.FormatRange()
            # Qt counts UTF-16 units: an emoji before the match shifts it by two, not one.
            highlight.start = painting.utf16_len(text[:start])
            highlight.length = painting.utf16_len(text[start : start + length])
            char_format = QTextCharFormat()
            char_format.setBackground(painting.HIGHLIGHT)
            char_format.setFontWeight(QFont.Weight.DemiBold)
            highlight.format = char_format
            formats.append(highlight)
        layout.setFormats(formats)
        layout.beginLayout()
        line = layout.createLine()
        if line.isValid():
            line.setLineWidth(line2.width())
        layout.endLayout()
        painter.setPen(painting.TEXT)
        painter.setClipRect(line2)
        layout.draw(painter, QPointF(line2.left(), line2.top()))
        painter.setClipping(False)
        painter.setPen(painting.DIVIDER)
        painter.drawLine(left, rect.bottom(), rect.right(), rect.bottom())
        painter.restore()
