"""``caixa export --format jsonl|csv [--account NAME] [--out FILE]``: every message of the cache.

Exit codes: 0 done, 1 the cache could not be opened (message on stderr), 2 bad arguments
(argparse's convention).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sync.commands.common import add_common_arguments
from sync.settings import resolve_paths
from sync.store.local.cache_errors import CacheOpenError
from sync.store.local.cache_key import CacheKeyError, resolve_cache_key
from sync.store.local.export import UnknownAccount, write_export

if TYPE_CHECKING:
    from sync.store.local.local_cache import LocalCache


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``caixa export``."""
    export = subparsers.add_parser("export", help="export messages as JSON Lines or CSV")
    add_common_arguments(export, subcommand=True)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--account", help="only this number (its name, as shown in the rail)")
    export.add_argument("--out", help="write to this file instead of standard output")


def run(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    """Carry out ``caixa export``; returns the exit code."""
    stdout = stdout or sys.stdout
    paths = resolve_paths(args.data_dir, args.key_file)
    # Imported here: ``caixa`` without a command (the desktop app) must not pay for SQLAlchemy.
    from sync.store.local.local_cache import LocalCache

    cache_path = paths.cache_path(demo=args.demo)
    if not cache_path.exists():
        print(f"caixa: there is no local cache at {cache_path}", file=sys.stderr)
        return 1
    try:
        key = resolve_cache_key(
            cache_path,
            key_file=paths.key_file,
            passcode=os.environ.get("CAIXA_PASSCODE"),
            create=False,
        )
        cache = LocalCache.open(cache_path, key)
    except (CacheKeyError, CacheOpenError) as exc:
        print(f"caixa: {exc}", file=sys.stderr)
        return 1
    try:
        if args.out is None:
            count = write_export(cache, stdout, args.format, args.account)
        else:
            count = _export_to_file(cache, Path(args.out), args.format, args.account)
    except UnknownAccount as exc:
        print(f"caixa: no number is named {exc.args[0]!r}", file=sys.stderr)
        return 1
    finally:
        cache.close()
    print(f"caixa: exported {count} messages", file=sys.stderr)
    return 0


def _export_to_file(cache: LocalCache, out: Path, fmt: str, account: str | None) -> int:
    # Written beside the target and renamed at the end: a crash never leaves half a file
    # under the name the user asked for.
    out = out.expanduser().resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            count = write_export(cache, handle, fmt, account)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
