"""``sync.providers.http``: the one reader of ``Retry-After`` and of JSON answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from sync.providers.http import (
    RETRY_AFTER_MAX,
    RETRY_AFTER_MIN,
    json_object,
    json_value,
    parse_retry_after,
    retry_after,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _answer(value: str | None) -> httpx.Response:
    return httpx.Response(429, headers={} if value is None else {"Retry-After": value})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        # RFC 9110 §5.6.7: the three date formats a recipient must accept, all in GMT.
        ("Sat, 01 Mar 2025 12:01:30 GMT", 90.0),  # IMF-fixdate
        ("Saturday, 01-Mar-25 12:01:30 GMT", 90.0),  # RFC 850
        ("Sat Mar  1 12:01:30 2025", 90.0),  # asctime: no zone, read as GMT
        ("Sat, 01 Mar 2025 11:59:00 GMT", -60.0),  # already past
    ],
)
def test_both_forms_of_retry_after_are_read(value: str, expected: float) -> None:
    assert parse_retry_after(value, now=NOW.timestamp()) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "soon",
        "1.5",
        "-5",
        "+5",
        "1e3",
        "inf",
        "nan",
        "²",
        "٣",
        "Sat, 01 Mar 99999 12:00:00 GMT",
    ],
)
def test_anything_else_is_no_retry_after(value: str) -> None:
    # delay-seconds is 1*DIGIT (ASCII): no sign, no fraction, no exponent, no other script.
    assert parse_retry_after(value, now=NOW.timestamp()) is None


def test_the_wait_falls_back_to_the_callers_default_and_stays_within_bounds() -> None:
    now = NOW.timestamp
    assert retry_after(_answer("12"), 30.0, now=now) == 12.0
    assert retry_after(_answer(None), 30.0, now=now) == 30.0
    assert retry_after(_answer("soon"), 30.0, now=now) == 30.0
    assert retry_after(_answer("0"), 30.0, now=now) == RETRY_AFTER_MIN  # never at once
    past = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert retry_after(_answer(past), 30.0, now=now) == RETRY_AFTER_MIN
    assert retry_after(_answer("9" * 500), 30.0, now=now) == RETRY_AFTER_MAX  # not for years
    assert retry_after(_answer(None), 10**9, now=now) == RETRY_AFTER_MAX


def test_a_json_answer_is_read_whatever_it_holds() -> None:
    assert json_value(httpx.Response(200, json=[1, 2])) == [1, 2]
    assert json_value(httpx.Response(200, content=b"<html>")) is None
    assert json_value(httpx.Response(200, content=b"\xff\xfe\xfa")) is None
    assert json_value(httpx.Response(200, content=b"[" * 100_000)) is None  # too deep
    assert json_object(httpx.Response(200, json={"a": 1})) == {"a": 1}
    assert json_object(httpx.Response(200, json=[{"a": 1}])) is None
