"""Delivery statuses: ``DeliveryStatus.can_become`` is strict progress along the documented way.

Both stores (the solo cache's ingest and the team server's, which builds its SQL from this
relation) rely on it to make a repeated or late receipt change nothing, so it is pinned here
twice: as properties over every status, and as the full truth table a reader can check by eye.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.domain.models import DeliveryStatus

D = DeliveryStatus

# The way an outgoing message goes, as the class docstring tells it (``unknown``, the send whose
# answer was lost, sits between ``sending`` and ``sent``: a later receipt settles it).
WAY = (D.QUEUED, D.SENDING, D.UNKNOWN, D.SENT, D.DELIVERED, D.READ, D.PLAYED)
# Once the customer's phone acknowledged a message, a "failed" for it is stale news.
ACKNOWLEDGED = frozenset({D.DELIVERED, D.READ, D.PLAYED})
NOT_YET_ACKNOWLEDGED = frozenset(WAY) - ACKNOWLEDGED

statuses = st.sampled_from(list(DeliveryStatus))
on_the_way = st.sampled_from(WAY)


# --- the relation, for every pair ----------------------------------------------------------------


def test_every_status_is_covered() -> None:
    # A status added to the enum must be placed in the way (or be failed / received) and in the
    # table below, or these tests would say nothing about it.
    assert set(DeliveryStatus) == {*WAY, D.FAILED, D.RECEIVED}


@given(statuses)
def test_a_status_never_becomes_itself(status: DeliveryStatus) -> None:
    # A repeated receipt must be no news: were it progress, the stores would rewrite the message
    # (and its error) and report it changed each time the provider redelivers.
    assert not status.can_become(status)


@given(statuses, statuses)
def test_no_two_statuses_can_become_each_other(a: DeliveryStatus, b: DeliveryStatus) -> None:
    assert not (a.can_become(b) and b.can_become(a))


@given(statuses, statuses, statuses)
def test_progress_is_transitive(a: DeliveryStatus, b: DeliveryStatus, c: DeliveryStatus) -> None:
    # Applying a receipt skipped in between (sent, then read without delivered) must be allowed
    # whenever the two steps are.
    if a.can_become(b) and b.can_become(c):
        assert a.can_become(c)


def test_there_is_no_cycle_of_any_length() -> None:
    # Irreflexive and transitive already exclude cycles; walked here directly so a broken
    # transitivity cannot hide one.
    for start in DeliveryStatus:
        seen: set[DeliveryStatus] = set()
        frontier = {start}
        while frontier:
            frontier = {n for s in frontier for n in DeliveryStatus if s.can_become(n)} - seen
            seen |= frontier
        assert start not in seen, f"{start} can come back to itself"


@given(on_the_way, on_the_way)
def test_along_the_way_progress_is_exactly_the_documented_order(
    a: DeliveryStatus, b: DeliveryStatus
) -> None:
    assert a.can_become(b) == (WAY.index(a) < WAY.index(b))
    assert a.can_become(b) == (a.rank < b.rank)


@given(statuses)
def test_failed_is_terminal(new: DeliveryStatus) -> None:
    assert not D.FAILED.can_become(new)


@given(statuses)
def test_failed_is_reached_only_before_the_customers_phone_acknowledged(
    old: DeliveryStatus,
) -> None:
    assert old.can_become(D.FAILED) == (old in NOT_YET_ACKNOWLEDGED)


@given(statuses)
def test_an_inbound_message_never_changes_status_nor_does_an_outgoing_become_inbound(
    other: DeliveryStatus,
) -> None:
    assert not D.RECEIVED.can_become(other)
    assert not other.can_become(D.RECEIVED)


# --- receipts in any order ------------------------------------------------------------------------


def apply_receipts(start: DeliveryStatus, receipts: list[DeliveryStatus]) -> DeliveryStatus:
    """What both stores do with a run of receipts: take each one only if it is progress."""
    current = start
    for status in receipts:
        if current.can_become(status):
            current = status
    return current


@given(on_the_way, st.lists(on_the_way, max_size=12), st.randoms(use_true_random=False))
def test_receipts_without_a_failure_end_at_the_furthest_whatever_their_order(
    start: DeliveryStatus, given_order: list[DeliveryStatus], rng: random.Random
) -> None:
    shuffled = rng.sample(given_order, len(given_order))
    furthest = max([start, *given_order], key=lambda s: s.rank)
    assert apply_receipts(start, given_order) == furthest
    assert apply_receipts(start, shuffled) == furthest


@given(on_the_way, st.lists(st.sampled_from([*WAY, D.FAILED]), max_size=12))
def test_a_failure_sticks_exactly_when_it_came_before_any_acknowledgement(
    start: DeliveryStatus, receipts: list[DeliveryStatus]
) -> None:
    # With "failed" among them the order does matter, and this is how: a failure that arrives
    # first is final; one that arrives after "delivered" is ignored.
    if D.FAILED not in receipts:
        return
    before_failure = [start, *receipts[: receipts.index(D.FAILED)]]
    expected_failed = not ACKNOWLEDGED.intersection(before_failure)
    assert (apply_receipts(start, receipts) == D.FAILED) == expected_failed


# --- the truth table ------------------------------------------------------------------------------

# Row: the status a message has; column: the status a receipt (or the outbox) brings.
# "x": it becomes that; ".": the event is stale or repeated news and changes nothing.
TRUTH_TABLE = """
            queued sending unknown sent delivered read played failed received
queued        .      x       x      x      x       x     x      x       .
sending       .      .       x      x      x       x     x      x       .
unknown       .      .       .      x      x       x     x      x       .
sent          .      .       .      .      x       x     x      x       .
delivered     .      .       .      .      .       x     x      .       .
read          .      .       .      .      .       .     x      .       .
played        .      .       .      .      .       .     .      .       .
failed        .      .       .      .      .       .     .      .       .
received      .      .       .      .      .       .     .      .       .
"""


def _pairs() -> list[tuple[DeliveryStatus, DeliveryStatus, bool]]:
    header, *lines = TRUTH_TABLE.strip().splitlines()
    columns = [D(name) for name in header.split()]
    pairs = []
    for line in lines:
        name, *cells = line.split()
        assert len(cells) == len(columns), line
        pairs += [(D(name), new, cell == "x") for new, cell in zip(columns, cells, strict=True)]
    return pairs


def _table_params() -> list[object]:
    return [
        pytest.param(old, new, becomes, id=f"{old}->{new}" if becomes else f"{old}-/->{new}")
        for old, new, becomes in _pairs()
    ]


def test_the_table_lists_all_81_pairs() -> None:
    assert {(old, new) for old, new, _ in _pairs()} == {
        (old, new) for old in DeliveryStatus for new in DeliveryStatus
    }


@pytest.mark.parametrize(("old", "new", "becomes"), _table_params())
def test_can_become_follows_the_table(
    old: DeliveryStatus, new: DeliveryStatus, becomes: bool
) -> None:
    assert old.can_become(new) is becomes
