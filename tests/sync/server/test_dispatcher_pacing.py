"""Pacing on a fake clock: per-number token buckets within the rate in every second,
per-recipient spacing, QR jitter."""

from __future__ import annotations

import math
import random

import pytest

from sync.engine.pacing import Pacer, PacingConfig, PacingConfigError, TokenBucket
from tests.fakes.clock import FakeClock


def test_a_token_bucket_allows_its_burst_then_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    for _ in range(3):
        assert bucket.ready_at(0.0) == 0.0
        bucket.take(0.0)
    assert bucket.ready_at(0.0) == pytest.approx(0.5)
    assert bucket.ready_at(0.5) == 0.5
    bucket.take(0.5)
    assert bucket.ready_at(0.5) == pytest.approx(1.0)
    assert bucket.ready_at(100.0) == 100.0 and bucket.full_since(100.0)


def test_meta_defaults_are_80_per_second_and_6_seconds_per_recipient() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(clock=clock.now)
    config = PacingConfig.default_for(80.0, qr_linked=False)
    assert (config.per_second, config.burst) == (80.0, 8.0)
    pacer.configure(1, config)
    for n in range(8):  # a short burst...
        assert pacer.ready_at(1, f"c{n}") == 0.0
        pacer.take(1, f"c{n}")
    numbers, _, soonest = pacer.blocked()
    assert numbers == {1} and soonest == pytest.approx(1 / 73)  # ...then 73 a second
    clock.advance(1.0)
    # One recipient: a burst of 5, then one every 6 s.
    for _ in range(5):
        assert pacer.recipient_ready_at(1, "5511") == clock.now()
        pacer.take(1, "5511")
        clock.advance(1 / 73)
    assert pacer.recipient_ready_at(1, "5511") == pytest.approx(clock.now() - 5 / 73 + 6.0)
    _, pairs, _ = pacer.blocked()
    assert pairs == {(1, "5511")}
    assert pacer.recipient_ready_at(1, "5599") == clock.now()  # another customer is free


def _greedy_sends(config: PacingConfig, seconds: float) -> list[float]:
    """When a sender that sends whenever the pacer lets it would send, on a fake clock."""
    clock = FakeClock(0.0)
    pacer = Pacer(clock=clock.now, rng=random.Random(3))
    pacer.configure(1, config)
    sent: list[float] = []
    while clock.now() < seconds:
        at = pacer.number_ready_at(1)
        if at > clock.now():
            clock.advance(at - clock.now())
            continue
        sent.append(clock.now())
        pacer.take(1, f"customer {len(sent)}")  # each to another customer: the number's limit
    return sent


@pytest.mark.parametrize(
    ("per_second", "burst"),
    [(80, 80), (80, 8), (80, 1), (10, 2), (1, 1), (1, 5), (0.5, 1), (250, 40), (3.5, 2)],
)
def test_no_one_second_window_holds_more_than_the_rate(per_second: float, burst: float) -> None:
    config = PacingConfig(per_second=per_second, burst=burst, recipient_interval_s=0)
    sent = _greedy_sends(config, 5.0)
    window = max(1.0, 1 / per_second)  # below one a second: one per 1/rate seconds
    allowed = max(1, math.floor(per_second * window + 1e-9))
    busiest = max(sum(1 for t in sent if start <= t < start + window - 1e-9) for start in sent)
    assert busiest <= allowed, (per_second, burst, busiest)
    # ...and the rate is used, not starved: at least half of it over the run (all of it but
    # the burst, for the defaults).
    assert len(sent) >= 0.5 * per_second * 5.0


def test_qr_numbers_default_to_one_per_second_with_jitter() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(clock=clock.now, rng=random.Random(7))
    config = PacingConfig.default_for(1.0, qr_linked=True)
    assert (config.per_second, config.burst, config.jitter_s) == (1.0, 1.0, 0.5)
    pacer.configure(2, config)
    pacer.take(2, "a")
    waits = []
    for _ in range(20):
        at = pacer.number_ready_at(2)
        assert at >= clock.now() + 1.0 - 1e-9  # never faster than the rate
        waits.append(at - clock.now())
        clock.advance(at - clock.now())
        pacer.take(2, "b")
    assert max(waits) <= 1.0 + 0.5 + 1e-9


def test_account_config_overrides_and_validation() -> None:
    base = PacingConfig.default_for(1.0, qr_linked=True)
    custom = base.with_overrides({"per_second": 0.2, "jitter_s": 3, "recipient_interval_s": 0})
    assert (custom.per_second, custom.jitter_s, custom.recipient_interval_s) == (0.2, 3.0, 0.0)
    assert base.with_overrides(None) is base
    for bad in ({"per_second": 0}, {"burst": "x"}, {"speed": 1}, {"jitter_s": -1}, [1]):
        with pytest.raises(PacingConfigError):
            base.with_overrides(bad)  # type: ignore[arg-type]


def test_a_pause_and_a_changed_config_keep_the_spent_tokens() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(clock=clock.now)
    pacer.configure(1, PacingConfig(per_second=4.0, burst=2.0, recipient_interval_s=0))
    pacer.take(1, "a")
    pacer.take(1, "a")
    pacer.configure(1, PacingConfig(per_second=4.0, burst=1.0, recipient_interval_s=0))
    assert pacer.number_ready_at(1) == pytest.approx(0.25)  # the debt is kept (4 a second now)
    pacer.pause(1, 30.0)
    assert pacer.number_ready_at(1) == pytest.approx(30.0)
    assert pacer.config_of(1) is not None and pacer.config_of(9) is None
    assert pacer.number_ready_at(9) == clock.now()  # unknown numbers are not limited
