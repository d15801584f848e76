"""Join a team: the server's address, a user and a password, then the first sync with progress.

The dialog is a view over ``JoinTeamPresenter``; the presenter calls a ``Join`` coroutine (built
by ``desktop.app``: open the team cache, log in, pull everything) and turns every way it
can fail into one plain sentence. The same dialog logs in again when a session ended: then the
address is fixed and only the password is asked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from desktop import bridge

Progress = Callable[[int, int], None]  # (rows so far, rows in all; 0 when not known yet)
Join = Callable[[str, str, str, Progress], Awaitable[Any]]


class JoinInputError(ValueError):
    """What was typed cannot be used (the message is shown as is)."""


def normalize_server_url(text: str) -> str:
    """``caixa.example.com`` → ``https://caixa.example.com``; ``JoinInputError`` when unusable.

    No scheme means HTTPS: a team server on the internet must use TLS; a loopback or LAN test
    server can still be typed with ``http://``.
    """
    text = text.strip()
    if not text:
        raise JoinInputError(
            QCoreApplication.translate(
                "JoinTeam", "Type the server's address, for example https://caixa.example.com"
            )
        )
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    text = text.rstrip("/")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise JoinInputError(
            QCoreApplication.translate(
                "JoinTeam", "“%1” is not a server address, for example https://caixa.example.com"
            ).replace("%1", text)
        )
    return text


def explain(exc: BaseException, server_url: str) -> str:
    """One translated sentence for a failed join or login."""
    from sync.client.team import AuthRefused, ResyncRequired, TeamError, TeamOffline
    from sync.store.secrets import SecretStoreError

    if isinstance(exc, JoinInputError):
        return str(exc)
    if isinstance(exc, AuthRefused):
        return QCoreApplication.translate(
            "JoinTeam", "Wrong user or password (or this user was disabled)."
        )
    if isinstance(exc, TeamOffline):
        return QCoreApplication.translate(
            "JoinTeam",
            "Cannot reach the server at %1. Check the address and your internet connection.",
        ).replace("%1", server_url)
    if isinstance(exc, ResyncRequired):
        return QCoreApplication.translate(
            "JoinTeam", "This version of Caixa is too old for this server. Update Caixa first."
        )
    if isinstance(exc, TeamError | ValueError | KeyError):
        # A 404, an HTML page, a JSON of another shape: something that is not a Caixa server.
        return QCoreApplication.translate(
            "JoinTeam", "The address %1 does not answer like a Caixa server."
        ).replace("%1", server_url)
    if isinstance(exc, SecretStoreError):
        return str(exc)
    return QCoreApplication.translate("JoinTeam", "Joining failed: %1").replace(
        "%1", type(exc).__name__
    )


class JoinTeamPresenter(QObject):
    """Validate, join, report. Tests call ``submit`` directly."""

    progressed = Signal(int, int)  # rows so far, rows in all (0: unknown)
    failed = Signal(str)  # shown under the form; nothing is kept
    joined = Signal(object)  # whatever ``join`` returned (the team's backend)

    def __init__(self, join: Join, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._join = join
        self.busy = False

    async def submit(self, server: str, username: str, password: str) -> Any:
        """Join with what was typed; None (and ``failed``) when it did not work."""
        if self.busy:
            return None
        try:
            url = normalize_server_url(server)
            if not username.strip() or not password:
                raise JoinInputError(
                    QCoreApplication.translate("JoinTeam", "Type your user and password.")
                )
        except JoinInputError as exc:
            self.failed.emit(str(exc))
            return None
        self.busy = True
        try:
            result = await self._join(url, username.strip(), password, self.progressed.emit)
        except Exception as exc:
            self.failed.emit(explain(exc, url))
            return None
        finally:
            self.busy = False
        self.joined.emit(result)
        return result


class JoinTeamDialog(QDialog):
    """The form, a progress bar for the first sync, and the error line."""

    def __init__(
        self,
        presenter: JoinTeamPresenter,
        parent: QWidget | None = None,
        *,
        server: str = "",
        username: str = "",
        relogin: bool = False,
    ) -> None:
        super().__init__(parent)
        self.presenter = presenter
        self.result_value: Any = None
        self.setWindowTitle(self.tr("Log in again") if relogin else self.tr("Join a team"))
        self.setMinimumWidth(460)
        layout = QVBoxLayout(self)
        intro = QLabel(
            self.tr("Your session with the team server ended. Type your password to continue.")
            if relogin
            else self.tr(
                "Type the address of your team's Caixa server and the user your supervisor "
                "made for you. Every conversation of the numbers you may see is copied to this "
                "computer, encrypted."
            )
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.server_edit = QLineEdit(server)
        self.server_edit.setPlaceholderText("https://caixa.example.com")
        self.server_edit.setReadOnly(relogin)
        self.user_edit = QLineEdit(username)
        self.user_edit.setReadOnly(relogin and bool(username))
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(self.tr("&Server"), self.server_edit)
        form.addRow(self.tr("&User"), self.user_edit)
        form.addRow(self.tr("&Password"), self.password_edit)
        layout.addLayout(form)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setFormat(self.tr("Copying conversations… %v of %m"))
        layout.addWidget(self.progress)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setObjectName("formError")  # styled by the app's sheet (caixa.qss)
        self.error_label.setVisible(False)
        layout.addWidget(self.error_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(self.tr("&Log in") if relogin else self.tr("&Join"))
        ok.setDefault(True)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        presenter.progressed.connect(self._on_presenter_progressed)
        presenter.failed.connect(self._on_presenter_failed)
        first_empty = next(
            (e for e in (self.server_edit, self.user_edit) if not e.text()), self.password_edit
        )
        first_empty.setFocus()

    @bridge.async_slot
    async def _on_buttons_accepted(self) -> None:
        self.error_label.setVisible(False)
        self._set_busy(True)
        try:
            result = await self.presenter.submit(
                self.server_edit.text(), self.user_edit.text(), self.password_edit.text()
            )
        finally:
            self._set_busy(False)
        if result is not None:
            self.result_value = result
            self.password_edit.clear()
            self.accept()

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.server_edit, self.user_edit, self.password_edit):
            widget.setEnabled(not busy)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not busy)
        if not busy:
            ok.setDefault(True)  # Qt drops "default" from a disabled button: Enter must retry
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)  # busy until the server says how much there is

    def _on_presenter_progressed(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def _on_presenter_failed(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(True)
        self.password_edit.setFocus()


async def ask_to_join(
    join: Join,
    parent: QWidget | None = None,
    *,
    server: str = "",
    username: str = "",
    relogin: bool = False,
) -> Any:
    """Show the dialog until it joins (its result) or the user cancels (None)."""
    dialog = JoinTeamDialog(
        JoinTeamPresenter(join), parent, server=server, username=username, relogin=relogin
    )
    result = await bridge.exec_dialog(dialog)
    value = dialog.result_value if result == QDialog.DialogCode.Accepted else None
    dialog.deleteLater()
    return value
