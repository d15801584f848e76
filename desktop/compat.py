"""Small shims between Python versions.

``override`` marks Qt overrides for type checkers (PEP 698). ``typing.override`` exists from
Python 3.12; on 3.11 importing ``typing_extensions`` for it would cost ~14 ms of start-up, so at
run time it is a no-op decorator, and type checkers read ``typing_extensions``'s.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING or sys.version_info >= (3, 12):
    from desktop.compat import override
else:
    _F = TypeVar("_F", bound=Any)

    def override(method: _F, /) -> _F:
        """Mark ``method`` as overriding its base class's (checked by type checkers only)."""
        return method


__all__ = ["override"]
