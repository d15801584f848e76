"""``caixa receive``: the listen address, start-up refusals, picking up new numbers, clean stops."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from sync.cli import parse
from sync.commands import receive
from sync.commands.receive import _DirectoryRefresher
from sync.ingress.listen import parse_listen
from sync.providers.accounts import account_from_json
from sync.providers.directory import StaticDirectory
from sync.store.local.accounts import add_provider_account
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.secrets import AccountSecrets, CacheAccountSecrets
from tests.sync.server.payloads import (
    dumps,
    gateway_account_json,
    meta_account_json,
    meta_headers,
    meta_text_message,
)
from tests.sync.server.process import HttpConnection, ReceiverProcess, add_number


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8787", ("127.0.0.1", 8787)),
        ("0.0.0.0:80", ("0.0.0.0", 80)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:8080", ("::1", 8080)),
    ],
)
def test_listen_addresses(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["8787", "host:", ":8787", "host:port", "host:70000", "[::1]"])
def test_bad_listen_addresses_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen(value)


def test_without_a_cache_it_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAIXA_KEY_FILE", raising=False)
    args = parse(["receive", "--data-dir", str(tmp_path / "none"), "--listen", "127.0.0.1:0"])

    assert receive.run(args) == 1

    assert "caixa accounts add" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_a_bad_listen_address_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert receive.run(parse(["receive", "--listen", "nowhere"])) == 1
    assert "HOST:PORT" in capsys.readouterr().err


@pytest.mark.anyio
async def test_numbers_added_while_running_are_picked_up(tmp_path: Path) -> None:
    db = Database(tmp_path / "caixa-cache.db", CacheKey.generate())
    await db.open()
    try:
        secrets = AccountSecrets(db.path, key_file=tmp_path / "key.json")
        store = CacheAccountSecrets()
        await db.run(add_provider_account, account_from_json(meta_account_json()), store)
        directory = StaticDirectory()
        refresher = _DirectoryRefresher(db, secrets, directory)
        await refresher.refresh()
        assert [a.provider for a in directory.all()] == ["meta"]

        await db.run(add_provider_account, account_from_json(gateway_account_json()), store)
        await refresher.refresh()

        assert sorted(a.provider for a in directory.all()) == ["gateway", "meta"]
        assert directory.accounts("gateway")[0].instance_token.reveal() == (  # type: ignore[union-attr]
            "gateway-instance-token-for-tests"
        )
    finally:
        await db.aclose()


@pytest.mark.slow
def test_the_real_command_serves_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    data_dir, key_file = tmp_path / "data", tmp_path / "cache-key.json"
    add_number(data_dir, key_file, meta_account_json())
    receiver = ReceiverProcess(data_dir, key_file)
    receiver.start()
    body = dumps(meta_text_message("wamid.SIGINT"))

    async def post() -> int:
        http = await HttpConnection.open(receiver.port)
        try:
            status, _ = await http.request("POST", "/hooks/meta", meta_headers(body), body)
            return status
        finally:
            await http.close()

    try:
        assert asyncio.run(post()) == 200
    finally:
        code = receiver.stop(signal.SIGINT)

    assert code == 0
    log = receiver.log.read_text()
    assert "receiving webhooks on http://127.0.0.1:" in log
    assert "stopping" in log
    assert "Traceback" not in log
    assert "meta-app-secret-for-tests" not in log
