"""wait_event: a wake-up with a timeout that never loses the cancel meant to stop its loop."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from sync.wakeup import wait_event
from tests.fakes.clock import FakeClock, settle

pytestmark = pytest.mark.anyio


async def test_set_in_time_is_true_and_a_timeout_is_false() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5) is True
    event.clear()
    assert await wait_event(event, 0.01) is False


async def test_a_cancel_that_comes_with_a_wake_up_still_stops_the_loop() -> None:
    # Python 3.11's asyncio.wait_for returns normally here and the loop runs on for ever.
    event = asyncio.Event()
    rounds = 0

    async def wake_up_loop() -> None:
        nonlocal rounds
        while True:
            await wait_event(event, 10)
            event.clear()
            rounds += 1

    task = asyncio.create_task(wake_up_loop())
    await asyncio.sleep(0)  # the loop is waiting
    event.set()
    task.cancel()  # in the same loop iteration as the wake-up
    with anyio.fail_after(2), pytest.raises(asyncio.CancelledError):
        await task
    assert rounds == 0


async def test_on_a_fake_clock_the_time_runs_out_only_when_the_clock_says_so() -> None:
    clock = FakeClock()
    event = asyncio.Event()
    waiting = asyncio.create_task(wait_event(event, 5, sleep=clock.sleep))
    await settle()  # waiting, its timer on the clock
    await clock.advance_and_settle(4.999)
    assert not waiting.done()
    await clock.advance_and_settle(0.001)
    assert waiting.done() and waiting.result() is False
    assert clock.pending == 0

    waiting = asyncio.create_task(wait_event(event, 5, sleep=clock.sleep))
    await settle()
    event.set()
    with anyio.fail_after(2):
        assert await waiting is True
    await settle()
    assert clock.pending == 0  # the timer it no longer needed is gone
    assert await wait_event(event, 5, sleep=clock.sleep) is True  # already set: no timer


async def test_on_a_fake_clock_a_cancel_that_comes_with_a_wake_up_still_stops_the_loop() -> None:
    clock = FakeClock()
    event = asyncio.Event()
    rounds = 0

    async def wake_up_loop() -> None:
        nonlocal rounds
        while True:
            await wait_event(event, 10, sleep=clock.sleep)
            event.clear()
            rounds += 1

    task = asyncio.create_task(wake_up_loop())
    await settle()  # the loop is waiting
    event.set()
    task.cancel()  # in the same loop iteration as the wake-up
    with anyio.fail_after(2), pytest.raises(asyncio.CancelledError):
        await task
    assert rounds == 0
    await settle()
    assert clock.pending == 0
