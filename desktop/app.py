"""The desktop application: builds the services, hands them to windows, runs the qasync loop.

This is the one place where services are built (no global registry). Start-up order, as STYLE.md
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTimer, QTranslator
from PySide6.QtWidgets import QApplication

from sync.settings import Paths, resolve_paths

# Everything else is imported where it is used. The order of a start is: Qt → the window
# painted from a quick read of the cache → asyncio, qasync, the engine and the cache for real.
# A start that needs the user (first run, passcode, no keyring) takes the slower, async path.
if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from desktop.services import Services
    from desktop.views.inbox_presenter import InboxPresenter
    from desktop.views.main_window import MainWindow
    from sync.store.cache_key import CacheKey
    from sync.store.first_screen import FirstScreen

_STARTED = time.perf_counter()

# The file the app offers when the OS has no keyring: beside the cache, protected by a passcode
# unless the user explicitly opted out.
DEFAULT_KEY_FILE_NAME = "cache-key.json"


def run_app(args: argparse.Namespace) -> int:
    """Run the desktop app until its last window closes; returns the exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Caixa")
    app.setOrganizationName("Caixa")
    app.setQuitOnLastWindowClosed(False)
    install_translations(app, args.lang)
    from desktop.gc_guard import GuiThreadGarbageCollector

    collector = GuiThreadGarbageCollector(app)
    early = paint_first_screen(resolve_paths(args.data_dir, args.key_file), demo=bool(args.demo))
    from desktop import bridge

    try:
        return int(bridge.run(_main(app, args, early)) or 0)
    finally:
        collector.stop()


@dataclass
class EarlyWindow:
    """The main window, painted from a quick read before the event loop and services exist."""

    cache_path: Path
    key: CacheKey
    presenter: InboxPresenter
    window: MainWindow


def paint_first_screen(paths: Paths, *, demo: bool, prefetched: Any = None) -> EarlyWindow | None:
    """Show the inbox at once when the cache exists and its key needs no question.

    Everything here is synchronous and light (no asyncio, no SQLAlchemy, no engine): this is
    what the user waits for. None when the user must be asked something first, or the quick
    read failed; the async start then does everything, dialogs included.
    """
    from sync.store.cache_key import CacheKeyError, resolve_cache_key

    cache_path = paths.cache_path(demo=demo)
    if not cache_path.exists():
        return None
    key_file = paths.key_file
    default_file = cache_path.parent / DEFAULT_KEY_FILE_NAME
    if key_file is None and default_file.exists():
        key_file = default_file
    try:
        key = resolve_cache_key(cache_path, key_file=key_file, create=False)
    except CacheKeyError:
        return None
    from desktop.models.conversation_list_model import PAGE_SIZE
    from sync.store.first_screen import read_first_screen

    first = read_first_screen(cache_path, key, limit=PAGE_SIZE)
    if first is None:
        return None
    return _show_first_screen(cache_path, key, first)


def _show_first_screen(cache_path: Path, key: CacheKey, first: FirstScreen) -> EarlyWindow:
    from desktop.views.inbox_presenter import InboxPresenter
    from desktop.views.main_window import MainWindow

    presenter = InboxPresenter(None)
    presenter.preload(first)
    window = MainWindow(presenter, defer_chat=True)
    window.show()
    window.repaint()  # paints now; the probe measures exactly this moment
    if os.environ.get("CAIXA_STARTUP_PROBE"):
        _report_first_paint()
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
    import asyncio

    from desktop import bridge
    from desktop.views.inbox_presenter import InboxPresenter
    from desktop.views.main_window import MainWindow

    paths = resolve_paths(args.data_dir, args.key_file)
    demo = bool(args.demo)
    if early is None and not demo and not paths.cache_path(demo=False).exists():
        from desktop.views.first_run_view import FirstRunChoice, run_first_run

        choice = await run_first_run()
        if choice is FirstRunChoice.QUIT:
            return 0
        demo = choice is FirstRunChoice.DEMO
        add_number = choice is FirstRunChoice.ADD_NUMBER
    else:
        add_number = False

    shutdown = asyncio.Event()
    probe = bool(os.environ.get("CAIXA_STARTUP_PROBE"))
    if early is not None:
        early.window.closed.connect(shutdown.set)
    services = await open_services(paths, demo=demo, key=early.key if early else None)
    if early is not None and (services is None or services.db.path != early.cache_path):
        early.window.hide()  # the cache it showed could not be opened after all
        early = None
    if services is None:
        return 1
    if early is not None:
        presenter, window = early.presenter, early.window
        presenter.attach(services)
    else:
        presenter = InboxPresenter(services)
        window = MainWindow(presenter)
    try:
        await presenter.load()
        if early is None:
            window.closed.connect(shutdown.set)
            window.show()
            if probe:
                window.repaint()
                _report_first_paint()
        await services.start()
        if add_number:
            bridge.spawn(window.add_number())
        if probe:
            QTimer.singleShot(3000, lambda: _report_idle(shutdown))
        await shutdown.wait()
    finally:
        window.hide()
        presenter.close()
        await bridge.drain()
        await services.aclose()
    return 0


async def open_services(
    paths: Paths,
    *,
    demo: bool,
    keyring_backend: KeyringBackend | None = None,
    key: CacheKey | None = None,
) -> Services | None:
    """Find the key (asking the user when needed) and open the workspace; None if they quit.

    ``key``, when given, is tried first (the one the first paint already found).
    """
    import tempfile

    from desktop.services import Services
    from desktop.views.cache_key_dialogs import offer_cache_reset, show_error
    from sync.store.cache_errors import CacheIncompatible, WrongCacheKey
    from sync.store.cache_key import CacheKey, CacheKeyError

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
        services = Services.create(cache_path, known, demo=demo, key_file=paths.key_file)
        known = None
        if ephemeral is not None:
            services.keep_alive = ephemeral
        try:
            await _prepare_with_progress(services, demo=demo)
            return services
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
    from sync.store.cache_key import (
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
    cache_path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = cache_path.with_name(cache_path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


async def _prepare_with_progress(services: Services, *, demo: bool) -> None:
    import asyncio

    from PySide6.QtWidgets import QProgressDialog

    dialog: QProgressDialog | None = None
    loop = asyncio.get_running_loop()
    if demo and not services.db.path.exists():
        dialog = QProgressDialog(
            QCoreApplication.translate("App", "Preparing the demo workspace…"), "", 0, 45_000
        )
        dialog.setCancelButton(None)
        dialog.setWindowTitle(QCoreApplication.translate("App", "Caixa"))
        dialog.setMinimumDuration(300)

    def progress(count: int) -> None:  # called on the database thread
        if dialog is not None:
            loop.call_soon_threadsafe(dialog.setValue, min(count, dialog.maximum() - 1))

    try:
        await services.prepare(progress=progress)
    finally:
        if dialog is not None:
            dialog.close()
            dialog.deleteLater()


def _report_first_paint() -> None:
    """Benchmark hook (``CAIXA_STARTUP_PROBE=1``): the main window has just painted its list."""
    first_paint_ms = (time.perf_counter() - _STARTED) * 1000
    print(
        "caixa-startup-probe "
        + json.dumps({"first_paint_ms": first_paint_ms, "rss_mb": _rss_mb()}),
        flush=True,
    )


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
