"""Painted pieces: delivery marks, bubbles' measured sizes, the composer's keys."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from desktop.models.message_list_model import MessageListModel
from desktop.widgets import painting
from desktop.widgets.composer import Composer
from desktop.widgets.message_delegate import MessageDelegate
from desktop.widgets.search_hit_delegate import snippet
from sync.domain.messages import Message
from sync.domain.models import DeliveryStatus, Direction, MessageType

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot


def _mark(status: DeliveryStatus) -> QImage:
    image = QImage(40, 20, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painting.paint_status(painter, QRect(0, 0, 40, 20), status)
    painter.end()
    return image


def _has(image: QImage, test: object) -> bool:
    return any(
        test(image.pixelColor(x, y))  # type: ignore[operator]
        for x in range(image.width())
        for y in range(image.height())
    )


def _blue(c: QColor) -> bool:
    return c.blue() > 180 and c.red() < 120


def _red(c: QColor) -> bool:
    return c.red() > 180 and c.green() < 120


def _grey(c: QColor) -> bool:
    return c != QColor("white") and abs(c.red() - c.blue()) < 30 and c.red() < 200


@pytest.mark.usefixtures("qapp")
@pytest.mark.parametrize(
    ("status", "blue", "red"),
    [
        (DeliveryStatus.QUEUED, False, False),
        (DeliveryStatus.SENDING, False, False),
        (DeliveryStatus.SENT, False, False),
        (DeliveryStatus.DELIVERED, False, False),
        (DeliveryStatus.READ, True, False),
        (DeliveryStatus.PLAYED, True, False),
        (DeliveryStatus.FAILED, False, True),
        (DeliveryStatus.UNKNOWN, False, False),
    ],
)
def test_delivery_marks(status: DeliveryStatus, blue: bool, red: bool) -> None:
    image = _mark(status)
    assert _has(image, _blue) is blue
    assert _has(image, _red) is red
    if not blue and not red:
        assert _has(image, _grey)


@pytest.mark.usefixtures("qapp")
def test_inbound_messages_get_no_mark() -> None:
    assert not _has(_mark(DeliveryStatus.RECEIVED), lambda c: c != QColor("white"))


def _message(seq: int, text: str) -> Message:
    now = int(dt.datetime.now().timestamp() * 1000)
    return Message(
        seq=seq,
        id=f"m{seq}",
        account_id=1,
        conversation_id=1,
        provider_message_id=None,
        direction=Direction.OUT,
        timestamp_ms=now + seq,
        type=MessageType.TEXT,
        text=text,
        sender_name="",
        reply_to=None,
        status=DeliveryStatus.SENT,
        error=None,
    )


@pytest.mark.usefixtures("qapp")
def test_bubble_sizes_are_cached_until_the_width_changes() -> None:
    model = MessageListModel()
    rows = [_message(1, "first"), _message(2, "oi"), _message(3, "palavra " * 80)]
    model.show(1, rows, has_older=False)
    delegate = MessageDelegate()
    option = QStyleOptionViewItem()
    delegate.set_width(800)
    short, long = (delegate.sizeHint(option, model.index(r, 0)) for r in (1, 2))
    assert short.width() == long.width() == 800
    assert long.height() > 3 * short.height()
    assert not delegate.set_width(800)  # same width: nothing to measure again
    assert delegate.set_width(400)
    narrow = delegate.sizeHint(option, model.index(2, 0))
    assert narrow.height() > long.height()


def test_snippet_keeps_the_first_match_in_view() -> None:
    text = "a " * 60 + "encomenda de pães"
    start = text.index("encomenda")
    cut, spans = snippet(text, [(start, 9)])
    assert cut.startswith("…")
    ((s, n),) = spans
    assert cut[s : s + n] == "encomenda"
    assert snippet("curto café", [(6, 4)]) == ("curto café", [(6, 4)])


def test_composer_enter_sends_and_shift_enter_breaks_the_line(qtbot: QtBot) -> None:
    composer = Composer()
    qtbot.addWidget(composer)
    sent: list[str] = []
    composer.submitted.connect(sent.append)
    qtbot.keyClick(composer, Qt.Key.Key_Return)
    qtbot.keyClicks(composer, "  ")
    qtbot.keyClick(composer, Qt.Key.Key_Enter)
    assert sent == []
    composer.clear()
    qtbot.keyClicks(composer, "um")
    qtbot.keyClick(composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(composer, "dois")
    height = composer.height()
    qtbot.keyClick(composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert composer.height() > height  # the box grows with the text
    qtbot.keyClick(composer, Qt.Key.Key_Backspace)
    qtbot.keyClick(composer, Qt.Key.Key_Enter)  # the keypad's Enter sends too
    assert sent == ["um\ndois"]
    assert composer.toPlainText() == ""


def test_item_state_read_from_the_view_agrees_with_option_state(qtbot: QtBot) -> None:
    from PySide6.QtCore import QItemSelectionModel, QStringListModel
    from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate

    seen: list[tuple[int, painting.ItemState, painting.ItemState]] = []

    class Recording(QStyledItemDelegate):
        def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: object) -> None:
            state = option.state
            from_option = painting.ItemState(
                selected=bool(state & QStyle.StateFlag.State_Selected),
                hovered=bool(state & QStyle.StateFlag.State_MouseOver),
                focused=bool(state & QStyle.StateFlag.State_HasFocus),
            )
            seen.append((index.row(), painting.item_state(option, index), from_option))  # type: ignore[attr-defined,arg-type]

    view = QListView()
    qtbot.addWidget(view)
    view.setModel(QStringListModel(["a", "b", "c"]))
    view.setItemDelegate(Recording(view))
    view.selectionModel().setCurrentIndex(
        view.model().index(1, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
    )
    view.show()
    view.activateWindow()
    view.setFocus()
    qtbot.waitUntil(lambda: {row for row, _, _ in seen} == {0, 1, 2})
    seen.clear()
    view.viewport().update()
    qtbot.waitUntil(lambda: {row for row, _, _ in seen} == {0, 1, 2})
    for _row, from_view, from_option in seen:
        assert from_view == from_option
    assert any(s.selected for _, s, _ in seen)
