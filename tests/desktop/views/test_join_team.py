""" "Join a team": the dialog against a real team server on loopback (Postgres), every refusal
explained in one sentence, the inbox filled from the first sync, and the offline banner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from desktop.app import attach_team_banner, join_team, open_team
from desktop.team_backend import TeamBackend, team_exists
from desktop.views.inbox_presenter import InboxPresenter
from desktop.views.join_team_dialog import (
    JoinTeamDialog,
    JoinTeamPresenter,
    normalize_server_url,
)
from desktop.views.main_window import MainWindow
from desktop.widgets.team_banner import TeamBanner, TeamStatus
from sync.client.team import AuthRefused, Callbacks, ResyncRequired, TeamError, TeamOffline
from sync.settings import Paths
from sync.store.local.cache_key import CacheKey
from sync.store.team.database import ServerDatabase
from tests.desktop.gui import close_inbox
from tests.sync.client.team_server import PASSWORD, Team, add_messages, running_server, seed

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun, PgDatabase


@pytest.fixture
def server(pg_database: PgDatabase, postgres_cluster: Any) -> Iterator[tuple[str, Team]]:
    db = ServerDatabase(pg_database.app_url)
    team = seed(db)
    add_messages(db, team, "shop", 30, body="Bom dia, tem pão de queijo?")
    try:
        with running_server(db, postgres_cluster.dsn(pg_database.name, app=True)) as url:
            yield url, team
    finally:
        db.dispose()


@pytest.fixture
def joined(arun: ARun, server: tuple[str, Team], tmp_path: Path) -> Callable[[str], TeamBackend]:
    """``joined(name)``: that user's desktop backend, joined to the team in its own folder."""

    def join(name: str) -> TeamBackend:
        paths = Paths(data_dir=tmp_path / name, key_file=tmp_path / f"{name}.json")
        return arun(
            join_team(paths, server[0], name, PASSWORD, lambda *_: None, key=CacheKey.generate())
        )

    return join


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    # A key file: the team token then lives inside the encrypted cache, not in this machine's
    # keyring (tests never touch it).
    return Paths(data_dir=tmp_path / "data", key_file=tmp_path / "key.json")


def test_server_addresses_are_normalized_or_refused() -> None:
    assert normalize_server_url(" caixa.example.com/ ") == "https://caixa.example.com"
    assert normalize_server_url("http://127.0.0.1:8788") == "http://127.0.0.1:8788"
    for bad in ("", "ftp://x", "https://", "https://x?y=1"):
        with pytest.raises(ValueError):
            normalize_server_url(bad)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (AuthRefused("no"), "Wrong user or password"),
        (TeamOffline("down"), "Cannot reach the server at https://caixa.example.com"),
        (ResyncRequired("protocol"), "too old for this server"),
        (TeamError("404"), "does not answer like a Caixa server"),
        (ValueError("not json"), "does not answer like a Caixa server"),
    ],
)
def test_every_refusal_is_one_plain_sentence(
    qtbot: QtBot, arun: ARun, error: Exception, expected: str
) -> None:
    async def join(*_: Any) -> Any:
        raise error

    presenter = JoinTeamPresenter(join)
    with qtbot.waitSignal(presenter.failed) as failed:
        assert arun(presenter.submit("caixa.example.com", "ana", "pw")) is None
    assert expected in failed.args[0]
    with qtbot.waitSignal(presenter.failed) as failed:
        assert arun(presenter.submit("caixa.example.com", "", "")) is None
    assert "user and password" in failed.args[0]


def test_joining_copies_the_team_and_opens_the_inbox(
    qtbot: QtBot, arun: ARun, server: tuple[str, Team], paths: Paths
) -> None:
    url, _team = server
    key = CacheKey.generate()
    joined: list[TeamBackend] = []

    async def join(address: str, user: str, password: str, progress: Any) -> TeamBackend:
        backend = await join_team(paths, address, user, password, progress, key=key)
        joined.append(backend)
        return backend

    dialog = JoinTeamDialog(JoinTeamPresenter(join))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.server_edit.setText(url)
    dialog.user_edit.setText("ana")
    dialog.password_edit.setText("wrong password")
    with qtbot.waitSignal(dialog.presenter.failed, timeout=15_000) as failed:
        qtbot.keyClick(dialog.password_edit, Qt.Key.Key_Return)
    assert "Wrong user or password" in failed.args[0]
    assert dialog.error_label.isVisible()
    assert not team_exists(paths)  # a failed join leaves nothing behind

    qtbot.waitUntil(dialog.password_edit.isEnabled)  # the form is back once the attempt ended
    # Enter tries again (the default button survives being disabled while busy).
    dialog.password_edit.setText(PASSWORD)
    with qtbot.waitSignal(dialog.accepted, timeout=15_000):
        qtbot.keyClick(dialog.password_edit, Qt.Key.Key_Return)
    backend = joined[0]
    presenter = InboxPresenter(backend)
    window = MainWindow(presenter)
    qtbot.addWidget(window)
    try:
        assert isinstance(backend, TeamBackend) and team_exists(paths)
        attach_team_banner(window, backend)
        arun(presenter.load())
        names = [
            presenter.conversations.index(row, 0).data(Qt.ItemDataRole.DisplayRole)
            for row in range(presenter.conversations.rowCount())
        ]
        # Ana may see the shop's number only.
        assert any("Customer of shop" in str(name) for name in names)
        assert not any("workshop" in str(name) for name in names)
    finally:
        close_inbox(arun, [window], backend)

    # The next start opens the team workspace from the cache, logged in with the kept token.
    again = arun(open_team(paths, key))
    assert again is not None and again.client is not None and again.server_url == url
    arun(again.aclose())


class _Client:
    """The callbacks ``TeamStatus`` follows, driven by the test."""

    def __init__(self) -> None:
        self.online = False
        self.status_changed: Callbacks[bool] = Callbacks()
        self.pending_changed: Callbacks[int] = Callbacks()
        self.auth_refused: Callbacks[None] = Callbacks()
        self.resync_required: Callbacks[str] = Callbacks()

    async def pending_count(self) -> int:
        return 2


def test_the_banner_says_offline_with_what_waits_and_asks_to_log_in_again(
    qtbot: QtBot, arun: ARun
) -> None:
    client = _Client()
    status = TeamStatus(client)  # type: ignore[arg-type]
    window = QWidget()
    qtbot.addWidget(window)
    banner = TeamBanner(status, window)
    window.show()
    assert not banner.isVisible()  # during the grace period, nothing is said
    qtbot.waitUntil(lambda: banner.isVisible(), timeout=TeamStatus.GRACE_MS + 2000)
    assert "Offline" in banner.label.text()
    arun(status.refresh())
    assert "2 messages wait" in banner.label.text()
    client.pending_changed.emit(1)
    assert "1 message waits" in banner.label.text()
    client.status_changed.emit(True)
    assert not banner.isVisible()
    client.auth_refused.emit(None)
    assert banner.isVisible() and banner.relogin_button.isVisible()
    assert "session" in banner.label.text()
    with qtbot.waitSignal(banner.relogin_requested):
        qtbot.mouseClick(banner.relogin_button, Qt.MouseButton.LeftButton)
    status.logged_in_again()
    assert not banner.isVisible()
    status.detach()


def test_an_agent_takes_a_conversation_and_the_team_sees_who_has_it(
    qtbot: QtBot, arun: ARun, server: tuple[str, Team], paths: Paths, pg_database: PgDatabase
) -> None:
    from sqlalchemy import text

    url, team = server
    backend = arun(join_team(paths, url, "ana", PASSWORD, lambda *_: None, key=CacheKey.generate()))
    presenter = InboxPresenter(backend)
    window = MainWindow(presenter)
    qtbot.addWidget(window)
    try:
        arun(presenter.load())
        window.show()
        arun(presenter.open_conversation(team.shop_chat))
        assert window.chat_pane.header.assignment_label.text() == "Nobody has this conversation yet"
        assert window.chat_pane.header.claim_button.isVisible()
        qtbot.mouseClick(window.chat_pane.header.claim_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: window.chat_pane.header.assignment_label.text() == "You have this conversation"
        )
        assert not window.chat_pane.header.claim_button.isVisible()
        assert backend.client is not None
        arun(backend.client.sync_now())  # pushed: the server (and so the team) knows
        db = ServerDatabase(pg_database.app_url)
        try:
            with db.system() as conn:
                owner = conn.execute(
                    text("SELECT assigned_user_id FROM conversations WHERE id = :c"),
                    {"c": team.shop_chat},
                ).scalar_one()
        finally:
            db.dispose()
        assert owner == team.ana
    finally:
        close_inbox(arun, [window], backend)


def test_a_failed_team_message_is_sent_again_by_a_supervisor_as_a_new_copy(
    arun: ARun, server: tuple[str, Team], joined: Callable[[str], TeamBackend]
) -> None:
    from sync.domain.models import DeliveryStatus, Direction
    from sync.store.local.outbox import OutboxError

    _, team = server

    sup, ana = joined("sup"), joined("ana")
    try:
        original = arun(sup.send_text(team.shop_chat, "Seu pedido saiu às 10h ✓"))
        with pytest.raises(OutboxError, match="failed or may not have been sent"):
            arun(sup.send_again(original.id))  # queued: nothing to resend yet

        def fail(cache: Any) -> None:  # what the server's "failed" brings on the next pull
            with cache.transaction() as conn:
                conn.exec_driver_sql(
                    "UPDATE messages SET status = 'failed', error = 'test' WHERE id = ?",
                    (original.id,),
                )

        arun(sup.db.run(fail))
        assert arun(sup.features()).can_send_again and not arun(ana.features()).can_send_again
        with pytest.raises(OutboxError, match="only a supervisor"):
            arun(ana.send_again(original.id))
        copy = arun(sup.send_again(original.id))
        assert copy.id != original.id
        assert copy.text == original.text and copy.conversation_id == team.shop_chat
        assert copy.direction is Direction.OUT and copy.status is DeliveryStatus.QUEUED
        with pytest.raises(OutboxError, match="no longer exists"):
            arun(sup.send_again("0190c6c3-0000-7000-8000-000000000000"))
    finally:
        arun(sup.aclose())
        arun(ana.aclose())


def chat_window(qtbot: QtBot, arun: ARun, backend: TeamBackend, conversation: int) -> MainWindow:
    """A shown main window over ``backend`` with ``conversation`` open."""
    window = MainWindow(InboxPresenter(backend))
    qtbot.addWidget(window)
    arun(window.presenter.load())
    window.show()
    arun(window.presenter.open_conversation(conversation))
    return window


def test_a_note_written_by_one_agent_is_read_by_the_team_never_sent(
    qtbot: QtBot, arun: ARun, server: tuple[str, Team], joined: Callable[[str], TeamBackend]
) -> None:
    from desktop.views.notes_dialog import NotesDialog

    _, team = server

    ana, sup = joined("ana"), joined("sup")
    windows: list[MainWindow] = []
    try:
        ana_window, sup_window = windows = [
            chat_window(qtbot, arun, backend, team.shop_chat) for backend in (ana, sup)
        ]
        assert ana_window.chat_pane.header.notes_button.isVisible()
        assert ana_window.chat_pane.header.notes_button.text() == "&Notes (0)"

        qtbot.mouseClick(ana_window.chat_pane.header.notes_button, Qt.MouseButton.LeftButton)
        dialog = ana_window.findChild(NotesDialog)
        assert dialog is not None and dialog.isVisible()
        assert dialog.empty_label.isVisible()
        assert not dialog.add_button.isEnabled()  # nothing to add yet
        dialog.edit.insert("Cliente prefere entrega à tarde")  # (keyClicks: ASCII only)
        assert dialog.add_button.isEnabled()
        qtbot.keyClick(dialog.edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: dialog.list.count() == 1)
        assert "Cliente prefere entrega à tarde" in dialog.list.item(0).text()
        assert ana_window.chat_pane.header.notes_button.text() == "&Notes (1)"
        dialog.reject()

        assert ana.client is not None and sup.client is not None
        arun(ana.client.sync_now())  # pushed to the server...
        arun(sup.client.sync_now())  # ...and pulled by the supervisor's desktop
        qtbot.waitUntil(lambda: sup_window.chat_pane.header.notes_button.text() == "&Notes (1)")
        sup_window.chat_pane.header.open_notes()
        seen = sup_window.findChild(NotesDialog)
        assert seen is not None
        assert seen.list.item(0).text().startswith("Ana · ")  # her name as the team knows it
        # A note is the team's: it never becomes a message to the customer.
        messages = arun(
            sup.db.run(
                lambda c: c.conn.exec_driver_sql(
                    "SELECT count(*) FROM messages WHERE body LIKE '%entrega à tarde%'"
                ).scalar_one()
            )
        )
        assert messages == 0
    finally:
        close_inbox(arun, windows, ana, sup)


def test_a_supervisor_assigns_a_conversation_and_a_refusal_is_said(
    qtbot: QtBot,
    arun: ARun,
    server: tuple[str, Team],
    joined: Callable[[str], TeamBackend],
    pg_database: PgDatabase,
) -> None:
    from PySide6.QtWidgets import QMessageBox
    from sqlalchemy import text

    _, team = server

    def owner() -> int | None:
        db = ServerDatabase(pg_database.app_url)
        try:
            with db.system() as conn:
                found: int | None = conn.execute(
                    text("SELECT assigned_user_id FROM conversations WHERE id = :c"),
                    {"c": team.shop_chat},
                ).scalar_one()
                return found
        finally:
            db.dispose()

    sup, ana = joined("sup"), joined("ana")
    windows: list[MainWindow] = []
    try:
        for backend in (sup, ana):
            arun(backend.start())  # the team's sync loop: commands are pushed as they queue
        sup_window, ana_window = windows = [
            chat_window(qtbot, arun, backend, team.shop_chat) for backend in (sup, ana)
        ]
        assert sup_window.chat_pane.header.assign_button.isVisible()
        assert (
            not ana_window.chat_pane.header.assign_button.isVisible()
        )  # agents take, supervisors assign

        arun(sup_window.chat_pane.header.show_assign_menu())
        menu = sup_window.chat_pane.header.assign_menu
        assert menu is not None
        names = [a.text() for a in menu.actions() if not a.isSeparator()]
        assert names == ["Ana", "Bia", "Sup", "Nobody"]
        to_ana = next(a for a in menu.actions() if a.data() == team.ana)
        to_ana.trigger()
        qtbot.waitUntil(
            lambda: (
                sup_window.chat_pane.header.assignment_label.text() == "Ana has this conversation"
            )
        )
        assert owner() == team.ana

        # Bia does not see the shop's number: the server refuses, and the supervisor is told.
        arun(sup_window.chat_pane.header.show_assign_menu())
        assert sup_window.chat_pane.header.assign_menu is not None
        to_bia = next(
            a for a in sup_window.chat_pane.header.assign_menu.actions() if a.data() == team.bia
        )
        to_bia.trigger()
        qtbot.waitUntil(lambda: sup_window.findChild(QMessageBox) is not None, timeout=15_000)
        box = sup_window.findChild(QMessageBox)
        assert box is not None and "cannot take this conversation" in box.text()
        assert "do not see its number" in box.text()
        box.close()
        assert owner() == team.ana
        assert sup_window.chat_pane.header.assignment_label.text() == "Ana has this conversation"
    finally:
        close_inbox(arun, windows, sup, ana)
