"""The app's look: the style sheet in ``desktop/resources/themes/caixa.qss``, applied once.

The sheet lives inside the ``desktop`` package, so the wheel (which ships the ``desktop`` and
``sync`` packages) carries it with no packaging rule of its own, and a source checkout reads the
very same file. It is read with ``pathlib`` next to this module rather than through
``importlib.resources``: that would import more modules before the first paint, and Caixa always
runs from files on disk (a checkout, an installed wheel, a frozen app's data folder).
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from PySide6.QtWidgets import QApplication

from desktop.widgets import painting

SHEET = Path(__file__).resolve().parent / "resources" / "themes" / "caixa.qss"

# The palette colours the sheet names ($name), the same the delegates paint with.
COLOURS = {
    "accent": painting.ACCENT,
    "divider": painting.DIVIDER,
    "hover": painting.HOVER,
    "rail_background": painting.RAIL_BACKGROUND,
    "text": painting.TEXT,
    "text_muted": painting.TEXT_MUTED,
}


def style_sheet() -> str:
    """The app's style sheet, its colour names filled in."""
    template = Template(SHEET.read_text(encoding="utf-8"))
    return template.substitute({name: colour.name() for name, colour in COLOURS.items()})


def apply(app: QApplication) -> None:
    """Style the whole application: call before its first widget is made.

    Set on the application before any widget exists, the sheet costs what the main window's
    own sheet used to: nothing to re-polish, and each widget is polished against it once, when
    first shown.
    """
    app.setStyleSheet(style_sheet())
