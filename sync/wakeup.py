"""Waiting for a wake-up event with a timeout, without ever losing a cancellation.

Python 3.11's ``asyncio.wait_for`` returns normally when its task is cancelled in the same loop
iteration as the awaited future completes (python/cpython#86296, fixed in 3.12 by rebuilding
it on ``asyncio.timeout``). A background loop that sleeps with ``wait_for(event.wait(), t)``
then misses the one cancel meant to stop it, when a wake-up comes at the same moment, and
whoever awaits that loop at shutdown waits forever (the likeliest cause of a team test's
teardown that hung once in CI). ``asyncio.timeout`` counts cancellations: no such race.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def wait_event(
    event: asyncio.Event,
    timeout: float,
    *,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> bool:
    """True when ``event`` is set within ``timeout`` seconds, False when the time ran out.

    ``sleep`` measures the timeout instead of the loop's clock: a test hands in a fake clock's
    ``sleep`` to decide when the time runs out. A cancellation of the caller always propagates,
    whatever the event does meanwhile.
    """
    if sleep is not None:
        return await _race(event, sleep, timeout)
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def _race(
    event: asyncio.Event, sleep: Callable[[float], Awaitable[None]], timeout: float
) -> bool:
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(sleep(timeout))
    try:
        # asyncio.wait, unlike 3.11's wait_for, never turns the caller's cancellation into a
        # normal return: a CancelledError here propagates.
        await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        sleeper.cancel()
    return waiter.done() and not waiter.cancelled()
