"""Cyclic garbage collection on the GUI thread only.

Python's cyclic GC runs on whichever thread happens to allocate when a threshold is crossed: the
database thread, the receiver, a worker. Windows, presenters and their timers often sit in
reference cycles, and Qt forbids destroying a QObject with timers from another thread (it warns,
and may crash). So automatic collection is turned off and a timer on the GUI thread collects,
generation by generation, when Python's own thresholds say it is due — the same work, done
where Qt objects may die.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class GuiThreadGarbageCollector(QObject):
    """Owns cyclic GC while it lives (``gc.disable()``); ``stop`` gives it back."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.collect_if_due)
        gc.disable()
        self._timer.start()

    def collect_if_due(self) -> int:
        """Collect the oldest generation whose threshold is crossed; how many objects went."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._thresholds[generation]:
                return gc.collect(generation)
        return 0

    def stop(self) -> None:
        """Hand collection back to Python."""
        self._timer.stop()
        gc.enable()
