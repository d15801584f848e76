"""A clock tests move by hand: ``now()``, ``advance(seconds)`` and an awaitable ``sleep``.

    clock = FakeClock()
    adapter = SomeAdapter(..., clock=clock.now, sleep=clock.sleep)
    clock.advance(2.999)          # nothing that sleeps 3 s has woken yet
    await clock.advance_and_settle(0.001)   # now it has, and ran up to its next await

``sleep(seconds)`` completes once the clock has been advanced past its deadline (or at once for
zero or less, after yielding to the loop like ``asyncio.sleep(0)``). Time never moves by itself,
so a test is exact at the boundaries and never waits for real seconds. ``sleeps`` records every
requested duration, in order, so tests can check a backoff policy. A sleeper cancelled before
its deadline simply goes away. Not thread-safe: use it from the test's event loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field


@dataclass(order=True)
class _Sleeper:
    deadline: float
    order: int
    future: asyncio.Future[None] = field(compare=False)


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = float(start)
        self._sleepers: list[_Sleeper] = []
        self._order = itertools.count()
        self.sleeps: list[float] = []

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now}, sleepers={self.pending})"

    def now(self) -> float:
        """The current fake time (pass ``clock.now`` where a ``time.monotonic`` is expected)."""
        return self._now

    __call__ = now

    @property
    def pending(self) -> int:
        """How many sleepers are still waiting."""
        return sum(1 for s in self._sleepers if not s.future.done())

    @property
    def next_deadline(self) -> float | None:
        """When the earliest waiting sleeper wakes (None when nobody sleeps)."""
        waiting = [s.deadline for s in self._sleepers if not s.future.done()]
        return min(waiting) if waiting else None

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed.

        Woken sleepers resume the next time the loop runs (``await asyncio.sleep(0)``, or use
        ``advance_and_settle``).
        """
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
        while self._sleepers and self._sleepers[0].deadline <= self._now:
            sleeper = heapq.heappop(self._sleepers)
            if not sleeper.future.done():
                sleeper.future.set_result(None)

    def set(self, when: float) -> None:
        """Move time forward to ``when`` exactly (no float drift from summed advances)."""
        if when < self._now:
            raise ValueError("time only moves forward")
        self.advance(0.0)
        self._now = float(when)
        self.advance(0.0)

    async def advance_and_settle(self, seconds: float, *, turns: int = 10) -> None:
        """``advance``, then let the loop run a few turns so woken tasks reach their next await."""
        self.advance(seconds)
        await settle(turns)

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has been advanced by at least ``seconds``."""
        self.sleeps.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, _Sleeper(self._now + seconds, next(self._order), future))
        try:
            await future
        finally:
            if not future.done():
                future.cancel()
            self._sleepers = [s for s in self._sleepers if not s.future.done()]
            heapq.heapify(self._sleepers)


async def settle(turns: int = 10) -> None:
    """Let the event loop run ``turns`` times (callbacks and woken tasks get to go)."""
    for _ in range(turns):
        await asyncio.sleep(0)
