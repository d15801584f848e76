"""Paints a rail row: avatar with connection dot, the number's name and phone, unread badge."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from desktop.compat import override
from desktop.models.account_list_model import AccountListModel, RailEntry, account_label
from desktop.widgets import painting

_Index = QModelIndex | QPersistentModelIndex

ROW_HEIGHT = 56
AVATAR = 36


class AccountDelegate(QStyledItemDelegate):
    """Rail rows (uniform height)."""

    @override
    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return QSize(200, ROW_HEIGHT)

    @override
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        entry = index.data(AccountListModel.EntryRole)
        if not isinstance(entry, RailEntry):
            return
        rect: QRect = option.rect
        state = painting.item_state(option, index)
        font = QFont(option.font)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = QRectF(rect.adjusted(6, 2, -6, -2))
        if state.selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(painting.SELECTION.darker(104))
            painter.drawRoundedRect(card, 8, 8)
        elif state.hovered:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(painting.SELECTION)
            painter.drawRoundedRect(card, 8, 8)

        avatar = QRect(rect.left() + 14, rect.center().y() - AVATAR // 2 + 1, AVATAR, AVATAR)
        if entry.account is None:
            _paint_all_numbers_icon(painter, avatar)
        else:
            painting.paint_avatar(
                painter,
                avatar,
                painting.initials(account_label(entry.account)),
                painting.avatar_colour(entry.account.id * 7 + 3),
                font,
            )
            centre = QPointF(avatar.right() - 3, avatar.bottom() - 3)
            painting.paint_dot(painter, centre, 4.5, entry.account.state, painting.RAIL_BACKGROUND)

        right = rect.right() - 14
        if entry.unread:
            right = painting.paint_badge(painter, right, rect.center().y(), entry.unread, font) - 8

        left = avatar.right() + 12
        name_font = QFont(font)
        name_font.setWeight(QFont.Weight.DemiBold if entry.unread else QFont.Weight.Medium)
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.85)
        name_metrics = QFontMetrics(name_font)
        small_metrics = QFontMetrics(small)
        width = max(0, right - left)
        subtitle = "" if entry.account is None else entry.account.phone
        top = (
            rect.center().y()
            - (name_metrics.height() + (small_metrics.height() if subtitle else 0)) // 2
        )
        painter.setFont(name_font)
        painter.setPen(painting.TEXT)
        name = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        painter.drawText(
            QRect(left, top, width, name_metrics.height()),
            painting.LEFT_MIDDLE,
            name_metrics.elidedText(name, Qt.TextElideMode.ElideRight, width),
        )
        if subtitle:
            painter.setFont(small)
            painter.setPen(painting.TEXT_MUTED)
            painter.drawText(
                QRect(left, top + name_metrics.height(), width, small_metrics.height()),
                painting.LEFT_MIDDLE,
                small_metrics.elidedText(subtitle, Qt.TextElideMode.ElideRight, width),
            )
        if state.focused and state.selected:
            ring = QColor(painting.ACCENT)
            ring.setAlpha(140)
            painter.setPen(ring)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(card.adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        painter.restore()


def _paint_all_numbers_icon(painter: QPainter, rect: QRect) -> None:
    """A soft green circle with a 2×2 grid: "every number"."""
    painter.save()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(painting.ACCENT_SOFT)
    painter.drawEllipse(QRectF(rect))
    painter.setBrush(painting.ACCENT)
    cell = rect.width() * 0.16
    gap = rect.width() * 0.08
    x0 = rect.center().x() - cell - gap / 2 + 0.5
    y0 = rect.center().y() - cell - gap / 2 + 0.5
    for dx in (0, 1):
        for dy in (0, 1):
            painter.drawRoundedRect(
                QRectF(x0 + dx * (cell + gap), y0 + dy * (cell + gap), cell, cell), 2, 2
            )
    painter.restore()
