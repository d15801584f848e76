"""Entry point of the ``caixa`` program.

Parses the command line without importing Qt, so headless commands (``caixa export``) start
fast and run on machines without a display; only the desktop app imports ``desktop.app``.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``caixa`` with ``argv`` (default: the process arguments)."""
    # Start-up creates a few hundred thousand objects that live as long as the process (modules,
    # Qt's types and their enums) and no garbage worth collecting; the cyclic GC would walk them
    # dozens of times before the window shows. The app hands collection to its GUI-thread
    # collector (desktop.gc_guard); a headless command gets it back at once.
    gc.disable()
    try:
        from sync.cli import parse, run_command

        args = parse(argv)
        if args.command is not None:
            gc.enable()
            return run_command(args)
        # The first screen is read before Qt is imported: the read needs no Qt, and PySide's
        # import hook reads the source of every module imported after it (to find out whether
        # it uses PySide), which the cache-reading modules are spared this way.
        from sync.settings import resolve_paths
        from sync.store.local.early_read import read_early

        early = read_early(resolve_paths(args.data_dir, args.key_file), demo=bool(args.demo))
        from desktop.app import run_app

        return run_app(args, early)
    finally:
        gc.enable()


if __name__ == "__main__":
    sys.exit(main())
