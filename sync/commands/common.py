"""Small helpers the headless commands share."""

from __future__ import annotations

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
