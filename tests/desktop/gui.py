"""Helpers for tests that drive the whole app through its windows and dialogs.

They poll from Qt timers instead of blocking (no ``qtbot.waitUntil`` inside a callback), so the
app's own event loop keeps running while a test waits for the next window.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


def when(
    predicate: Callable[[], Any], action: Callable[[Any], object], *, attempts: int = 100
) -> None:
    """Run ``action(value)`` as soon as ``predicate()`` returns something truthy (every 20 ms)."""

    def poll(left: int = attempts) -> None:
        value = predicate()
        if value:
            action(value)
        elif left:
            QTimer.singleShot(20, lambda: poll(left - 1))

    QTimer.singleShot(0, poll)


def when_visible(
    kind: type,
    action: Callable[[Any], object],
    *,
    attempts: int = 100,
    ignore: Collection[int] = (),
) -> None:
    """Run ``action(widget)`` as soon as a visible top-level ``kind`` shows up; widgets whose
    ``id`` is in ``ignore`` (left over from earlier tests) do not count."""

    def find() -> Any:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, kind) and widget.isVisible() and id(widget) not in ignore:
                return widget
        return None

    when(find, action, attempts=attempts)


def close_inbox(arun: Callable[..., Any], windows: Collection[Any], *backends: Any) -> None:
    """Close inbox windows and their backends in the app's order (desktop.app._run_window):
    the windows, their presenters' following of changes, the work those started, then the
    backends. Closing a backend first leaves a presenter's refresh reading a closed cache."""
    from desktop import bridge

    for window in windows:
        window.close()
        window.presenter.close()
    arun(bridge.drain())
    for backend in backends:
        arun(backend.aclose())
