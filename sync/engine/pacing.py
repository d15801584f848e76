"""How fast a dispatcher may send: per number, and per recipient (solo and team alike).

Two limits, both token buckets on an injectable clock (seconds, monotonic):

- per number: Meta's Cloud API takes "up to 80 messages per second" per number by default
  (https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput); numbers linked by
  QR code (Evolution, the gateway) behave like a phone, and sending fast from them gets them
  banned, so they default to one message per second with a random extra pause after each send
  (the adapters' ``capabilities.sends_per_second`` is the default rate);
- per recipient: Meta allows about one message every 6 seconds to one user, with short bursts
  (error 131056, "pair rate limit"); a burst of a few replies in a conversation goes at once, a
  longer run to one customer is spaced out.

In a team every setting can be changed per number in its ``accounts.config`` under
``"pacing"``; the solo engine uses the defaults (``pacing_for``) unless its caller hands others::

    {"pacing": {"per_second": 0.5, "burst": 1, "jitter_s": 2.0,
                "recipient_interval_s": 6.0, "recipient_burst": 5}}

The limits are kept in memory by one dispatcher process; two server processes each keep their
own (the deployment runs one).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from sync.providers.base import Capabilities

# Meta's pair rate limit: about one message every 6 s to one user; a few at once are tolerated.
RECIPIENT_INTERVAL_S: Final = 6.0
RECIPIENT_BURST: Final = 5
# QR-linked numbers: a random pause of up to this much after each send, so the rhythm is human.
QR_JITTER_S: Final = 0.5
# Recipient buckets idle longer than this are forgotten (they would be full again anyway).
_FORGET_AFTER_S: Final = 600.0


class PacingConfigError(ValueError):
    """A number's ``pacing`` settings are malformed (the message names the field)."""


@dataclass(frozen=True, slots=True)
class PacingConfig:
    """The limits of one number."""

    per_second: float
    burst: float
    jitter_s: float = 0.0
    recipient_interval_s: float = RECIPIENT_INTERVAL_S
    recipient_burst: float = RECIPIENT_BURST

    @classmethod
    def default_for(cls, sends_per_second: float, *, qr_linked: bool) -> PacingConfig:
        """The defaults for a number whose adapter declares ``sends_per_second``."""
        rate = max(sends_per_second, 0.01)
        if qr_linked:
            return cls(per_second=rate, burst=1.0, jitter_s=QR_JITTER_S)
        # A short burst (a tenth of a second's worth) for replies that pile up, not a whole
        # second's: the one-second window stays within the rate (``number_limits``).
        return cls(per_second=rate, burst=max(1.0, math.floor(rate / 10)))

    def number_limits(self) -> tuple[float, float]:
        """(refill rate, burst) of the number's bucket, such that no one-second window holds
        more than ``per_second`` sends (whole ones): a burst of ``b`` then ``per_second - b + 1``
        a second (Meta counts messages per second; a bucket refilling at the full rate after a
        full burst would allow almost twice that). The burst is at most half the rate, so the
        rate is mostly spent steadily."""
        if self.per_second < 1:
            return self.per_second, 1.0
        whole = math.floor(self.per_second)
        burst = max(1.0, min(self.burst, math.floor(whole / 2)))
        return whole - burst + 1, burst

    def with_overrides(self, settings: Mapping[str, Any] | None) -> PacingConfig:
        """These limits with the number's ``"pacing"`` settings applied (validated)."""
        if not settings:
            return self
        if not isinstance(settings, Mapping):
            raise PacingConfigError("'pacing' must be an object")
        known = {
            "per_second",
            "burst",
            "jitter_s",
            "recipient_interval_s",
            "recipient_burst",
        }
        unknown = sorted(set(settings) - known)
        if unknown:
            raise PacingConfigError(f"unknown pacing field(s): {', '.join(unknown)}")
        values: dict[str, float] = {
            "per_second": self.per_second,
            "burst": self.burst,
            "jitter_s": self.jitter_s,
            "recipient_interval_s": self.recipient_interval_s,
            "recipient_burst": self.recipient_burst,
        }
        for name, raw in settings.items():
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise PacingConfigError(f"pacing '{name}' must be a number")
            value = float(raw)
            if not math.isfinite(value) or value < 0:
                raise PacingConfigError(f"pacing '{name}' must be a finite number >= 0")
            values[name] = value
        if values["per_second"] <= 0:
            raise PacingConfigError("pacing 'per_second' must be above 0")
        values["burst"] = max(1.0, values["burst"])
        values["recipient_burst"] = max(1.0, values["recipient_burst"])
        return PacingConfig(**values)


def pacing_for(capabilities: Capabilities) -> PacingConfig:
    """The default limits of a number whose adapter declares ``capabilities`` (one rule for the
    solo engine and the team server)."""
    return PacingConfig.default_for(
        capabilities.sends_per_second, qr_linked=capabilities.needs_qr_link
    )


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; one token per send."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._last = now

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now

    def ready_at(self, now: float) -> float:
        """When a token is available (``now`` if one is)."""
        self._refill(now)
        if self._tokens >= 1.0 or self.rate <= 0:
            return now
        return now + (1.0 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        """Spend one token (the bucket may go below zero: the debt delays the next send)."""
        self._refill(now)
        self._tokens -= 1.0

    def full_since(self, now: float) -> bool:
        """Whether the bucket is full again (nothing to remember about it)."""
        self._refill(now)
        return self._tokens >= self.burst


@dataclass(slots=True)
class _Number:
    config: PacingConfig
    bucket: TokenBucket
    not_before: float = 0.0


class Pacer:
    """The send limits of every number the dispatcher serves (not thread-safe: one loop)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._rng = rng or random.Random()
        self._numbers: dict[int, _Number] = {}
        self._recipients: dict[tuple[int, str], TokenBucket] = {}
        self._last_prune = clock()

    def __repr__(self) -> str:
        return f"Pacer(numbers={len(self._numbers)}, recipients={len(self._recipients)})"

    def configure(self, account_id: int, config: PacingConfig) -> None:
        """Set (or change) one number's limits; the tokens it has left are kept."""
        now = self._clock()
        current = self._numbers.get(account_id)
        if current is not None and current.config == config:
            return
        rate, burst = config.number_limits()
        bucket = TokenBucket(rate, burst, now)
        if current is not None:
            current.bucket._refill(now)
            bucket._tokens = min(burst, current.bucket._tokens)
        self._numbers[account_id] = _Number(
            config, bucket, current.not_before if current is not None else 0.0
        )

    def config_of(self, account_id: int) -> PacingConfig | None:
        """The limits of ``account_id`` (None when it was never configured)."""
        number = self._numbers.get(account_id)
        return number.config if number is not None else None

    def number_ready_at(self, account_id: int) -> float:
        """When this number may send next (now if it may); unconfigured numbers are unlimited."""
        return self._number_ready_at(account_id, self._clock())

    def _number_ready_at(self, account_id: int, now: float) -> float:
        number = self._numbers.get(account_id)
        if number is None:
            return now
        return max(number.bucket.ready_at(now), number.not_before, now)

    def recipient_ready_at(self, account_id: int, recipient: str) -> float:
        """When this number may send to ``recipient`` next."""
        now = self._clock()
        bucket = self._recipients.get((account_id, recipient))
        return now if bucket is None else bucket.ready_at(now)

    def ready_at(self, account_id: int, recipient: str) -> float:
        """When a send from this number to this recipient is allowed."""
        return max(self.number_ready_at(account_id), self.recipient_ready_at(account_id, recipient))

    def blocked(self) -> tuple[set[int], set[tuple[int, str]], float | None]:
        """(numbers that may not send now, (number, recipient) pairs that may not, and the
        earliest time one of them frees up)."""
        now = self._clock()
        numbers: set[int] = set()
        pairs: set[tuple[int, str]] = set()
        soonest: float | None = None
        for account_id in self._numbers:
            at = self._number_ready_at(account_id, now)
            if at > now:
                numbers.add(account_id)
                soonest = at if soonest is None else min(soonest, at)
        for key, bucket in self._recipients.items():
            at = bucket.ready_at(now)
            if at > now:
                pairs.add(key)
                soonest = at if soonest is None else min(soonest, at)
        return numbers, pairs, soonest

    def take(self, account_id: int, recipient: str) -> None:
        """Count one send from ``account_id`` to ``recipient`` (when the send is claimed)."""
        now = self._clock()
        number = self._numbers.get(account_id)
        if number is not None:
            number.bucket.take(now)
            if number.config.jitter_s > 0:
                number.not_before = now + self._rng.uniform(0.0, number.config.jitter_s)
            interval = number.config.recipient_interval_s
            burst = number.config.recipient_burst
        else:
            interval, burst = RECIPIENT_INTERVAL_S, RECIPIENT_BURST
        if interval > 0:
            key = (account_id, recipient)
            bucket = self._recipients.get(key)
            if bucket is None:
                bucket = self._recipients[key] = TokenBucket(1.0 / interval, burst, now)
            bucket.take(now)
        self._prune(now)

    def pause(self, account_id: int, seconds: float) -> None:
        """The provider asked this number to slow down: send nothing for ``seconds``."""
        number = self._numbers.get(account_id)
        if number is not None:
            number.not_before = max(number.not_before, self._clock() + seconds)

    def _prune(self, now: float) -> None:
        if now - self._last_prune < _FORGET_AFTER_S / 10:
            return
        self._last_prune = now
        for key in [k for k, b in self._recipients.items() if b.full_since(now)]:
            del self._recipients[key]
