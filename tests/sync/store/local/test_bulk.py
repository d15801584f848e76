"""Bulk history loads: every row, consistent list fields, indexed, whole batches or nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from sync.domain.ids import chat_key_for_phone
from sync.domain.models import DeliveryStatus, Direction, MessageType, preview_of
from sync.store.local import outbox, queries
from sync.store.local.bulk import load_history
from sync.store.local.local_cache import LocalCache
from sync.store.local.search import search_messages
from tests.sync.helpers import add_account, rows, scalar

T0 = 1_700_000_000_000


@dataclass(frozen=True)
class Customer:
    phone: str
    name: str


@dataclass(frozen=True)
class Msg:
    direction: Direction
    timestamp_ms: int
    type: MessageType
    text: str
    media: dict[str, Any] | None = None
    status: DeliveryStatus = DeliveryStatus.RECEIVED
    error: str | None = None


@dataclass(frozen=True)
class Conv:
    customer: Customer
    messages: Sequence[Msg]
    unread: int = 0
    tags: list[str] = field(default_factory=list)


def _history(conversations: int, *, start: int = 0) -> list[Conv]:
    """Conversations with 0..6 messages each; every message carries a unique word ``tokN``."""
    result = []
    n = start * 100
    for c in range(start, start + conversations):
        messages = []
        for i in range(c % 7):
            n += 1
            out = i % 2 == 1
            if c % 5 == 3 and i == c % 7 - 1:  # a photo without caption ends some chats
                messages.append(
                    Msg(
                        Direction.IN,
                        T0 + c * 1000 + i,
                        MessageType.IMAGE,
                        "",
                        media={"mime": "image/jpeg", "n": n},
                    )
                )
                continue
            messages.append(
                Msg(
                    Direction.OUT if out else Direction.IN,
                    T0 + c * 1000 + i,
                    MessageType.TEXT,
                    f"mensagem tok{n:05d} número {i}\nda conversa {c}",
                    status=DeliveryStatus.READ if out else DeliveryStatus.RECEIVED,
                )
            )
        result.append(Conv(Customer(f"+55 11 9{c:04d}-0000", f"Cliente {c}"), messages, c % 3))
    return result


def _check_loaded(cache: LocalCache, account: int, history: Sequence[Conv]) -> None:
    """Every conversation and message of ``history`` is stored, with consistent list fields."""
    stored = {c.chat_key: c for c in queries.latest_conversations(cache, account, limit=10_000)}
    assert len(stored) == len(history)
    for conv in history:
        row = stored[chat_key_for_phone(conv.customer.phone)]
        assert (row.customer_phone, row.customer_name) == (conv.customer.phone, conv.customer.name)
        assert row.unread_count == conv.unread
        page = queries.message_page(cache, row.id, limit=1000)
        assert [(m.timestamp_ms, m.text, m.direction, m.status, m.type, m.media) for m in page] == [
            (m.timestamp_ms, m.text, m.direction, m.status, m.type, m.media) for m in conv.messages
        ]
        if not conv.messages:
            assert (row.last_message_at, row.last_preview, row.last_direction, row.last_status) == (
                0, "", None, None,
            )  # fmt: skip
            continue
        last = conv.messages[-1]
        assert row.last_message_at == last.timestamp_ms
        assert row.last_preview == preview_of(last.type, last.text)
        assert row.last_direction is last.direction
        assert row.last_status is last.status
        last_seq = scalar(cache, "SELECT last_message_seq FROM conversations WHERE id = ?", row.id)
        assert last_seq == page[-1].seq


def _fts_consistent(cache: LocalCache) -> None:
    cache.conn.exec_driver_sql("INSERT INTO message_fts(message_fts) VALUES ('integrity-check')")


@pytest.mark.parametrize("batch_size", [1, 7, 50_000])
def test_load_history_stores_everything_with_consistent_list_fields(
    cache: LocalCache, batch_size: int
) -> None:
    account = add_account(cache)
    history = _history(40)
    progress: list[int] = []

    changes = load_history(cache, account, history, batch_size=batch_size, progress=progress.append)

    total = sum(len(c.messages) for c in history)
    assert changes.reset and changes.accounts == {account}
    assert queries.count_messages(cache, account) == total
    assert queries.count_conversations(cache, account) == 40
    assert progress == sorted(progress) and progress[-1] == total
    if batch_size == 1:
        assert len(progress) == sum(1 for c in history if c.messages)  # one commit per chat
    _check_loaded(cache, account, history)
    _fts_consistent(cache)
    # Every text message is found by its unique word; image placeholders are "[image]".
    for conv in history:
        for m in conv.messages:
            if m.text:
                word = m.text.split()[1]
                assert [h.text for h in search_messages(cache, word)] == [m.text]
    assert "[image]" in {c.last_preview for c in queries.latest_conversations(cache, account)}
    assert queries.unread_by_account(cache) == {account: sum(c.unread for c in history)}


def test_a_second_load_continues_ids_and_keeps_the_first(cache: LocalCache) -> None:
    shop, garage = add_account(cache, "Loja"), add_account(cache, "Oficina")
    first, second = _history(10), _history(12, start=10)

    load_history(cache, shop, first, batch_size=5)
    load_history(cache, garage, second, batch_size=5)

    _check_loaded(cache, shop, first)
    _check_loaded(cache, garage, second)
    total = sum(len(c.messages) for c in first + second)
    assert scalar(cache, "SELECT COUNT(DISTINCT id) FROM messages") == total
    assert scalar(cache, "SELECT COUNT(DISTINCT provider_message_id) FROM messages") == total
    _fts_consistent(cache)


def test_loaded_history_takes_live_messages_after_it(cache: LocalCache) -> None:
    account = add_account(cache)
    history = _history(8)
    load_history(cache, account, history)
    chat = queries.latest_conversations(cache, account)[0]

    message, _ = outbox.enqueue_text(cache, chat.id, "mensagem ao vivo")

    page = queries.message_page(cache, chat.id)
    assert page[-1].id == message.id
    assert [h.message_id for h in search_messages(cache, "vivo")] == [message.id]
    _fts_consistent(cache)


class Boom(Exception):
    """The history source failed."""


def _failing(history: Sequence[Conv], after: int) -> Iterator[Conv]:
    for index, conv in enumerate(history):
        if index == after:
            raise Boom(f"source died after {after} conversations")
        yield conv


def test_a_crash_mid_load_keeps_the_whole_batches_committed_before_it(cache: LocalCache) -> None:
    account = add_account(cache)
    history = _history(40)
    committed: list[int] = []

    with pytest.raises(Boom):
        load_history(
            cache, account, _failing(history, 30), batch_size=10, progress=committed.append
        )

    # Batches commit whole conversations: what is stored is a prefix of the source, complete.
    stored = queries.count_conversations(cache, account)
    assert 0 < stored < 30
    _check_loaded(cache, account, history[:stored])
    assert queries.count_messages(cache, account) == committed[-1]
    assert committed[-1] == sum(len(c.messages) for c in history[:stored])
    _fts_consistent(cache)
    # Nothing is left open: the cache takes writes, and a later load of the rest succeeds.
    load_history(cache, account, history[stored:], batch_size=10)
    _check_loaded(cache, account, history)
    _fts_consistent(cache)


def test_a_batch_that_fails_to_write_is_rolled_back_whole(cache: LocalCache) -> None:
    account = add_account(cache)
    history = _history(20)
    duplicate = Conv(history[0].customer, [Msg(Direction.IN, T0, MessageType.TEXT, "duplicado")])
    source = [*history, duplicate]  # the same chat twice: the last batch breaks UNIQUE

    with pytest.raises(Exception, match="UNIQUE"):
        load_history(cache, account, source, batch_size=40)

    stored = queries.count_conversations(cache, account)
    assert stored < len(source)
    _check_loaded(cache, account, history[:stored])
    assert search_messages(cache, "duplicado") == []
    _fts_consistent(cache)


def test_history_media_is_stored_as_json(cache: LocalCache) -> None:
    account = add_account(cache)
    load_history(cache, account, _history(4))

    (media,) = [m for (m,) in rows(cache, "SELECT media FROM messages WHERE media IS NOT NULL")]

    assert json.loads(media) == {"mime": "image/jpeg", "n": 6}


def test_bulk_loaded_history_is_searched_newest_first(cache: LocalCache) -> None:
    shop, garage = add_account(cache, "Loja"), add_account(cache, "Oficina")

    def conv(phone: str, stamps: list[int]) -> Conv:
        # Seconds apart: the index orders by second, then by arrival within a second.
        msgs = [Msg(Direction.IN, T0 + s * 1000, MessageType.TEXT, f"bolo {s}") for s in stamps]
        return Conv(Customer(phone, phone), msgs)

    load_history(cache, shop, [conv("+55 1", [10, 40]), conv("+55 2", [20, 50])])
    load_history(cache, garage, [conv("+55 3", [0, 30])])  # loaded last, yet older

    stamps = [(h.timestamp_ms - T0) // 1000 for h in search_messages(cache, "bolo")]
    assert stamps == [50, 40, 30, 20, 10, 0]
    shop_only = [
        (h.timestamp_ms - T0) // 1000 for h in search_messages(cache, "bolo", account_id=shop)
    ]
    assert shop_only == [50, 40, 20, 10]


# --- the demo corpus ----------------------------------------------------------------------------


def test_the_demo_history_loads_consistently(cache: LocalCache) -> None:
    from sync.providers.demo.corpus import generate_history

    account = add_account(cache)
    history = list(generate_history(0, seed=99, conversations=25, max_messages=40, now_ms=T0))
    again = list(generate_history(0, seed=99, conversations=25, max_messages=40, now_ms=T0))
    assert [[m.text for m in c.messages] for c in history] == [
        [m.text for m in c.messages] for c in again
    ]  # the same seed makes the same shop

    load_history(cache, account, history, batch_size=100)

    assert queries.count_conversations(cache, account) == 25
    assert queries.count_messages(cache, account) == sum(len(c.messages) for c in history)
    _check_loaded(cache, account, history)
    _fts_consistent(cache)
    # History never holds a message that would wait for an outbox entry it does not have.
    assert scalar(cache, "SELECT COUNT(*) FROM messages WHERE status IN ('queued', 'sending')") == 0
    # Chronological per conversation, and nothing from the future.
    for conv in history:
        stamps = [m.timestamp_ms for m in conv.messages]
        assert stamps == sorted(stamps)
        assert all(ts <= T0 for ts in stamps)
    word = next(w for c in history for m in c.messages for w in m.text.split() if len(w) > 5)
    assert search_messages(cache, word)
