"""Bulk loading of history (the demo workspace, benchmarks, backfills) at full speed.

Rows go in through the DB-API's ``executemany`` in large transactions, and the full-text index
is fed once per batch with one ``INSERT ... SELECT`` instead of a trigger per row.

The rows of a batch are built column by column with C-level iterators (``map``, ``zip``,
``attrgetter``) rather than a Python loop per message: at a million messages the per-row Python
work was as costly as SQLite's own. What was measured, and what was tried and left out, is noted
where it applies; the benchmark is ``uv run python -m tests.perf.inbox`` (1M messages, 10 numbers).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol

from sync.domain.changes import ChangeSet
from sync.domain.ids import chat_key_for_phone, uuid7_block
from sync.domain.models import DeliveryStatus, Direction, MessageType, preview_of
from sync.store.local.search import index_messages_from

if TYPE_CHECKING:
    from sync.store.local.local_cache import LocalCache


class HistoryCustomer(Protocol):
    """The customer side of a loaded conversation."""

    @property
    def phone(self) -> str: ...
    @property
    def name(self) -> str: ...


class HistoryMessage(Protocol):
    """One message of a loaded conversation."""

    @property
    def direction(self) -> Direction: ...
    @property
    def timestamp_ms(self) -> int: ...
    @property
    def type(self) -> MessageType: ...
    @property
    def text(self) -> str: ...
    @property
    def media(self) -> dict[str, Any] | None: ...
    @property
    def status(self) -> DeliveryStatus: ...
    @property
    def error(self) -> str | None: ...


class HistoryConversation(Protocol):
    """A conversation with its messages in chronological order."""

    @property
    def customer(self) -> HistoryCustomer: ...
    @property
    def messages(self) -> Sequence[HistoryMessage]: ...
    @property
    def unread(self) -> int: ...


# Enum members mapped to plain str through a dict: binding a str subclass goes through the
# driver's slow adaptation path, and ``.value`` is a slow property.
_PLAIN: dict[object, str] = {
    member: member.value for enum in (Direction, MessageType, DeliveryStatus) for member in enum
}
_plain = _PLAIN.__getitem__

# media and error are NULL for nearly every message, but the driver binds None through its
# adaptation protocol (an AttributeError raised and cleared twice per value): that alone was a
# quarter of the load's CPU time. They are sent as the integer 0 instead and turned back into
# NULL by NULLIF: a TEXT value never compares equal to an INTEGER, so real text is kept as is.
_MESSAGE_INSERT = (
    "INSERT INTO messages (seq, id, account_id, conversation_id, provider_message_id, direction,"
    " ts, type, body, sender_name, reply_to, media, status, error)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', NULL, NULLIF(?, 0), ?, NULLIF(?, 0))"
)
_CONVERSATION_INSERT = (
    "INSERT INTO conversations (id, account_id, chat_key, customer_phone, customer_name,"
    " is_group, last_message_at, last_preview, last_direction, last_status, last_message_seq,"
    " unread_count) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)"
)

# Left out after measuring (1M messages, 10 loads of 100k, 2-core VM):
# - FTS 'optimize' after each load: 2.7 s of merging on top of 10.4 s of loading, and search p95
#   unchanged (all numbers 1.6 vs 1.8 ms for words, 2.0 vs 2.3 ms for prefixes; one number 67 ms
#   both): at 50k-row batches automerge already keeps the index in a few large segments.
# - Feeding the index with ``INSERT ... VALUES`` through executemany: +7% CPU over the SELECT.
# - 100k or 20k batches: -0.8% and +4.4% CPU (callgrind) over 50k; not worth the bigger batches.
# - A larger wal_autocheckpoint during the load: 25 instead of 34 fsyncs per 300k messages but
#   no wall-time difference we could tell from noise.
# - FTS5 'hashsize' 8 MB: -0.6% CPU. Building provider_message_id in SQL: -1.3% CPU.

_direction = attrgetter("direction")
_timestamp = attrgetter("timestamp_ms")
_type = attrgetter("type")
_text = attrgetter("text")
_media = attrgetter("media")
_status = attrgetter("status")
_error = attrgetter("error")
_dumps = json.dumps


def load_history(
    cache: LocalCache,
    account_id: int,
    history: Iterable[HistoryConversation],
    *,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> ChangeSet:
    """Insert conversations with their messages; return a reset change set.

    Each batch of about ``batch_size`` messages commits on its own, so a crash mid-load keeps
    the whole conversations loaded so far. ``progress`` receives the running message count.
    """
    cursor = cache.raw_cursor()
    try:
        (next_conversation,) = cursor.execute(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM conversations"
        ).fetchone()
        (next_seq,) = cursor.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM messages").fetchone()
        customers: list[HistoryCustomer] = []
        unread: list[int] = []
        message_lists: list[Sequence[HistoryMessage]] = []
        pending = 0
        loaded = 0

        def flush() -> None:
            nonlocal next_conversation, next_seq, pending, loaded
            if not message_lists:
                return
            if not loaded and not _account_exists(cursor, account_id):
                # What the foreign key would have said, had it been checked (see _bulk_pragmas).
                # Imported here: this module is on the app's start-up path, the driver is not.
                import sqlcipher3

                raise sqlcipher3.IntegrityError("FOREIGN KEY constraint failed")
            written = _write_batch(
                cursor, account_id, next_conversation, next_seq, customers, unread, message_lists
            )
            next_conversation += len(message_lists)
            next_seq += written
            loaded += written
            customers.clear()
            unread.clear()
            message_lists.clear()
            pending = 0
            if progress is not None:
                progress(loaded)

        with _bulk_pragmas(cursor):
            for conversation in history:
                messages = conversation.messages
                customers.append(conversation.customer)
                unread.append(conversation.unread)
                message_lists.append(messages)
                pending += len(messages)
                if pending >= batch_size:
                    flush()
            flush()
    finally:
        cursor.close()
    return ChangeSet(accounts=frozenset({account_id}), reset=True)


def _account_exists(cursor: Any, account_id: int) -> bool:
    row = cursor.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone()
    return row is not None


@contextlib.contextmanager
def _bulk_pragmas(cursor: Any) -> Iterator[None]:
    """Cheaper commits and no per-row foreign-key lookups, for the load only.

    ``synchronous = NORMAL``: in WAL mode a commit no longer waits for its own fsync (checkpoints
    still sync), so a power cut can lose the last batches but never corrupts the file. History
    can be loaded again; the outbox, which must never lose a "sending" mark, writes after this
    returns, with FULL back in place. Foreign keys: every row references the account checked
    before the first batch and conversations inserted by the same transaction, so the two
    parent lookups per message prove nothing (-5% instructions without them). Both together,
    1M messages: 70-78k messages/s before, 90-98k/s after, on a 2-core VM.
    Both pragmas are per connection and only change outside a transaction, as here.
    """
    (synchronous,) = cursor.execute("PRAGMA synchronous").fetchone()
    (foreign_keys,) = cursor.execute("PRAGMA foreign_keys").fetchone()
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        cursor.execute(f"PRAGMA foreign_keys = {int(foreign_keys):d}")
        cursor.execute(f"PRAGMA synchronous = {int(synchronous):d}")


def _write_batch(
    cursor: Any,
    account_id: int,
    first_conversation: int,
    first_seq: int,
    customers: Sequence[HistoryCustomer],
    unread: Sequence[int],
    message_lists: Sequence[Sequence[HistoryMessage]],
) -> int:
    """Write whole conversations in one transaction; return how many messages went in."""
    sizes = list(map(len, message_lists))
    messages: list[HistoryMessage] = list(chain.from_iterable(message_lists))
    count = len(messages)
    seqs = range(first_seq, first_seq + count)
    conversation_ids = range(first_conversation, first_conversation + len(message_lists))

    message_rows = zip(
        seqs,
        uuid7_block(count),
        repeat(account_id),
        chain.from_iterable(map(repeat, conversation_ids, sizes)),
        map(f"hist.{account_id:d}.%012d".__mod__, seqs),
        map(_plain, map(_direction, messages)),
        map(_timestamp, messages),
        map(_plain, map(_type, messages)),
        map(_text, messages),
        [_dumps(media) if media else 0 for media in map(_media, messages)],
        map(_plain, map(_status, messages)),
        [0 if error is None else error for error in map(_error, messages)],
    )

    conversation_rows: list[tuple[Any, ...]] = []
    last_seq = first_seq - 1
    for conversation_id, customer, size, messages_of, unread_count in zip(
        conversation_ids, customers, sizes, message_lists, unread, strict=True
    ):
        last_seq += size
        # A conversation with no messages has no "last message" fields.
        last_fields: tuple[Any, ...] = (0, "", None, None, None)
        if size:
            last = messages_of[-1]
            last_fields = (
                last.timestamp_ms,
                preview_of(last.type, last.text),
                _PLAIN[last.direction],
                _PLAIN[last.status],
                last_seq,
            )
        conversation_rows.append(
            (
                conversation_id,
                account_id,
                chat_key_for_phone(customer.phone),
                customer.phone,
                customer.name,
                *last_fields,
                unread_count,
            )
        )

    cursor.execute("BEGIN")
    try:
        cursor.executemany(_CONVERSATION_INSERT, conversation_rows)
        cursor.executemany(_MESSAGE_INSERT, message_rows)
        index_messages_from(cursor, first_seq)
        cursor.execute("COMMIT")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
    return count
