"""Small typed readers of a provider's JSON: a hostile body must never reach a TypeError.

Each takes whatever a field holds and gives the type asked for, or an empty value. Used where
bodies follow Baileys' shapes (Evolution, the gateway's WAMessages, ``baileys.py``).
"""

from __future__ import annotations

import math
from typing import Any


def str_of(value: Any) -> str:
    """A string field, or "" when absent or not a string."""
    # Texts are kept as they came: NUL and lone surrogates are cleaned on the way into the
    # stores (sync.domain.text.clean_text, applied by both ingests), for every provider alike.
    return value if isinstance(value, str) else ""


def dict_of(value: Any) -> dict[str, Any] | None:
    """An object field, or None when absent or not an object."""
    return value if isinstance(value, dict) else None


def num_of(value: Any) -> float | None:
    """A finite number from a JSON number or a numeric string (never a bool)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # JSON allows a 4,000-digit integer
            return None
    elif isinstance(value, str) and len(value) < 40:
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def long_of(value: Any) -> float | None:
    """A protobuf int64 as JSON has it: a number, a numeric string or ``{low, high, unsigned}``."""
    long = dict_of(value)
    if long is not None:
        low, high = long.get("low"), long.get("high")
        if isinstance(low, bool) or isinstance(high, bool):
            return None
        if not isinstance(low, int) or not isinstance(high, int):
            return None
        if not (-(2**31) <= low < 2**32 and -(2**31) <= high < 2**32):
            return None
        if long.get("unsigned") is True:
            high &= 0xFFFFFFFF
        elif high >= 2**31:
            high -= 2**32
        return float(high * 2**32 + (low & 0xFFFFFFFF))
    return num_of(value)
