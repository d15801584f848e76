"""Paints a conversation row: avatar, customer, time, last message with its tick, unread badge.

Every row has the same height (the view runs with ``uniformItemSizes``), so scrolling a million
rows only ever paints the dozen that are visible.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from desktop.compat import override
from desktop.models.conversation_list_model import ConversationListModel
from desktop.models.formatting import list_time, preview_text
from desktop.widgets import painting
from sync.domain.models import Conversation, Direction

_Index = QModelIndex | QPersistentModelIndex

ROW_HEIGHT = 68
AVATAR = 44
_LEFT = 12


class ConversationDelegate(QStyledItemDelegate):
    """Conversation rows, painted (no widget per row)."""

    @override
    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return QSize(240, ROW_HEIGHT)

    @override
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        conversation = index.data(ConversationListModel.ConversationRole)
        if not isinstance(conversation, Conversation):
            return
        rect = QRect(option.rect)
        state = painting.item_state(option, index)
        font = QFont(option.font)
        painter.save()
        if state.selected:
            painter.fillRect(rect, painting.SELECTION)
        elif state.hovered:
            painter.fillRect(rect, painting.HOVER)

        name = conversation.customer_name or conversation.customer_phone
        avatar = QRect(rect.left() + _LEFT, rect.center().y() - AVATAR // 2 + 1, AVATAR, AVATAR)
        painting.paint_avatar(
            painter, avatar, painting.initials(name), painting.avatar_colour(conversation.id), font
        )

        left = avatar.right() + 12
        right = rect.right() - 14
        unread = conversation.unread_count > 0
        name_font = QFont(font)
        name_font.setWeight(QFont.Weight.DemiBold if unread else QFont.Weight.Medium)
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.82)
        name_metrics = QFontMetrics(name_font)
        metrics = QFontMetrics(font)
        small_metrics = QFontMetrics(small)
        line1 = QRect(left, rect.top() + 13, right - left, name_metrics.height())
        line2 = QRect(left, line1.bottom() + 4, right - left, metrics.height())

        when = list_time(conversation.last_message_at)
        painter.setFont(small)
        painter.setPen(painting.ACCENT if unread else painting.TEXT_MUTED)
        time_width = small_metrics.horizontalAdvance(when)
        painter.drawText(line1, painting.RIGHT_MIDDLE, when)
        name_right = line1.right() - time_width - 10

        account_name = index.data(ConversationListModel.AccountNameRole)
        tag_width = 0
        if account_name:
            tag = small_metrics.elidedText(str(account_name), Qt.TextElideMode.ElideRight, 110)
            tag_width = small_metrics.horizontalAdvance(tag) + 10
        name_width = max(0, name_right - left - tag_width)
        shown = name_metrics.elidedText(name, Qt.TextElideMode.ElideRight, name_width)
        painter.setFont(name_font)
        painter.setPen(painting.TEXT)
        painter.drawText(
            QRect(left, line1.top(), name_width, line1.height()),
            painting.LEFT_MIDDLE,
            shown,
        )
        if account_name:
            x = left + name_metrics.horizontalAdvance(shown) + 8
            painter.setFont(small)
            painter.setPen(painting.TEXT_MUTED)
            painter.drawText(
                QRect(x, line1.top(), tag_width, line1.height()),
                painting.LEFT_MIDDLE,
                "· " + tag,
            )

        preview_right = line2.right()
        if unread:
            preview_right = (
                painting.paint_badge(
                    painter, line2.right(), line2.center().y() + 1, conversation.unread_count, font
                )
                - 8
            )
        x = line2.left()
        if conversation.last_direction is Direction.OUT and conversation.last_status is not None:
            painting.paint_status(
                painter,
                QRect(x - 3, line2.top(), painting.TICK_WIDTH, line2.height()),
                conversation.last_status,
            )
            x += painting.TICK_WIDTH
        painter.setFont(font)
        painter.setPen(painting.TEXT if unread else painting.TEXT_MUTED)
        preview = preview_text(conversation.last_preview)
        painter.drawText(
            QRect(x, line2.top(), max(0, preview_right - x), line2.height()),
            painting.LEFT_MIDDLE,
            metrics.elidedText(preview, Qt.TextElideMode.ElideRight, max(0, preview_right - x)),
        )

        if not state.selected:
            painter.setPen(painting.DIVIDER)
            painter.drawLine(left, rect.bottom(), rect.right(), rect.bottom())
        if state.focused and state.selected:
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), painting.ACCENT)
        painter.restore()
