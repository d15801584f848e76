"""Export (``sync.store.local.export``) and the headless ``caixa export`` command."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from desktop.main import main
from sync.domain.models import DeliveryStatus
from sync.store.local import outbox
from sync.store.local.cache_key import CacheKey, KeyFileStore
from sync.store.local.export import FIELDS, UnknownAccount, iter_records, write_export
from sync.store.local.ingest import apply_events
from sync.store.local.local_cache import CACHE_FILE_NAME, LocalCache
from tests.sync.helpers import (
    BASE_TS,
    add_account,
    conversation_id_for,
    inbound,
    outbound_echo,
    receipt,
)

REPO = Path(__file__).resolve().parents[3]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ANA, BIA, CAIO = "+55 11 91111-1111", "+55 11 92222-2222", "+1 415 555 0100"
TRICKY = 'Dúvida: "bolo, torta"\nou pão?'


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path, CacheKey]:
    """A data folder with a cache, and its plain key file elsewhere: (data dir, key file, key)."""
    data_dir, key_file = tmp_path / "data", tmp_path / "keys" / "cache-key.json"
    key = CacheKey.generate()
    KeyFileStore(key_file).save_plain(key)
    cache = LocalCache.open(data_dir / CACHE_FILE_NAME, key)
    try:
        _fill(cache)
    finally:
        cache.close()
    return data_dir, key_file, key


def _fill(cache: LocalCache) -> None:
    # Created in an order unlike the export's, to see the export sort.
    garage = add_account(cache, "Oficina", sort_order=1)
    shop = add_account(cache, "Loja", sort_order=0)
    apply_events(
        cache,
        [
            inbound(
                garage,
                "wamid.g1",
                "Meu carro está pronto?",
                phone=CAIO,
                name="Caio",
                ts=BASE_TS + 50.5,
            ),
            inbound(shop, "wamid.b1", TRICKY, phone=BIA, name="Bia", ts=BASE_TS + 20),
            inbound(
                shop, "wamid.a1", "Tem açúcar mascavo?", phone=ANA, name="Ana", ts=BASE_TS + 0.123
            ),
            outbound_echo(shop, "wamid.a2", "Temos sim!", phone=ANA, ts=BASE_TS + 1.999),
            receipt(shop, "wamid.a2", DeliveryStatus.READ),
        ],
    )
    ana = conversation_id_for(cache, shop, ANA)
    failed, _ = outbox.enqueue_text(
        cache, ana, "Chega amanhã", now_ms=int(BASE_TS * 1000) + 3000, reply_to="wamid.a1"
    )
    outbox.claim_next(cache)
    outbox.complete_failed(cache, failed.id, "rejected: window closed")
    outbox.enqueue_text(cache, ana, "Ainda na fila", now_ms=int(BASE_TS * 1000) + 4000)


def _run(*argv: str) -> int:
    return main(list(argv))


def _args(ws: tuple[Path, Path, CacheKey], *extra: str) -> list[str]:
    data_dir, key_file, _ = ws
    return ["export", "--data-dir", str(data_dir), "--key-file", str(key_file), *extra]


# --- what is exported ---------------------------------------------------------------------------


def test_jsonl_has_every_message_with_the_documented_fields_in_order(
    workspace: tuple[Path, Path, CacheKey], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(*_args(workspace, "--format", "jsonl")) == 0

    out, err = capsys.readouterr()
    lines = out.splitlines()
    records = [json.loads(line) for line in lines]
    assert FIELDS == (
        "account", "customer_phone", "customer_name", "message_id", "provider_message_id",
        "direction", "timestamp", "type", "text", "reply_to", "status", "error",
    )  # fmt: skip
    assert all(list(r) == list(FIELDS) for r in records)
    # By number (rail order), conversation, time.
    summary = [(r["account"], r["customer_name"], r["text"], r["status"]) for r in records]
    assert summary == [
        ("Loja", "Bia", TRICKY, "received"),
        ("Loja", "Ana", "Tem açúcar mascavo?", "received"),
        ("Loja", "Ana", "Temos sim!", "read"),
        ("Loja", "Ana", "Chega amanhã", "failed"),
        ("Loja", "Ana", "Ainda na fila", "queued"),
        ("Oficina", "Caio", "Meu carro está pronto?", "received"),
    ]
    assert all(ISO_UTC.match(r["timestamp"]) for r in records)
    by_text = {r["text"]: r for r in records}
    assert by_text["Tem açúcar mascavo?"]["timestamp"] == "2023-11-14T22:13:20.123Z"
    assert by_text["Temos sim!"]["timestamp"] == "2023-11-14T22:13:21.999Z"
    assert by_text["Meu carro está pronto?"]["timestamp"] == "2023-11-14T22:14:10.500Z"
    assert by_text["Tem açúcar mascavo?"]["customer_phone"] == ANA
    assert by_text["Temos sim!"]["provider_message_id"] == "wamid.a2"
    assert by_text["Temos sim!"]["direction"] == "out"
    assert by_text["Chega amanhã"] | {"message_id": None} == {
        "account": "Loja", "customer_phone": ANA, "customer_name": "Ana", "message_id": None,
        "provider_message_id": None, "direction": "out", "timestamp": "2023-11-14T22:13:23.000Z",
        "type": "text", "text": "Chega amanhã", "reply_to": "wamid.a1", "status": "failed",
        "error": "rejected: window closed",
    }  # fmt: skip
    assert len({r["message_id"] for r in records}) == 6
    assert "açúcar" in out  # UTF-8, not \u escapes
    assert err.strip() == "caixa: exported 6 messages"


def test_csv_has_a_header_and_the_same_records(
    workspace: tuple[Path, Path, CacheKey], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(*_args(workspace, "--format", "jsonl")) == 0
    as_json = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert _run(*_args(workspace, "--format", "csv")) == 0

    out = capsys.readouterr().out
    reader = csv.reader(io.StringIO(out, newline=""))
    header, *rows = list(reader)
    assert tuple(header) == FIELDS
    expected = [["" if v is None else str(v) for v in r.values()] for r in as_json]
    assert rows == expected
    assert TRICKY in [row[FIELDS.index("text")] for row in rows]  # quotes, comma, newline survive


def test_account_filter_exports_one_number(
    workspace: tuple[Path, Path, CacheKey], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(*_args(workspace, "--account", "Oficina")) == 0

    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["account"], r["text"]) for r in records] == [("Oficina", "Meu carro está pronto?")]


def test_out_writes_the_file_and_nothing_to_stdout(
    workspace: tuple[Path, Path, CacheKey], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "export.csv"

    assert _run(*_args(workspace, "--format", "csv", "--out", str(target))) == 0

    out, err = capsys.readouterr()
    assert out == ""
    assert "exported 6 messages" in err
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"), newline="")))
    assert tuple(rows[0]) == FIELDS and len(rows) == 7
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".export")] == []


# --- failures -----------------------------------------------------------------------------------


def test_an_unknown_account_fails_clearly_and_writes_no_file(
    workspace: tuple[Path, Path, CacheKey], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "export.jsonl"

    assert _run(*_args(workspace, "--account", "Padaria")) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == "caixa: no number is named 'Padaria'"

    assert _run(*_args(workspace, "--account", "Padaria", "--out", str(target))) == 1
    assert not target.exists()
    assert list(tmp_path.glob(".export.jsonl*")) == []


def test_a_missing_cache_fails_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "nothing-here"

    assert _run("export", "--data-dir", str(empty), "--key-file", str(tmp_path / "k.json")) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == f"caixa: there is no local cache at {empty / CACHE_FILE_NAME}"
    assert not empty.exists()  # looking did not create anything


def test_a_wrong_key_file_fails_with_exit_1_and_no_traceback(
    workspace: tuple[Path, Path, CacheKey], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data_dir, _, right = workspace
    wrong_file = tmp_path / "wrong.json"
    wrong = CacheKey.generate()
    KeyFileStore(wrong_file).save_plain(wrong)

    code = _run("export", "--data-dir", str(data_dir), "--key-file", str(wrong_file))

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.startswith("caixa: The local cache at ") and "could not be opened" in err
    assert "Traceback" not in err
    assert wrong.hex() not in err and right.hex() not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), ("{not json", "not a valid Caixa key file")],
    ids=["missing", "garbage"],
)
def test_a_missing_or_damaged_key_file_fails_with_exit_1(
    workspace: tuple[Path, Path, CacheKey],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str | None,
    message: str,
) -> None:
    data_dir = workspace[0]
    key_file = tmp_path / "other.json"
    if content is not None:
        key_file.write_text(content, encoding="utf-8")

    assert _run("export", "--data-dir", str(data_dir), "--key-file", str(key_file)) == 1

    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert key_file.exists() == (content is not None)  # export never makes a key


def test_an_unknown_format_is_a_usage_error(
    workspace: tuple[Path, Path, CacheKey], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        _run(*_args(workspace, "--format", "xml"))

    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_global_flags_before_the_command_are_honoured(
    workspace: tuple[Path, Path, CacheKey],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CAIXA_DATA_DIR", str(tmp_path / "not-this-one"))
    data_dir, key_file, _ = workspace

    code = _run("--data-dir", str(data_dir), "--key-file", str(key_file), "export")

    assert code == 0, capsys.readouterr().err
    assert len(capsys.readouterr().out.splitlines()) == 6


# --- the module API -----------------------------------------------------------------------------


def test_iter_records_and_write_export_agree(workspace: tuple[Path, Path, CacheKey]) -> None:
    data_dir, _, key = workspace
    cache = LocalCache.open(data_dir / CACHE_FILE_NAME, key)
    try:
        records = list(iter_records(cache, "Loja"))
        buffer = io.StringIO()
        assert write_export(cache, buffer, "jsonl", "Loja") == len(records) == 5
        assert [json.loads(line) for line in buffer.getvalue().splitlines()] == records
        with pytest.raises(UnknownAccount):
            list(iter_records(cache, "loja"))  # names match exactly
        with pytest.raises(ValueError, match="unknown export format"):
            write_export(cache, io.StringIO(), "xml")
    finally:
        cache.close()


# --- the real console script --------------------------------------------------------------------


def test_the_console_script_exports_headless_without_importing_qt(
    workspace: tuple[Path, Path, CacheKey], tmp_path: Path
) -> None:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        # The README's test command is `uv run pytest`: CI (CI=true) always has uv, so a missing
        # one there is a broken set-up, not a reason to skip the only end-to-end export check.
        if os.environ.get("CI"):
            pytest.fail("uv is not on PATH (nor in $UV) although CI is set")
        pytest.skip("uv is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    env["PYTHONPROFILEIMPORTTIME"] = "1"  # every imported module, on stderr
    target = tmp_path / "out.jsonl"

    result = subprocess.run(
        [uv, "run", "--frozen", "caixa", *_args(workspace, "--out", str(target))],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    imported = [
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    ]
    assert "desktop.main" in imported and "sync.store.local.export" in imported  # the profile works
    qt = [m for m in imported if m.split(".")[0] in ("PySide6", "shiboken6", "qasync")]
    assert qt == []
    assert "caixa: exported 6 messages" in result.stderr.splitlines()
    assert len(target.read_text(encoding="utf-8").splitlines()) == 6
