"""Linking a QR-linked number (Evolution, the VPS gateway): the QR, refreshed, or a pairing code.

The presenter asks the adapter for a first QR, then follows the number's events as the receiver
passes them on (a new QR every ~20 s, then "connected" once the phone scans). It also asks the
provider for the number's state every few seconds, so linking completes even when the provider's
webhooks cannot reach this computer. The dialog closes by itself once the number is linked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import bridge
from desktop.widgets.qr_code import QrCodeWidget
from sync.domain.events import ConnectionEvent, ProviderEvent, QrEvent
from sync.domain.models import ConnectionState
from sync.providers.base import AccountInfo, AuthError, ProviderError


class Pairable(Protocol):
    """What linking needs of a number: a ``QrLinkAdapter`` or the workspace's ``PairingHandle``."""

    account_id: int

    async def request_pairing(self, *, phone: str = "") -> QrEvent:
        """Start linking; the first QR."""
        ...

    async def check(self) -> AccountInfo:
        """The number's state at the provider."""
        ...


EventsListener = Callable[[Sequence[ProviderEvent]], None]
# Registers a listener for the events the receiver ingests; returns the unsubscribe function.
Subscribe = Callable[[EventsListener], Callable[[], None]]

POLL_SECONDS = 3.0


def format_pairing_code(code: str) -> str:
    """``ABCD1234`` → ``ABCD-1234``, as WhatsApp shows it on the phone."""
    code = code.strip().replace("-", "")
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


class PairingPresenter(QObject):
    """Drives one number's linking; tests call ``start``/``request_code`` and watch the signals."""

    qr_changed = Signal(str, str)  # QR payload, pairing code (either may be "")
    status_changed = Signal(str)  # what is happening, for the user
    linked = Signal(str)  # the number's phone (digits, may be "")
    failed = Signal(str)  # why linking cannot go on (shown; the user may try again)

    def __init__(
        self,
        adapter: Pairable,
        subscribe: Subscribe | None,
        parent: QObject | None = None,
        *,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        super().__init__(parent)
        self._adapter = adapter
        self._subscribe = subscribe
        self._unsubscribe: Callable[[], None] | None = None
        self._done = False
        self._qr = ""
        self._code = ""
        self._poll = QTimer(self)
        self._poll.setInterval(int(poll_seconds * 1000))
        self._poll.timeout.connect(self._on_poll_timeout)
        self._polling = False

    @property
    def done(self) -> bool:
        """Linked, failed or closed: nothing more will be emitted."""
        return self._done

    @property
    def qr(self) -> str:
        """The QR payload on screen."""
        return self._qr

    @property
    def pairing_code(self) -> str:
        """The pairing code on screen ("" until asked for)."""
        return self._code

    async def start(self) -> None:
        """Ask for the first QR and begin following the number."""
        if self._subscribe is not None and self._unsubscribe is None:
            self._unsubscribe = self._subscribe(self._on_events)
        self.status_changed.emit(self.tr("Asking the server for a QR code…"))
        await self._request()
        if not self._done:
            self._poll.start()

    async def request_code(self, phone: str) -> None:
        """Ask for an 8-character pairing code for ``phone`` (digits with country code)."""
        digits = "".join(ch for ch in phone if ch.isdigit())
        if len(digits) < 10:
            self.status_changed.emit(
                self.tr("Type the number with country and area code, e.g. 55 11 91234-5678.")
            )
            return
        self.status_changed.emit(self.tr("Asking the server for a pairing code…"))
        await self._request(phone=digits)

    def close(self) -> None:
        """Stop following the number (the dialog closed)."""
        self._finish()

    async def _request(self, *, phone: str = "") -> None:
        try:
            first = await self._adapter.request_pairing(phone=phone)
        except AuthError:
            self._fail(self.tr("The server refused the credentials. Check the key or token."))
            return
        except ProviderError as exc:
            self._fail(self.tr("The server could not start linking: %1").replace("%1", exc.detail))
            return
        if self._done:
            return
        if first.qr_code or first.pairing_code:
            self._show(first)
        else:  # already linked, or the QR comes by event: find out now, not in 3 s
            await self._check()

    def _show(self, event: QrEvent) -> None:
        self._qr = event.qr_code or self._qr
        self._code = event.pairing_code or self._code
        self.qr_changed.emit(self._qr, self._code)
        self.status_changed.emit(
            self.tr(
                "On the phone: WhatsApp → Settings → Linked devices → Link a device, "
                "then point the camera at this code."
            )
        )

    def _on_events(self, events: Sequence[ProviderEvent]) -> None:
        for event in events:
            if self._done or event.account_id != self._adapter.account_id:
                continue
            if isinstance(event, QrEvent):
                self._show(event)
            elif isinstance(event, ConnectionEvent):
                if event.reason == "heartbeat":
                    # The gateway's keep-alive says the socket is up, not that the phone linked.
                    continue
                self._on_connection(event.state, event.phone, event.reason, event.needs_repair)

    def _on_connection(self, state: str, phone: str, reason: str, needs_repair: bool) -> None:
        if state == ConnectionState.CONNECTED:
            self._done = True
            self.linked.emit(phone)
            self._finish()
        elif state == ConnectionState.BLOCKED:
            self._fail(self.tr("WhatsApp blocked this number: %1").replace("%1", reason or "—"))
        elif needs_repair and self._qr:
            # A failed link attempt (QR expired unanswered, phone refused): say why, keep going;
            # the provider sends a fresh QR.
            self.status_changed.emit(self.tr("Linking did not complete: %1").replace("%1", reason))
        elif state == ConnectionState.CONNECTING:
            self.status_changed.emit(self.tr("The phone scanned the code. Connecting…"))

    def _on_poll_timeout(self) -> None:
        if not self._polling and not self._done:
            bridge.spawn(self._check())

    async def _check(self) -> None:
        self._polling = True
        try:
            info = await self._adapter.check()
        except AuthError:
            self._fail(self.tr("The server refused the credentials. Check the key or token."))
            return
        except ProviderError:
            return  # a missed poll is no news; the next one (or an event) will tell
        finally:
            self._polling = False
        if not self._done:
            self._on_connection(info.state, info.phone, "", False)

    def _fail(self, reason: str) -> None:
        if self._done:
            return
        self._done = True
        self.failed.emit(reason)
        self._finish()

    def _finish(self) -> None:
        self._done = True
        self._poll.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


class PairingDialog(QDialog):
    """The QR (refreshed as new ones arrive), a pairing code on request, and what is going on."""

    def __init__(self, presenter: PairingPresenter, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.presenter = presenter
        presenter.setParent(self)
        self.setWindowTitle(self.tr("Link %1").replace("%1", name))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        self.qr_view = QrCodeWidget(self)
        layout.addWidget(self.qr_view, 1)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.status)

        self.code_label = QLabel(self)
        font = QFont(self.code_label.font())
        font.setPointSizeF(font.pointSizeF() * 2)
        font.setBold(True)
        font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 3)
        self.code_label.setFont(font)
        self.code_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code_label.hide()
        layout.addWidget(self.code_label)

        row = QHBoxLayout()
        self.phone_edit = QLineEdit(self)
        self.phone_edit.setPlaceholderText(self.tr("Phone number, e.g. +55 11 91234-5678"))
        self.phone_edit.setAccessibleName(self.tr("Phone number for a pairing code"))
        row.addWidget(self.phone_edit, 1)
        self.code_button = QPushButton(self.tr("Use a &pairing code instead"), self)
        self.code_button.clicked.connect(self._on_code_button_clicked)
        row.addWidget(self.code_button)
        layout.addLayout(row)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(420, 560)

        presenter.qr_changed.connect(self._on_presenter_qr_changed)
        presenter.status_changed.connect(self.status.setText)
        presenter.linked.connect(self._on_presenter_linked)
        presenter.failed.connect(self._on_presenter_failed)
        self.finished.connect(self._on_finished)

    def _on_presenter_qr_changed(self, qr: str, code: str) -> None:
        self.qr_view.set_text(qr)
        if code:
            self.code_label.setText(format_pairing_code(code))
            self.code_label.show()

    def _on_presenter_linked(self, phone: str) -> None:
        self.accept()

    def _on_presenter_failed(self, reason: str) -> None:
        self.status.setText(reason)
        self.code_button.setEnabled(False)

    def _on_code_button_clicked(self) -> None:
        bridge.spawn(self.presenter.request_code(self.phone_edit.text()))

    def _on_finished(self, result: int) -> None:
        self.presenter.close()


async def link_number(
    adapter: Pairable, subscribe: Subscribe | None, name: str, parent: Any = None
) -> bool:
    """Show the pairing dialog for ``adapter``'s number; True once the phone is linked."""
    presenter = PairingPresenter(adapter, subscribe)
    dialog = PairingDialog(presenter, name, parent)
    bridge.spawn(presenter.start())
    result = await bridge.exec_dialog(dialog)
    dialog.deleteLater()
    return result == QDialog.DialogCode.Accepted
