"""Pacing's rules on a fake clock: per-number limits within the rate in every second,
per-recipient spacing, QR jitter, a provider's pause; the state kept in a dict, as a store keeps
it (the stores' side is in the contract test, the dispatchers' in the engine's)."""

from __future__ import annotations

import math
import random

import pytest

from sync.engine.pacing import NUMBER, Key, Limit, Pacer, PacingConfig, PacingConfigError


class Paced:
    """A pacer and its state, spent as a claim spends it."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer
        self.state: dict[Key, float] = {}

    def send(self, account: int, recipient: str, now: float) -> bool:
        """Claim a send now if pacing admits it (and count it)."""
        admission = self.pacer.admit(
            account,
            recipient,
            self.state.get((account, NUMBER)),
            self.state.get((account, recipient)),
            now,
        )
        if admission is None:
            return False
        for key, tat in (((account, NUMBER), admission[0]), ((account, recipient), admission[1])):
            if tat is not None:
                self.state[key] = tat
        return True

    def ready_at(self, account: int, recipient: str, now: float) -> float:
        return self.pacer.ready_at(self.state, account, recipient, now)


def test_a_limit_allows_its_burst_then_its_rate() -> None:
    limit = Limit.of(rate=2.0, burst=3)
    tat = None
    for _ in range(3):
        assert limit.ready_at(tat, 0.0) == 0.0
        tat = limit.after_send(tat, 0.0)
    assert limit.ready_at(tat, 0.0) == pytest.approx(0.5)
    tat = limit.after_send(tat, 0.5)
    assert limit.ready_at(tat, 0.5) == pytest.approx(1.0)
    assert limit.ready_at(tat, 100.0) == 100.0  # long unused: full again


def test_meta_defaults_are_80_per_second_and_6_seconds_per_recipient() -> None:
    paced = Paced(Pacer())
    config = PacingConfig.default_for(80.0, qr_linked=False)
    assert (config.per_second, config.burst) == (80.0, 8.0)
    paced.pacer.configure(1, config)
    for n in range(8):  # a short burst...
        assert paced.send(1, f"c{n}", 0.0)
    assert not paced.send(1, "c9", 0.0)
    numbers, _, soonest = paced.pacer.blocked(paced.state, 0.0)
    assert numbers == {1} and soonest == pytest.approx(1 / 73)  # ...then 73 a second
    # One recipient: a burst of 5, then one every 6 s.
    now = 1.0
    for _ in range(5):
        assert paced.send(1, "5511", now)
        now += 1 / 73
    assert not paced.send(1, "5511", now)
    assert paced.ready_at(1, "5511", now) == pytest.approx(1.0 + 6.0)
    _, pairs, _ = paced.pacer.blocked(paced.state, now)
    assert pairs == {(1, "5511")}
    assert paced.send(1, "5599", now)  # another customer is free


def _greedy_sends(config: PacingConfig, seconds: float) -> list[float]:
    """When a sender that sends whenever pacing lets it would send."""
    paced = Paced(Pacer(rng=random.Random(3)))
    paced.pacer.configure(1, config)
    sent: list[float] = []
    now = 0.0
    while now < seconds:
        recipient = f"customer {len(sent)}"  # each to another customer: the number's limit
        if paced.send(1, recipient, now):
            sent.append(now)
        else:
            now = max(now, paced.ready_at(1, recipient, now))
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
    paced = Paced(Pacer(rng=random.Random(7)))
    config = PacingConfig.default_for(1.0, qr_linked=True)
    assert (config.per_second, config.burst, config.jitter_s) == (1.0, 1.0, 0.5)
    paced.pacer.configure(2, config)
    now = 0.0
    assert paced.send(2, "a", now)
    waits = []
    for n in range(20):
        customer = f"customer {n}"  # each another customer: the number's own limit
        at = paced.ready_at(2, customer, now)
        assert at >= now + 1.0 - 1e-9  # never faster than the rate
        waits.append(at - now)
        now = at
        assert paced.send(2, customer, now)
    assert max(waits) <= 1.0 + 0.5 + 1e-9
    assert len({round(w, 6) for w in waits}) > 1  # jittered, not a metronome


def test_account_config_overrides_and_validation() -> None:
    base = PacingConfig.default_for(1.0, qr_linked=True)
    custom = base.with_overrides({"per_second": 0.2, "jitter_s": 3, "recipient_interval_s": 0})
    assert (custom.per_second, custom.jitter_s, custom.recipient_interval_s) == (0.2, 3.0, 0.0)
    assert base.with_overrides(None) is base
    for bad in ({"per_second": 0}, {"burst": "x"}, {"speed": 1}, {"jitter_s": -1}, [1]):
        with pytest.raises(PacingConfigError):
            base.with_overrides(bad)  # type: ignore[arg-type]


def test_a_pause_and_a_changed_config_keep_what_was_spent() -> None:
    paced = Paced(Pacer())
    paced.pacer.configure(1, PacingConfig(per_second=4.0, burst=2.0, recipient_interval_s=0))
    assert paced.send(1, "a", 0.0) and paced.send(1, "a", 0.0)
    paced.pacer.configure(1, PacingConfig(per_second=4.0, burst=1.0, recipient_interval_s=0))
    assert paced.ready_at(1, "a", 0.0) == pytest.approx(2 / 3)  # what was spent stays
    hold = paced.pacer.paused(1, 30.0, 0.0)
    assert hold is not None and hold[0] == NUMBER
    paced.state[(1, NUMBER)] = max(paced.state[(1, NUMBER)], hold[1])
    assert paced.ready_at(1, "a", 0.0) == pytest.approx(30.0)
    assert not paced.send(1, "b", 29.9) and paced.send(1, "b", 30.0)
    assert paced.pacer.config_of(1) is not None and paced.pacer.config_of(9) is None
    assert paced.pacer.paused(9, 30.0, 0.0) is None
    assert paced.send(9, "a", 0.0) and paced.send(9, "a", 0.0)  # unknown numbers are not limited
    assert paced.pacer.admit(9, "a", None, None, 0.0) == (None, None)  # and spend nothing


def test_a_customers_rate_limit_holds_that_customer_only() -> None:
    paced = Paced(Pacer())
    paced.pacer.configure(1, PacingConfig.default_for(80.0, qr_linked=False))
    key, until = paced.pacer.paused(1, 6.0, 0.0, recipient="5511") or ("", 0.0)
    assert key == "5511"
    paced.state[(1, key)] = until
    assert not paced.send(1, "5511", 5.9)
    assert paced.send(1, "5599", 0.0)  # the number's other customers go on
    assert paced.send(1, "5511", 6.0)
    # Without customer limits configured, a customer's hold holds the number.
    paced.pacer.configure(2, PacingConfig(per_second=10, burst=1, recipient_interval_s=0))
    assert paced.pacer.paused(2, 6.0, 0.0, recipient="5511") == (NUMBER, 6.0)
