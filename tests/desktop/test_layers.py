"""The desktop package's modules import each other in layers, never in a circle.

ARCHITECTURE.md: "a part imports only parts below it, never in a circle". Every import counts,
at module level, inside a function, or under ``TYPE_CHECKING``: moving an import into a
function hides a cycle from Python's import machinery, not from the reader, who still cannot
understand, move or test one module without the other.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a folder under ``root``), by dotted name."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported_modules(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package holding this module
                package = name.split(".")
                if not is_package:
                    package = package[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, *([base] if base else [])])
            # ``from desktop import bridge`` imports the module desktop.bridge.
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            # ``import desktop.views.x`` also runs desktop.views (and desktop): the module named,
            # as written, is the dependency; its packages' __init__ files hold nothing here.
            if target in known and target != name:
                found.add(target)
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Who imports whom among the modules of ``package``."""
    known = module_names(root, package)
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as ``[a, b, ..., a]``, or None when there is none."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully seen
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_cycle_between_desktop_modules() -> None:
    graph = import_graph(ROOT, "desktop")
    cycle = find_cycle(graph)
    assert cycle is None, (
        "desktop modules import each other in a circle: "
        + " -> ".join(cycle or [])
        + ". Move what both need into a module below them (see ARCHITECTURE.md, Layers)."
    )


def test_the_scan_sees_the_package_and_its_imports() -> None:
    """The check above proves nothing if the scan finds no modules or misses imports."""
    graph = import_graph(ROOT, "desktop")
    assert len(graph) > 30
    assert "desktop.views.main_window" in graph["desktop.app"]  # inside a function
    assert "desktop.bridge" in graph["desktop.views.inbox_presenter"]  # ``from desktop import``


@pytest.mark.parametrize(
    ("body", "cycle"),
    [
        ("import pkg.b\n", ["pkg.a", "pkg.b", "pkg.a"]),
        ("def f():\n    from pkg import b\n", ["pkg.a", "pkg.b", "pkg.a"]),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
            ["pkg.a", "pkg.b", "pkg.a"],
        ),
        ("import os\n", None),
    ],
    ids=["module level", "in a function", "type checking, relative", "none"],
)
def test_a_cycle_is_found_however_the_import_is_written(
    tmp_path: Path, body: str, cycle: list[str] | None
) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(body)
    (package / "b.py").write_text("def g():\n    import pkg.a\n")
    assert find_cycle(import_graph(tmp_path, "pkg")) == cycle


def test_windows_know_the_backend_interface_not_its_implementations() -> None:
    """Views, widgets and models talk to ``desktop.backend.Backend``; only the composition root
    (``desktop.app``) knows whether it built a solo or a team backend."""
    graph = import_graph(ROOT, "desktop")
    implementations = {"desktop.solo_backend", "desktop.team_backend"}
    offenders = {
        name: sorted(graph[name] & implementations)
        for name in graph
        if name.startswith(("desktop.views", "desktop.widgets", "desktop.models"))
        and graph[name] & implementations
    }
    assert offenders == {}
