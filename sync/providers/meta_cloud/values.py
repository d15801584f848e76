"""Small readers of Graph API JSON values: a hostile body never reaches a TypeError."""

from __future__ import annotations

import math
from typing import Any, TypeGuard


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean(value: object) -> str:
    """A string field, or "" when absent or not a string."""
    return value if isinstance(value, str) else ""


def is_number(value: object) -> TypeGuard[int | float]:
    """Whether ``value`` is a finite JSON number (not a bool, not a 400-digit int)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        # math.isfinite(int) converts to float, which overflows past ~1e308 (a 400-digit
        # timestamp in a hostile body): an int is finite, but only sane ones are numbers here.
        return -(2**63) <= value < 2**63
    return math.isfinite(value)


def int_or_none(value: object) -> int | None:
    """An integer field (a number or a string of digits), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def as_list(value: object) -> list[Any]:
    """A list field, or [] when absent or not a list."""
    return value if isinstance(value, list) else []
