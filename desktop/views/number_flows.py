"""The user's paths through adding a number and setting up webhooks, across their dialogs.

Adding: the "Add a number" dialog (checked with the provider, then saved) → for a QR-linked
number, the pairing dialog right away → the number shows in the rail with its state.
Webhooks: the address this computer listens on and the public address providers should call
(a tunnel or port forward); saved in the workspace and applied at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from desktop import bridge

if TYPE_CHECKING:
    from desktop.backend import Backend
    from sync.providers.accounts import ProviderAccount
    from sync.providers.base import AccountInfo


async def add_number(backend: Backend, parent: QWidget | None) -> ProviderAccount | None:
    """Run "Add a number" to the end; the saved number, or None when cancelled."""
    from desktop.views.add_number_dialog import AddNumberDialog, AddNumberPresenter
    from sync.providers.base import CheckedAdapter, QrLinkAdapter
    from sync.providers.registry import build_adapter

    workspace = backend.workspace
    if workspace is None:
        box = QMessageBox(
            QMessageBox.Icon.Information,
            QCoreApplication.translate("NumberFlows", "Demo workspace"),
            QCoreApplication.translate(
                "NumberFlows",
                "The demo workspace holds fictitious numbers only. Start Caixa without --demo "
                "to add your own WhatsApp numbers.",
            ),
            QMessageBox.StandardButton.Ok,
            parent,
        )
        await bridge.exec_dialog(box)
        box.deleteLater()
        return None

    async def verify(account: ProviderAccount) -> AccountInfo:
        adapter = build_adapter(account, workspace.http)
        assert isinstance(adapter, CheckedAdapter)
        return await adapter.check()

    dialog = AddNumberDialog(AddNumberPresenter(verify, workspace.add_number), parent)
    result = await bridge.exec_dialog(dialog)
    added = dialog.added
    dialog.deleteLater()
    if result != QDialog.DialogCode.Accepted or added is None:
        return None
    adapter = workspace.adapters.get(added.account_id)
    if isinstance(adapter, QrLinkAdapter):
        from desktop.views.pairing_dialog import link_number

        await link_number(
            workspace.pairing(added.account_id), workspace.subscribe, added.name, parent
        )
    return added


async def relink_number(backend: Backend, account_id: int, parent: QWidget | None) -> bool:
    """The pairing dialog for a stored QR-linked number; True once linked."""
    from desktop.views.pairing_dialog import link_number

    workspace = backend.workspace
    if workspace is None or not workspace.is_qr_linked(account_id):
        return False
    name = workspace.account_name(account_id)
    return await link_number(workspace.pairing(account_id), workspace.subscribe, name, parent)


class ReceiverDialog(QDialog):
    """Two addresses: where to listen, and the public one providers call."""

    def __init__(self, listen: str, public_url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Receive webhooks"))
        layout = QVBoxLayout(self)
        note = QLabel(
            self.tr(
                "Providers deliver messages by calling this computer. Give the address to listen "
                "on (e.g. 0.0.0.0:8787) and the public address that reaches it (a tunnel or "
                "port forward, e.g. https://shop.example.com). Leave the first empty to stop."
            ),
            self,
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        form = QFormLayout()
        self.listen_edit = QLineEdit(listen, self)
        self.listen_edit.setPlaceholderText("127.0.0.1:8787")
        self.public_edit = QLineEdit(public_url, self)
        self.public_edit.setPlaceholderText("https://")
        form.addRow(self.tr("Listen on"), self.listen_edit)
        form.addRow(self.tr("Public address"), self.public_edit)
        layout.addLayout(form)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


def check_receiver_settings(listen: str, public_url: str) -> str:
    """An error to show for these settings, or "" when they are usable."""
    from urllib.parse import urlsplit

    from sync.ingress.listen import parse_listen

    if listen:
        try:
            parse_listen(listen)
        except ValueError:
            return QCoreApplication.translate(
                "NumberFlows", "The listen address must look like HOST:PORT, e.g. 0.0.0.0:8787."
            )
    if public_url:
        url = urlsplit(public_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            return QCoreApplication.translate(
                "NumberFlows", "The public address must start with https:// (or http://)."
            )
    return ""


async def configure_receiver(backend: Backend, parent: QWidget | None) -> bool:
    """Ask for the receiver settings until they work or the user cancels; True when applied."""
    listen, public_url = await backend.receiver_settings()
    dialog = ReceiverDialog(listen, public_url, parent)
    try:
        while True:
            if await bridge.exec_dialog(dialog) != QDialog.DialogCode.Accepted:
                return False
            listen = dialog.listen_edit.text().strip()
            public_url = dialog.public_edit.text().strip()
            problem = check_receiver_settings(listen, public_url)
            if not problem and not await backend.set_receiver(listen, public_url):
                problem = QCoreApplication.translate(
                    "NumberFlows", "Caixa could not listen on %1: is another program using it?"
                )
                problem = problem.replace("%1", listen)
            if not problem:
                return True
            dialog.message.setText(problem)
    finally:
        dialog.deleteLater()
