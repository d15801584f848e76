"""Text as the stores keep it: no NUL, no lone UTF-16 surrogate.

Two things a JSON string may carry cannot be stored:

- NUL (U+0000, ``"\\u0000"``): Postgres refuses it in ``text`` and ``jsonb`` alike, so a webhook
  holding one would be answered 5xx and redelivered for days; SQLite keeps it, but its C string
  functions (the full-text tokenizer, ``length``, ``instr``) stop there;
- a lone UTF-16 surrogate (``"\\ud83d"`` alone: half an emoji cut by the sender's app, or by a
  provider truncating a UTF-16 string): no character at all, so it has no UTF-8 form and both
  SQLite's binding and psycopg refuse to encode it.

``clean_text`` removes the first and puts U+FFFD (the replacement character, which every font
draws as the "unreadable character" mark) where the second was. It is the one function every
text goes through on its way into the local cache and Postgres: provider events
(``sync.domain.events.clean_event``, applied by both ingests) and what an agent queues (the
outbox, the team commands).
"""

from __future__ import annotations

import re
from typing import Any

# Either of the two, in one pass of the regex engine's C loop (valid text, the usual case, is
# only scanned).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` without NUL and with U+FFFD for each lone surrogate; valid text comes back as is.

    Surrogates that still form a pair (a high one right before a low one, as two code points,
    which ``json.loads`` never produces but other decoders may) become the one character they
    encode, as any UTF-16 reader would read them. Idempotent; the result always encodes to UTF-8.
    """
    if _UNSTORABLE.search(text) is None:
        return text
    text = text.replace("\x00", "")
    # "surrogatepass" writes each surrogate as its own 16-bit unit; reading those units back as
    # UTF-16 joins a high+low pair into its character and turns each unit left alone into one
    # U+FFFD ("replace"), leaving every other character as it was.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_json(value: Any) -> Any:
    """``value`` (a JSON-like tree of dicts, lists and scalars) with ``clean_text`` applied to
    every string in it, keys included. Returns ``value`` itself when nothing needed cleaning."""
    cleaned, _ = _clean_tree(value)
    return cleaned


def _clean_tree(value: Any) -> tuple[Any, bool]:
    # type() and not isinstance(): an enum member (StrEnum) is a str too and must stay an enum.
    if type(value) is str:
        cleaned = clean_text(value)
        return cleaned, cleaned is not value
    if isinstance(value, dict):
        changed = False
        out: dict[Any, Any] = {}
        for key, item in value.items():
            new_key, key_changed = _clean_tree(key)
            new_item, item_changed = _clean_tree(item)
            changed = changed or key_changed or item_changed
            out[new_key] = new_item
        return (out, True) if changed else (value, False)
    if isinstance(value, list):
        pairs = [_clean_tree(item) for item in value]
        if any(changed for _, changed in pairs):
            return [item for item, _ in pairs], True
        return value, False
    return value, False
