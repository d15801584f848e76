"""The 24-hour customer-service window (a pure function the composer and the engine use)."""

from __future__ import annotations

import math

from sync.providers.meta_cloud import CUSTOMER_SERVICE_WINDOW, ServiceWindow, service_window

DAY = 24 * 60 * 60


def test_window_is_24_hours() -> None:
    assert CUSTOMER_SERVICE_WINDOW == DAY


def test_never_wrote_means_closed() -> None:
    assert service_window(None, 1_700_000_000) == ServiceWindow(False, None)


def test_open_right_after_the_customer_wrote_until_24_hours_later() -> None:
    last = 1_700_000_000.0
    assert service_window(last, last) == (True, last + DAY)
    assert service_window(last, last + DAY - 1) == (True, last + DAY)
    is_open, closes_at = service_window(last, last + DAY - 0.001)
    assert is_open and closes_at == last + DAY


def test_closed_at_exactly_24_hours_and_after() -> None:
    last = 1_700_000_000
    assert service_window(last, last + DAY) == (False, last + DAY)
    assert service_window(last, last + 3 * DAY) == (False, last + DAY)


def test_a_customer_clock_ahead_of_ours_keeps_it_open() -> None:
    last = 1_700_000_100
    assert service_window(last, last - 100).is_open


def test_nonsense_times_are_closed() -> None:
    assert service_window(math.nan, 1_700_000_000) == ServiceWindow(False, None)
    assert service_window(math.inf, 1_700_000_000) == ServiceWindow(False, None)
