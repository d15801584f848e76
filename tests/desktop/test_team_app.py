"""The whole app in team mode: first run → Join a team → the team's inbox → Leave the team."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox

from desktop import app as app_module
from desktop.views.first_run_view import FirstRunView
from desktop.views.join_team_dialog import JoinTeamDialog
from desktop.views.main_window import MainWindow
from sync.store.team.database import ServerDatabase
from tests.desktop.gui import when, when_visible
from tests.sync.client.team_server import PASSWORD, add_messages, running_server, seed

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun, PgDatabase


@pytest.fixture
def server_url(pg_database: PgDatabase, postgres_cluster: Any) -> Iterator[str]:
    db = ServerDatabase(pg_database.app_url)
    team = seed(db)
    add_messages(db, team, "shop", 5, body="Tem pão de queijo?")
    try:
        with running_server(db, postgres_cluster.dsn(pg_database.name, app=True)) as url:
            yield url
    finally:
        db.dispose()


@pytest.mark.slow
def test_join_then_leave_a_team_from_the_app(
    qtbot: QtBot, arun: ARun, tmp_path: Path, server_url: str
) -> None:
    args = argparse.Namespace(
        data_dir=str(tmp_path / "data"), key_file=str(tmp_path / "key.json"), demo=False, lang="en"
    )
    seen: dict[str, Any] = {}
    stale = {id(w) for w in QApplication.topLevelWidgets()}  # windows of earlier tests

    def then(kind: type, action: Any) -> None:
        when_visible(kind, action, attempts=1500, ignore=stale)

    def on_first_run(view: FirstRunView) -> None:
        if "window" in seen:  # back after leaving: quit
            seen["first_run_again"] = True
            view.close()
            return
        stale.add(id(view))  # hidden, not gone, once chosen: not the second first-run screen
        view.join_team_chosen.emit()
        then(JoinTeamDialog, on_join)

    def on_join(dialog: JoinTeamDialog) -> None:
        dialog.server_edit.setText(server_url)
        dialog.user_edit.setText("ana")
        dialog.password_edit.setText(PASSWORD)
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        then(MainWindow, on_window)

    def on_window(window: MainWindow) -> None:
        seen["window"] = window
        rows = window.presenter.conversations.rowCount
        when(lambda: rows() > 0, lambda _: on_filled(window), attempts=1500)

    def on_filled(window: MainWindow) -> None:
        seen["rows"] = window.presenter.conversations.rowCount()
        seen["team_button"] = window.rail_pane.team_button.text()
        seen["add_hidden"] = window.rail_pane.add_number_button.isHidden()
        seen["team_folder"] = (tmp_path / "data" / "team").exists()
        window.rail_pane.team_button.click()
        then(QMessageBox, on_confirm)

    def on_confirm(box: QMessageBox) -> None:
        box.button(QMessageBox.StandardButton.Yes).click()
        then(FirstRunView, on_first_run)

    then(FirstRunView, on_first_run)
    app = QApplication.instance()
    assert arun(app_module._main(app, args, None), timeout=90) == 0
    assert seen["rows"] == 1  # ana sees the shop's one conversation
    assert seen["team_button"] == "Leave the team…" and seen["add_hidden"]
    assert seen["team_folder"] and seen.get("first_run_again")
    assert not (tmp_path / "data" / "team").exists()  # left: the team's copy is gone
