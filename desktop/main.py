"""Entry point of the ``caixa`` program.

Parses the command line without importing Qt, so headless commands (``caixa export``) start
fast and run on machines without a display; only the desktop app imports ``desktop.app``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sync.cli import add_common_arguments, add_export_parser, run_export


def build_parser() -> argparse.ArgumentParser:
    """The whole command line of ``caixa``."""
    parser = argparse.ArgumentParser(
        prog="caixa", description="Caixa: one inbox for all your WhatsApp numbers."
    )
    add_common_arguments(parser)
    parser.add_argument("--lang", help="interface language, e.g. pt_BR or en (default: system)")
    subparsers = parser.add_subparsers(dest="command")
    add_export_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``caixa`` with ``argv`` (default: the process arguments)."""
    args = build_parser().parse_args(argv)
    if args.command == "export":
        return run_export(args)
    from desktop.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
