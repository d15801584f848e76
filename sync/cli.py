"""The command line of the ``caixa`` program, and its headless commands (no Qt imported).

``caixa`` alone runs the desktop app; ``caixa <command>`` runs one of ``COMMANDS`` without
importing Qt, so it works on machines without a display. Each command is one module under
``sync/commands/`` with ``add_parser(subparsers)`` and ``run(args) -> int`` (the exit code); a
module imports what it needs to run inside ``run``, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, Final

COMMANDS: Final[dict[str, str]] = {
    "export": "sync.commands.export",
    "accounts": "sync.commands.accounts",
    "webhook": "sync.commands.webhook",
    "receive": "sync.commands.receive",
}


def build_parser(*, commands: bool = True) -> argparse.ArgumentParser:
    """The whole command line of ``caixa``: the desktop app's flags and every command.

    Without ``commands`` the command modules are not imported (a plain ``caixa`` start).
    """
    # Here, not at the top: a plain ``caixa`` start never builds a parser (start-up speed).
    from sync.commands.common import add_common_arguments

    parser = argparse.ArgumentParser(
        prog="caixa", description="Caixa: one inbox for all your WhatsApp numbers."
    )
    add_common_arguments(parser)
    parser.add_argument("--lang", help="interface language, e.g. pt_BR or en (default: system)")
    subparsers = parser.add_subparsers(dest="command")
    if commands:
        for module in COMMANDS.values():
            importlib.import_module(module).add_parser(subparsers)
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv`` (default: the process arguments)."""
    if argv is None:
        argv = sys.argv[1:]
    quick = parse_app_start(argv)
    if quick is not None:
        return quick
    # Any word that is not a flag may be a command (or a typo argparse should report with the
    # list of commands), as may --help: only then are the command modules loaded.
    plain = all(arg.startswith("-") or _is_flag_value(argv, i) for i, arg in enumerate(argv))
    needs_commands = not plain or any(arg in ("-h", "--help") for arg in argv)
    return build_parser(commands=needs_commands).parse_args(argv)


_VALUE_FLAGS = frozenset({"--data-dir", "--key-file", "--lang"})


def parse_app_start(argv: Sequence[str]) -> argparse.Namespace | None:
    """The desktop app's plain start (its own flags only, well formed) without argparse.

    Building and running argparse's parser costs about 5 ms of the app's cold start, for a
    command line that is usually empty. None for anything else (a command, ``--help``, an
    abbreviation, a missing value, a typo): argparse then parses it and reports the errors.
    """
    values: dict[str, Any] = {
        "data_dir": None,
        "key_file": None,
        "demo": False,
        "lang": None,
        "command": None,
    }
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--demo":
            values["demo"] = True
            i += 1
            continue
        flag, equals, value = arg.partition("=")
        if flag not in _VALUE_FLAGS:
            return None
        if not equals:
            if i + 1 == len(argv) or argv[i + 1].startswith("-"):
                return None
            value = argv[i + 1]
            i += 1
        values[flag[2:].replace("-", "_")] = value
        i += 1
    return argparse.Namespace(**values)


def _is_flag_value(argv: Sequence[str], i: int) -> bool:
    return i > 0 and argv[i - 1] in _VALUE_FLAGS


def run_command(args: argparse.Namespace) -> int:
    """Run the headless command named in ``args``; returns its exit code."""
    code: int = importlib.import_module(COMMANDS[args.command]).run(args)
    return code
