"""The app's style sheet: found where the package is, complete, valid, and naming live widgets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication, QLabel, QWidget

from desktop import theme

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

ROOT = Path(__file__).resolve().parents[2]


def test_the_sheet_ships_inside_the_desktop_package() -> None:
    # The wheel carries the desktop and sync packages only (pyproject's hatch config).
    assert theme.SHEET.is_file()
    assert theme.SHEET.is_relative_to(ROOT / "desktop")


def test_every_colour_name_is_filled_in() -> None:
    sheet = theme.style_sheet()
    assert "$" not in sheet
    assert theme.COLOURS["accent"].name() in sheet


def test_qt_parses_the_sheet(qtbot: QtBot) -> None:
    # A sheet Qt cannot parse is reported as a warning when a widget is polished against it,
    # and warnings fail tests (qt_log_level_fail). Set on a widget, not on the shared app.
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.setStyleSheet(theme.style_sheet())
    label = QLabel("x", widget)
    label.setObjectName("formError")
    widget.show()
    label.ensurePolished()
    assert label.palette().color(label.foregroundRole()).name() == "#b3261e"


def test_every_object_name_in_the_sheet_is_given_to_a_widget() -> None:
    """A selector whose widget was renamed styles nothing, silently."""
    sheet = re.sub(r"/\*.*?\*/", "", theme.SHEET.read_text(encoding="utf-8"), flags=re.S)
    # ``#name`` in a selector, not a colour (#FFFFFF) inside a declaration.
    selectors = re.sub(r"\{[^}]*\}", "", sheet)
    named = set(re.findall(r"#([A-Za-z_]\w*)", selectors))
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "desktop").rglob("*.py"))
    given = set(re.findall(r'setObjectName\("(\w+)"\)', code))
    assert named, "no selector found: the parsing above is broken"
    assert named - given == set()


def test_the_app_applies_the_sheet_to_the_whole_application(qapp: QApplication) -> None:
    before = qapp.styleSheet()
    try:
        theme.apply(qapp)
        assert qapp.styleSheet() == theme.style_sheet()
    finally:
        qapp.setStyleSheet(before)
