"""The pairing presenter's rules, with a scripted adapter (the fake servers drive the dialog in
``test_pairing_dialog.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pytest

from desktop.views.pairing_dialog import PairingDialog, PairingPresenter, format_pairing_code
from sync.domain.events import ConnectionEvent, ProviderEvent, QrEvent
from sync.domain.models import ConnectionState
from sync.providers.base import AccountInfo, AuthError

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun


class ScriptedAdapter:
    account_id = 7

    def __init__(self) -> None:
        self.state = ConnectionState.WAITING_FOR_QR
        self.pairings: list[str] = []
        self.refuse = False

    async def request_pairing(self, *, phone: str = "") -> QrEvent:
        if self.refuse:
            raise AuthError("401")
        self.pairings.append(phone)
        return QrEvent(
            self.account_id,
            qr_code=f"2@qr-{len(self.pairings)}",
            pairing_code=("ABCD1234" if phone else ""),
        )

    async def check(self) -> AccountInfo:
        return AccountInfo(phone="5511912345678", state=self.state)


class Hub:
    def __init__(self) -> None:
        self.listeners: list[Callable[[Sequence[ProviderEvent]], None]] = []

    def subscribe(self, listener: Callable[[Sequence[ProviderEvent]], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def publish(self, *events: ProviderEvent) -> None:
        for listener in list(self.listeners):
            listener(events)


def test_pairing_code_is_shown_as_whatsapp_does() -> None:
    assert format_pairing_code("ABCD1234") == "ABCD-1234"
    assert format_pairing_code("abc") == "abc"


def test_qr_refreshes_then_the_dialog_closes_when_linked(qtbot: QtBot, arun: ARun) -> None:
    adapter, hub = ScriptedAdapter(), Hub()
    presenter = PairingPresenter(adapter, hub.subscribe, poll_seconds=60)  # type: ignore[arg-type]
    dialog = PairingDialog(presenter, "Loja")
    qtbot.addWidget(dialog)
    dialog.show()
    arun(presenter.start())
    assert dialog.qr_view.text == "2@qr-1"
    first = dialog.qr_view.matrix()
    hub.publish(QrEvent(99, qr_code="2@other-account"))  # another number's QR: ignored
    assert dialog.qr_view.text == "2@qr-1"
    hub.publish(QrEvent(7, qr_code="2@qr-refreshed"))
    assert dialog.qr_view.text == "2@qr-refreshed" and dialog.qr_view.matrix() != first
    with qtbot.waitSignal(presenter.linked) as linked:
        hub.publish(ConnectionEvent(7, ConnectionState.CONNECTED, phone="5511912345678"))
    assert linked.args == ["5511912345678"]
    assert dialog.result() == PairingDialog.DialogCode.Accepted
    assert hub.listeners == []  # stopped following the number


def test_a_pairing_code_is_asked_for_a_valid_phone_only(qtbot: QtBot, arun: ARun) -> None:
    adapter = ScriptedAdapter()
    presenter = PairingPresenter(adapter, None, poll_seconds=60)  # type: ignore[arg-type]
    dialog = PairingDialog(presenter, "Loja")
    qtbot.addWidget(dialog)
    arun(presenter.start())
    arun(presenter.request_code("123"))
    assert adapter.pairings == [""]
    assert "country" in dialog.status.text()
    arun(presenter.request_code("+55 (11) 91234-5678"))
    assert adapter.pairings == ["", "5511912345678"]
    assert dialog.code_label.text() == "ABCD-1234" and not dialog.code_label.isHidden()


def test_linking_without_webhooks_completes_by_polling(qtbot: QtBot, arun: ARun) -> None:
    adapter = ScriptedAdapter()
    presenter = PairingPresenter(adapter, None, poll_seconds=0.02)  # type: ignore[arg-type]
    arun(presenter.start())
    adapter.state = ConnectionState.CONNECTED
    with qtbot.waitSignal(presenter.linked, timeout=5000):
        pass
    assert presenter.done


@pytest.mark.parametrize("how", ["refused", "blocked"])
def test_failures_are_explained(qtbot: QtBot, arun: ARun, how: str) -> None:
    adapter, hub = ScriptedAdapter(), Hub()
    adapter.refuse = how == "refused"
    presenter = PairingPresenter(adapter, hub.subscribe, poll_seconds=60)  # type: ignore[arg-type]
    dialog = PairingDialog(presenter, "Loja")
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(presenter.failed) as failed:
        arun(presenter.start())
        if how == "blocked":
            hub.publish(ConnectionEvent(7, ConnectionState.BLOCKED, reason="banned"))
    assert failed.args[0]
    assert dialog.status.text() == failed.args[0]
    assert not dialog.code_button.isEnabled()
    assert presenter.done


def test_a_heartbeat_while_waiting_for_the_scan_does_not_close_the_dialog(
    qtbot: QtBot, arun: ARun
) -> None:
    adapter, hub = ScriptedAdapter(), Hub()
    presenter = PairingPresenter(adapter, hub.subscribe, poll_seconds=60)  # type: ignore[arg-type]
    arun(presenter.start())
    hub.publish(ConnectionEvent(7, ConnectionState.CONNECTED, reason="heartbeat"))
    assert not presenter.done


def test_a_qr_given_as_a_picture_is_shown_as_is(qtbot: QtBot) -> None:
    import base64

    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage

    from desktop.widgets.qr_code import QrCodeWidget

    picture = QImage(33, 33, QImage.Format.Format_RGB32)
    picture.fill(0)
    raw = QByteArray()
    buffer = QBuffer(raw)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    picture.save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(bytes(raw.data())).decode()
    widget = QrCodeWidget()
    qtbot.addWidget(widget)
    widget.set_text(url)
    assert widget.matrix() == []  # not re-encoded: the picture is the code
    widget.grab()  # paints without error
