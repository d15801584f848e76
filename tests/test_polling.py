"""The one polling helper: it returns what it waited for, and a wait that cannot end fails."""

from __future__ import annotations

import pytest

from tests.polling import at_most, eventually, wait_until

pytestmark = pytest.mark.anyio


async def test_eventually_returns_the_first_truthy_result_of_a_plain_predicate() -> None:
    results = iter([0, None, "found"])
    assert await eventually(lambda: next(results), interval=0) == "found"


async def test_eventually_awaits_a_predicate_that_returns_an_awaitable() -> None:
    calls: list[int] = []

    async def check() -> int:
        calls.append(1)
        return len(calls) if len(calls) == 3 else 0

    assert await eventually(check, interval=0) == 3


async def test_eventually_fails_with_what_it_waited_for_instead_of_hanging() -> None:
    # timeout=0: the first false answer is already too late, so the test takes no real time.
    with pytest.raises(
        AssertionError, match=r"not within 0 s: the queue drained \(last result: \[\]\)"
    ):
        await eventually(lambda: [], timeout=0, message="the queue drained")


async def test_without_a_message_the_predicate_source_says_what_was_awaited() -> None:
    with pytest.raises(AssertionError, match=r"lambda: \[\] == \[1\]"):
        await eventually(lambda: [] == [1], timeout=0)


def test_wait_until_is_the_same_for_code_without_a_loop() -> None:
    results = iter([False, True])
    assert wait_until(lambda: next(results), interval=0) is True
    with pytest.raises(AssertionError, match=r"the server started \(last result: False\)"):
        wait_until(lambda: False, timeout=0, message="the server started")


def test_at_most_lets_a_loop_break_and_fails_one_that_does_not_end() -> None:
    for n in at_most(5, "never reached"):
        if n == 2:
            break
    with pytest.raises(AssertionError, match="the pages never ended: still going after 3 rounds"):
        for _ in at_most(3, "the pages never ended"):
            pass
