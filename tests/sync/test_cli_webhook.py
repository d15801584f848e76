"""``caixa webhook parse``: the receiver's view of one call, offline, with the real parsers."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sync.cli import parse
from sync.commands import webhook as webhook_command
from tests.sync.server.payloads import (
    EVOLUTION_INSTANCE,
    GATEWAY_INSTANCE,
    META_VERIFY_TOKEN,
    dumps,
    evolution_account_json,
    evolution_headers,
    evolution_text_message,
    gateway_account_json,
    gateway_headers,
    gateway_text_message,
    meta_account_json,
    meta_signature,
    meta_text_message,
)
from tests.sync.server.process import caixa_command, child_env


class Cli:
    """Runs ``caixa webhook parse ...`` in process; keeps what it printed."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.out = ""
        self.err = ""

    def account(self, description: dict[str, Any]) -> str:
        path = self.tmp_path / f"{description['provider']}.json"
        path.write_text(json.dumps(description), encoding="utf-8")
        return str(path)

    def __call__(self, *argv: str, stdin: bytes = b"") -> int:
        out, err = io.StringIO(), io.StringIO()
        args = parse(["webhook", "parse", *argv])
        code = webhook_command.run(args, stdout=out, stderr=err, stdin=io.BytesIO(stdin))
        self.out, self.err = out.getvalue(), err.getvalue()
        return code

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def _header(name: str, value: str) -> list[str]:
    return ["--header", f"{name}: {value}"]


# --- Meta ---------------------------------------------------------------------------------------


def test_a_signed_meta_message_prints_its_event(cli: Cli) -> None:
    body = dumps(meta_text_message("wamid.CLI1", "Olá! Tem açúcar mascavo? 🍰"))
    code = cli(
        "--provider",
        "meta",
        "--account-json",
        cli.account(meta_account_json()),
        *_header("Content-Type", "application/json"),
        *_header("X-Hub-Signature-256", meta_signature(body)),
        body.decode("utf-8"),
    )

    assert code == 0, cli.err
    messages = [e for e in cli.events() if e["kind"] == "message"]
    assert len(messages) == 1
    (message,) = messages
    assert message["account"] == "Loja Meta"
    assert message["provider_message_id"] == "wamid.CLI1"
    assert message["chat_phone"] == "5511999990001"
    assert message["direction"] == "in"
    assert message["type"] == "text"
    assert message["text"] == "Olá! Tem açúcar mascavo? 🍰"
    assert message["timestamp"] == 1_700_000_000
    assert "🍰" in cli.out  # UTF-8, not \\u escapes


def test_one_meta_call_with_entries_for_two_numbers_takes_both_account_files(
    cli: Cli, tmp_path: Path
) -> None:
    # One app, two numbers: Meta batches both numbers' changes in one signed call.
    first = meta_text_message("wamid.ONE", "Para a loja")
    second = meta_text_message("wamid.TWO", "Para a oficina", phone_number_id="109999999999999")
    body = dumps({"object": first["object"], "entry": first["entry"] + second["entry"]})
    workshop = {**meta_account_json("Oficina"), "phone_number_id": "109999999999999"}
    workshop_path = tmp_path / "workshop.json"
    workshop_path.write_text(json.dumps(workshop), encoding="utf-8")

    code = cli(
        "--provider",
        "meta",
        "--account-json",
        cli.account(meta_account_json()),
        "--account-json",
        str(workshop_path),
        *_header("X-Hub-Signature-256", meta_signature(body)),
        body.decode("utf-8"),
    )

    assert code == 0, cli.err
    messages = {e["provider_message_id"]: e for e in cli.events() if e["kind"] == "message"}
    assert messages["wamid.ONE"]["account"] == "Loja Meta"
    assert messages["wamid.TWO"]["account"] == "Oficina"
    assert messages["wamid.TWO"]["text"] == "Para a oficina"


def test_two_account_files_naming_the_same_number_are_refused(cli: Cli) -> None:
    body = dumps(meta_text_message("wamid.SAME"))
    path = cli.account(meta_account_json())
    code = cli(
        "--provider", "meta", "--account-json", path, "--account-json", path,
        *_header("X-Hub-Signature-256", meta_signature(body)), body.decode(),
    )  # fmt: skip

    assert code == 1
    assert "Loja Meta" in cli.err and cli.out == ""


@pytest.mark.parametrize(
    "name", ["x-hub-signature-256", "X-HUB-SIGNATURE-256", "X-Hub-Signature-256"]
)
def test_header_names_are_case_insensitive(cli: Cli, name: str) -> None:
    body = dumps(meta_text_message("wamid.CASE"))
    code = cli(
        "--provider",
        "meta",
        "--account-json",
        cli.account(meta_account_json()),
        *_header(name, meta_signature(body)),
        body.decode(),
    )

    assert code == 0, cli.err
    assert any(e["provider_message_id"] == "wamid.CASE" for e in cli.events())


def test_the_body_can_come_from_a_file_byte_for_byte(cli: Cli, tmp_path: Path) -> None:
    # Pretty-printed, non-ASCII, CRLF line ends: the signature covers these exact bytes.
    body = (
        json.dumps(meta_text_message("wamid.FILE", "Pão de queijo"), indent=2)
        .replace("\n", "\r\n")
        .encode("utf-8")
    )
    path = tmp_path / "body.json"
    path.write_bytes(body)

    code = cli(
        "--provider",
        "meta",
        "--account-json",
        cli.account(meta_account_json()),
        *_header("X-Hub-Signature-256", meta_signature(body)),
        f"@{path}",
    )

    assert code == 0, cli.err
    assert [e["text"] for e in cli.events() if e["kind"] == "message"] == ["Pão de queijo"]


def test_the_body_can_come_from_standard_input(cli: Cli) -> None:
    body = dumps(meta_text_message("wamid.STDIN"))
    code = cli(
        "--provider",
        "meta",
        "--account-json",
        cli.account(meta_account_json()),
        *_header("X-Hub-Signature-256", meta_signature(body)),
        "-",
        stdin=body,
    )

    assert code == 0, cli.err
    assert any(e["provider_message_id"] == "wamid.STDIN" for e in cli.events())


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "sha256=" + "0" * 64,
        meta_signature(dumps(meta_text_message("wamid.BAD")), "another-secret"),
    ],
    ids=["missing", "wrong", "other secret"],
)
def test_a_bad_signature_exits_2(cli: Cli, signature: str | None) -> None:
    body = dumps(meta_text_message("wamid.BAD"))
    headers = [] if signature is None else _header("X-Hub-Signature-256", signature)

    code = cli(
        "--provider",
        "meta",
        "--account-json",
        cli.account(meta_account_json()),
        *headers,
        body.decode(),
    )

    assert code == 2
    assert cli.out == ""
    assert cli.err.startswith("caixa: refused (40")


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"object": 5}'], ids=repr)
def test_a_signed_bad_payload_exits_3(cli: Cli, body: bytes) -> None:
    code = cli(
        "--provider",
        "meta",
        "--account-json",
        cli.account(meta_account_json()),
        *_header("X-Hub-Signature-256", meta_signature(body)),
        body.decode(),
    )

    assert code == 3
    assert cli.out == ""
    assert cli.err.startswith("caixa: refused (4")


def test_the_meta_handshake_prints_the_challenge(cli: Cli) -> None:
    account = cli.account(meta_account_json())
    query = ["--query", "hub.mode=subscribe", "--query", "hub.challenge=1158201444"]

    ok = cli(
        "--provider",
        "meta",
        "--account-json",
        account,
        "--method",
        "GET",
        *query,
        "--query",
        f"hub.verify_token={META_VERIFY_TOKEN}",
    )
    printed = cli.out
    wrong = cli(
        "--provider",
        "meta",
        "--account-json",
        account,
        "--method",
        "get",
        *query,
        "--query",
        "hub.verify_token=nope",
    )

    assert ok == 0
    assert printed == "1158201444\n"
    assert wrong == 2


# --- Evolution and the gateway ------------------------------------------------------------------


def test_evolution_takes_the_instance_from_the_account_unless_told(cli: Cli) -> None:
    account = cli.account(evolution_account_json())
    body = dumps(evolution_text_message("3EB0CLIEVO")).decode()
    token = _header("X-Caixa-Webhook-Token", evolution_headers()["x-caixa-webhook-token"])

    default = cli("--provider", "evolution", "--account-json", account, *token, body)
    default_events = cli.events()
    by_event = cli(
        "--provider",
        "evolution",
        "--account-json",
        account,
        "--path-instance",
        EVOLUTION_INSTANCE,
        "--path-event",
        "messages-upsert",
        *token,
        body,
    )
    other = cli(
        "--provider",
        "evolution",
        "--account-json",
        account,
        "--path-instance",
        "other",
        *token,
        body,
    )
    no_token = cli("--provider", "evolution", "--account-json", account, body)

    assert default == 0
    assert [e["provider_message_id"] for e in default_events if e["kind"] == "message"] == [
        "3EB0CLIEVO"
    ]
    assert by_event == 0
    assert other == 2
    assert no_token == 2


def test_the_gateway_needs_its_bearer_token(cli: Cli) -> None:
    account = cli.account(gateway_account_json())
    body = dumps(gateway_text_message("3EB0CLIGW")).decode()
    auth = gateway_headers()["Authorization"]

    ok = cli(
        "--provider", "gateway", "--account-json", account, *_header("authorization", auth), body
    )
    events = cli.events()
    wrong = cli(
        "--provider",
        "gateway",
        "--account-json",
        account,
        *_header("Authorization", "Bearer nope"),
        body,
    )
    elsewhere = cli(
        "--provider",
        "gateway",
        "--account-json",
        account,
        "--path-instance",
        "another",
        *_header("Authorization", auth),
        body,
    )

    assert ok == 0, cli.err
    assert [e["provider_message_id"] for e in events if e["kind"] == "message"] == ["3EB0CLIGW"]
    assert GATEWAY_INSTANCE  # the default path instance is the account's
    assert wrong == 2
    assert elsewhere == 2


# --- usage --------------------------------------------------------------------------------------


def test_usage_errors_exit_1_not_2_or_3(cli: Cli, tmp_path: Path) -> None:
    meta = cli.account(meta_account_json())

    assert cli("--provider", "gateway", "--account-json", meta, "{}") == 1
    assert "describes a meta number" in cli.err
    assert cli("--provider", "meta", "--account-json", meta, "--header", "no colon", "{}") == 1
    assert "--header" in cli.err
    assert cli("--provider", "meta", "--account-json", meta, "--query", "novalue", "{}") == 1
    assert cli("--provider", "meta", "--account-json", str(tmp_path / "none.json"), "{}") == 1
    assert cli("--provider", "meta", "--account-json", meta, f"@{tmp_path / 'none'}") == 1
    bad = tmp_path / "bad.json"
    bad.write_text('{"provider": "meta", "app_secret": "s3cr3t-value"', encoding="utf-8")
    assert cli("--provider", "meta", "--account-json", str(bad), "{}") == 1
    assert "s3cr3t-value" not in cli.err
    with pytest.raises(SystemExit) as exited:
        cli("--provider", "telegram", "--account-json", meta, "{}")
    assert exited.value.code == 1


def test_the_real_command_needs_no_cache_and_no_keyring(tmp_path: Path) -> None:
    account = tmp_path / "meta.json"
    account.write_text(json.dumps(meta_account_json()), encoding="utf-8")
    body = dumps(meta_text_message("wamid.PROCESS", "Olá 🍰"))
    probe = (
        "import sys\n"
        "from sync.cli import parse, run_command\n"
        "code = run_command(parse(sys.argv[1:]))\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('keyring', 'sqlalchemy', 'sqlcipher3', 'PySide6'))\n"
        "assert not loaded, loaded\n"
        "sys.exit(code)\n"
    )
    argv = [
        "webhook",
        "parse",
        "--provider",
        "meta",
        "--account-json",
        str(account),
        "--header",
        f"X-Hub-Signature-256: {meta_signature(body)}",
        "-",
    ]
    env = child_env({"HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "xdg")})

    probed = subprocess.run(
        [sys.executable, "-c", probe, *argv], input=body, env=env, capture_output=True, timeout=60
    )
    real = subprocess.run(
        [*caixa_command(), *argv], input=body, env=env, capture_output=True, timeout=60
    )

    assert probed.returncode == 0, probed.stderr.decode()
    assert real.returncode == 0, real.stderr.decode()
    assert real.stdout == probed.stdout
    events = [json.loads(line) for line in real.stdout.decode("utf-8").splitlines()]
    assert any(e.get("text") == "Olá 🍰" for e in events)
    assert not (tmp_path / "home").exists() and not (tmp_path / "xdg").exists()
