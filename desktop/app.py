"""The desktop application: builds the backend, hands it to windows, runs the qasync loop.

This is the one place where a backend is built (no global registry): ``SoloBackend`` for this
computer's own workspace (or the demo's), ``TeamBackend`` for a team's, both behind the one
interface the windows know (``desktop.backend.Backend``). Start-up order, as STYLE.md
describes: QApplication → translations → pick the workspace and its key (dialogs if needed) →
open the cache and the engine → show the window → ``await shutdown.wait()`` → close everything.
The loop is never stopped with ``app.quit()``: the last window closing sets the shutdown event,
so cleanup always runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from PySide6.QtCore import QCoreApplication, QEventLoop, QLibraryInfo, QLocale, QTimer, QTranslator
from PySide6.QtWidgets import QApplication

from sync.settings import DEFAULT_KEY_FILE_NAME, Paths, cache_files, resolve_paths

# Everything else is imported where it is used. The order of a start is: Qt → the window
# painted from a quick read of the cache → asyncio, qasync, the engine and the cache for real.
# A start that needs the user (first run, passcode, no keyring) takes the slower, async path.
if TYPE_CHECKING:
    from keyring.backend import KeyringBackend
    from PySide6.QtWidgets import QWidget

    from desktop.backend import Backend
    from desktop.solo_backend import SoloBackend
    from desktop.team_backend import TeamBackend
    from desktop.views.inbox_presenter import InboxPresenter
    from desktop.views.join_team_dialog import Progress
    from desktop.views.main_window import MainWindow
    from sync.store.local.cache_key import CacheKey
    from sync.store.local.early_read import EarlyRead
    from sync.store.local.first_screen import FirstScreen

_STARTED = time.perf_counter()

# An open that takes longer than this shows a busy dialog (a migration rebuilding the index).
SLOW_OPEN_MS = 700


def run_app(args: argparse.Namespace, early_read: EarlyRead | None = None) -> int:
    """Run the desktop app until its last window closes; returns the exit code.

    ``early_read``: the first screen, read from the cache before Qt was imported (desktop.main).
    """
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Caixa")
    app.setOrganizationName("Caixa")
    app.setQuitOnLastWindowClosed(False)
    install_translations(app, args.lang)
    from desktop import theme

    theme.apply(app)  # before the first widget: nothing made yet needs polishing again
    early = None if early_read is None else show_first_screen(early_read)
    # Only now: cyclic GC is off since desktop.main started, and the collector's first round walks
    # every object the start-up made, which must not delay the first paint.
    from desktop.gc_guard import GuiThreadGarbageCollector

    collector = GuiThreadGarbageCollector(app)
    from desktop import bridge

    try:
        return int(bridge.run(_main(app, args, early)) or 0)
    finally:
        collector.stop()


class EarlyWindow(NamedTuple):
    """The main window, painted from a quick read before the event loop and backend exist."""

    cache_path: Path
    key: CacheKey
    presenter: InboxPresenter
    window: MainWindow


def paint_first_screen(paths: Paths, *, demo: bool) -> EarlyWindow | None:
    """Show the inbox at once when the cache exists and its key needs no question.

    Everything here is synchronous and light (no asyncio, no SQLAlchemy, no engine): this is
    what the user waits for. None when the user must be asked something first, or the quick
    read failed; the async start then does everything, dialogs included. (``caixa`` itself
    reads before importing Qt, then calls ``show_first_screen``.)
    """
    from sync.store.local.early_read import read_early

    read = read_early(paths, demo=demo)
    return None if read is None else show_first_screen(read)


def show_first_screen(read: EarlyRead) -> EarlyWindow:
    """Paint the main window from the quick read of the cache."""
    return _show_first_screen(read.cache_path, read.key, read.screen)


def _show_first_screen(cache_path: Path, key: CacheKey, first: FirstScreen) -> EarlyWindow:
    from desktop.views.inbox_presenter import InboxPresenter
    from desktop.views.main_window import MainWindow

    presenter = InboxPresenter(None)
    presenter.preload(first)
    window = MainWindow(presenter, defer_chat=True)
    window.show()
    # The window paints when it is exposed, and exposing it is an event: process it now, so the
    # user sees the inbox before the rest of the start-up (the chat page, asyncio, the engine).
    # (``repaint()`` alone paints nothing here: the window is not exposed yet.) Clicks and keys
    # wait for the event loop, when the window is complete. The benchmark's bare window is
    # measured to the very same point.
    QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
    if os.environ.get("CAIXA_STARTUP_PROBE"):
        _report_first_paint(early=True)
    window.finish_building()
    return EarlyWindow(cache_path, key, presenter, window)


def install_translations(app: QCoreApplication, lang: str | None) -> None:
    """Load Caixa's and Qt's own translations for ``lang`` (default: the system locale)."""
    locale = QLocale(lang) if lang else QLocale.system()
    QLocale.setDefault(locale)
    for name, folder in (
        ("qtbase", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)),
        ("caixa", str(resources_dir() / "translations")),
    ):
        translator = QTranslator(app)
        if translator.load(locale, name, "_", folder):
            app.installTranslator(translator)


def resources_dir() -> Path:
    """``resources/`` in a source checkout, or its copy inside the installed package."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "resources", here / "resources"):
        if candidate.is_dir():
            return candidate
    return here.parent / "resources"


async def _main(app: QApplication, args: argparse.Namespace, early: EarlyWindow | None) -> int:

    paths = resolve_paths(args.data_dir, args.key_file)
    demo = bool(args.demo)
    add_number = False
    backend: Backend | None = None
    if early is None and not demo:
        from desktop.team_backend import team_exists

        if team_exists(paths):
            # A team's workspace: its cache first (offline first), the login if it ended.
            backend = await open_team_backend(paths)
            if backend is None:
                return 0
        elif not paths.cache_path(demo=False).exists():
            from desktop.views.first_run_view import FirstRunChoice, run_first_run

            choice = await run_first_run()
            if choice is FirstRunChoice.QUIT:
                return 0
            if choice is FirstRunChoice.JOIN_TEAM:
                backend = await join_team_interactively(paths)
                if backend is None:
                    return 0
            demo = choice is FirstRunChoice.DEMO
            add_number = choice is FirstRunChoice.ADD_NUMBER

    probe = bool(os.environ.get("CAIXA_STARTUP_PROBE"))
    closed_early: list[bool] = []
    if early is not None:  # the user may close the painted window while the rest loads
        early.window.closed.connect(lambda: closed_early.append(True))
    if backend is None:
        backend = await open_solo_backend(paths, demo=demo, key=early.key if early else None)
    if early is not None and (backend is None or backend.db.path != early.cache_path):
        early.window.hide()  # the cache it showed could not be opened after all
        early = None
    if backend is None:
        return 1  # the cache could not be opened (the user was told why)
    # One workspace at a time; joining or leaving a team from the window switches to another.
    while backend is not None:
        if closed_early:
            await backend.aclose()
            return 0
        switch = await _run_window(backend, early, paths, probe=probe, add_number=add_number)
        early, add_number = None, False
        if switch is None:
            return 0
        backend = await switch()  # None: the user quit on the way (first-run screen, dialogs)
    return 0


async def _run_window(
    backend: Backend,
    early: EarlyWindow | None,
    paths: Paths,
    *,
    probe: bool,
    add_number: bool,
) -> Any:
    """Show ``backend``'s workspace in the main window until it closes (None) or asks for
    another workspace: then the coroutine function that opens it (after this one is closed)."""
    import asyncio

    from desktop import bridge
    from desktop.solo_backend import SoloBackend
    from desktop.team_backend import TeamBackend
    from desktop.views.inbox_presenter import InboxPresenter
    from desktop.views.main_window import MainWindow

    shutdown = asyncio.Event()
    requested: list[Any] = []

    def switch_to(opener: Any) -> None:
        requested.append(opener)
        shutdown.set()

    if early is not None:
        presenter, window = early.presenter, early.window
        presenter.attach(backend)
    else:
        presenter = InboxPresenter(backend)
        window = MainWindow(presenter)
    window.closed.connect(shutdown.set)
    # The composition root knows which backend it built: the window is only told what to offer.
    team = backend if isinstance(backend, TeamBackend) else None
    solo_own = isinstance(backend, SoloBackend) and not backend.demo
    window.set_workspace_actions(
        join_team=_join_action(paths, switch_to) if solo_own else None,
        leave_team=None if team is None else _leave_action(paths, team, switch_to),
    )
    if team is not None:
        attach_team_banner(window, team)
    try:
        await presenter.load()
        if early is None:
            window.show()
            if probe:  # after the loop has handled the expose event, and so the paint
                QTimer.singleShot(0, lambda: _report_first_paint(early=False))
        await backend.start()
        if add_number:
            bridge.spawn(window.add_number())
        if probe:
            QTimer.singleShot(3000, lambda: _report_idle(shutdown))
        await shutdown.wait()
    finally:
        window.hide()
        presenter.close()
        await bridge.drain()
        await backend.aclose()
        window.deleteLater()
    return requested[0] if requested else None


def _join_action(paths: Paths, switch_to: Any) -> Any:
    """ "Join a team…" from a solo workspace: once joined, the window shows the team's."""

    async def join(parent: Any) -> None:
        joined = await join_team_interactively(paths, parent)
        if joined is not None:

            async def opener() -> Backend:
                return joined

            switch_to(opener)

    return join


def _leave_action(paths: Paths, team: TeamBackend, switch_to: Any) -> Any:
    """ "Leave the team…": forget the team's copy and login, back to this computer's own."""

    async def leave(parent: Any) -> None:
        from desktop.team_backend import forget_team
        from desktop.views.cache_key_dialogs import confirm

        waiting = await team.pending_count()
        text = QCoreApplication.translate(
            "App",
            "Leave the team? This computer's copy of the team's conversations is deleted; they "
            "stay on the team's server, and joining again brings them back.",
        )
        if waiting:
            text += "\n\n" + QCoreApplication.translate(
                "App", "%1 message(s) written here have not reached the server and will be lost."
            ).replace("%1", str(waiting))
        title = QCoreApplication.translate("App", "Leave the team")
        if not await confirm(title, text, parent):
            return

        async def opener() -> Backend | None:
            forget_team(paths)
            if paths.cache_path(demo=False).exists():
                return await open_solo_backend(paths, demo=False)
            from desktop.views.first_run_view import FirstRunChoice, run_first_run

            choice = await run_first_run()
            if choice is FirstRunChoice.QUIT:
                return None
            if choice is FirstRunChoice.JOIN_TEAM:
                return await join_team_interactively(paths)
            return await open_solo_backend(paths, demo=choice is FirstRunChoice.DEMO)

        switch_to(opener)

    return leave


async def join_team_interactively(paths: Paths, parent: Any = None) -> TeamBackend | None:
    """ "Join a team": the dialog, then the new team workspace (None when the user gave up)."""
    from desktop.views.join_team_dialog import ask_to_join

    async def join(url: str, user: str, password: str, progress: Progress) -> TeamBackend:
        return await join_team(paths, url, user, password, progress)

    joined: TeamBackend | None = await ask_to_join(join, parent)
    return joined


async def join_team(
    paths: Paths,
    server_url: str,
    username: str,
    password: str,
    progress: Progress,
    *,
    key: CacheKey | None = None,
    keyring_backend: KeyringBackend | None = None,
) -> TeamBackend:
    """Join: new team cache, login, token kept, first sync. Raises with nothing left behind."""
    import asyncio

    from desktop.team_backend import TeamBackend
    from sync.settings import remove_cache_files

    cache_path = paths.team_cache_path()
    fresh = not cache_path.exists()
    if key is None:
        key = await _team_key(paths, keyring_backend)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    backend = TeamBackend.create(cache_path, key, server_url=server_url, key_file=paths.key_file)
    loop = asyncio.get_running_loop()

    def report(done: int, total: int) -> None:  # may run on the database thread
        loop.call_soon_threadsafe(progress, done, total)

    try:
        await backend.prepare()
        await backend.join(username, password, report)
    except BaseException:
        await backend.aclose()
        if fresh:
            remove_cache_files(cache_path)
        raise
    return backend


async def _team_key(paths: Paths, keyring_backend: KeyringBackend | None) -> CacheKey:
    import asyncio

    from sync.store.local.cache_key import CacheKey

    found = await resolve_key_interactively(
        paths.team_cache_path(), paths.key_file, demo=False, keyring_backend=keyring_backend
    )
    if not isinstance(found, CacheKey):
        raise asyncio.CancelledError  # the user closed the key dialog: nothing to join with
    return found


async def open_team(
    paths: Paths,
    key: CacheKey,
    *,
    parent: QWidget | None = None,
) -> TeamBackend | None:
    """The team workspace, logged in (asking for the password again if needed); None = quit.

    Logged in with the kept token, it shows the inbox at once from the cache (offline first) and
    syncs in the background; with none (logged out, refused) the "Log in again" dialog comes
    first.
    """
    from desktop.team_backend import TeamBackend
    from desktop.views.join_team_dialog import ask_to_join

    backend = TeamBackend.create(
        paths.team_cache_path(), key, server_url="", key_file=paths.key_file
    )
    await backend.prepare()
    if await backend.resume():
        return backend
    server_url, username = await backend.last_login()
    await backend.aclose()

    async def relogin(url: str, user: str, password: str, progress: Progress) -> TeamBackend:
        return await join_team(paths, url, user, password, progress, key=key)

    joined: TeamBackend | None = await ask_to_join(
        relogin, parent, server=server_url, username=username, relogin=bool(server_url)
    )
    return joined


async def open_team_backend(paths: Paths) -> TeamBackend | None:
    """The team workspace of ``paths``: its key (asking if needed), then ``open_team``."""
    from desktop.views.cache_key_dialogs import offer_cache_reset
    from sync.store.local.cache_errors import CacheIncompatible, WrongCacheKey
    from sync.store.local.cache_key import CacheKey, CacheKeyError

    cache_path = paths.team_cache_path()
    while True:
        key = await resolve_key_interactively(cache_path, paths.key_file, demo=False)
        if not isinstance(key, CacheKey):
            return None
        try:
            return await open_team(paths, key)
        except (WrongCacheKey, CacheKeyError) as exc:
            if not await offer_cache_reset(str(exc), cache_path):
                return None
            # The team's conversations are all on the server: a new cache and a new login
            # bring them back.
            reset_cache(cache_path)
            return await join_team_interactively(paths)
        except CacheIncompatible as exc:
            from desktop.views.cache_key_dialogs import show_error

            await show_error(QCoreApplication.translate("App", "Caixa"), str(exc))
            return None


def attach_team_banner(window: MainWindow, team: TeamBackend) -> None:
    """Show the offline / session banner above the inbox and handle "Log in again…"."""
    from desktop import bridge
    from desktop.views.join_team_dialog import ask_to_join
    from desktop.widgets.team_banner import TeamBanner, TeamStatus

    assert team.client is not None
    status = TeamStatus(team.client, window)
    banner = TeamBanner(status, window)
    window.set_banner(banner)
    bridge.spawn(status.refresh())

    async def relogin() -> None:
        _, user = await team.last_login()

        async def login(url: str, username: str, password: str, progress: Progress) -> bool:
            await team.relogin(username, password)
            return True

        if await ask_to_join(login, window, server=team.server_url, username=user, relogin=True):
            status.logged_in_again()

    banner.relogin_requested.connect(lambda: bridge.spawn(relogin()))


async def open_solo_backend(
    paths: Paths,
    *,
    demo: bool,
    keyring_backend: KeyringBackend | None = None,
    key: CacheKey | None = None,
) -> SoloBackend | None:
    """Find the key (asking the user when needed) and open the workspace; None if they quit.

    ``key``, when given, is tried first (the one the first paint already found).
    """
    import tempfile

    from desktop.solo_backend import SoloBackend
    from desktop.views.cache_key_dialogs import offer_cache_reset, show_error
    from sync.store.local.cache_errors import CacheIncompatible, WrongCacheKey
    from sync.store.local.cache_key import CacheKey, CacheKeyError

    cache_path = paths.cache_path(demo=demo)
    ephemeral: tempfile.TemporaryDirectory[str] | None = None
    known: CacheKey | str | None = key
    while True:
        if known is None:
            known = await resolve_key_interactively(
                cache_path, paths.key_file, demo=demo, keyring_backend=keyring_backend
            )
            if known is None:
                return None
        if known == "ephemeral":
            # Demo without a keyring: fictitious data in a throw-away folder, key in memory only,
            # so nothing is ever written in clear and the demo still starts with one command.
            ephemeral = tempfile.TemporaryDirectory(prefix="caixa-demo-")
            cache_path = Path(ephemeral.name) / cache_path.name
            known = CacheKey.generate()
        assert isinstance(known, CacheKey)
        backend = SoloBackend.create(cache_path, known, demo=demo, key_file=paths.key_file)
        known = None
        if ephemeral is not None:
            backend.keep_alive = ephemeral
        try:
            await _prepare_with_progress(backend, demo=demo)
            return backend
        except (WrongCacheKey, CacheKeyError) as exc:
            if not await offer_cache_reset(str(exc), cache_path):
                return None
            reset_cache(cache_path)
        except CacheIncompatible as exc:
            await show_error(QCoreApplication.translate("App", "Caixa"), str(exc))
            return None


async def resolve_key_interactively(
    cache_path: Path,
    key_file: Path | None,
    *,
    demo: bool,
    keyring_backend: KeyringBackend | None = None,
) -> CacheKey | str | None:
    """The cache key from the flag's key file, the keyring, or a key file beside the cache.

    Returns ``"ephemeral"`` for a demo on a machine without keyring, None when the user gives up.
    """
    from desktop.views.cache_key_dialogs import (
        ask_passcode,
        choose_key_protection,
        offer_cache_reset,
        show_error,
    )
    from sync.store.local.cache_key import (
        CacheKey,
        CacheKeyError,
        KeyFileStore,
        MissingCacheKey,
        NoKeyringAvailable,
        PasscodeRequired,
        WrongPasscode,
        resolve_cache_key,
    )

    default_file = cache_path.parent / DEFAULT_KEY_FILE_NAME
    if key_file is None and default_file.exists():
        key_file = default_file
    passcode: str | None = None
    while True:
        try:
            return resolve_cache_key(
                cache_path, key_file=key_file, passcode=passcode, keyring_backend=keyring_backend
            )
        except (PasscodeRequired, WrongPasscode) as exc:
            passcode = await ask_passcode(
                key_file or default_file, retry=isinstance(exc, WrongPasscode)
            )
            if passcode is None:
                return None
        except NoKeyringAvailable:
            if demo and not cache_path.exists():
                return "ephemeral"
            choice = await choose_key_protection(default_file)
            if choice is None:
                return None
            key = CacheKey.generate()
            store = KeyFileStore(default_file)
            if choice.passcode is None:
                store.save_plain(key)
            else:
                store.save_protected(key, choice.passcode)
            key_file, passcode = default_file, choice.passcode
        except MissingCacheKey as exc:
            if not await offer_cache_reset(str(exc), cache_path):
                return None
            reset_cache(cache_path)
        except CacheKeyError as exc:  # a damaged key file, a key file that cannot be written
            await show_error(
                QCoreApplication.translate("App", "Caixa cannot open your messages"), str(exc)
            )
            return None


def reset_cache(cache_path: Path) -> Path | None:
    """Move a cache that cannot be opened aside (never delete it) so a new one can start."""
    if not cache_path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = cache_path.with_name(f"{cache_path.name}.unreadable-{stamp}")
    for side, moved in zip(cache_files(cache_path), cache_files(target), strict=True):
        if side.exists():
            side.rename(moved)
    return target


async def _prepare_with_progress(backend: SoloBackend, *, demo: bool) -> None:
    import asyncio

    from PySide6.QtWidgets import QProgressDialog

    dialog: QProgressDialog | None = None
    loop = asyncio.get_running_loop()
    if demo and not backend.db.path.exists():
        dialog = QProgressDialog(
            QCoreApplication.translate("App", "Preparing the demo workspace…"), "", 0, 45_000
        )
        dialog.setCancelButton(None)
        dialog.setWindowTitle(QCoreApplication.translate("App", "Caixa"))
        dialog.setMinimumDuration(300)

    slow: list[QProgressDialog] = []
    if dialog is None:
        # Opening is quick, except after an update of Caixa whose cache migration rebuilds the
        # search index (about 10 s for a million messages): say so if it takes a while. The
        # dialog is made only then (a QProgressDialog shows itself on its own timer).
        def say_slow() -> None:
            if done:
                return
            busy = QProgressDialog(
                QCoreApplication.translate(
                    "App", "Opening your messages… (after an update this can take a few seconds)"
                ),
                "",
                0,
                0,
            )
            busy.setCancelButton(None)
            busy.setWindowTitle(QCoreApplication.translate("App", "Caixa"))
            busy.show()
            slow.append(busy)

        QTimer.singleShot(SLOW_OPEN_MS, say_slow)

    def progress(count: int) -> None:  # called on the database thread
        if dialog is not None:
            loop.call_soon_threadsafe(dialog.setValue, min(count, dialog.maximum() - 1))

    done = False
    try:
        await backend.prepare(progress=progress)
    finally:
        done = True
        for shown in [*([dialog] if dialog is not None else []), *slow]:
            shown.close()
            shown.deleteLater()


def _report_first_paint(*, early: bool) -> None:
    """Benchmark hook (``CAIXA_STARTUP_PROBE=1``): the main window has just painted its list,
    from the quick read before the event loop (``early``) or after the whole async start."""
    first_paint_ms = (time.perf_counter() - _STARTED) * 1000
    cpu_ms = time.process_time() * 1000  # steadier than wall time on a busy machine
    figures = {"first_paint_ms": first_paint_ms, "cpu_ms": cpu_ms, "rss_mb": _rss_mb()}
    print("caixa-startup-probe " + json.dumps({**figures, "early": early}), flush=True)


def _report_idle(shutdown: Any) -> None:
    """Benchmark hook: memory after a few idle seconds with everything loaded; then quit."""
    print("caixa-idle-probe " + json.dumps({"rss_mb": _rss_mb()}), flush=True)
    shutdown.set()


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
