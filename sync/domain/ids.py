"""Client-made identifiers."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.RLock()
_last_ms = 0
_last_rand = 0

_RAND_BITS = 74  # rand_a (12 bits) and rand_b (62 bits) together, used as one counter
_RAND_LIMIT = 1 << _RAND_BITS
_LOW48 = (1 << 48) - 1


def _next_locked(now_ms: int | None) -> tuple[int, int]:
    """The next (unix_ms, 74-bit counter) pair; caller holds ``_lock``."""
    global _last_ms, _last_rand
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    if ms <= _last_ms:
        ms = _last_ms
        rand = _last_rand + 1
        if rand == _RAND_LIMIT:  # counter overflow inside one millisecond: borrow the next one
            ms += 1
            rand = int.from_bytes(os.urandom(10), "big") >> 6
    else:
        rand = int.from_bytes(os.urandom(10), "big") >> 6
    _last_ms, _last_rand = ms, rand
    return ms, rand


def _format(ms: int, rand: int) -> str:
    # Layout (RFC 9562 section 5.7):
    # unix_ts_ms(48) | ver=7(4) | rand_a(12) | var=0b10(2) | rand_b(62).
    # The groups after the timestamp are "7" + rand_a, then the variant with rand_b's top 14 bits,
    # then rand_b's low 48 bits: all cut straight out of the counter, no uuid.UUID round trip.
    ms &= _LOW48
    return (
        f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-{0x7000 | rand >> 62:04x}-"
        f"{0x8000 | (rand >> 48) & 0x3FFF:04x}-{rand & _LOW48:012x}"
    )


def uuid7(now_ms: int | None = None) -> str:
    """Return a new UUIDv7 (RFC 9562) as a string.

    Ids made in one process are strictly increasing, even within one millisecond (the 74 random
    bits are incremented as a counter, as RFC 9562 section 6.2 method 2 allows), so sorting by id
    sorts by creation order. Python 3.11 has no ``uuid.uuid7``; this is the whole of it.
    """
    with _lock:
        ms, rand = _next_locked(now_ms)
    return _format(ms, rand)


def uuid7_block(count: int) -> list[str]:
    """``count`` consecutive UUIDv7s, as ``uuid7`` would make them one by one, but fast.

    Bulk loads need a million ids in a fraction of a second. Consecutive counter values differ
    only in their last 12 hex digits until a carry crosses bit 48 (once in 2**48 steps), so a
    block is one shared prefix per carry-free run plus a C-level ``%012x`` per id.
    """
    global _last_rand
    if count <= 0:
        return []
    with _lock:
        ms, first = _next_locked(None)
        if first + count > _RAND_LIMIT:
            # The counter would overflow inside the block (about count / 2**74 odds): let
            # ``uuid7`` borrow the next millisecond id by id, as it does for single ids.
            ids = [_format(ms, first)]
            ids.extend(_format(*_next_locked(None)) for _ in range(count - 1))
            return ids
        _last_rand = first + count - 1  # reserve the block: the next id continues after it
    ids = []
    rand, end = first, first + count
    while rand < end:
        run_end = min(end, ((rand >> 48) + 1) << 48)
        prefix = _format(ms, rand)[:-12]
        ids.extend(
            map((prefix + "%012x").__mod__, range(rand & _LOW48, (run_end - 1 & _LOW48) + 1))
        )
        rand = run_end
    return ids


def chat_key_for_phone(phone: str) -> str:
    """The conversation key of a one-to-one chat: the customer's number, digits only."""
    return "".join(ch for ch in phone if ch.isdigit())
