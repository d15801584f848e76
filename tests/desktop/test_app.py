"""The app's start-up: finding the key (with or without keyring), resetting, running to the end."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from keyring.backends import fail
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from desktop import app as app_module
from desktop.views.cache_key_dialogs import KeyProtectionDialog, PasscodeDialog
from sync.store.local.cache_key import CacheKey, KeyFileStore
from tests.desktop.gui import when_visible
from tests.fakes.memory_keyring import MemoryKeyring

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun


def test_keyring_key_is_made_once_and_found_again(arun: ARun, tmp_path: Path) -> None:
    backend = MemoryKeyring()
    cache = tmp_path / "caixa-cache.db"
    first = arun(
        app_module.resolve_key_interactively(cache, None, demo=False, keyring_backend=backend)
    )
    assert isinstance(first, CacheKey)
    assert backend.entries == {("caixa", f"cache-key:{cache}"): first.hex()}
    again = arun(
        app_module.resolve_key_interactively(cache, None, demo=False, keyring_backend=backend)
    )
    assert again == first


def test_no_keyring_demo_runs_on_a_throwaway_key(arun: ARun, tmp_path: Path) -> None:
    cache = tmp_path / "demo" / "caixa-cache.db"
    result = arun(
        app_module.resolve_key_interactively(cache, None, demo=True, keyring_backend=fail.Keyring())
    )
    assert result == "ephemeral"
    assert not any(tmp_path.rglob("*"))  # nothing written, not even a folder


def test_no_keyring_asks_and_writes_a_passcode_protected_file(
    qtbot: QtBot, arun: ARun, tmp_path: Path
) -> None:
    cache = tmp_path / "caixa-cache.db"

    def choose_passcode(dialog: KeyProtectionDialog) -> None:
        dialog.passcode_edit.setText("pão-de-queijo")
        dialog.confirm_edit.setText("pão-de-queijo")
        dialog.buttons.accepted.emit()

    when_visible(KeyProtectionDialog, choose_passcode)
    key = arun(
        app_module.resolve_key_interactively(
            cache, None, demo=False, keyring_backend=fail.Keyring()
        )
    )
    assert isinstance(key, CacheKey)
    key_file = tmp_path / app_module.DEFAULT_KEY_FILE_NAME
    record = json.loads(key_file.read_text())
    assert record["kind"] == "scrypt-aesgcm"
    assert key.hex() not in key_file.read_text()

    # Next start: the file beside the cache is found and its passcode asked for; a wrong one is
    # refused with a retry, the right one opens it.
    typed = iter(["errado!", "pão-de-queijo"])

    def type_passcode(dialog: PasscodeDialog) -> None:
        dialog.passcode_edit.setText(next(typed))
        dialog.accept()
        if typed.__length_hint__():
            when_visible(PasscodeDialog, type_passcode)

    when_visible(PasscodeDialog, type_passcode)
    again = arun(
        app_module.resolve_key_interactively(
            cache, None, demo=False, keyring_backend=fail.Keyring()
        )
    )
    assert again == key


def test_no_keyring_cancel_gives_up_without_writing(
    qtbot: QtBot, arun: ARun, tmp_path: Path
) -> None:
    when_visible(KeyProtectionDialog, lambda d: d.reject())
    result = arun(
        app_module.resolve_key_interactively(
            tmp_path / "caixa-cache.db", None, demo=False, keyring_backend=fail.Keyring()
        )
    )
    assert result is None
    assert list(tmp_path.iterdir()) == []


def test_missing_key_offers_reset_and_keeps_the_old_file(
    qtbot: QtBot, arun: ARun, tmp_path: Path
) -> None:
    cache = tmp_path / "caixa-cache.db"
    cache.write_bytes(b"old encrypted bytes")
    (tmp_path / "caixa-cache.db-wal").write_bytes(b"wal")

    def accept(box: QMessageBox) -> None:
        next(
            b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole
        ).click()

    when_visible(QMessageBox, accept)
    backend = MemoryKeyring()
    key = arun(
        app_module.resolve_key_interactively(cache, None, demo=False, keyring_backend=backend)
    )
    assert isinstance(key, CacheKey)
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert len(kept) == 2 and all(".unreadable-" in name for name in kept)
    assert any(p.read_bytes() == b"old encrypted bytes" for p in tmp_path.iterdir())


def test_wrong_key_file_offers_reset_or_quit(qtbot: QtBot, arun: ARun, tmp_path: Path) -> None:
    from sync.store.local.local_cache import LocalCache

    data = tmp_path / "data"
    key_file = tmp_path / "key.json"
    cache_path = data / "caixa-cache.db"
    LocalCache.open(cache_path, CacheKey.generate()).close()
    KeyFileStore(key_file).save_plain(CacheKey.generate())  # not the cache's key
    paths = app_module.resolve_paths(str(data), str(key_file))

    def quit_(box: QMessageBox) -> None:
        assert "could not be opened" in box.detailedText()
        next(
            b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.RejectRole
        ).click()

    when_visible(QMessageBox, quit_)
    assert arun(app_module.open_solo_backend(paths, demo=False)) is None
    assert cache_path.exists()  # quitting changes nothing


@pytest.mark.slow
def test_app_runs_the_demo_until_its_window_closes(
    qtbot: QtBot, arun: ARun, tmp_path: Path
) -> None:
    from desktop.views.main_window import MainWindow

    args = argparse.Namespace(
        data_dir=str(tmp_path / "data"), key_file=str(tmp_path / "key.json"), demo=True, lang="en"
    )
    app = QApplication.instance()
    seen: list[MainWindow] = []

    def close_when_filled(window: MainWindow) -> None:
        seen.append(window)
        qtbot.waitUntil(lambda: window.presenter.conversations.rowCount() > 0, timeout=10_000)
        window.close()

    when_visible(MainWindow, close_when_filled, attempts=1000)
    assert arun(app_module._main(app, args, None), timeout=60) == 0
    assert seen
    assert (tmp_path / "data" / "demo" / "caixa-cache.db").exists()


@pytest.mark.slow
def test_a_second_start_paints_from_the_cache_before_the_loop_then_goes_live(
    qtbot: QtBot, arun: ARun, tmp_path: Path
) -> None:
    from desktop.views.main_window import MainWindow
    from sync.settings import resolve_paths

    args = argparse.Namespace(
        data_dir=str(tmp_path / "data"), key_file=str(tmp_path / "key.json"), demo=True, lang="en"
    )
    app = QApplication.instance()
    paths = resolve_paths(args.data_dir, args.key_file)
    assert app_module.paint_first_screen(paths, demo=True) is None  # no cache yet: async path

    when_visible(MainWindow, lambda window: window.close(), attempts=1000)
    assert arun(app_module._main(app, args, None), timeout=60) == 0  # makes the demo cache

    early = app_module.paint_first_screen(paths, demo=True)
    assert early is not None
    window = early.window
    assert window.isVisible()
    conversations = early.presenter.conversations
    assert conversations.rowCount() > 0
    assert early.presenter.accounts.rowCount() == 4  # "All numbers" and the three demo numbers
    assert not conversations.canFetchMore()  # nothing to read from until the cache is open
    assert (
        window.chat_pane.chat_view.model() is early.presenter.messages
    )  # built right after the paint

    opened: list[object] = []

    def open_then_close() -> None:
        presenter = early.presenter
        first_id = conversations.index(0, 0).data(conversations.ConversationIdRole)

        async def go() -> None:
            from tests.polling import eventually

            await eventually(lambda: presenter.attached, message="the early window went live")
            await presenter.open_conversation(first_id)
            opened.append(presenter.current_conversation)
            window.close()

        from desktop import bridge

        bridge.spawn(go())

    QTimer.singleShot(0, open_then_close)
    assert arun(app_module._main(app, args, early), timeout=60) == 0
    assert opened and opened[0] is not None  # the early window went live on the same cache


@pytest.mark.slow
def test_caixa_paints_a_second_start_from_the_cache_before_anything_else(tmp_path: Path) -> None:
    # The real program, end to end: desktop.main reads the first screen before importing Qt
    # and hands it to the app, which paints it before the event loop starts.
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CAIXA_STARTUP_PROBE="1")
    command = [
        sys.executable,
        "-m",
        "desktop.main",
        "--demo",
        "--data-dir",
        str(tmp_path / "data"),
        "--key-file",
        str(tmp_path / "key.json"),
        "--lang",
        "en",
    ]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    assert _startup_probe(first.stdout)["early"] is False  # no cache yet: the async start

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr
    assert _startup_probe(second.stdout)["early"] is True


def _startup_probe(stdout: str) -> dict[str, object]:
    """The start-up probe's figures; the idle probe (the app ran on and quit) follows them."""
    lines = stdout.splitlines()
    (painted,) = [n for n, line in enumerate(lines) if line.startswith("caixa-startup-probe ")]
    (idle,) = [n for n, line in enumerate(lines) if line.startswith("caixa-idle-probe ")]
    assert painted < idle
    figures: dict[str, object] = json.loads(lines[painted].split(" ", 1)[1])
    return figures


def test_a_slow_open_says_so_and_a_quick_one_shows_nothing(
    qtbot: QtBot, arun: ARun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from PySide6.QtWidgets import QProgressDialog

    seen: list[bool] = []

    class Slow:
        db = argparse.Namespace(path=tmp_path / "exists.db")

        def __init__(self, seconds: float) -> None:
            self.seconds = seconds

        async def prepare(self, **_: object) -> None:
            await asyncio.sleep(self.seconds)
            seen.append(
                any(
                    isinstance(w, QProgressDialog) and w.isVisible()
                    for w in QApplication.topLevelWidgets()
                )
            )

    (tmp_path / "exists.db").write_bytes(b"")
    arun(app_module._prepare_with_progress(Slow(0.05), demo=False))  # type: ignore[arg-type]
    arun(app_module._prepare_with_progress(Slow(1.2), demo=False))  # type: ignore[arg-type]
    assert seen == [False, True]
    qtbot.waitUntil(
        lambda: (
            not any(
                isinstance(w, QProgressDialog) and w.isVisible()
                for w in QApplication.topLevelWidgets()
            )
        )
    )
