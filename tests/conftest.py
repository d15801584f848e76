"""Shared test setup: offscreen Qt, one qasync loop for the session, and the ``gui`` marker.

Fixtures for async code:

- core code (``sync/``): mark the test ``@pytest.mark.anyio`` and write ``async def test_...``;
  it runs on a plain asyncio loop made by anyio's plugin (``anyio_backend`` below picks asyncio).
- Qt code (``desktop/``): request ``qloop`` and/or ``arun``. ``qloop`` is the session's
  ``qasync.QEventLoop``, made the running asyncio loop for the whole test, so code that Qt calls
  (slots, timers, ``qtbot.waitSignal``/``waitUntil``) can use ``asyncio.get_running_loop()``,
  ``asyncio.create_task`` and ``qasync.asyncSlot``. ``arun(awaitable, timeout=10)`` runs an
  awaitable to completion on that loop and returns its result::

      def test_presenter_loads(arun, qtbot):
          presenter = InboxPresenter(...)
          arun(presenter.load())
          assert presenter.model.rowCount() == 3

  Don't mix the two in one test (anyio refuses to start while ``qloop`` is the running loop),
  and don't call ``qloop.run_until_complete``/``run_forever``/``stop``/``close``: use ``arun``.

Errors in the loop (a task's exception nobody retrieved, a failing callback) go to
``sys.excepthook``, which pytest-qt turns into a failure of the test that was running.
"""

from __future__ import annotations

import os

# Before anything can create a QGuiApplication: tests never need a display, and pixels drawn
# offscreen are the same on every machine.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

import asyncio
import inspect
import sys
import time
from collections.abc import Awaitable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pytest
from hypothesis import settings

# Property tests are not timed (speed is measured by benchmarks, never asserted): no per-example
# deadline, which a loaded machine would turn into random failures. Under CI (CI=true) the
# examples are derived from each test, not drawn at random, so a run can be replayed; run the
# suite locally to explore new ones.
settings.register_profile("caixa", deadline=None, print_blob=True)
settings.register_profile("caixa-ci", deadline=None, print_blob=True, derandomize=True)
settings.load_profile("caixa-ci" if os.environ.get("CI") else "caixa")

if TYPE_CHECKING:
    import qasync
    from PySide6.QtWidgets import QApplication

T = TypeVar("T")

# A test that requests any of these (directly or through another fixture) uses the Qt application.
GUI_FIXTURES = frozenset({"qapp", "qtbot", "qtmodeltester", "qloop", "arun", "qasync_loop"})

# How long teardown waits for the tasks a test left behind to finish cancelling.
_DRAIN_SECONDS = 5.0


class ARun(Protocol):
    """Type of the ``arun`` fixture (``if TYPE_CHECKING: from tests.conftest import ARun``)."""

    def __call__(self, aw: Awaitable[T], /, timeout: float = 10.0) -> T: ...


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects, so ``-m "not gui"`` sees the mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the Qt application as ``gui``."""
    for item in items:
        if GUI_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.gui)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio only (session scope allows broader fixtures)."""
    return "asyncio"


class _QuitWatch:
    """Notices ``QApplication.quit()``/``exit()`` called by code under test.

    Outside ``app.exec()`` such a call leaves Qt's "quit now" flag set, after which every nested
    event loop (``qtbot.waitSignal``, ``arun``) returns at once, so later tests fail for no visible
    reason. The app must end by setting its shutdown event instead (STYLE.md).
    """

    def __init__(self) -> None:
        self.seen = False

    def on_about_to_quit(self) -> None:
        self.seen = True


@pytest.fixture(scope="session")
def qasync_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """The one ``qasync.QEventLoop`` of the session. Tests want ``qloop`` or ``arun`` instead.

    One loop for the session: a new loop per test would have to be stopped, and qasync's ``stop()``
    calls ``app.exit()``, which breaks the next test's event loop.
    """
    import qasync

    loop = qasync.QEventLoop(qapp)
    watch = _QuitWatch()
    qapp.aboutToQuit.connect(watch.on_about_to_quit)
    loop._caixa_quit_watch = watch  # type: ignore[attr-defined]
    yield loop
    qapp.aboutToQuit.disconnect(watch.on_about_to_quit)
    # Not running (qasync's flag is only set inside run_forever), so close() won't touch the app;
    # it joins the QThreadExecutor's worker threads and avoids an "unclosed event loop" warning.
    loop.close()


@pytest.fixture
def qloop(qasync_loop: qasync.QEventLoop, qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """The session's qasync loop, made the current and running asyncio loop for this test.

    Qt drives it: whenever Qt processes events (``qtbot.wait*``, ``arun``, ``processEvents``),
    due asyncio callbacks run. Tasks still pending when the test ends are cancelled and awaited.
    """
    loop = qasync_loop
    other = asyncio.events._get_running_loop()
    if other is not None:
        raise RuntimeError(f"another event loop is running ({other!r}); is this an anyio test?")
    watch: _QuitWatch = loop._caixa_quit_watch  # type: ignore[attr-defined]
    watch.seen = False
    loop.set_exception_handler(_report_loop_error)
    asyncio.set_event_loop(loop)
    asyncio.events._set_running_loop(loop)
    try:
        yield loop
        _cancel_leftover_tasks(loop)
    finally:
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(None)
        if watch.seen:
            _reset_quit_flag(qapp)
            watch.seen = False
            pytest.fail(
                "QApplication.quit()/exit() was called during the test; the app must end by "
                "setting its shutdown event (see STYLE.md), or every later Qt wait returns at once",
                pytrace=False,
            )


@pytest.fixture
def arun(qloop: qasync.QEventLoop) -> ARun:
    """``arun(awaitable, timeout=10)``: run it on ``qloop`` until done and return its result.

    It spins a private ``QEventLoop``, not ``qloop.run_until_complete``: that one runs
    ``app.exec()`` and ends it with ``app.exit()``, which emits ``aboutToQuit`` on every call, and
    inside ``app.exec()`` closing the last window quits the app and aborts the coroutine.
    On timeout the awaitable is cancelled and ``TimeoutError`` raised.
    """

    def run(aw: Awaitable[T], /, timeout: float = 10.0) -> T:
        if asyncio.events._get_running_loop() is not qloop or asyncio.current_task(qloop):
            if inspect.iscoroutine(aw):
                aw.close()  # never started: don't let it warn "was never awaited"
            raise RuntimeError(
                "arun() runs from plain test code only; inside a coroutine, await instead"
            )
        task = asyncio.ensure_future(asyncio.wait_for(aw, timeout), loop=qloop)
        # wait_for cancels at `timeout`; the margin covers an awaitable slow to honour that.
        if not _process_events_until_done(task, timeout + _DRAIN_SECONDS):
            task.cancel()
            _process_events_until_done(task, 1.0)
            raise TimeoutError(f"{aw!r} did not finish within {timeout}s, nor when cancelled")
        return task.result()

    return run


def _process_events_until_done(fut: asyncio.Future[Any], seconds: float) -> bool:
    """Let Qt process events (running the asyncio callbacks due) until ``fut`` is done."""
    from PySide6.QtCore import QEventLoop, QTimer

    if fut.done():
        return True
    events = QEventLoop()

    def quit_events(_: object = None) -> None:
        events.quit()

    fut.add_done_callback(quit_events)
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(quit_events)
    deadline.start(int(seconds * 1000))
    started = time.monotonic()
    try:
        code = events.exec()
    finally:
        deadline.stop()
        fut.remove_done_callback(quit_events)
    if code == -1 and not fut.done():
        # Qt refuses nested loops while its "quit now" flag is set (see _QuitWatch).
        raise RuntimeError(
            f"Qt would not run an event loop (after {time.monotonic() - started:.3f}s): "
            "QApplication.quit()/exit() was called outside app.exec()"
        )
    return fut.done()


def _cancel_leftover_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks a test left running, so none of them runs during a later test."""
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if not leftovers:
        return
    for task in leftovers:
        task.cancel()
    everything = asyncio.gather(*leftovers, return_exceptions=True)
    if not _process_events_until_done(everything, _DRAIN_SECONDS):
        pytest.fail(f"tasks ignored cancellation at the end of the test: {leftovers}")
    for task in leftovers:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {"message": "task failed while being cancelled", "exception": task.exception()}
            )


def _report_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Hand an error caught by the loop to ``sys.excepthook`` (pytest-qt fails the test)."""
    message = context.get("message") or "unhandled error in the event loop"
    details = [f"{key}: {value!r}" for key, value in context.items() if key != "message"]
    error = context.get("exception")
    if not isinstance(error, BaseException):
        error = RuntimeError("\n".join([message, *details]))
    else:
        error.add_note(f"(asyncio: {message})")
    sys.excepthook(type(error), error, error.__traceback__)


def _reset_quit_flag(app: QApplication) -> None:
    """Clear Qt's "quit now" flag: only ``app.exec()`` resets it, on the way in and out."""
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, lambda: app.exit(0))
    app.exec()


@pytest.fixture(autouse=True)
def _collect_qt_garbage_on_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used Qt, collect its garbage now, on the GUI thread.

    Windows, presenters and their timers often sit in reference cycles; left to Python's cyclic
    GC they are freed whenever it next runs, on whatever thread allocates then (the database
    thread, a loopback server's thread). Qt forbids destroying a QObject with timers from another
    thread ("Timers cannot be stopped from another thread") and may crash doing it.
    """
    yield
    if request.node.get_closest_marker("gui") is not None:
        import gc

        gc.collect()


# --- Postgres (team server tests) --------------------------------------------------------------


class PgDatabase(Protocol):
    """Type of the ``pg_database`` fixture: one fresh, migrated database for one test."""

    name: str
    owner_url: str  # the schema owner (DDL, CLI ``db upgrade``)
    app_url: str  # the server's login role: owns nothing, row-level security applies


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """A real Postgres cluster for the whole session (started only if some test asks for it)."""
    from tests.fakes.postgres import PostgresCluster

    cluster = PostgresCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def _pg_template(postgres_cluster: Any) -> str:
    """A database migrated to the newest schema, copied for each test (faster than migrating)."""
    from sync.store.team.database import upgrade
    from tests.fakes.postgres import APP_ROLE

    name = postgres_cluster.create_database()
    upgrade(postgres_cluster.url(name), APP_ROLE)
    return str(name)


@pytest.fixture
def pg_database(postgres_cluster: Any, _pg_template: str) -> Iterator[PgDatabase]:
    """A fresh copy of the migrated database, dropped after the test."""
    from types import SimpleNamespace

    name = postgres_cluster.create_database(template=_pg_template)
    try:
        yield SimpleNamespace(  # type: ignore[misc]
            name=name,
            owner_url=postgres_cluster.url(name),
            app_url=postgres_cluster.url(name, app=True),
        )
    finally:
        postgres_cluster.drop_database(name)


@pytest.fixture
def server_db(pg_database: PgDatabase) -> Iterator[Any]:
    """The team server's pool over a fresh database, as the server's role (RLS applies)."""
    from sync.store.team.database import ServerDatabase

    database = ServerDatabase(pg_database.app_url, pool_size=8)
    try:
        yield database
    finally:
        database.dispose()
