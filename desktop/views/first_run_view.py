"""The first-run screen: try the demo, add a number, or join a team."""

from __future__ import annotations

import asyncio
import enum

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


class FirstRunChoice(enum.Enum):
    """What the newcomer picked."""

    DEMO = "demo"
    ADD_NUMBER = "add_number"
    JOIN_TEAM = "join_team"
    QUIT = "quit"


class FirstRunView(QWidget):
    """Three plain choices."""

    demo_chosen = Signal()
    add_number_chosen = Signal()
    join_team_chosen = Signal()
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Welcome to Caixa"))
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 28, 32, 28)
        layout.setSpacing(10)

        title = QLabel(self.tr("One inbox for all your WhatsApp numbers"))
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        title.setFont(font)
        title.setWordWrap(True)
        layout.addWidget(title)
        intro = QLabel(self.tr("How would you like to start?"))
        layout.addWidget(intro)
        layout.addSpacing(12)

        self.demo_button = QPushButton(self.tr("&Try the demo"))
        self.demo_button.setDefault(True)
        self.demo_button.clicked.connect(self.demo_chosen)
        layout.addWidget(self.demo_button)
        layout.addWidget(
            self._note(
                self.tr(
                    "Three fictitious shops with their customers, so you can explore "
                    "everything safely."
                )
            )
        )

        self.add_number_button = QPushButton(self.tr("&Add a WhatsApp number"))
        self.add_number_button.clicked.connect(self.add_number_chosen)
        layout.addWidget(self.add_number_button)
        layout.addWidget(
            self._note(
                self.tr(
                    "Connect a number through Meta's official Cloud API, Evolution API "
                    "(linked by QR code) or your own Caixa gateway."
                )
            )
        )

        self.join_team_button = QPushButton(self.tr("&Join a team"))
        self.join_team_button.clicked.connect(self.join_team_chosen)
        layout.addWidget(self.join_team_button)
        layout.addWidget(
            self._note(
                self.tr(
                    "Share the numbers' conversations with your colleagues through your team's "
                    "Caixa server: you need its address, a user and a password."
                )
            )
        )
        layout.addStretch(1)
        self.demo_button.setFocus()

    def _note(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        label.setObjectName("choiceHint")  # styled by the app's sheet (caixa.qss)
        return label

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)


async def run_first_run(view: FirstRunView | None = None) -> FirstRunChoice:
    """Show the first-run screen and wait for a choice (closing it means quit)."""
    view = view or FirstRunView()
    future: asyncio.Future[FirstRunChoice] = asyncio.get_event_loop().create_future()

    def choose(choice: FirstRunChoice) -> None:
        if not future.done():
            future.set_result(choice)

    view.demo_chosen.connect(lambda: choose(FirstRunChoice.DEMO))
    view.add_number_chosen.connect(lambda: choose(FirstRunChoice.ADD_NUMBER))
    view.join_team_chosen.connect(lambda: choose(FirstRunChoice.JOIN_TEAM))
    view.closed.connect(lambda: choose(FirstRunChoice.QUIT))
    view.show()
    try:
        return await future
    finally:
        view.hide()
        view.deleteLater()
