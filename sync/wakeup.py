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


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """True when ``event`` is set within ``timeout`` seconds, False when the time ran out.

    A cancellation of the caller always propagates, whatever the event does meanwhile.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
