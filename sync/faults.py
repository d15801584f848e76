"""Named fault-injection points for crash tests.

Production code calls ``point(name)`` at the moments a crash test wants to hit (between two
writes of one transaction, between "sending" and "sent"). By default it does nothing; a crash
test's child process installs a hook that sleeps or kills the process there.
"""

from __future__ import annotations

from collections.abc import Callable

_hook: Callable[[str], None] | None = None


def point(name: str) -> None:
    """Mark a moment a crash test may target."""
    if _hook is not None:
        _hook(name)


def install(hook: Callable[[str], None] | None) -> None:
    """Set (or with None, remove) the hook called at every point."""
    global _hook
    _hook = hook
