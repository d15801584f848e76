"""Helpers for tests that drive the whole app through its windows and dialogs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


def when_visible(kind: type, action: Callable[[Any], object], *, attempts: int = 100) -> None:
    """Run ``action(widget)`` as soon as a visible top-level ``kind`` shows up (polled)."""

    def poll(left: int = attempts) -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, kind) and widget.isVisible():
                action(widget)
                return
        if left:
            QTimer.singleShot(20, lambda: poll(left - 1))

    QTimer.singleShot(0, poll)
