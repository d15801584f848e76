"""The one place that imports qasync: asyncio inside Qt.

``async_slot`` turns a coroutine method into a Qt slot that schedules it on the running qasync
loop; its exceptions reach ``sys.excepthook`` (and so fail tests) instead of vanishing.

asyncio and qasync are imported on first use, not with this module: the main window is built
and painted before the event loop exists (they cost a tenth of a second at start-up).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec

if TYPE_CHECKING:
    import asyncio

P = ParamSpec("P")

_tasks: set[asyncio.Task[Any]] = set()


def run(main: Coroutine[Any, Any, Any]) -> Any:
    """Run ``main`` on a new qasync loop until it returns (``qasync.run``)."""
    import qasync

    return qasync.run(main)


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run ``coro`` on the loop as a task we keep a reference to; report its failure."""
    import asyncio

    task = asyncio.get_event_loop().create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_done)
    return task


def _done(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        sys.excepthook(type(exc), exc, exc.__traceback__)


def async_slot(
    fn: Callable[P, Coroutine[Any, Any, Any]],
) -> Callable[P, None]:
    """Decorate ``async def on_x(self, ...)`` so Qt can connect it as a plain slot."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        spawn(fn(*args, **kwargs))

    return wrapper


async def drain(*, cancel: bool = True) -> None:
    """Wait for every task started with ``spawn``, cancelling them first unless told not to."""
    import asyncio

    while _tasks:
        pending = list(_tasks)
        if cancel:
            for task in pending:
                task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def exec_dialog(dialog: Any) -> int:
    """Show a modal dialog and wait for its result without a nested event loop.

    ``QDialog.exec()`` inside a coroutine would spin a second event loop in which qasync runs
    other tasks while this one is mid-step; ``open()`` plus a future keeps one loop.
    """
    import asyncio

    future: asyncio.Future[int] = asyncio.get_event_loop().create_future()

    def finished(result: int) -> None:
        if not future.done():
            future.set_result(result)

    dialog.finished.connect(finished)
    dialog.open()
    return await future
