"""``caixa-server``'s admin commands against a real Postgres."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from sync.server.cli import main
from sync.server.credentials import generate_key
from tests.fakes.postgres import APP_ROLE
from tests.polling import wait_until


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from sync.store.team.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(config).get_current_head())


if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import PgDatabase


@pytest.fixture
def env(pg_database: PgDatabase, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "CAIXA_DATABASE_URL": pg_database.app_url,
        "CAIXA_DATABASE_OWNER_URL": pg_database.owner_url,
        "CAIXA_SECRET_KEY": generate_key(),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> tuple[int, str, str]:
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(list(argv))
    finally:
        sys.stdin = old
    out = capsys.readouterr()
    return code, out.out, out.err


def test_db_upgrade_on_an_empty_database_then_again(
    postgres_cluster: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = postgres_cluster.create_database()
    monkeypatch.setenv("CAIXA_DATABASE_URL", postgres_cluster.url(name, app=True))
    monkeypatch.setenv("CAIXA_DATABASE_OWNER_URL", postgres_cluster.url(name))
    try:
        for _ in range(2):
            code, out, err = run(capsys, "db", "upgrade")
            assert (code, err) == (0, "")
            assert f"; role {APP_ROLE} may read and write data" in out
            assert out.startswith(f"schema at revision {head_revision()}")
    finally:
        postgres_cluster.drop_database(name)


def test_users_and_accounts(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    account = tmp_path / "shop.json"
    account.write_text(
        json.dumps(
            {
                "provider": "gateway",
                "name": "Loja",
                "instance": "loja",
                "base_url": "http://127.0.0.1:9",
                "master_token": "master-secret-value",
                "instance_token": "",
            }
        )
    )
    code, out, _ = run(capsys, "accounts", "add", "--from-json", str(account))
    assert code == 0 and "number Loja added" in out
    code, _, err = run(capsys, "accounts", "add", "--from-json", str(account))
    assert code == 1 and "exists already" in err
    code, out, _ = run(capsys, "accounts", "list")
    assert "Loja\tgateway" in out and "master-secret-value" not in out

    code, out, _ = run(
        capsys,
        "users",
        "add",
        "ana",
        "--accounts",
        "Loja",
        "--password-stdin",
        stdin="s3cret-pass\n",
    )
    assert code == 0 and "user ana added" in out
    code, _, err = run(
        capsys,
        "users",
        "add",
        "bia",
        "--accounts",
        "Oficina",
        "--password-stdin",
        stdin="s3cret-pass\n",
    )
    assert code == 1 and "no number called 'Oficina'" in err
    code, _, err = run(capsys, "users", "add", "bia", "--password-stdin", stdin="short\n")
    assert code == 1 and "8 characters" in err
    code, out, _ = run(
        capsys,
        "users",
        "add",
        "sup",
        "--role",
        "supervisor",
        "--password-stdin",
        stdin="s3cret-pass\n",
    )
    assert code == 0
    code, out, _ = run(capsys, "users", "list")
    assert "ana\tagent\tLoja" in out and "sup\tsupervisor\tall numbers" in out

    from sync.server.auth import AuthError, login
    from sync.store.team.database import ServerDatabase

    db = ServerDatabase(env["CAIXA_DATABASE_URL"])
    try:
        login(db, "ana", "s3cret-pass")
        code, out, _ = run(capsys, "users", "disable", "ana")
        assert code == 0 and "1 session(s) ended" in out
        with pytest.raises(AuthError):
            login(db, "ana", "s3cret-pass")
    finally:
        db.dispose()


def test_clear_errors_without_settings_or_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CAIXA_DATABASE_URL", "CAIXA_DATABASE_OWNER_URL", "CAIXA_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(capsys, "users", "list")
    assert code == 1 and "CAIXA_DATABASE_URL is not set" in err
    monkeypatch.setenv("CAIXA_DATABASE_URL", "postgresql://u:hunter2-password@127.0.0.1:9/x")
    code, _, err = run(capsys, "users", "list")
    assert code == 1 and "cannot reach the database" in err and "hunter2" not in err
    code, out, _ = run(capsys, "keygen")
    assert code == 0 and len(out.strip()) == 44


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sync.server.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        result.returncode == 0 and "db upgrade" not in result.stderr and "keygen" in result.stdout
    )


@pytest.mark.parametrize("only_api", [False, True], ids=["dispatching", "no-dispatch"])
def test_serve_answers_health_and_stops_cleanly(
    env: dict[str, str], tmp_path: Path, only_api: bool
) -> None:
    import os
    import signal
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sync.server.cli",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            *(["--no-dispatch"] if only_api else []),
        ],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def health() -> httpx.Response | None:
            if process.poll() is not None:
                raise AssertionError(process.stdout.read() if process.stdout else "it exited")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            except httpx.TransportError:
                return None

        answer = wait_until(health, timeout=30, interval=0.1, message="the server answers")
        assert answer.json() == {"status": "ok", "database": True}
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/login",
            json={"username": "nobody", "password": "wrong password"},
            timeout=10,
        )
        assert login.status_code == 401
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert env["CAIXA_SECRET_KEY"] not in output and "owner-password" not in output
        assert ("(API and webhooks only)" in output) is only_api
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_db_prune_says_what_it_removed(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "db", "prune")
    assert (code, err) == (0, "")
    assert out == (
        "removed tombstones: 0 reactions, 0 notes, 0 messages, 0 conversations, 0 pending changes\n"
    )
    code, out, err = run(capsys, "db", "prune", "--older-than-days", "-1")
    assert code == 1 and out == ""
    assert err == "caixa-server: the age of tombstones to remove cannot be negative\n"
