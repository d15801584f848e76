"""Entry point of the ``caixa`` program.

Parses the command line without importing Qt, so headless commands (``caixa export``) start
fast and run on machines without a display; only the desktop app imports ``desktop.app``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``caixa`` with ``argv`` (default: the process arguments)."""
    from sync.cli import parse, run_command

    args = parse(argv)
    if args.command is not None:
        return run_command(args)
    from desktop.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
