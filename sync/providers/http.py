"""What every adapter reads of a provider's HTTP answer: when to try again, and its JSON body.

Written once here because the three adapters had each grown their own reader of
``Retry-After`` and they disagreed (fractions, zero, dates read as local time, no bound).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx

# The shortest wait a rate limit gets: a provider that says "0" (or a date already past) is
# asked again after a second rather than at once, which would spin the outbox.
RETRY_AFTER_MIN: Final = 1.0
# The longest: a day. Meta's business rate limits reset within the hour and its spam limit
# within hours; a larger value is a broken or hostile header, and must not park a number's
# outbox for years.
RETRY_AFTER_MAX: Final = 24 * 60 * 60.0


def retry_after(
    response: httpx.Response, default: float, *, now: Callable[[], float] = time.time
) -> float:
    """Seconds to wait before trying again: the answer's ``Retry-After`` when it has a valid one,
    else ``default``; either way within ``[RETRY_AFTER_MIN, RETRY_AFTER_MAX]``."""
    seconds = parse_retry_after(response.headers.get("retry-after", ""), now=now())
    chosen = default if seconds is None else seconds
    return min(max(chosen, RETRY_AFTER_MIN), RETRY_AFTER_MAX)


def parse_retry_after(value: str, *, now: float) -> float | None:
    """The delay a ``Retry-After`` value asks for, in seconds (negative for a date past), or
    None when it is neither form RFC 9110 §10.2.3 allows.

    ``Retry-After = HTTP-date / delay-seconds``, ``delay-seconds = 1*DIGIT`` (ASCII digits
    only: no sign, no fraction); an HTTP-date is in GMT in any of the three formats recipients
    must accept (§5.6.7: IMF-fixdate, RFC 850, asctime), so one without a zone is read as UTC.
    https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
    """
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(text)  # a 400-digit value is inf here, and bounded by the caller
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = when.timestamp() - now
    return seconds if math.isfinite(seconds) else None


def json_value(response: httpx.Response) -> Any:
    """The answer's body as a JSON value, or None when it is not JSON (or nests absurdly)."""
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The answer's body as a JSON object, or None when it is anything else."""
    data = json_value(response)
    return data if isinstance(data, dict) else None
