"""Waiting in a test for something that happens on its own: bounded, and failing with a reason.

    await eventually(lambda: len(fake.accepted) == 1)            # a plain predicate
    row = await eventually(lambda: db.run(find_row), timeout=20)  # or one returning an awaitable
    wait_until(lambda: server.started, message="the server started")   # from a plain thread

    for _ in at_most(100, "the model stopped offering more rows"):     # a loop that must end
        if not model.canFetchMore(root):
            break
        model.fetchMore(root)

Only for what must *happen* (a row arrives, a task reaches its sleep). A test proves that
something does *not* happen by asking the code (an engine's ``idle()``, a signal that was not
emitted, a fake clock moved past the deadline), never by waiting a while and looking.

The timeout is a guard against a hang, not a timing assertion: generous, measured on the real
clock even when the code under test runs on a fake one, and when it runs out the test fails with
what it was waiting for instead of hanging the run.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar, overload

T = TypeVar("T")

TIMEOUT_S = 10.0
INTERVAL_S = 0.01


@overload
async def eventually(
    predicate: Callable[[], Awaitable[T]],
    *,
    timeout: float = ...,
    interval: float = ...,
    message: str = ...,
) -> T: ...


@overload
async def eventually(
    predicate: Callable[[], T],
    *,
    timeout: float = ...,
    interval: float = ...,
    message: str = ...,
) -> T: ...


async def eventually(
    predicate: Callable[[], Any],
    *,
    timeout: float = TIMEOUT_S,
    interval: float = INTERVAL_S,
    message: str = "",
) -> Any:
    """Call ``predicate`` (awaiting what it returns, if awaitable) every ``interval`` seconds
    until the result is truthy, and return that result.

    Raises ``AssertionError`` naming ``message`` (or the predicate's source) and the last result
    when ``timeout`` seconds pass first.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(_timed_out(predicate, message, timeout, value))
        await asyncio.sleep(interval)


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float = TIMEOUT_S,
    interval: float = INTERVAL_S,
    message: str = "",
) -> T:
    """``eventually`` for code without an event loop (a thread, a fixture starting a server)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(_timed_out(predicate, message, timeout, value))
        time.sleep(interval)


def at_most(limit: int, message: str) -> Iterator[int]:
    """``range(limit)`` for a loop that must end by itself (``break``): running out fails.

    A paging or draining loop written ``while more:`` hangs the run when a regression keeps
    ``more`` true; this one fails after ``limit`` rounds, saying ``message``.
    """
    yield from range(limit)
    raise AssertionError(f"{message}: still going after {limit} rounds")


def _timed_out(predicate: Callable[[], object], message: str, timeout: float, last: object) -> str:
    what = message or _source(predicate)
    return f"not within {timeout:g} s: {what} (last result: {last!r})"


def _source(predicate: Callable[[], object]) -> str:
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)
