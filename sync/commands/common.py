"""Small helpers the headless commands share."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


class InputError(Exception):
    """A file named on the command line could not be used (the message names the file)."""


def read_json_file(path: Path) -> Any:
    """The JSON document in ``path``; ``InputError`` (never quoting the content) otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        return json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        pass
    # Raised outside the except block: json's errors carry the document, and account files
    # hold secrets.
    raise InputError(f"{path} is not valid JSON")


def add_common_arguments(parser: argparse.ArgumentParser, *, subcommand: bool = False) -> None:
    """Flags every ``caixa`` command understands, before or after the command's name.

    On a subcommand they default to ``SUPPRESS``: argparse lets a subparser's defaults overwrite
    what was given before the command (``caixa --data-dir X export``).
    """
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if subcommand else {}
    parser.add_argument(
        "--data-dir", help="folder of the local cache (env CAIXA_DATA_DIR)", **default
    )
    parser.add_argument(
        "--key-file",
        help="keep the cache key in this file, not the keyring (env CAIXA_KEY_FILE)",
        **default,
    )
    parser.add_argument(
        "--demo", action="store_true", help="use the built-in demo workspace", **default
    )
