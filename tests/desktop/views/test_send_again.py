"""Sending again a message that may not have gone: the agent decides, after a warning."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop.solo_backend import SoloBackend
from desktop.views.inbox_presenter import InboxPresenter
from desktop.views.main_window import MainWindow
from sync.domain.models import DeliveryStatus, Direction
from sync.store.local import outbox, queries
from sync.store.local.cache_key import CacheKey
from tests.desktop.gui import close_inbox
from tests.sync.helpers import add_account, inbound

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun


def _answer(button: QMessageBox.StandardButton) -> None:
    def poll(left: int = 200) -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMessageBox) and widget.isVisible():
                widget.button(button).click()
                return
        if left:
            QTimer.singleShot(20, lambda: poll(left - 1))

    QTimer.singleShot(0, poll)


def test_an_unknown_message_is_sent_again_only_when_the_agent_confirms(
    qtbot: QtBot, arun: ARun, tmp_path: Path
) -> None:
    backend = SoloBackend.create(tmp_path / "c.db", CacheKey.generate(), demo=False)
    arun(backend.prepare())

    def setup(cache: object) -> tuple[int, str]:
        account = add_account(cache)  # type: ignore[arg-type]
        from sync.store.local.ingest import apply_events

        apply_events(cache, [inbound(account, "wamid.1", "Tem pão?", phone="5511900001111")])  # type: ignore[arg-type]
        [conversation] = queries.latest_conversations(cache)  # type: ignore[arg-type]
        message, _ = outbox.enqueue_text(cache, conversation.id, "Tem sim!")  # type: ignore[arg-type]
        outbox.claim_next(cache)  # type: ignore[arg-type]
        outbox.mark_unknown(cache, message.id, "the answer was lost")  # type: ignore[arg-type]
        return conversation.id, message.id

    conversation_id, message_id = arun(backend.db.run(setup))
    presenter = InboxPresenter(backend)
    window = MainWindow(presenter)
    qtbot.addWidget(window)
    try:
        arun(presenter.load())
        arun(presenter.open_conversation(conversation_id))
        row = presenter.messages.row_of(message_id)
        assert row is not None
        unknown = presenter.messages.message(row)
        assert unknown.status is DeliveryStatus.UNKNOWN

        _answer(QMessageBox.StandardButton.No)
        assert arun(window.chat_pane.send_again(unknown)) is None

        _answer(QMessageBox.StandardButton.Yes)
        copy = arun(window.chat_pane.send_again(unknown))
        assert copy is not None and copy.text == "Tem sim!" and copy.id != message_id
        outgoing = [
            m
            for m in arun(backend.db.run(queries.message_page, conversation_id))
            if m.direction is Direction.OUT
        ]
        assert [m.status for m in outgoing] == [DeliveryStatus.UNKNOWN, DeliveryStatus.QUEUED]
        assert presenter.messages.row_of(copy.id) is not None  # shown at once
    finally:
        close_inbox(arun, [window], backend)
