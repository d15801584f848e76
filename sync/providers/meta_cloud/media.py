"""Media downloaded from Meta: what a media id resolves to, and checking what arrived."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FetchedMedia:
    """Media downloaded from Meta: its bytes and what Meta said about them."""

    data: bytes
    mime_type: str
    sha256: str  # hex digest of ``data``

    def __repr__(self) -> str:
        return f"FetchedMedia({self.mime_type!r}, {len(self.data)} bytes)"


@dataclass(frozen=True, slots=True)
class ResolvedMedia:
    """Where a media id's bytes are (a short-lived URL) and what Meta said of them."""

    url: str
    mime_type: str
    sha256: str
    file_size: int | None
    resolved_at: float


class ExpiredUrl(Exception):
    """Meta refused a media URL as if it had expired: resolve the id again."""

    pass


def same_digest(announced: str, hex_digest: str) -> bool:
    """Meta gives SHA-256 as base64 in webhooks and as hex in media URL answers."""
    candidate = announced.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", candidate):
        return hmac.compare_digest(candidate.lower(), hex_digest)
    try:
        raw = base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and hmac.compare_digest(raw.hex(), hex_digest)
