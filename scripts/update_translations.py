"""Refresh the Qt translation files from the code: ``uv run python scripts/update_translations.py``.

1. ``pyside6-lupdate`` collects every ``tr()``/``translate()`` string of ``desktop/`` into
   ``resources/translations/caixa_<lang>.ts`` (existing translations are kept, removed strings
   dropped);
2. ``pyside6-lrelease`` compiles each ``.ts`` into the ``.qm`` the app loads.
``tests/desktop/test_translations.py`` fails when a string has no pt_BR translation or the
``.qm`` is stale, so run this after changing user-visible text, then translate what it reports.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "resources" / "translations"
LANGUAGES = ("pt_BR",)


def tool(name: str) -> str:
    """Path of a PySide6 tool installed beside this Python."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def sources() -> list[str]:
    """Every Python file of the desktop package, relative to the repository root."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "desktop").rglob("*.py"))


def update(ts_file: Path) -> None:
    """Run lupdate for one .ts file."""
    subprocess.run(
        [
            tool("pyside6-lupdate"),
            *sources(),
            "-no-obsolete",
            "-locations",
            "none",
            "-ts",
            str(ts_file),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def release(ts_file: Path, qm_file: Path) -> None:
    """Run lrelease for one .ts file."""
    subprocess.run(
        [tool("pyside6-lrelease"), str(ts_file), "-qm", str(qm_file)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def unfinished(ts_file: Path) -> list[str]:
    """Source texts of ``ts_file`` that have no finished translation."""
    missing = []
    for message in ET.parse(ts_file).getroot().iter("message"):
        translation = message.find("translation")
        text = "".join(translation.itertext()) if translation is not None else ""
        if translation is None or translation.get("type") == "unfinished" or not text.strip():
            missing.append(message.findtext("source") or "")
    return missing


def main() -> int:
    """Update and compile every language; list what still needs translating."""
    status = 0
    for lang in LANGUAGES:
        ts_file = TRANSLATIONS / f"caixa_{lang}.ts"
        update(ts_file)
        release(ts_file, ts_file.with_suffix(".qm"))
        missing = unfinished(ts_file)
        for text in missing:
            print(f"{lang}: untranslated: {text!r}")
        status |= bool(missing)
    return status


if __name__ == "__main__":
    sys.exit(main())
