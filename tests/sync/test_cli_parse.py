"""The desktop app's quick command-line path agrees with argparse on everything it accepts."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.cli import build_parser, parse, parse_app_start


def by_argparse(argv: list[str]) -> argparse.Namespace | None:
    try:
        return build_parser(commands=False).parse_args(argv)
    except SystemExit:
        return None


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--demo"],
        ["--data-dir", "/tmp/x"],
        ["--data-dir=/tmp/x", "--demo"],
        ["--key-file", "k.json", "--data-dir", "d", "--lang", "pt_BR"],
        ["--lang=en", "--lang", "pt_BR"],  # the last one wins, as in argparse
        ["--data-dir", "with space/ç"],
        ["--data-dir="],
    ],
)
def test_the_app_flags_parse_as_argparse_parses_them(argv: list[str]) -> None:
    quick = parse_app_start(argv)
    assert quick is not None
    assert vars(quick) == vars(by_argparse(argv))
    assert parse(argv) == quick


@pytest.mark.parametrize(
    "argv",
    [
        ["export"],
        ["--help"],
        ["-h"],
        ["--data", "d"],  # an abbreviation: argparse decides
        ["--data-dir"],  # a missing value: argparse reports it
        ["--data-dir", "--demo"],
        ["--demo=yes"],
        ["--", "--demo"],
        ["--unknown"],
        ["d"],
    ],
)
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert parse_app_start(argv) is None


def test_errors_still_come_from_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(["--data-dir"])
    assert exited.value.code == 2
    assert "--data-dir: expected one argument" in capsys.readouterr().err


_WORDS = st.sampled_from(
    ["--demo", "--data-dir", "--key-file", "--lang", "--lang=en", "--data-dir=x", "x", "-x", "="]
)


@given(st.lists(_WORDS, max_size=6))
def test_generated_command_lines_agree_with_argparse(argv: list[str]) -> None:
    quick = parse_app_start(argv)
    if quick is not None:
        assert vars(quick) == vars(by_argparse(argv))
