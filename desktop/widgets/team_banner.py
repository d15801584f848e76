"""The team banner: offline and how many messages wait, or why the session stopped.

``TeamStatus`` turns the team client's callbacks (no Qt in ``sync/``) into one Qt signal;
``TeamBanner`` shows a line above the inbox only when something needs saying: offline (reading,
searching and writing go on; replies wait with a clock and go out once, in order), a session the
server ended (with "Log in again…"), or a Caixa too old for the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

if TYPE_CHECKING:
    from collections.abc import Callable

    from sync.client.team import TeamClient

PROBLEM_NONE = ""
PROBLEM_AUTH = "auth"
PROBLEM_PROTOCOL = "protocol"


class TeamStatus(QObject):
    """Online or not, commands waiting, and a problem only the user can solve."""

    changed = Signal()

    # The client says "online" after its first exchange with the server and says nothing while
    # it keeps failing; "offline" is shown only once it has had this long to connect, so a
    # normal start never flashes the banner.
    GRACE_MS = 3000

    def __init__(self, client: TeamClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client = client
        self.online = True  # until the grace period says otherwise
        self.pending = 0
        self.problem = PROBLEM_NONE
        self._unsubscribe: list[Callable[[], None]] = [
            client.status_changed.connect(self._on_client_status_changed),
            client.pending_changed.connect(self._on_client_pending_changed),
            client.auth_refused.connect(self._on_client_auth_refused),
            client.resync_required.connect(self._on_client_resync_required),
        ]
        QTimer.singleShot(self.GRACE_MS, self, self._on_grace_timeout)

    def _on_grace_timeout(self) -> None:
        if self._client.online != self.online:
            self.online = self._client.online
            self.changed.emit()

    async def refresh(self) -> None:
        """Read how many commands wait now (after a restart some may wait from last time)."""
        self.pending = await self._client.pending_count()
        self.changed.emit()

    def detach(self) -> None:
        """Stop following the client (the window is closing)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def _on_client_status_changed(self, online: bool) -> None:
        self.online = online
        if online and self.problem == PROBLEM_AUTH:
            return  # still refused: only a new login clears it
        self.changed.emit()

    def _on_client_pending_changed(self, pending: int) -> None:
        self.pending = pending
        self.changed.emit()

    def _on_client_auth_refused(self, _: None) -> None:
        self.problem = PROBLEM_AUTH
        self.changed.emit()

    def _on_client_resync_required(self, reason: str) -> None:
        if reason == PROBLEM_PROTOCOL:  # a cursor resync the client does by itself
            self.problem = PROBLEM_PROTOCOL
            self.changed.emit()

    def logged_in_again(self) -> None:
        """A new login worked: the session problem is over."""
        self.problem = PROBLEM_NONE
        self.changed.emit()


class TeamBanner(QFrame):
    """One line above the inbox, hidden while all is well."""

    relogin_requested = Signal()

    def __init__(self, status: TeamStatus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = status
        self.setObjectName("teamBanner")  # styled by the app's sheet (caixa.qss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        self.label = QLabel(self)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        layout.addWidget(self.label, 1)
        self.relogin_button = QPushButton(self.tr("&Log in again…"), self)
        self.relogin_button.clicked.connect(self.relogin_requested)
        layout.addWidget(self.relogin_button)
        status.changed.connect(self._on_status_changed)
        self._on_status_changed()

    def _on_status_changed(self) -> None:
        status = self.status
        self.relogin_button.setVisible(status.problem == PROBLEM_AUTH)
        if status.problem == PROBLEM_AUTH:
            text = self.tr(
                "Your session with the team server ended (password changed or access removed). "
                "Your messages are safe here."
            )
        elif status.problem == PROBLEM_PROTOCOL:
            text = self.tr(
                "This version of Caixa is too old for the team server: update it. "
                "Your messages are safe here."
            )
        elif not status.online:
            if status.pending == 1:
                text = self.tr("Offline: 1 message waits and goes out when the connection returns.")
            elif status.pending > 1:
                text = self.tr(
                    "Offline: %1 messages wait and go out, in order, when the connection returns."
                ).replace("%1", str(status.pending))
            else:
                text = self.tr("Offline: you can keep reading, searching and writing.")
        else:
            text = ""
        self.label.setText(text)
        self.setVisible(bool(text))
