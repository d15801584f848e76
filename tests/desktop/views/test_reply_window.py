"""Meta's 24-hour customer-service window, shown in the composer of a real inbox window."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

from desktop import bridge
from desktop.services import Services
from desktop.views.inbox_presenter import InboxPresenter
from desktop.views.main_window import MainWindow
from sync.domain.events import MessageEvent
from sync.domain.models import Direction, MessageType
from sync.providers.accounts import MetaAccount, Secret
from sync.store import queries
from sync.store.cache_key import CacheKey

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun


def test_the_composer_says_when_the_window_is_open_and_keeps_text_when_closed(
    qtbot: QtBot, arun: ARun, tmp_path: Path
) -> None:
    services = Services.create(
        tmp_path / "c.db", CacheKey.generate(), demo=False, key_file=tmp_path / "k.json"
    )
    arun(services.prepare())
    workspace = services.workspace
    assert workspace is not None
    account = arun(
        workspace.add_number(
            MetaAccount(
                name="Loja",
                phone_number_id="109876543210987",
                waba_id="201234567890123",
                access_token=Secret("EAAG-token"),
                app_secret=Secret("secret"),
                verify_token=Secret("verify"),
                base_url="http://127.0.0.1:9",  # never called: nothing is sent here
            )
        )
    )
    now = time.time()

    def inbound(phone: str, wamid: str, ts: float) -> MessageEvent:
        return MessageEvent(
            account_id=account.account_id,
            provider_message_id=wamid,
            chat_key=phone,
            chat_phone=phone,
            direction=Direction.IN,
            timestamp=ts,
            type=MessageType.TEXT,
            text="oi",
        )

    arun(
        workspace.ingest.submit(
            [
                inbound("5511911110000", "wamid.recent", now - 3600 * 2.5),
                inbound("5511922220000", "wamid.old", now - 3600 * 30),
            ]
        )
    )
    presenter = InboxPresenter(services)
    window = MainWindow(presenter)
    qtbot.addWidget(window)
    try:
        arun(presenter.load())
        window.show()
        conversations = {
            c.customer_phone: c.id
            for c in arun(services.db.run(queries.latest_conversations, None, limit=10))
        }

        arun(presenter.open_conversation(conversations["5511911110000"]))
        assert not window.window_note.isHidden()
        assert "21 more hour" in window.window_note.text()
        window.composer.setPlainText("Temos sim!")
        assert window.send_button.isEnabled()

        arun(presenter.open_conversation(conversations["5511922220000"]))
        assert "24 hours" in window.window_note.text()
        window.composer.setPlainText("Ainda quer o bolo?")
        assert not window.send_button.isEnabled()
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)
        assert window.composer.toPlainText() == "Ainda quer o bolo?"  # kept, not sent
        outgoing = arun(services.db.run(queries.message_page, conversations["5511922220000"]))
        assert all(m.direction is Direction.IN for m in outgoing)
    finally:
        window.close()
        arun(bridge.drain())
        arun(services.aclose())
