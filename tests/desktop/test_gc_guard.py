"""Cyclic garbage is collected on the GUI thread, never by whichever thread allocates."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from desktop.gc_guard import GuiThreadGarbageCollector

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot


class _Cycle(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.me = self


def test_automatic_gc_is_off_while_the_guard_lives_and_due_work_is_done_on_tick(
    qtbot: QtBot,
) -> None:
    guard = GuiThreadGarbageCollector()
    try:
        assert not gc.isenabled()
        threshold = gc.get_threshold()[0]
        for _ in range(threshold + 10):
            _Cycle()  # garbage in cycles, more than generation 0 allows
        assert gc.get_count()[0] > threshold
        assert guard.collect_if_due() > 0
        assert gc.get_count()[0] <= threshold
    finally:
        guard.stop()
        guard.deleteLater()
    assert gc.isenabled()
