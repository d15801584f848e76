"""``emit(signal, *args)``: emit a Qt signal from Python without corrupting reference counts.

WORKAROUND(PySide6 6.12.0 on CPython 3.11): ``SignalInstance.emit()`` returns ``True`` without
the reference it owes the caller, so each emission from Python takes one reference from ``True``;
after a few hundred the interpreter aborts with "Fatal Python error: bool_dealloc: deallocating
True or False". (CPython 3.12 made ``True`` immortal, which hides the bug there.) Emissions made by
Qt itself in C++ (``beginInsertRows``, a view's ``clicked``) are not affected.

The loss is measured once at import, on a private signal, and given back after each emission, so
the helper does nothing on a PySide6 or CPython without the bug.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBES = 16


class _Probe(QObject):
    probed = Signal()


def _references_lost_per_emit() -> int:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        probe.probed.emit()
    after = sys.getrefcount(True)
    lost = round((before - after) / _PROBES)
    if lost > 0:
        _give_back(lost * _PROBES)
    return max(0, lost)


def _give_back(count: int) -> None:
    for _ in range(count):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))


_LOST = _references_lost_per_emit()


def emit(signal: SignalInstance, *args: Any) -> None:
    """``signal.emit(*args)``, keeping ``True``'s reference count right."""
    signal.emit(*args)
    if _LOST:
        _give_back(_LOST)
