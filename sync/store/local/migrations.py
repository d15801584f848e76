"""Schema migrations of the local cache, applied in place on open.

The schema version is SQLite's ``PRAGMA user_version``. Each migration is frozen SQL: once a
version has shipped its text never changes; a later change is a new migration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple


class Migration(NamedTuple):
    """One step from ``version - 1`` to ``version``.

    A named tuple, not a dataclass: this module is read on the way to the app's first paint
    (for ``LATEST_VERSION``), where making a frozen dataclass costs over half a millisecond.
    """

    version: int
    description: str
    statements: Sequence[str]
    after: Callable[[Any], None] | None = (
        None  # runs on the DB-API cursor, inside the same transaction
    )


_V1 = (
    """
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        provider TEXT NOT NULL,
        phone TEXT NOT NULL DEFAULT '',
        display_name TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'offline',
        state_reason TEXT NOT NULL DEFAULT '',
        config TEXT NOT NULL DEFAULT '{}',
        sort_order INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        chat_key TEXT NOT NULL,
        customer_phone TEXT NOT NULL DEFAULT '',
        customer_name TEXT NOT NULL DEFAULT '',
        is_group INTEGER NOT NULL DEFAULT 0,
        last_message_at INTEGER NOT NULL DEFAULT 0,
        last_preview TEXT NOT NULL DEFAULT '',
        last_direction TEXT,
        last_status TEXT,
        last_message_seq INTEGER,
        unread_count INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account_id, chat_key)
    )
    """,
    "CREATE INDEX conversations_recent ON conversations (last_message_at DESC, id DESC)",
    """CREATE INDEX conversations_account_recent
       ON conversations (account_id, last_message_at DESC, id DESC)""",
    """
    CREATE TABLE messages (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        provider_message_id TEXT,
        direction TEXT NOT NULL,
        ts INTEGER NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL DEFAULT '',
        sender_name TEXT NOT NULL DEFAULT '',
        reply_to TEXT,
        media TEXT,
        status TEXT NOT NULL,
        error TEXT
    )
    """,
    """CREATE UNIQUE INDEX messages_provider_id ON messages (account_id, provider_message_id)
       WHERE provider_message_id IS NOT NULL""",
    "CREATE INDEX messages_conversation_time ON messages (conversation_id, ts, seq)",
    """
    CREATE TABLE outbox (
        message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        account_id INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        last_error TEXT
    )
    """,
    "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

# v2: full-text search. External-content FTS5 over messages.body, so the text is stored once.
# remove_diacritics 2 makes "acucar" find "açúcar". No prefix index: a prefix query scans one
# sorted range of terms, fast for the 3+ letters people type, and a prefix index would cost a
# sixth of the bulk-insert rate (measured: 47k vs 56k messages/s). Fed explicitly by the writers
# in batches, not by a per-row trigger, so bulk loads index in one pass.
_V2 = (
    """
    CREATE VIRTUAL TABLE message_fts USING fts5(
        body,
        content='messages',
        content_rowid='seq',
        tokenize="unicode61 remove_diacritics 2"
    )
    """,
    "INSERT INTO message_fts(message_fts) VALUES ('rebuild')",
)

# v3: what the real providers send beyond messages and receipts (issue 3). Reactions are kept
# per (message, sender): a new one replaces the sender's earlier one, an empty one removes it.
# chat_aliases maps another id of a chat to its conversation key: WhatsApp's LIDs (``...@lid``),
# so a LID and its phone are one conversation. Edits and deletions are stamped on the message.
# The partial index makes the rail's unread badges (read at every start) touch only the unread
# conversations instead of all of them.
_V3 = (
    """
    CREATE TABLE reactions (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        target_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        emoji TEXT NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (account_id, target_id, sender)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE chat_aliases (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        alias TEXT NOT NULL,
        chat_key TEXT NOT NULL,
        PRIMARY KEY (account_id, alias)
    ) WITHOUT ROWID
    """,
    "ALTER TABLE messages ADD COLUMN edited_at INTEGER",
    "ALTER TABLE messages ADD COLUMN revoked_at INTEGER",
    """CREATE INDEX conversations_unread ON conversations (account_id, unread_count)
       WHERE unread_count > 0""",
)

# v4: the account as a second indexed column of the full-text index, so a search within one
# number is answered by the index (`body:(...) AND account_id:"N"`) instead of walking every
# number's hits and discarding the others': measured on 1M messages in 10 numbers, one-number
# search p95 went from 70-100 ms to the all-numbers figure. Rebuilt from the messages table.
_V4 = (
    "DROP TABLE message_fts",
    """
    CREATE VIRTUAL TABLE message_fts USING fts5(
        body,
        account_id,
        content='messages',
        content_rowid='seq',
        tokenize="unicode61 remove_diacritics 2"
    )
    """,
    "INSERT INTO message_fts(message_fts) VALUES ('rebuild')",
)

# v5: hits newest first by the message's time, however the history arrived. The index's rowid
# becomes a time-ordered key, (seconds since 2017-07-14 << 32) | seq, unique because seq is (and
# stays below 2**32), so "ORDER BY rowid DESC LIMIT n" still stops after n hits whatever the
# word. Bulk loads insert history conversation by conversation, so seq alone (insertion order)
# listed an old backfill above today's messages. The view lets FTS5 rebuild from the messages.
_V5 = (
    "DROP TABLE message_fts",
    """
    CREATE VIEW message_fts_source AS
    SELECT (((ts / 1000) - 1500000000) << 32) | seq AS fts_key, body, account_id
    FROM messages
    """,
    """
    CREATE VIRTUAL TABLE message_fts USING fts5(
        body,
        account_id,
        content='message_fts_source',
        content_rowid='fts_key',
        tokenize="unicode61 remove_diacritics 2"
    )
    """,
    "INSERT INTO message_fts(message_fts) VALUES ('rebuild')",
)

# v6: team mode (issue 4). A team cache mirrors the server's rows with the server's ids (accounts
# and conversations keep their ids; messages keep their UUIDs and get a local seq as usual).
# Conversations gain who has them, the claim version and labels; notes and teammates come from
# the server; ``team_commands`` is the queue of what this desktop did (send, claim, note...)
# waiting to be pushed, in order. The pull cursor lives in ``meta`` ('team.cursor'), written in
# the same transaction as each pulled page. Solo caches get the same (empty) tables.
_V6 = (
    "ALTER TABLE accounts ADD COLUMN automations TEXT NOT NULL DEFAULT '{}'",
    "ALTER TABLE conversations ADD COLUMN assigned_user_id INTEGER",
    "ALTER TABLE conversations ADD COLUMN version INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE conversations ADD COLUMN labels TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE conversations ADD COLUMN last_inbound_at INTEGER",
    "ALTER TABLE messages ADD COLUMN author_user_id INTEGER",
    """
    CREATE TABLE notes (
        id TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL,
        conversation_id INTEGER NOT NULL,
        author_user_id INTEGER,
        body TEXT NOT NULL,
        ts INTEGER NOT NULL
    )
    """,
    "CREATE INDEX notes_conversation ON notes (conversation_id, ts)",
    """
    CREATE TABLE teammates (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL,
        display_name TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE TABLE team_commands (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        result TEXT
    )
    """,
    "CREATE INDEX team_commands_pending ON team_commands (seq) WHERE state = 'pending'",
)

# An edit or a deletion can arrive before the message it changes (providers deliver webhooks out
# of order, a backfill brings the message later): it waits here and is applied when the message
# is stored, instead of being lost.
_V7 = (
    """
    CREATE TABLE pending_changes (
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        target_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        ts INTEGER NOT NULL,
        PRIMARY KEY (account_id, target_id, kind)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX pending_changes_age ON pending_changes (ts)",
)

# The engine now and then marks failed the sends nothing confirmed ("unknown" for long, see
# ``outbox.settle_unconfirmed``): this partial index holds only "unknown" messages, so that look
# costs nothing, where a scan would read the whole history.
_V8 = ("CREATE INDEX messages_unknown ON messages (ts) WHERE status = 'unknown'",)

# A claimed send holds a lease the dispatcher renews while the provider call lasts: a send whose
# lease ran out belongs to a dispatcher that stopped, and is settled as "unknown" (never resent).
_V9 = ("ALTER TABLE outbox ADD COLUMN lease_until INTEGER",)

# Pacing's state: the time of each number's limit (recipient "") and of each (number, recipient)
# lately written to; a claim spends it in its own transaction (``outbox.claim_next``).
_V10 = (
    """
    CREATE TABLE pacing (
        account_id INTEGER NOT NULL,
        recipient TEXT NOT NULL,
        tat REAL NOT NULL,
        PRIMARY KEY (account_id, recipient)
    ) WITHOUT ROWID
    """,
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "accounts, conversations, messages, outbox", _V1),
    Migration(2, "full-text search over message bodies", _V2),
    Migration(3, "reactions, chat aliases, edits and deletions; unread index", _V3),
    Migration(4, "the account in the full-text index: fast search within one number", _V4),
    Migration(5, "search hits ordered by message time", _V5),
    Migration(6, "team mode: assignments, labels, notes, teammates, pushed commands", _V6),
    Migration(7, "edits and deletions that arrive before their message wait for it", _V7),
    Migration(8, "sends nothing confirmed are found without a scan", _V8),
    Migration(9, "claimed sends hold a lease", _V9),
    Migration(10, "pacing's state, shared by every dispatcher of the cache", _V10),
)

LATEST_VERSION = MIGRATIONS[-1].version


def migrate(dbapi_connection: Any, *, target: int = LATEST_VERSION) -> int:
    """Bring the cache up to ``target`` in place; return the version it was at before.

    Each step runs in its own transaction together with its ``user_version`` bump, so a crash
    mid-upgrade leaves the cache at the previous version, to be upgraded again next time.
    """
    cursor = dbapi_connection.cursor()
    try:
        (before,) = cursor.execute("PRAGMA user_version").fetchone()
        if before > LATEST_VERSION:
            raise CacheTooNew(before)
        for migration in MIGRATIONS:
            if before < migration.version <= target:
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    for statement in migration.statements:
                        cursor.execute(statement)
                    if migration.after is not None:
                        migration.after(cursor)
                    cursor.execute(f"PRAGMA user_version = {migration.version:d}")
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
        return int(before)
    finally:
        cursor.close()


class CacheTooNew(Exception):
    """The cache was written by a newer Caixa; opening it with this one could damage it."""

    def __init__(self, version: int) -> None:
        super().__init__(
            f"The local cache has schema version {version}, newer than this version of Caixa "
            f"understands ({LATEST_VERSION}). Update Caixa to open it."
        )
        self.version = version
