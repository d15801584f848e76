"""Lazy re-exports for a provider package's ``__init__``: its public names, loaded on first use.

A provider package's ``__init__`` is what the registry imports to read its declaration, which
the app does early; the adapter, the webhook parser and what they import (httpx, the demo
corpus) load only when one of their names is first asked for (PEP 562 ``__getattr__``). The
package imports those names under ``if TYPE_CHECKING:`` and lists them in ``__all__``: type
checkers and readers see ordinary imports, ruff checks that the two lists agree (an import not
in ``__all__`` is unused, a name in ``__all__`` not imported is undefined), and this module
reads which submodule holds each name from those very imports.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def lazy_exports(
    package: str, names: Sequence[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, serving ``names`` from the modules its
    ``__init__`` imports them from under ``TYPE_CHECKING``."""
    public = frozenset(names)
    found: dict[str, str] = {}

    def source_of(name: str) -> str | None:
        if not found:
            found.update(_type_checking_imports(Path(str(sys.modules[package].__file__))))
        return found.get(name)

    def __getattr__(name: str) -> object:
        module = source_of(name) if name in public else None
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        vars(sys.modules[package])[name] = value  # found once: later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | public)

    return __getattr__, __dir__


def _type_checking_imports(init: Path) -> dict[str, str]:
    """``{name: module}`` of the ``from module import name`` under ``if TYPE_CHECKING:``."""
    found: dict[str, str] = {}
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        found[alias.asname or alias.name] = statement.module
    return found
