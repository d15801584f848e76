"""How fast a dispatcher may send: per number, and per recipient (solo and team alike).

Two limits, each a token bucket kept as one number (the generic cell rate algorithm: the
"theoretical arrival time" of the next send, epoch seconds):

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

The rules are here; their state (one time per number, one per recipient lately written to) is
the store's (``Store.pacing_state``), and a claim spends it in the claim's own transaction
(``Pacer.admit``, handed to ``Store.claim_next``): however many dispatchers share a store, in one
process or several, a number's limits hold across all of them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from sync.providers.base import Capabilities

# Meta's pair rate limit: about one message every 6 s to one user; a few at once are tolerated.
RECIPIENT_INTERVAL_S: Final = 6.0
RECIPIENT_BURST: Final = 5
# QR-linked numbers: a random pause of up to this much after each send, so the rhythm is human.
QR_JITTER_S: Final = 0.5
# A limit whose time is this far in the past is forgotten by the store (it is full again: the
# same as never used); the margin covers clocks of several processes a little apart.
FORGET_AFTER_S: Final = 600.0


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


# A (number, recipient) pacing key; the recipient "" is the number's own limit.
Key = tuple[int, str]
NUMBER: Final = ""
# A claim's admission: the new times of the number's and the recipient's limits (None: that
# limit does not apply, nothing to write), or None when the send must wait.
Admission = tuple[float | None, float | None]


@dataclass(frozen=True, slots=True)
class Limit:
    """One token bucket as GCRA sees it: a send every ``interval`` seconds, running up to
    ``tolerance`` seconds ahead (a burst of ``tolerance / interval + 1``)."""

    interval: float
    tolerance: float

    @classmethod
    def of(cls, rate: float, burst: float) -> Limit:
        """``rate`` sends a second with bursts of ``burst``."""
        interval = 1.0 / rate
        return cls(interval, (max(1.0, burst) - 1.0) * interval)

    def ready_at(self, tat: float | None, now: float) -> float:
        """When the next send is allowed, given the limit's time ``tat`` (None: never used)."""
        return now if tat is None else max(now, tat - self.tolerance)

    def after_send(self, tat: float | None, now: float) -> float:
        """The limit's time once a send is counted at ``now``."""
        return max(now if tat is None else tat, now) + self.interval


class Pacer:
    """The send limits of every number a dispatcher serves: pure rules over a state the store
    keeps (see the module docstring). Numbers never configured are not paced."""

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._configs: dict[int, PacingConfig] = {}

    def __repr__(self) -> str:
        return f"Pacer(numbers={sorted(self._configs)})"

    def configure(self, account_id: int, config: PacingConfig | None) -> None:
        """Set, change or (None) lift one number's limits."""
        if config is None:
            self._configs.pop(account_id, None)
        else:
            self._configs[account_id] = config

    def config_of(self, account_id: int) -> PacingConfig | None:
        """The limits of ``account_id`` (None: not paced)."""
        return self._configs.get(account_id)

    @property
    def paced(self) -> frozenset[int]:
        """The numbers with limits."""
        return frozenset(self._configs)

    def _limits(self, config: PacingConfig) -> tuple[Limit, Limit | None]:
        rate, burst = config.number_limits()
        recipient = None
        if config.recipient_interval_s > 0:
            recipient = Limit.of(1.0 / config.recipient_interval_s, config.recipient_burst)
        return Limit.of(rate, burst), recipient

    def ready_at(
        self, state: Mapping[Key, float], account_id: int, recipient: str, now: float
    ) -> float:
        """When a send from ``account_id`` to ``recipient`` is allowed, in ``state``."""
        config = self._configs.get(account_id)
        if config is None:
            return now
        number, per_recipient = self._limits(config)
        at = number.ready_at(state.get((account_id, NUMBER)), now)
        if per_recipient is not None and recipient != NUMBER:
            at = max(at, per_recipient.ready_at(state.get((account_id, recipient)), now))
        return at

    def blocked(
        self, state: Mapping[Key, float], now: float
    ) -> tuple[set[int], set[Key], float | None]:
        """(numbers that may not send now, (number, recipient) pairs that may not, and the
        earliest time one of them frees up), in ``state``."""
        numbers: set[int] = set()
        pairs: set[Key] = set()
        soonest: float | None = None
        for (account_id, recipient), tat in state.items():
            config = self._configs.get(account_id)
            if config is None:
                continue
            number, per_recipient = self._limits(config)
            limit = number if recipient == NUMBER else per_recipient
            if limit is None:
                continue
            at = limit.ready_at(tat, now)
            if at > now:
                if recipient == NUMBER:
                    numbers.add(account_id)
                else:
                    pairs.add((account_id, recipient))
                soonest = at if soonest is None else min(soonest, at)
        return numbers, pairs, soonest

    def admit(
        self,
        account_id: int,
        recipient: str,
        number_tat: float | None,
        recipient_tat: float | None,
        now: float,
    ) -> Admission | None:
        """Whether a send from ``account_id`` to ``recipient`` may be claimed at ``now``, given
        the limits' current times (read by the store under lock); if so, their new times."""
        config = self._configs.get(account_id)
        if config is None:
            return None, None
        number, per_recipient = self._limits(config)
        if number.ready_at(number_tat, now) > now:
            return None
        if per_recipient is not None and per_recipient.ready_at(recipient_tat, now) > now:
            return None
        new_number = number.after_send(number_tat, now)
        if config.jitter_s > 0:  # a human rhythm: a random extra pause after each send
            new_number += self._rng.uniform(0.0, config.jitter_s)
        new_recipient = None
        if per_recipient is not None:
            new_recipient = per_recipient.after_send(recipient_tat, now)
        return new_number, new_recipient

    def paused(
        self, account_id: int, seconds: float, now: float, *, recipient: str = NUMBER
    ) -> tuple[str, float] | None:
        """The (key, time) that holds the sends of the number (or, with ``recipient``, of that
        customer only) for ``seconds``: the provider asked it to slow down. A customer's hold
        on a number without customer limits holds the number. None for a number without
        limits."""
        config = self._configs.get(account_id)
        if config is None:
            return None
        number, per_recipient = self._limits(config)
        if recipient != NUMBER and per_recipient is not None:
            return recipient, now + seconds + per_recipient.tolerance
        return NUMBER, now + seconds + number.tolerance
