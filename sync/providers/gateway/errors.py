"""The gateway's error answers, and the adapter errors they mean."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import httpx

from sync.providers.base import NotSent, PermanentSendError
from sync.providers.http import json_value, retry_after

# 429 without a Retry-After: the gateway documents no limit, so wait a little while.
DEFAULT_RETRY_AFTER_S: Final = 10.0
ERROR_DETAIL_MAX = 200
NOT_CONNECTED = re.compile(
    r"not\s*(?:connected|ready|open|logged)|disconnected|no\s+session|connection\s+closed"
    r"|socket\s+(?:is\s+)?(?:closed|not)|qr",
    re.IGNORECASE,
)
INVALID_NUMBER = re.compile(
    r"invalid|not\s+(?:on|registered|exist)|doesn.?t\s+exist|does\s+not\s+exist|unknown\s+number",
    re.IGNORECASE,
)


class NotConnected(NotSent):
    """The gateway answered that its WhatsApp socket is not open (409, 425, 503 or its words).

    409 also answers creating an instance that exists: ``status`` tells them apart.
    """

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.status = status


class InstanceGone(PermanentSendError):
    """404: no such instance (or, for ``/qrcode``, no QR yet)."""


def retry_wait(response: httpx.Response) -> float:
    """Seconds to wait after a 429: ``Retry-After`` when valid (``sync.providers.http``), else
    the ``retryAfter`` the gateway may put in its JSON body, else ``DEFAULT_RETRY_AFTER_S``."""
    hint = _body_hint(response)
    return retry_after(response, DEFAULT_RETRY_AFTER_S if hint is None else hint)


def _body_hint(response: httpx.Response) -> float | None:
    body = json_value(response)
    if isinstance(body, Mapping):
        for key in ("retryAfter", "retry_after"):
            raw = body.get(key)
            if isinstance(raw, int | float) and not isinstance(raw, bool) and 0 <= raw < 86400:
                return float(raw)
    return None
