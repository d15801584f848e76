"""sync/ is the headless core: importing any of it must not load Qt (see shared STYLE.md).

sync/ruff.toml bans the imports statically; this catches what a linter can't see (an import
through a third module, importlib, a dependency that pulls Qt in).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import sync

QT_PREFIXES = ("PySide6", "shiboken6", "qasync")
ALEMBIC_SCRIPTS = "sync.store.team.migrations."

# Run in a fresh interpreter: this pytest process has Qt loaded already (pytest-qt imports it).
_IMPORT_ALL = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import sync

    def onerror(name):
        raise  # walk_packages would otherwise skip a package that fails to import

    imported = ["sync"]
    for info in pkgutil.walk_packages(sync.__path__, "sync.", onerror=onerror):
        if info.name.rpartition(".")[2] == "__main__":
            continue  # running a __main__ starts a program; it's covered by its package
        if info.name.startswith({scripts!r}):
            continue  # Alembic's scripts run only inside Alembic (ruff still bans Qt in them)
        importlib.import_module(info.name)
        imported.append(info.name)
    qt = sorted(m for m in sys.modules if m.split(".")[0] in {qt_prefixes})
    print(json.dumps({{"imported": imported, "qt": qt}}))
    """
)


def test_importing_every_sync_module_loads_no_qt() -> None:
    code = _IMPORT_ALL.format(qt_prefixes=repr(set(QT_PREFIXES)), scripts=ALEMBIC_SCRIPTS)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"importing sync/ failed:\n{result.stderr}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # Every .py file under sync/ was reached (a walk that stops early would prove nothing).
    root = Path(sync.__file__).parent
    on_disk = {
        ".".join(("sync", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        for path in root.rglob("*.py")
        if path.stem != "__main__" and "__pycache__" not in path.parts
    }
    on_disk = {name for name in on_disk if not name.startswith(ALEMBIC_SCRIPTS)}
    assert on_disk <= set(report["imported"]), on_disk - set(report["imported"])
    assert report["qt"] == [], f"sync/ loaded Qt modules: {report['qt']}"


def test_ruff_bans_qt_imports_under_sync() -> None:
    root = Path(sync.__file__).parent
    source = "import PySide6.QtCore\nfrom qasync import asyncSlot\n"
    result = subprocess.run(
        [
            sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
            "--stdin-filename", str(root / "probe.py"), "-",
        ],
        input=source, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.stdout.count("TID251") == 2, result.stdout + result.stderr
