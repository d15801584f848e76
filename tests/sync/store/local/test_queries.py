"""View queries: keyset pages with no gaps or repeats, message windows, unread badges."""

from __future__ import annotations

import pytest

from sync.domain.changes import ChangeSet
from sync.domain.messages import Message
from sync.domain.models import Conversation
from sync.store.local import queries
from sync.store.local.ingest import apply_events
from sync.store.local.local_cache import LocalCache
from tests.polling import at_most
from tests.sync.helpers import BASE_TS, add_account, conversation_id_for, inbound, outbound_echo

PHONE = "+55 11 99999-0001"


def _many_conversations(cache: LocalCache) -> tuple[int, int]:
    """Two numbers, 23 + 14 conversations, with many equal timestamps (ties broken by id)."""
    shop, garage = add_account(cache, "Loja"), add_account(cache, "Oficina", sort_order=1)
    events = []
    for i in range(23):
        events.append(
            inbound(shop, f"s{i}", f"loja {i}", phone=f"+55 11 90000-{i:04d}", ts=BASE_TS + i // 4)
        )
    for i in range(14):
        events.append(
            inbound(
                garage, f"g{i}", f"oficina {i}", phone=f"+55 21 90000-{i:04d}", ts=BASE_TS + i // 3
            )
        )
    apply_events(cache, events)
    return shop, garage


def _all_pages(cache: LocalCache, account_id: int | None, limit: int) -> list[list[Conversation]]:
    pages: list[list[Conversation]] = []
    after = None
    while page := queries.latest_conversations(cache, account_id, limit=limit, after=after):
        pages.append(page)
        after = (page[-1].last_message_at, page[-1].id)
        assert len(pages) < 100, "pagination does not end"
    return pages


@pytest.mark.parametrize("limit", [1, 4, 5, 200])
@pytest.mark.parametrize("which", ["all", "shop", "garage"])
def test_conversation_pages_have_no_gaps_and_no_repeats(
    cache: LocalCache, limit: int, which: str
) -> None:
    shop, garage = _many_conversations(cache)
    account_id = {"all": None, "shop": shop, "garage": garage}[which]

    pages = _all_pages(cache, account_id, limit)

    flat = [c for page in pages for c in page]
    assert all(len(page) <= limit for page in pages)
    ids = [c.id for c in flat]
    assert len(ids) == len(set(ids)) == queries.count_conversations(cache, account_id)
    assert len(ids) == {"all": 37, "shop": 23, "garage": 14}[which]
    # Most recent first; equal times by id, newest id first.
    keys = [(c.last_message_at, c.id) for c in flat]
    assert keys == sorted(keys, reverse=True)
    if account_id is not None:
        assert {c.account_id for c in flat} == {account_id}


def test_a_conversation_that_moves_up_is_not_shown_twice_on_later_pages(cache: LocalCache) -> None:
    shop, _ = _many_conversations(cache)
    first = queries.latest_conversations(cache, shop, limit=5)
    oldest = queries.latest_conversations(cache, shop)[-1]

    # While the user scrolls, the oldest conversation gets a new message and jumps to the top.
    apply_events(
        cache, [inbound(shop, "late", "nova", phone=oldest.customer_phone, ts=BASE_TS + 99)]
    )
    rest = []
    after = (first[-1].last_message_at, first[-1].id)
    for _ in at_most(100, "pagination does not end"):
        page = queries.latest_conversations(cache, shop, limit=5, after=after)
        if not page:
            break
        rest.extend(page)
        after = (page[-1].last_message_at, page[-1].id)

    seen = [c.id for c in first + rest]
    assert len(seen) == len(set(seen))
    assert oldest.id not in seen  # it is above the cursor now; a refresh of the top shows it
    assert queries.latest_conversations(cache, shop, limit=1)[0].id == oldest.id


def _long_chat(cache: LocalCache, n: int = 23) -> tuple[int, list[Message]]:
    account = add_account(cache)
    events = []
    for i in range(n):
        ts = BASE_TS + i // 3  # three messages per second: ties broken by seq
        maker = inbound if i % 2 else outbound_echo
        events.append(maker(account, f"m{i}", f"mensagem {i}", phone=PHONE, ts=ts))
    apply_events(cache, events)
    conversation = conversation_id_for(cache, account, PHONE)
    everything = queries.message_page(cache, conversation, limit=1000)
    return conversation, everything


@pytest.mark.parametrize("limit", [1, 5, 7, 50])
def test_message_pages_walk_back_without_gaps_or_repeats(cache: LocalCache, limit: int) -> None:
    conversation, everything = _long_chat(cache)
    assert [m.text for m in everything] == [f"mensagem {i}" for i in range(23)]

    collected: list[Message] = []
    before = None
    for _ in at_most(100, "pagination does not end"):
        page = queries.message_page(cache, conversation, before=before, limit=limit)
        if not page:
            break
        assert len(page) <= limit
        assert page == sorted(page, key=lambda m: (m.timestamp_ms, m.seq))  # chronological
        collected = page + collected
        before = (page[0].timestamp_ms, page[0].seq)

    assert collected == everything


def test_messages_after_extends_an_open_chat(cache: LocalCache) -> None:
    conversation, everything = _long_chat(cache)
    cursor = (everything[9].timestamp_ms, everything[9].seq)

    newer = queries.messages_after(cache, conversation, cursor, limit=5)

    assert newer == everything[10:15]
    assert (
        queries.messages_after(
            cache, conversation, (everything[-1].timestamp_ms, everything[-1].seq)
        )
        == []
    )


@pytest.mark.parametrize(
    ("index", "before", "after", "expected"),
    [
        (11, 3, 2, range(8, 14)),
        (0, 3, 2, range(0, 3)),
        (22, 3, 2, range(19, 23)),
        (5, 0, 0, range(5, 6)),
    ],
)
def test_messages_around_centres_on_the_hit(
    cache: LocalCache, index: int, before: int, after: int, expected: range
) -> None:
    _, everything = _long_chat(cache)

    window = queries.messages_around(cache, everything[index].id, before=before, after=after)

    assert window == [everything[i] for i in expected]


def test_messages_around_an_unknown_id_is_empty(cache: LocalCache) -> None:
    _long_chat(cache)
    assert queries.messages_around(cache, "no-such-id") == []


def test_mark_conversation_read_clears_the_badge_once(cache: LocalCache) -> None:
    shop, garage = _many_conversations(cache)
    apply_events(cache, [inbound(shop, "s-more", phone="+55 11 90000-0000", ts=BASE_TS + 50)])
    chat = conversation_id_for(cache, shop, "+55 11 90000-0000")
    assert queries.unread_by_account(cache) == {shop: 24, garage: 14}

    changes = queries.mark_conversation_read(cache, chat)

    assert changes == ChangeSet(accounts=frozenset({shop}), conversations=frozenset({chat}))
    assert queries.conversations_by_id(cache, [chat])[0].unread_count == 0
    assert queries.unread_by_account(cache) == {shop: 22, garage: 14}
    assert not queries.mark_conversation_read(cache, chat)  # nothing changed the second time
    assert not queries.mark_conversation_read(cache, 987654)


def test_unread_by_account_leaves_out_numbers_with_nothing_unread(cache: LocalCache) -> None:
    shop, garage = _many_conversations(cache)
    for conversation in queries.latest_conversations(cache, garage):
        queries.mark_conversation_read(cache, conversation.id)

    assert queries.unread_by_account(cache) == {shop: 23}


def test_accounts_are_listed_in_rail_order(cache: LocalCache) -> None:
    late = add_account(cache, "Segunda", sort_order=2)
    early = add_account(cache, "Primeira", sort_order=1)

    assert [a.id for a in queries.list_accounts(cache)] == [early, late]


def test_meta_values_are_stored_and_replaced(cache: LocalCache) -> None:
    assert queries.get_meta(cache, "cursor") is None
    queries.set_meta(cache, "cursor", "1")
    queries.set_meta(cache, "cursor", "2")
    assert queries.get_meta(cache, "cursor") == "2"
