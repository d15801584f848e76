"""The inbox window on a real demo workspace: numbers, conversations, chat, sending, search."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt

from desktop import bridge
from desktop.models.message_list_model import MessageListModel
from desktop.models.search_hit_model import fold
from desktop.solo_backend import SoloBackend
from desktop.views.inbox_presenter import InboxPresenter
from desktop.views.main_window import MainWindow
from sync.domain.models import ConnectionState, DeliveryStatus, Direction
from sync.engine.demo_workspace import DemoShape
from sync.providers.demo import DemoTiming
from sync.store.local.cache_key import CacheKey
from sync.store.local.local_cache import LocalCache

if TYPE_CHECKING:
    from pytestqt.modeltest import ModelTester
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun

SHAPE = DemoShape(numbers=3, conversations=20, max_messages=30)
# Customers who stay quiet, and receipts slow enough that each status is seen on its own.
QUIET = DemoTiming(
    first_inbound=(600.0, 600.0),
    inbound_every=(600.0, 600.0),
    send_latency=(0.15, 0.15),
    delivered_after=(0.2, 0.2),
    read_after=(0.2, 0.2),
    reply_after=(600.0, 600.0),
)


@dataclass
class Inbox:
    backend: SoloBackend
    presenter: InboxPresenter
    window: MainWindow


OpenInbox = Callable[..., Inbox]


@pytest.fixture
def open_inbox(tmp_path: Path, arun: ARun, qtbot: QtBot) -> Iterator[OpenInbox]:
    """Opens the demo workspace and shows the inbox; closes everything at the end."""
    opened: list[Inbox] = []

    def open_(timing: DemoTiming | None = None, page: int = 50) -> Inbox:
        backend = arun(
            SoloBackend.open(
                tmp_path / "c.db",
                CacheKey.generate(),
                demo=True,
                timing=timing or DemoTiming().scaled(0.01),
                shape=SHAPE,
            ),
            timeout=60,
        )
        presenter = InboxPresenter(backend, message_page_size=page)
        window = MainWindow(presenter)
        inbox = Inbox(backend, presenter, window)
        opened.append(inbox)
        arun(presenter.load())
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        arun(backend.start())
        return inbox

    yield open_
    for inbox in opened:
        try:
            inbox.window.close()
            arun(bridge.drain())
        finally:
            arun(inbox.backend.aclose(), timeout=30)


def open_row(inbox: Inbox, qtbot: QtBot, row: int) -> int:
    """Click a conversation row; returns its id once its chat is shown."""
    view = inbox.window.conversation_pane.conversation_view
    index = inbox.presenter.conversations.index(row, 0)
    view.scrollTo(index)
    conversation_id = index.data(inbox.presenter.conversations.ConversationIdRole)
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center()
    )
    qtbot.waitUntil(
        lambda: (
            inbox.presenter.current_conversation is not None
            and inbox.presenter.current_conversation.id == conversation_id
            and inbox.presenter.messages.rowCount() > 0
        )
    )
    return conversation_id


def test_the_demo_workspace_opens_and_follows_the_live_demo(
    open_inbox: OpenInbox, qtbot: QtBot, qtmodeltester: ModelTester
) -> None:
    inbox = open_inbox()  # customers write every few hundred milliseconds
    accounts = inbox.presenter.accounts
    conversations = inbox.presenter.conversations
    assert accounts.rowCount() == 1 + SHAPE.numbers
    assert accounts.index(0, 0).data(Qt.ItemDataRole.DisplayRole) == "All numbers"
    assert conversations.rowCount() >= SHAPE.numbers * SHAPE.conversations
    assert inbox.window.windowTitle() == "Caixa"
    qtbot.waitUntil(lambda: all(a.state is ConnectionState.CONNECTED for a in accounts.accounts))
    qtmodeltester.check(accounts)
    qtmodeltester.check(conversations)  # stays attached: checks every update that follows

    resets: list[bool] = []
    conversations.modelReset.connect(lambda: resets.append(True))
    newest = conversations.conversation(0).last_message_at
    total = accounts.index(0, 0).data(accounts.UnreadRole)
    qtbot.waitUntil(lambda: conversations.conversation(0).last_message_at > newest)
    qtbot.waitUntil(lambda: accounts.index(0, 0).data(accounts.UnreadRole) > total)
    assert resets == []  # a new message moves a row; it never reloads the list

    stamps = [
        (conversations.conversation(r).last_message_at, conversations.conversation(r).id)
        for r in range(conversations.rowCount())
    ]
    assert stamps == sorted(stamps, reverse=True)


def test_switching_numbers_filters_the_list(open_inbox: OpenInbox, qtbot: QtBot) -> None:
    inbox = open_inbox(QUIET)
    window, presenter = inbox.window, inbox.presenter
    second = presenter.accounts.accounts[1]
    window.rail_pane.rail_view.setFocus()
    qtbot.keyClick(window.rail_pane.rail_view, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: presenter.conversations.account_id == second.id)
    rows = presenter.conversations.rowCount()
    assert rows == SHAPE.conversations
    assert {presenter.conversations.conversation(r).account_id for r in range(rows)} == {second.id}
    assert window.conversation_pane.list_title.text() == second.display_name
    assert window.rail_pane.rail_view.currentIndex().row() == 2

    qtbot.keyClick(window.rail_pane.rail_view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: presenter.conversations.account_id is None)
    assert presenter.conversations.rowCount() == SHAPE.numbers * SHAPE.conversations

    # The rail is a list: arrow keys move through the numbers too.
    window.rail_pane.rail_view.setFocus()
    qtbot.keyClick(window.rail_pane.rail_view, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: presenter.conversations.account_id == presenter.accounts.accounts[0].id)


def test_opening_a_conversation_shows_it_and_marks_it_read(
    open_inbox: OpenInbox, qtbot: QtBot, qtmodeltester: ModelTester
) -> None:
    inbox = open_inbox(QUIET)
    presenter = inbox.presenter
    conversations = presenter.conversations
    row = next(
        r for r in range(conversations.rowCount()) if conversations.conversation(r).unread_count > 0
    )
    unread = conversations.conversation(row).unread_count
    account_id = conversations.conversation(row).account_id
    rail_row = presenter.accounts.row_of(account_id)
    badge_before = presenter.accounts.index(rail_row, 0).data(presenter.accounts.UnreadRole)

    conversation_id = open_row(inbox, qtbot, row)

    qtbot.waitUntil(lambda: conversations.find(conversation_id).unread_count == 0)
    qtbot.waitUntil(
        lambda: (
            presenter.accounts.index(rail_row, 0).data(presenter.accounts.UnreadRole)
            == badge_before - unread
        )
    )
    messages = presenter.messages
    assert all(
        messages.message(r).conversation_id == conversation_id for r in range(messages.rowCount())
    )
    assert inbox.window.chat_pane.header.chat_title.text() == (
        conversations.find(conversation_id).customer_name
        or conversations.find(conversation_id).customer_phone
    )
    qtmodeltester.check(messages)


def test_enter_sends_and_the_status_advances_to_read(
    open_inbox: OpenInbox, qtbot: QtBot, arun: ARun
) -> None:
    inbox = open_inbox(QUIET)
    presenter, window = inbox.presenter, inbox.window
    open_row(inbox, qtbot, 3)
    messages = presenter.messages
    statuses: list[DeliveryStatus] = []

    def on_changed(*_: object) -> None:
        last = messages.message(messages.rowCount() - 1)
        ours = last.direction is Direction.OUT and last.text == "Oi! Seu pedido saiu para entrega."
        if ours and (not statuses or statuses[-1] is not last.status):
            statuses.append(last.status)

    messages.dataChanged.connect(on_changed)
    messages.rowsInserted.connect(on_changed)

    window.chat_pane.composer.setFocus()
    qtbot.keyClicks(window.chat_pane.composer, "Oi! Seu pedido saiu para entrega.")
    assert window.chat_pane.send_button.isEnabled()
    qtbot.keyClick(window.chat_pane.composer, Qt.Key.Key_Return)
    assert window.chat_pane.composer.toPlainText() == ""
    qtbot.waitUntil(lambda: bool(statuses) and statuses[-1] is DeliveryStatus.READ, timeout=10_000)

    assert statuses[0] is DeliveryStatus.QUEUED
    assert [s.rank for s in statuses] == sorted(s.rank for s in statuses)
    assert {DeliveryStatus.SENT, DeliveryStatus.DELIVERED} <= set(statuses)
    # The conversation moved to the top of the list with the new preview and its tick.
    conversation = presenter.conversations.conversation(0)
    qtbot.waitUntil(
        lambda: presenter.conversations.conversation(0).last_status is DeliveryStatus.READ
    )
    conversation = presenter.conversations.conversation(0)
    assert conversation.id == presenter.current_conversation.id
    assert conversation.last_preview == "Oi! Seu pedido saiu para entrega."


def test_shift_enter_inserts_a_newline_and_blank_text_is_not_sent(
    open_inbox: OpenInbox, qtbot: QtBot, arun: ARun
) -> None:
    inbox = open_inbox(QUIET)
    presenter, window = inbox.presenter, inbox.window
    open_row(inbox, qtbot, 0)
    rows = presenter.messages.rowCount()

    # Every send starts with the composer's ``submitted``; the key presses are handled before
    # keyClick returns, so a signal not emitted by then is a send that did not start.
    window.chat_pane.composer.setFocus()
    with qtbot.assertNotEmitted(window.chat_pane.composer.submitted):
        qtbot.keyClick(window.chat_pane.composer, Qt.Key.Key_Return)  # empty: nothing happens
        qtbot.keyClicks(window.chat_pane.composer, "   ")
        assert not window.chat_pane.send_button.isEnabled()
        qtbot.keyClick(window.chat_pane.composer, Qt.Key.Key_Return)
    assert arun(presenter.send_text("  \n ")) is None
    assert presenter.messages.rowCount() == rows

    window.chat_pane.composer.clear()
    with qtbot.assertNotEmitted(window.chat_pane.composer.submitted):
        qtbot.keyClicks(window.chat_pane.composer, "linha 1")
        qtbot.keyClick(
            window.chat_pane.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier
        )
        qtbot.keyClicks(window.chat_pane.composer, "linha 2")
    assert window.chat_pane.composer.toPlainText() == "linha 1\nlinha 2"
    assert presenter.messages.rowCount() == rows

    with qtbot.waitSignal(presenter.message_queued, timeout=5000) as queued:
        qtbot.mouseClick(window.chat_pane.send_button, Qt.MouseButton.LeftButton)
    assert queued.args is not None and queued.args[0].text == "linha 1\nlinha 2"
    # Sends are queued in order, so one begun by a key press above would be in the chat by now.
    assert presenter.messages.rowCount() == rows + 1
    assert presenter.messages.message(rows).text == "linha 1\nlinha 2"


@pytest.mark.parametrize(
    ("typed", "expected"), [("acucar", "acucar"), ("cafe", "cafe"), ("encomend", "encomend")]
)
def test_search_ignores_accents_and_follows_the_typing(
    open_inbox: OpenInbox, arun: ARun, qtmodeltester: ModelTester, typed: str, expected: str
) -> None:
    inbox = open_inbox()
    hits = arun(inbox.presenter.search(typed))
    assert hits
    for hit in hits:
        assert any(word.startswith(expected) for word in fold(hit.text).split()), hit.text
    assert {hit.account_id for hit in hits} <= {a.id for a in inbox.presenter.accounts.accounts}
    model = inbox.presenter.search_hits
    assert model.rowCount() == len(hits)
    assert model.index(0, 0).data(model.SpansRole)
    qtmodeltester.check(model)


def test_search_dialog_opens_the_hit_with_the_message_selected(
    open_inbox: OpenInbox, qtbot: QtBot
) -> None:
    inbox = open_inbox(QUIET)
    presenter, window = inbox.presenter, inbox.window
    window.conversation_pane.conversation_view.setFocus()
    qtbot.keyClick(
        window.conversation_pane.conversation_view,
        Qt.Key.Key_F,
        Qt.KeyboardModifier.ControlModifier,
    )
    dialog = window.search_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.query_edit, "cafe")
    qtbot.waitUntil(lambda: presenter.search_hits.rowCount() > 0)
    assert dialog.status_label.text()
    qtbot.keyClick(dialog.query_edit, Qt.Key.Key_Down)  # the second hit
    target = presenter.search_hits.hit(dialog.results.currentIndex().row())
    qtbot.keyClick(dialog.query_edit, Qt.Key.Key_Return)

    assert not dialog.isVisible()
    qtbot.waitUntil(
        lambda: (
            window.chat_pane.chat_view.currentIndex().data(MessageListModel.MessageIdRole)
            == target.message_id
        )
    )
    assert presenter.current_conversation.id == target.conversation_id
    assert window.chat_pane.chat_view.selectionModel().isSelected(
        window.chat_pane.chat_view.currentIndex()
    )
    rect = window.chat_pane.chat_view.visualRect(window.chat_pane.chat_view.currentIndex())
    assert window.chat_pane.chat_view.viewport().rect().intersects(rect)

    # Ctrl+F again keeps the query; Esc closes.
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window.chat_pane.chat_view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert dialog.isVisible() and dialog.query_edit.text() == "cafe"
    qtbot.keyClick(dialog.query_edit, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def _longest_conversation(cache: LocalCache) -> int:
    row = cache.conn.exec_driver_sql(
        "SELECT conversation_id FROM messages GROUP BY conversation_id ORDER BY COUNT(*) DESC"
        " LIMIT 1"
    ).first()
    assert row is not None
    return int(row[0])


def test_scrolling_to_the_top_loads_older_messages_in_place(
    open_inbox: OpenInbox, qtbot: QtBot, arun: ARun
) -> None:
    inbox = open_inbox(QUIET, page=5)
    presenter, window = inbox.presenter, inbox.window
    conversation_id = arun(inbox.backend.db.run(_longest_conversation))
    arun(presenter.open_conversation(conversation_id))
    view = window.chat_pane.chat_view
    bar = view.verticalScrollBar()
    messages = presenter.messages
    # A short page doesn't fill the view: older pages are fetched until it scrolls.
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum())
    assert messages.rowCount() > 5
    assert messages.has_older

    first_id = messages.message(0).id
    before = messages.rowCount()
    with qtbot.waitSignal(presenter.older_loaded):
        bar.setValue(0)  # the page is read in the background, after this line
        bottom = view.visualRect(messages.index(0, 0)).bottom()
    assert messages.rowCount() > before
    row = messages.row_of(first_id)
    assert row is not None and row == messages.rowCount() - before
    # The message that was on top is still where it was on screen.
    assert abs(view.visualRect(messages.index(row, 0)).bottom() - bottom) <= 1
