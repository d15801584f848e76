"""Pacing on a fake clock: per-number token buckets, per-recipient spacing, QR jitter."""

from __future__ import annotations

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
    pacer.configure(1, PacingConfig.default_for(80.0, qr_linked=False))
    for n in range(80):
        assert pacer.ready_at(1, f"c{n}") == 0.0
        pacer.take(1, f"c{n}")
    numbers, _, soonest = pacer.blocked()
    assert numbers == {1} and soonest == pytest.approx(1 / 80)
    clock.advance(1.0)
    # One recipient: a burst of 5, then one every 6 s.
    for _ in range(5):
        assert pacer.recipient_ready_at(1, "5511") == clock.now()
        pacer.take(1, "5511")
    assert pacer.recipient_ready_at(1, "5511") == pytest.approx(clock.now() + 6.0)
    _, pairs, _ = pacer.blocked()
    assert pairs == {(1, "5511")}
    assert pacer.recipient_ready_at(1, "5599") == clock.now()  # another customer is free


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
    pacer.configure(1, PacingConfig(per_second=1.0, burst=2.0, recipient_interval_s=0))
    pacer.take(1, "a")
    pacer.take(1, "a")
    pacer.configure(1, PacingConfig(per_second=1.0, burst=5.0, recipient_interval_s=0))
    assert pacer.number_ready_at(1) == pytest.approx(1.0)  # the debt is kept
    pacer.pause(1, 30.0)
    assert pacer.number_ready_at(1) == pytest.approx(30.0)
    assert pacer.config_of(1) is not None and pacer.config_of(9) is None
    assert pacer.number_ready_at(9) == clock.now()  # unknown numbers are not limited
