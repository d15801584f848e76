"""sync/'s parts import only parts below them, and no module imports itself in a circle.

The layers, lowest first (ARCHITECTURE.md): domain ← providers ← store ← engine ← ingress ←
server / client ← commands ← the command line. Every ``import`` counts, inside functions and
``if TYPE_CHECKING:`` blocks too: a function-level import is still a dependency, only a later one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import sync

ROOT = Path(sync.__file__).parent

# The rank of each part (a package under sync/, or a top-level module). Parts of one rank may
# not import each other: the team server and the desktop's sync client share nothing but what
# lies below them. The receiver (ingress) sits below the server, which serves it.
RANKS: dict[str, int] = {
    # Plain data and rules, and tiny helpers with no dependency inside sync/.
    "sync": 0,  # the package itself
    "domain": 0,
    "faults": 0,
    "wakeup": 0,
    "settings": 0,
    "demo_data": 0,
    "providers": 1,
    "store": 2,
    "engine": 3,
    "ingress": 4,
    "server": 5,
    "client": 5,
    "commands": 6,
    "backend": 7,
    "cli": 7,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in ROOT.rglob("*.py")
        if "__pycache__" not in path.parts and "migrations" not in path.parts
    }


def _imports(path: Path, module: str) -> Iterator[tuple[str, int]]:
    """Every sync module ``path`` imports (absolute or relative), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:  # "from sync.store import queries" imports a module
                yield f"{base}.{alias.name}", node.lineno


def _part(module: str) -> str:
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else "sync"


def _graph() -> dict[str, dict[str, int]]:
    modules = _modules()
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, path in modules.items():
        for target, line in _imports(path, name):
            if target in modules and target != name:
                graph[name].setdefault(target, line)
    return graph


def test_every_part_of_sync_has_a_layer() -> None:
    parts = {_part(name) for name in _modules()}
    assert parts <= set(RANKS), f"give these a layer in RANKS: {sorted(parts - set(RANKS))}"


def test_no_part_imports_one_above_it_or_beside_it() -> None:
    upward = []
    for name, targets in _graph().items():
        source = _part(name)
        for target, line in targets.items():
            dest = _part(target)
            if dest == source:
                continue
            if RANKS[dest] >= RANKS[source] and not (RANKS[dest] == 0 and RANKS[source] == 0):
                upward.append(f"{name}:{line} imports {target} ({source} -> {dest})")
    assert upward == [], "\n".join(upward)


def test_no_module_of_sync_imports_itself_in_a_circle() -> None:
    cycles = _cycles(_graph())
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {}}, []),
        ({"a": {"b": 1}, "b": {"a": 1}}, [["a", "b"]]),
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}, [["a", "b", "c"]]),
    ],
)
def test_the_cycle_finder_finds_cycles(
    graph: dict[str, dict[str, int]], expected: list[list[str]]
) -> None:
    assert _cycles(graph) == expected


def test_imports_inside_functions_and_relative_imports_count(tmp_path: Path) -> None:
    source = tmp_path / "sync" / "engine" / "x.py"
    source.parent.mkdir(parents=True)
    source.write_text(
        "def f():\n    from sync.server import app\n\nfrom ..store import queries\n",
        encoding="utf-8",
    )
    found = {name for name, _ in _imports(source, "sync.engine.x")}
    assert {"sync.server.app", "sync.store.queries"} <= found
