"""Client-made identifiers."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.RLock()
_last_ms = 0
_last_rand = 0


def uuid7(now_ms: int | None = None) -> str:
    """Return a new UUIDv7 (RFC 9562) as a string.

    Ids made in one process are strictly increasing, even within one millisecond (the 74 random
    bits are incremented as a counter, as RFC 9562 section 6.2 method 2 allows), so sorting by id
    sorts by creation order. Python 3.11 has no ``uuid.uuid7``; this is the whole of it.
    """
    global _last_ms, _last_rand
    with _lock:
        ms = int(time.time() * 1000) if now_ms is None else now_ms
        if ms <= _last_ms:
            ms = _last_ms
            rand = (_last_rand + 1) & ((1 << 74) - 1)
            if rand == 0:  # counter overflow inside one millisecond: borrow the next one
                ms += 1
                rand = int.from_bytes(os.urandom(10), "big") >> 6
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 6
        _last_ms, _last_rand = ms, rand
    rand_a = rand >> 62
    rand_b = rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))


def uuid7_block(count: int) -> list[str]:
    """``count`` consecutive UUIDv7s, as ``uuid7`` would make them one by one, but fast.

    Bulk loads need a million ids in well under a second: the counter-in-random-bits scheme of
    ``uuid7`` lets a block be one random start plus increments, formatted without ``uuid.UUID``.
    """
    global _last_ms, _last_rand
    if count <= 0:
        return []
    with _lock:
        first = uuid.UUID(uuid7()).int
        # Reserve the block: the next uuid7() continues after its last id.
        _last_rand = (_last_rand + count - 1) & ((1 << 74) - 1)
    ids: list[str] = []
    append = ids.append
    ms_part = first >> 80
    rand = ((first >> 64) & 0xFFF) << 62 | (first & ((1 << 62) - 1))
    for offset in range(count):
        r = rand + offset
        if r >> 74:  # the 74-bit counter overflowed: fall back to the slow path for the rest
            return ids + [uuid7() for _ in range(count - offset)]
        h = f"{ms_part:012x}7{r >> 62:03x}{(0b10 << 62) | (r & ((1 << 62) - 1)):016x}"
        append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids
