"""The async fixtures of tests/conftest.py: one qasync loop, driven by Qt, usable from tests."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QLabel, QWidget

if TYPE_CHECKING:
    import qasync
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun

_loops_seen: list[asyncio.AbstractEventLoop] = []


async def _double_later(x: int) -> int:
    await asyncio.sleep(0.01)
    return 2 * x


def test_arun_returns_the_result(arun: ARun, qloop: qasync.QEventLoop) -> None:
    assert arun(_double_later(21)) == 42
    _loops_seen.append(qloop)


def test_arun_works_again_in_another_test_on_the_same_loop(
    arun: ARun, qloop: qasync.QEventLoop
) -> None:
    assert arun(_double_later(2)) == 4
    assert arun(_double_later(3)) == 6
    _loops_seen.append(qloop)
    assert _loops_seen[0] is _loops_seen[-1]


def test_arun_does_not_quit_the_app(arun: ARun, qapp: QApplication) -> None:
    quits: list[bool] = []
    qapp.aboutToQuit.connect(lambda: quits.append(True))
    try:
        arun(_double_later(1))
    finally:
        qapp.aboutToQuit.disconnect()
    assert quits == []


def test_arun_raises_what_the_coroutine_raises(arun: ARun) -> None:
    async def fail() -> None:
        await asyncio.sleep(0)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        arun(fail())


def test_arun_times_out(arun: ARun) -> None:
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        arun(forever(), timeout=0.05)
    assert cancelled.is_set()


def test_arun_refuses_to_nest(arun: ARun) -> None:
    async def outer() -> None:
        arun(_double_later(1))

    with pytest.raises(RuntimeError, match="await instead"):
        arun(outer())


def test_task_created_from_a_qt_slot_during_arun(arun: ARun) -> None:
    created: asyncio.Future[asyncio.Task[int]] = asyncio.get_running_loop().create_future()

    def on_timeout() -> None:  # a plain Qt slot, called by Qt, not by asyncio
        created.set_result(asyncio.get_running_loop().create_task(_double_later(5)))

    async def scenario() -> int:
        QTimer.singleShot(0, on_timeout)
        task = await created
        return await task

    assert arun(scenario()) == 10


def test_task_created_from_a_qt_slot_while_qtbot_waits(
    qloop: qasync.QEventLoop, qtbot: QtBot
) -> None:
    tasks: list[asyncio.Task[int]] = []

    def on_timeout() -> None:
        assert asyncio.get_running_loop() is qloop
        tasks.append(asyncio.create_task(_double_later(7)))

    QTimer.singleShot(0, on_timeout)
    qtbot.waitUntil(lambda: bool(tasks) and tasks[0].done(), timeout=5000)
    assert tasks[0].result() == 14


def test_async_slot_reacts_to_a_signal(qloop: qasync.QEventLoop, qtbot: QtBot) -> None:
    import qasync

    class Source(QObject):
        poked = Signal(int)
        answered = Signal(int)

    source = Source()

    @qasync.asyncSlot(int)
    async def on_source_poked(value: int) -> None:
        source.answered.emit(await _double_later(value))

    source.poked.connect(on_source_poked)
    with qtbot.waitSignal(source.answered, timeout=5000) as blocker:
        source.poked.emit(4)
    assert blocker.args == [8]


def test_to_thread_result_comes_back(arun: ARun) -> None:
    def blocking() -> tuple[int, int]:
        return threading.get_ident(), 99

    ident, value = arun(asyncio.to_thread(blocking))
    assert value == 99
    assert ident != threading.get_ident()


def test_run_in_executor_result_comes_back(arun: ARun) -> None:
    async def scenario() -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, "-".join, ["a", "b"])

    assert arun(scenario()) == "a-b"


def test_closing_the_last_window_does_not_stop_arun(arun: ARun, qtbot: QtBot) -> None:
    async def scenario() -> str:
        window = QWidget()
        qtbot.addWidget(window)
        window.show()
        await asyncio.sleep(0)
        window.close()
        # Proved by events, not by waiting: the close is done, and whatever it posted (a quit
        # would be a posted event) has been delivered before the scenario goes on.
        assert not window.isVisible()
        QApplication.sendPostedEvents()
        QApplication.processEvents()
        await asyncio.sleep(0)
        return "finished"

    assert arun(scenario()) == "finished"


def test_loop_errors_reach_the_excepthook(
    qloop: qasync.QEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    caught: list[Any] = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc_info: caught.append(exc_info))
    qloop.call_exception_handler({"message": "Task exception", "exception": KeyError("k")})
    qloop.call_exception_handler({"message": "Task was destroyed but it is pending!"})
    assert [type(value) for _, value, _ in caught] == [KeyError, RuntimeError]
    assert "destroyed" in str(caught[1][1])


@pytest.fixture
def tasks_checked_after_qloop() -> Iterator[list[asyncio.Task[None]]]:
    """Set up before ``qloop``, so torn down after it: sees what its teardown did."""
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    assert tasks
    assert all(task.cancelled() for task in tasks)


def test_leftover_tasks_are_cancelled_after_the_test(
    tasks_checked_after_qloop: list[asyncio.Task[None]], qloop: qasync.QEventLoop
) -> None:
    tasks_checked_after_qloop.append(qloop.create_task(asyncio.sleep(3600)))


def test_no_loop_leaks_into_tests_without_qt() -> None:
    assert asyncio.events._get_running_loop() is None


@pytest.mark.anyio
async def test_core_async_tests_run_on_plain_asyncio() -> None:
    loop = asyncio.get_running_loop()
    assert type(loop).__module__.startswith("asyncio")
    assert await _double_later(1) == 2


def test_gui_mark_is_added(request: pytest.FixtureRequest, qtbot: QtBot) -> None:
    assert request.node.get_closest_marker("gui") is not None


def test_gui_mark_is_not_added_to_core_tests(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("gui") is None


def test_offscreen_qt_draws_text(qtbot: QtBot) -> None:
    """A machine with no usable font draws text as nothing, without a warning."""

    def colours(text: str) -> int:
        label = QLabel(text)
        qtbot.addWidget(label)
        label.resize(200, 40)
        image = label.grab().toImage()
        return len({image.pixel(x, y) for x in range(image.width()) for y in range(image.height())})

    assert colours("Olá, ação — Caixa") > colours("") + 10
