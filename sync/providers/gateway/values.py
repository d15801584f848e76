"""Readers of the gateway's JSON, liberal about shapes: a field's aliases, ids as strings or
whatsapp-web.js objects, timestamps in seconds, milliseconds or ISO 8601."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sync.providers.gateway.limits import MAX_FIELD_TEXT, MAX_QR_IMAGE
from sync.providers.whatsapp_ids import Jid, parse_jid, phone_jid


def clean(value: Any, limit: int = MAX_FIELD_TEXT) -> str:
    """A string field cut at ``limit`` characters, or "" when it is not a string.

    NUL and lone surrogates are kept as they came: they are cleaned on the way into the stores
    (``sync.domain.text.clean_text``, applied by both ingests), for every provider alike.
    """
    if not isinstance(value, str):
        return ""
    return value[:limit] if len(value) > limit else value


def error_text(data: Any) -> str:
    """The error text of an answer or an event (``error``, ``message``... nested too)."""
    if isinstance(data, str):
        return data
    if isinstance(data, Mapping):
        for key in ("error", "message", "detail", "reason", "msg"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, Mapping):
                nested = error_text(value)
                if nested:
                    return nested
    return ""


def find_str(data: Any, *paths: tuple[str, ...]) -> str:
    """The first non-empty string at one of ``paths`` (keys into nested objects)."""
    for path in paths:
        value = data
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def qr_of(data: Any) -> tuple[str, str]:
    """``(qr text, pairing code)`` from a ``/qrcode`` or ``connect`` answer or a ``qr`` event.

    whatsapp-web.js emits ``qr`` with the QR's text (``ref,publicKey,identityKey,advSecret,
    platform``; Client.js); the gateway may name it ``qr``, ``qrcode`` or ``qrCode``. A data
    URL (``data:image/png;base64,...``) is taken only when no text form is there: it is what
    some gateways put in ``qrcode``, and the dialog can show it as an image.
    """
    if isinstance(data, str):
        return data.strip(), ""
    if not isinstance(data, Mapping):
        return "", ""
    candidates = [
        find_str(data, (key,))
        for key in ("qr", "qrcode", "qrCode", "code", "base64")
        if not isinstance(data.get(key), bool)
    ]
    nested = data.get("data")
    if isinstance(nested, Mapping | str):
        candidates.append(qr_of(nested)[0])
    texts = [c for c in candidates if c and not c.startswith("data:")]
    images = [c for c in candidates if c.startswith("data:image/")]
    qr = texts[0][:4096] if texts else (images[0][:MAX_QR_IMAGE] if images else "")
    pairing = find_str(data, ("pairingCode",), ("pairing_code",), ("data", "pairingCode"))
    return qr, pairing[:64]


def epoch_seconds(value: Any) -> float | None:
    """A timestamp as epoch seconds, whatever unit it came in; None when there is none.

    Baileys' ``messageTimestamp`` and whatsapp-web.js' ``Message.timestamp`` are seconds; a
    JavaScript gateway stamping its envelope with ``Date.now()`` sends milliseconds, and
    ``new Date().toISOString()`` an ISO 8601 string. Numbers are told apart by size: below
    1e11 they are seconds (1e11 s is the year 5138), below 1e14 milliseconds (1e11 ms is 1973),
    below 1e17 microseconds. Baileys' protobuf ``Long`` serializes as ``{low, high, unsigned}``.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Mapping) and isinstance(value.get("low"), int):
        high = value.get("high", 0)
        if not isinstance(high, int) or isinstance(high, bool):
            return None
        value = ((high & 0xFFFFFFFF) << 32) | (value["low"] & 0xFFFFFFFF)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                return None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            seconds = parsed.timestamp()
            return seconds if seconds > 0 else None
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    if number < 1e11:
        return number
    if number < 1e14:
        return number / 1e3
    if number < 1e17:
        return number / 1e6
    return None


def str_at(data: Any, *path: str) -> str:
    """The string at ``path`` (keys into nested objects), or ""."""
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return clean(data) if isinstance(data, str) else ""


def number(value: Any) -> float | None:
    """A finite JSON number (never a bool), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def first_str(*values: Any) -> str:
    """The first of ``values`` that is a non-blank string, stripped; "" if none."""
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def id_of(value: Any) -> str:
    """A message id: a string, or whatsapp-web.js' ``{fromMe, remote, id, _serialized}``."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Mapping):
        return first_str(value.get("id"), value.get("_serialized"))
    return ""


def jid_of(value: str) -> Jid | None:
    """A chat or sender id as the gateway may pass it: a JID of one of WhatsApp's servers, or a
    bare phone number (whatsapp-web.js' ``from`` is a JID; a hand-written gateway may pass the
    number itself); None when it is neither."""
    return parse_jid(value) or phone_jid(value)
