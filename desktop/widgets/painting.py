"""Small things every delegate paints: delivery ticks, connection dots, unread badges, avatars.

All of it is drawn with QPainter paths, so there are no image files to ship, it is sharp at any
device pixel ratio, and a colour change is one constant here.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QAbstractItemView, QStyleOptionViewItem, QWidget

from sync.domain.models import ConnectionState, DeliveryStatus

# One palette for the whole inbox: light, calm, with green kept for "yours" and "unread".
ACCENT = QColor("#1FA855")
ACCENT_SOFT = QColor("#E7F6EC")
TEXT = QColor("#1B1F23")
TEXT_MUTED = QColor("#6B7280")
DIVIDER = QColor("#E6E8EB")
SELECTION = QColor("#E9EDF1")
HOVER = QColor("#F4F6F8")
RAIL_BACKGROUND = QColor("#F3F4F6")
CHAT_BACKGROUND = QColor("#F2EFEA")
BUBBLE_IN = QColor("#FFFFFF")
BUBBLE_OUT = QColor("#DDF5D3")
BUBBLE_SHADOW = QColor(0, 0, 0, 22)
BUBBLE_SELECTED_TINT = QColor(52, 132, 228, 40)
TICK_GREY = QColor("#8A949E")
TICK_BLUE = QColor("#2E9BF0")
FAILED_RED = QColor("#E0412F")
HIGHLIGHT = QColor("#FFE58A")

_DOT_COLOURS = {
    ConnectionState.CONNECTED: QColor("#22B35E"),
    ConnectionState.CONNECTING: QColor("#F2A516"),
    ConnectionState.WAITING_FOR_QR: QColor("#F2A516"),
    ConnectionState.OFFLINE: QColor("#A0A7B0"),
    ConnectionState.NEEDS_REPAIR: QColor("#E0412F"),
    ConnectionState.BLOCKED: QColor("#E0412F"),
}

# Avatar backgrounds, picked by a stable hash of the conversation or number.
_AVATAR_COLOURS = [
    QColor(c) for c in ("#7C9CBF", "#C28E6A", "#8FB07A", "#B784A7", "#6FA8A0", "#C9A45C", "#8C8FC4")
]

TICK_WIDTH = 18  # room reserved after the time for any status mark

# drawText flags, combined once: or-ing two Python enum flags costs microseconds, per text drawn.
LEFT_MIDDLE = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
RIGHT_MIDDLE = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def set_palette_colour(widget: QWidget, role: QPalette.ColorRole, colour: QColor) -> None:
    """Give ``widget`` one colour of its palette: what a painted view fills its background with
    (``Base``) or a plain widget (``Window``, with ``autoFillBackground``)."""
    palette = widget.palette()
    palette.setColor(role, colour)
    widget.setPalette(palette)


class ItemState(NamedTuple):
    """The flags of ``QStyleOptionViewItem.state`` that the delegates paint."""

    selected: bool
    hovered: bool
    focused: bool  # the current row of a view that has the keyboard focus


def item_state(
    option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
) -> ItemState:
    """Selected, under the mouse, focused: what the view put in ``option.state``.

    While the mouse is not over the view these are read from the view itself, as QListView
    sets them, because the first read of ``option.state`` makes PySide build the Python type of
    ``QStyle`` with its 566 enum members: ~10 ms, more than painting the rows, and the rail and
    the conversation list paint first thing at start-up. (With the mouse over the view,
    ``option.state`` also says which row it is over.) Not ``view.viewport()``: its first call
    wraps a widget Qt made, and PySide loads every widget class to find its type (~100 ms).
    """
    view = option.widget
    if isinstance(view, QAbstractItemView) and not view.underMouse():
        return ItemState(
            selected=view.selectionModel().isSelected(index),
            hovered=False,
            focused=view.hasFocus() and view.currentIndex() == index,
        )
    from PySide6.QtWidgets import QStyle

    state = option.state
    return ItemState(
        selected=bool(state & QStyle.StateFlag.State_Selected),
        hovered=bool(state & QStyle.StateFlag.State_MouseOver),
        focused=bool(state & QStyle.StateFlag.State_HasFocus),
    )


def utf16_len(text: str) -> int:
    """Length of ``text`` as Qt counts it (UTF-16 code units: an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def dot_colour(state: ConnectionState) -> QColor:
    """The colour of a number's connection dot."""
    return _DOT_COLOURS.get(state, _DOT_COLOURS[ConnectionState.OFFLINE])


def avatar_colour(key: int) -> QColor:
    """A soft colour that stays the same for the same conversation or number."""
    return _AVATAR_COLOURS[(key * 2654435761) % len(_AVATAR_COLOURS)]


def initials(name: str) -> str:
    """Up to two letters for an avatar ("Ana Souza" → "AS", "+55 11…" → "#")."""
    words = [w for w in name.split() if w[:1].isalpha()]
    if not words:
        return "#"
    if len(words) == 1:
        return words[0][:1].upper()
    return (words[0][:1] + words[-1][:1]).upper()


def paint_avatar(painter: QPainter, rect: QRect, text: str, colour: QColor, font: QFont) -> None:
    """A filled circle with initials."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawEllipse(QRectF(rect))
    avatar_font = QFont(font)
    avatar_font.setBold(True)
    avatar_font.setPixelSize(max(9, int(rect.height() * 0.38)))
    painter.setFont(avatar_font)
    painter.setPen(QColor("#FFFFFF"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()


def paint_dot(
    painter: QPainter, centre: QPointF, radius: float, state: ConnectionState, ring: QColor
) -> None:
    """The connection dot, with a ring in the background colour so it reads over an avatar."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(ring)
    painter.drawEllipse(centre, radius + 2, radius + 2)
    painter.setBrush(dot_colour(state))
    painter.drawEllipse(centre, radius, radius)
    painter.restore()


def badge_size(count: int, font: QFont) -> tuple[int, int]:
    """Width and height of an unread badge for ``count``."""
    metrics = QFontMetrics(badge_font(font))
    height = metrics.height() + 4
    width = max(height, metrics.horizontalAdvance(badge_text(count)) + 10)
    return width, height


def badge_font(font: QFont) -> QFont:
    """The small bold font of badges."""
    small = QFont(font)
    small.setBold(True)
    small.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
    return small


def badge_text(count: int) -> str:
    """What a badge shows: the count, capped so the pill stays small."""
    return "999+" if count > 999 else str(count)


def paint_badge(
    painter: QPainter, right: int, centre_y: int, count: int, font: QFont, colour: QColor = ACCENT
) -> int:
    """An unread pill right-aligned at ``right``; returns its left edge."""
    width, height = badge_size(count, font)
    rect = QRectF(right - width, centre_y - height / 2, width, height)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawRoundedRect(rect, height / 2, height / 2)
    painter.setFont(badge_font(font))
    painter.setPen(QColor("#FFFFFF"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, badge_text(count))
    painter.restore()
    return int(rect.left())


def _check(path: QPainterPath, x: float, y: float, size: float) -> None:
    path.moveTo(x, y + size * 0.52)
    path.lineTo(x + size * 0.32, y + size * 0.82)
    path.lineTo(x + size * 0.92, y + size * 0.18)


def paint_status(painter: QPainter, rect: QRect, status: DeliveryStatus | None) -> None:
    """The delivery mark of an outgoing message, centred vertically in ``rect``.

    queued/sending: a clock; sent: one grey tick; delivered: two grey ticks; read/played: two
    blue ticks; failed: a red "!"; unknown: a grey "?". Inbound messages get nothing.
    """
    if status is None or status is DeliveryStatus.RECEIVED:
        return
    size = min(12.0, float(rect.height()))
    x = rect.left() + (rect.width() - TICK_WIDTH) / 2 + 2
    y = rect.top() + (rect.height() - size) / 2
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if status in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING):
        pen = QPen(TICK_GREY, 1.2)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        centre = QPointF(x + size / 2, y + size / 2)
        radius = size / 2 - 0.5
        painter.drawEllipse(centre, radius, radius)
        painter.drawLine(centre, QPointF(centre.x(), centre.y() - radius * 0.6))
        painter.drawLine(centre, QPointF(centre.x() + radius * 0.5, centre.y()))
    elif status in (DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN):
        colour = FAILED_RED if status is DeliveryStatus.FAILED else TICK_GREY
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(QRectF(x, y, size, size))
        mark = QFont(painter.font())
        mark.setBold(True)
        mark.setPixelSize(int(size * 0.8))
        painter.setFont(mark)
        painter.setPen(QColor("#FFFFFF"))
        painter.drawText(
            QRectF(x, y, size, size),
            Qt.AlignmentFlag.AlignCenter,
            "!" if status is DeliveryStatus.FAILED else "?",
        )
    else:
        colour = TICK_BLUE if status in (DeliveryStatus.READ, DeliveryStatus.PLAYED) else TICK_GREY
        pen = QPen(colour, 1.5)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        path = QPainterPath()
        if status is DeliveryStatus.SENT:
            _check(path, x + 2, y, size)
        else:
            _check(path, x - 1, y, size)
            # The second tick's short stroke hides behind the first, as on a phone.
            path.moveTo(x + size * 0.42, y + size * 0.72)
            path.lineTo(x + size * 0.5 + 0.5, y + size * 0.82)
            path.lineTo(x + size * 1.2, y + size * 0.18)
        painter.drawPath(path)
    painter.restore()
