"""What a Meta number's provider declares, in the composer of a real inbox window: the 24-hour
customer-service window (``Capabilities.service_window``) and the longest text it takes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

from desktop.solo_backend import SoloBackend
from desktop.views.inbox_presenter import InboxPresenter
from desktop.views.main_window import MainWindow
from sync.domain.events import MessageEvent
from sync.domain.models import Direction, MessageType
from sync.providers.accounts import Secret
from sync.providers.meta_cloud import MetaAccount
from sync.store.local import queries
from sync.store.local.cache_key import CacheKey
from tests.desktop.gui import close_inbox

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun


def test_the_composer_says_when_the_window_is_open_and_keeps_text_when_closed(
    qtbot: QtBot, arun: ARun, tmp_path: Path
) -> None:
    backend = SoloBackend.create(
        tmp_path / "c.db", CacheKey.generate(), demo=False, key_file=tmp_path / "k.json"
    )
    arun(backend.prepare())
    workspace = backend.workspace
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
    presenter = InboxPresenter(backend)
    window = MainWindow(presenter)
    qtbot.addWidget(window)
    try:
        arun(presenter.load())
        window.show()
        conversations = {
            c.customer_phone: c.id
            for c in arun(backend.db.run(queries.latest_conversations, None, limit=10))
        }

        arun(presenter.open_conversation(conversations["5511911110000"]))
        assert not window.chat_pane.window_note.isHidden()
        assert "21 more hour" in window.chat_pane.window_note.text()
        window.chat_pane.composer.setPlainText("Temos sim!")
        assert window.chat_pane.send_button.isEnabled()
        # Longer than Meta's 4,096 characters (its declared max_text_length): refused before
        # it is queued, the text given back.
        too_long = "x" * 4097
        with qtbot.waitSignal(presenter.send_failed) as refused:
            assert arun(presenter.send_text(too_long)) is None
        assert refused.args[0] == too_long and "096" in refused.args[1]
        recent = arun(backend.db.run(queries.message_page, conversations["5511911110000"]))
        assert all(m.direction is Direction.IN for m in recent)

        arun(presenter.open_conversation(conversations["5511922220000"]))
        assert "24 hours" in window.chat_pane.window_note.text()
        window.chat_pane.composer.setPlainText("Ainda quer o bolo?")
        assert not window.chat_pane.send_button.isEnabled()
        qtbot.keyClick(window.chat_pane.composer, Qt.Key.Key_Return)
        assert window.chat_pane.composer.toPlainText() == "Ainda quer o bolo?"  # kept, not sent
        outgoing = arun(backend.db.run(queries.message_page, conversations["5511922220000"]))
        assert all(m.direction is Direction.IN for m in outgoing)
    finally:
        close_inbox(arun, [window], backend)


def test_a_closed_window_offers_templates_and_one_goes_out_filled(
    qtbot: QtBot, arun: ARun, tmp_path: Path
) -> None:
    from desktop.views.template_dialog import TemplateDialog
    from tests.fakes.loopback import serve
    from tests.fakes.meta_server import FakeMeta

    fake = FakeMeta(access_token="EAAG-token", templates={"pedido_pronto": (1, 2)})
    with serve(fake.app) as url:
        backend = SoloBackend.create(
            tmp_path / "c.db", CacheKey.generate(), demo=False, key_file=tmp_path / "k.json"
        )
        arun(backend.prepare())
        workspace = backend.workspace
        assert workspace is not None
        account = arun(
            workspace.add_number(
                MetaAccount(
                    name="Loja",
                    phone_number_id=fake.phone_number_id,
                    waba_id=fake.waba_id,
                    access_token=Secret("EAAG-token"),
                    app_secret=Secret("secret"),
                    verify_token=Secret("verify"),
                    base_url=url,
                )
            )
        )
        arun(backend.start())
        arun(
            workspace.ingest.submit(
                [
                    MessageEvent(
                        account_id=account.account_id,
                        provider_message_id="wamid.old",
                        chat_key="5511922220000",
                        chat_phone="5511922220000",
                        direction=Direction.IN,
                        timestamp=time.time() - 3600 * 30,
                        type=MessageType.TEXT,
                        text="Meu bolo ficou pronto?",
                    )
                ]
            )
        )
        presenter = InboxPresenter(backend)
        window = MainWindow(presenter)
        qtbot.addWidget(window)
        try:
            arun(presenter.load())
            window.show()
            (conversation,) = arun(backend.db.run(queries.latest_conversations, None, limit=10))
            arun(presenter.open_conversation(conversation.id))
            assert window.chat_pane.template_button.isVisible()
            assert not window.chat_pane.send_button.isEnabled()

            qtbot.mouseClick(window.chat_pane.template_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(
                lambda: any(
                    isinstance(w, TemplateDialog) and w.list.count()
                    for w in window.findChildren(TemplateDialog)
                ),
                timeout=10_000,
            )
            dialog = next(w for w in window.findChildren(TemplateDialog) if w.isVisible())
            assert [dialog.list.item(i).text() for i in range(dialog.list.count())] == [
                "pedido_pronto · pt_BR"  # the rejected and the image-header ones are not offered
            ]
            assert not dialog.send_button.isEnabled()  # three fields to fill first
            edits = dialog._header_edits + dialog._body_edits
            for edit, value in zip(edits, ("4521", "seu bolo", "às 15h"), strict=True):
                edit.setText(value)
            assert dialog.preview.text() == (
                "Pedido 4521\nOlá! Atualização: seu bolo às 15h\nLoja Teste"
            )
            qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: len(fake.accepted) == 1, timeout=10_000)
            sent = fake.accepted[0]
            assert sent["type"] == "template"
            assert sent["template"]["name"] == "pedido_pronto"
            params = [p["text"] for c in sent["template"]["components"] for p in c["parameters"]]
            assert params == ["4521", "seu bolo", "às 15h"]
            page = arun(backend.db.run(queries.message_page, conversation.id))
            assert page[-1].type is MessageType.TEMPLATE and "seu bolo" in page[-1].text
        finally:
            close_inbox(arun, [window], backend)
