"""Storing pulled pages in the team cache: one page and its cursor in one local transaction.

A page is the server's JSON (see ``sync/server/sync_api.py``: one array of row arrays per table,
columns in ``COLUMNS`` order, ``deleted`` last). Everything here runs on the database thread.

The common case, the bulk of an initial sync, is new messages: they go in with one
``executemany`` of ``INSERT OR IGNORE ... SELECT ... WHERE NOT deleted`` (tombstones skipped in
SQL, no per-row Python), and the full-text index is fed once per page with one
``INSERT ... SELECT`` in key order (as ``sync/store/local/bulk.py`` does). Rows that were already
here (an update of a message pulled before, the server's copy of a send queued on this desktop) are
found only when the insert's row count says some were skipped, and updated one by one with
their index entries.

An initial sync of more than one page runs in bulk mode: the first page's transaction drops the
unique index on ``(account_id, provider_message_id)`` and sets ``team.bulk`` in ``meta``; the
sync that ends the stream (this one, or the one resuming it after an interruption: the flag is
committed with the pages) builds the index again and clears the flag. Provider ids are random,
so keeping that index up to date touches nearly every one of its pages at each commit: on 1M
messages dropping it made storing the pages twice as fast, rebuild included. Nothing needs it
while the cache only takes pages: the server's rows are unique by provider id too.

Foreign keys are not checked while a page is stored: rows arrive in change order, so a message
can come before the latest version of its conversation (which was updated after it); the
conversation arrives later in the same sync.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from sync.domain.changes import ChangeSet
from sync.store.local.search import index_message, index_messages_from, unindex_message

if TYPE_CHECKING:
    from sync.store.local.local_cache import LocalCache

CURSOR_KEY: Final = "team.cursor"
ACCOUNTS_KEY: Final = "team.accounts"
USER_KEY: Final = "team.user"
BULK_KEY: Final = "team.bulk"
START: Final = "0:0"
# Above this many rows a page is reported as a reset (views reload) instead of listing ids.
_RESET_ABOVE: Final = 2_000

_MESSAGE_COLUMNS = (
    "id, account_id, conversation_id, provider_message_id, direction, ts, type, body,"
    " sender_name, reply_to, media, status, error, author_user_id, edited_at, revoked_at"
)
# The server sends '' and 0 for NULL (binding None is slow in the driver; see sync_api.COLUMNS).
_MESSAGE_VALUES = (
    "?, ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, NULLIF(?, ''), NULLIF(?, ''), ?, NULLIF(?, ''),"
    " NULLIF(?, 0), NULLIF(?, 0), NULLIF(?, 0)"
)
_MESSAGE_INSERT: Final = (
    f"INSERT OR IGNORE INTO messages ({_MESSAGE_COLUMNS}) VALUES ({_MESSAGE_VALUES})"
)
_MESSAGE_UPDATE: Final = (
    "UPDATE messages SET account_id = ?, conversation_id = ?,"
    " provider_message_id = NULLIF(?, ''), direction = ?, ts = ?, type = ?, body = ?,"
    " sender_name = ?, reply_to = NULLIF(?, ''), media = NULLIF(?, ''), status = ?,"
    " error = NULLIF(?, ''), author_user_id = NULLIF(?, 0), edited_at = NULLIF(?, 0),"
    " revoked_at = NULLIF(?, 0) WHERE seq = ?"
)
_CONVERSATION_UPSERT: Final = (
    "INSERT INTO conversations (id, account_id, chat_key, customer_phone, customer_name,"
    " is_group, last_message_at, last_preview, last_direction, last_status, last_inbound_at,"
    " unread_count, assigned_user_id, labels, version)"
    " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT ?"
    " ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id,"
    " chat_key = excluded.chat_key, customer_phone = excluded.customer_phone,"
    " customer_name = excluded.customer_name, is_group = excluded.is_group,"
    " last_message_at = excluded.last_message_at, last_preview = excluded.last_preview,"
    " last_direction = excluded.last_direction, last_status = excluded.last_status,"
    " last_inbound_at = excluded.last_inbound_at, unread_count = excluded.unread_count,"
    " assigned_user_id = excluded.assigned_user_id, labels = excluded.labels,"
    " version = excluded.version"
)
_ACCOUNT_UPSERT: Final = (
    "INSERT INTO accounts (id, name, provider, phone, display_name, state, state_reason,"
    " sort_order, created_at, automations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, provider = excluded.provider,"
    " phone = excluded.phone, display_name = excluded.display_name, state = excluded.state,"
    " state_reason = excluded.state_reason, sort_order = excluded.sort_order,"
    " automations = excluded.automations"
)
_TEAMMATE_UPSERT: Final = (
    "INSERT INTO teammates (id, username, display_name, role, disabled) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
    " display_name = excluded.display_name, role = excluded.role, disabled = excluded.disabled"
)
_REACTION_UPSERT: Final = (
    "INSERT INTO reactions (account_id, target_id, sender, emoji, ts) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (account_id, target_id, sender) DO UPDATE SET emoji = excluded.emoji,"
    " ts = excluded.ts"
)
_NOTE_UPSERT: Final = (
    "INSERT INTO notes (id, account_id, conversation_id, author_user_id, body, ts)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body,"
    " ts = excluded.ts, author_user_id = excluded.author_user_id"
)


def get_meta(cache: LocalCache, key: str, default: str | None = None) -> str | None:
    """A value kept in ``meta`` (the cursor, the visible numbers, who is logged in)."""
    row = cache.conn.exec_driver_sql("SELECT value FROM meta WHERE key = ?", (key,)).first()
    return default if row is None else str(row[0])


def set_meta(cursor: Any, key: str, value: str) -> None:
    """Write a ``meta`` value inside the caller's transaction."""
    cursor.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def stored_cursor(cache: LocalCache) -> str:
    """The cursor of the last stored page (``"0:0"`` before the first)."""
    return get_meta(cache, CURSOR_KEY) or START


def known_accounts(cache: LocalCache) -> list[int] | None:
    """The numbers the user could see at the last stored page (None before the first)."""
    value = get_meta(cache, ACCOUNTS_KEY)
    return None if value is None else [int(x) for x in json.loads(value)]


@contextlib.contextmanager
def page_transaction(cache: LocalCache) -> Iterator[Any]:
    """A write transaction for pulled rows: foreign keys unchecked, commits without fsync.

    ``synchronous = NORMAL`` (WAL): a power cut may lose the last pages, never corrupt the file;
    a lost page is pulled again, its cursor having been lost with it. Commands typed by the
    user are written outside this, with ``FULL``. Both pragmas only change outside a transaction.
    """
    cursor = cache.raw_cursor()
    (synchronous,) = cursor.execute("PRAGMA synchronous").fetchone()
    (foreign_keys,) = cursor.execute("PRAGMA foreign_keys").fetchone()
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = OFF")
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
    finally:
        cursor.execute(f"PRAGMA foreign_keys = {int(foreign_keys):d}")
        cursor.execute(f"PRAGMA synchronous = {int(synchronous):d}")
        cursor.close()


_PROVIDER_INDEX: Final = (
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_provider_id"
    " ON messages (account_id, provider_message_id) WHERE provider_message_id IS NOT NULL"
)


def bulk_sync_pending(cache: LocalCache) -> bool:
    """Whether a bulk initial sync was started and has not reached the end of the stream."""
    return get_meta(cache, BULK_KEY) is not None


def _begin_bulk(cursor: Any) -> None:
    cursor.execute("DROP INDEX IF EXISTS messages_provider_id")
    set_meta(cursor, BULK_KEY, "1")


def end_bulk_sync(cache: LocalCache) -> None:
    """Build the index dropped for a bulk sync again and clear the flag, in one transaction.

    Two rows with one provider id cannot both be the server's (its index is unique too), but if
    ever they are, the one stored last (the newer state) is kept rather than failing forever.
    """
    from sqlcipher3.dbapi2 import IntegrityError

    with page_transaction(cache) as cursor:
        cursor.execute("SAVEPOINT provider_index")
        try:
            cursor.execute(_PROVIDER_INDEX)
        except IntegrityError:
            cursor.execute("ROLLBACK TO provider_index")
            older = (
                "seq IN (SELECT m.seq FROM messages m JOIN messages n"
                " ON n.account_id = m.account_id AND n.provider_message_id = m.provider_message_id"
                " AND n.seq > m.seq WHERE m.provider_message_id IS NOT NULL)"
            )
            cursor.execute(_UNINDEX_WHERE + older)
            cursor.execute("DELETE FROM messages WHERE " + older)
            cursor.execute(_PROVIDER_INDEX)
        cursor.execute("RELEASE provider_index")
        cursor.execute("DELETE FROM meta WHERE key = ?", (BULK_KEY,))


def apply_page(
    cache: LocalCache,
    body: bytes | str | dict[str, Any],
    *,
    main: bool = True,
    begin_bulk: bool = False,
) -> ChangeSet:
    """Store one pulled page; with ``main``, also its cursor and the visible numbers.

    ``main=False`` is a backfill page of one number (its cursor is not the main one).
    ``begin_bulk``: the first page of a long initial sync (see the module docstring).
    """
    page: dict[str, Any] = body if isinstance(body, dict) else json.loads(body)
    rows: dict[str, list[list[Any]]] = page.get("rows", {})
    accounts: set[int] = set()
    conversations: set[int] = set()
    messages: set[str] = set()
    reset = False
    with page_transaction(cache) as cursor:
        if begin_bulk:
            _begin_bulk(cursor)
        if main:
            visible = set(page["accounts"])
            for (account_id,) in cursor.execute("SELECT id FROM accounts").fetchall():
                if account_id not in visible:
                    _purge_account(cursor, account_id)
                    accounts.add(account_id)
                    reset = True
        for row in rows.get("accounts", ()):
            if row[-1] or (main and row[0] not in page["accounts"]):
                _purge_account(cursor, row[0])
                reset = True
            else:
                cursor.execute(_ACCOUNT_UPSERT, row[:-1])
            accounts.add(row[0])
        teammates = rows.get("teammates")
        if teammates:
            cursor.executemany(_TEAMMATE_UPSERT, teammates)
        changed = rows.get("conversations")
        if changed:
            cursor.executemany(_CONVERSATION_UPSERT, changed)
            for row in changed:
                if row[-1]:
                    _purge_conversation(cursor, row[0])
                conversations.add(row[0])
                accounts.add(row[1])
        pulled = rows.get("messages")
        if pulled:
            _store_messages(cursor, pulled)
        gone = rows.get("messages_deleted")
        if gone:
            for (message_id,) in gone:
                _delete_message(cursor, message_id)
            messages.update(r[0] for r in gone)
            reset = True  # views do not know which conversation held it
        if pulled:
            if len(pulled) > _RESET_ABOVE:
                reset = True
            else:
                for row in pulled:
                    messages.add(row[0])
                    conversations.add(row[2])
                    accounts.add(row[1])
        reactions = rows.get("reactions")
        if reactions:
            live = [r[:5] for r in reactions if not r[5] and r[3]]
            dead = [r[:3] for r in reactions if r[5] or not r[3]]
            cursor.executemany(_REACTION_UPSERT, live)
            cursor.executemany(
                "DELETE FROM reactions WHERE account_id = ? AND target_id = ? AND sender = ?", dead
            )
            accounts.update(r[0] for r in reactions)
            reset = True  # reactions are keyed by provider id: let the open chat reload
        notes = rows.get("notes")
        if notes:
            cursor.executemany(_NOTE_UPSERT, [r[:6] for r in notes if not r[6]])
            cursor.executemany("DELETE FROM notes WHERE id = ?", [(r[0],) for r in notes if r[6]])
            conversations.update(r[2] for r in notes)
        if main:
            set_meta(cursor, CURSOR_KEY, str(page["cursor"]))
            set_meta(cursor, ACCOUNTS_KEY, json.dumps(sorted(page["accounts"])))
    if reset:
        return ChangeSet(accounts=frozenset(accounts), reset=True)
    return ChangeSet(frozenset(accounts), frozenset(conversations), frozenset(messages))


def _store_messages(cursor: Any, rows: Sequence[list[Any]]) -> None:
    (before,) = cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM messages").fetchone()
    cursor.executemany(_MESSAGE_INSERT, rows)
    if cursor.rowcount != len(rows):
        # Some rows were here already: update them one by one, with their index entries.
        ids = json.dumps([row[0] for row in rows])
        existing = {
            r[0]: r[1:]
            for r in cursor.execute(
                "SELECT id, seq, ts, body, account_id FROM messages"
                " WHERE seq <= ? AND id IN (SELECT value FROM json_each(?))",
                (before, ids),
            )
        }
        for row in rows:
            old = existing.get(row[0])
            if old is None:
                if not _inserted(cursor, row[0], before):
                    # Skipped for another reason: a stale local row holding its provider id.
                    _replace_by_provider_id(cursor, row)
                continue
            seq, ts, body, account_id = old
            if body:
                unindex_message(cursor, seq, ts, body, account_id)
            cursor.execute(_MESSAGE_UPDATE, (*row[1:], seq))
            if row[7]:
                index_message(cursor, seq, row[5], row[7], row[1])
    index_messages_from(cursor, before + 1)


def _delete_message(cursor: Any, message_id: str) -> None:
    old = cursor.execute(
        "SELECT seq, ts, body, account_id FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    if old is None:
        return
    if old[2]:
        unindex_message(cursor, *old)
    cursor.execute("DELETE FROM messages WHERE seq = ?", (old[0],))


def _inserted(cursor: Any, message_id: str, before: int) -> bool:
    row = cursor.execute(
        "SELECT 1 FROM messages WHERE id = ? AND seq > ?", (message_id, before)
    ).fetchone()
    return row is not None


def _replace_by_provider_id(cursor: Any, row: list[Any]) -> None:
    stale = cursor.execute(
        "SELECT seq, ts, body, account_id FROM messages"
        " WHERE account_id = ? AND provider_message_id = ?",
        (row[1], row[3]),
    ).fetchone()
    if stale is not None:
        if stale[2]:
            unindex_message(cursor, *stale)
        cursor.execute("DELETE FROM messages WHERE seq = ?", (stale[0],))
    cursor.execute(_MESSAGE_INSERT.replace("INSERT OR IGNORE", "INSERT", 1), row)
    if row[7]:
        index_message(cursor, cursor.lastrowid, row[5], row[7], row[1])


_UNINDEX_WHERE = (
    "INSERT INTO message_fts(message_fts, rowid, body, account_id)"
    " SELECT 'delete', (((ts / 1000) - 1500000000) << 32) | seq, body, account_id"
    " FROM messages WHERE body != '' AND "
)


def _purge_conversation(cursor: Any, conversation_id: int) -> None:
    cursor.execute(_UNINDEX_WHERE + "conversation_id = ?", (conversation_id,))
    cursor.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
    cursor.execute("DELETE FROM notes WHERE conversation_id = ?", (conversation_id,))
    cursor.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))


def _purge_account(cursor: Any, account_id: int) -> None:
    """Remove a number and everything of it (deleted, or the user lost access to it)."""
    cursor.execute(_UNINDEX_WHERE + "account_id = ?", (account_id,))
    for table in ("messages", "reactions", "notes", "conversations", "chat_aliases"):
        cursor.execute(f"DELETE FROM {table} WHERE account_id = ?", (account_id,))
    cursor.execute("DELETE FROM accounts WHERE id = ?", (account_id,))


def reset_team_data(cache: LocalCache) -> ChangeSet:
    """Forget every pulled row and the cursor (a resync), keeping what waits to be pushed.

    Sends still queued on this desktop keep their local message, so they stay on screen.
    """
    with page_transaction(cache) as cursor:
        cursor.execute("INSERT INTO message_fts(message_fts) VALUES ('delete-all')")
        cursor.execute(
            "DELETE FROM messages WHERE id NOT IN (SELECT json_extract(payload, '$.message_id')"
            " FROM team_commands WHERE state = 'pending' AND kind = 'send')"
        )
        cursor.execute(
            "INSERT INTO message_fts(rowid, body, account_id)"
            " SELECT (((ts / 1000) - 1500000000) << 32) | seq, body, account_id FROM messages"
            " WHERE body != ''"
        )
        for table in ("reactions", "notes", "conversations", "accounts", "teammates"):
            cursor.execute(f"DELETE FROM {table}")
        cursor.execute("DELETE FROM meta WHERE key IN (?, ?)", (CURSOR_KEY, ACCOUNTS_KEY))
    return ChangeSet(reset=True)
