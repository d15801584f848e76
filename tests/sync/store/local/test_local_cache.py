"""The encrypted local cache: nothing readable at rest, key errors, migrations, pragmas."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

from sync.domain.models import DeliveryStatus
from sync.store.local import migrations, outbox, queries
from sync.store.local.cache_key import CacheKey
from sync.store.local.ingest import apply_events
from sync.store.local.local_cache import (
    CIPHER_PAGE_SIZE,
    CacheIncompatible,
    LocalCache,
    WrongCacheKey,
)
from sync.store.local.migrations import LATEST_VERSION, Migration
from sync.store.local.search import search_messages
from tests.sync.helpers import add_account, conversation_id_for, inbound, scalar

SECRET = "Segredo do bolo de açúcar mascavo 4711"
NEEDLES = [
    SECRET.encode("utf-8"),
    "açúcar mascavo".encode(),
    b"mascavo",
    b"Segredo",
    b"4711",  # short, but 4 random bytes appear in a few hundred KiB only 1 time in ~16k
]
PHONE = "+55 11 99999-0001"


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _leaks(path: Path) -> list[bytes]:
    data = path.read_bytes() if path.exists() else b""
    return [needle for needle in NEEDLES if needle in data]


def _write_secret(cache: LocalCache) -> str:
    """The secret as an inbound message and as a queued reply (message + outbox + FTS)."""
    account = add_account(cache, "Confeitaria")
    apply_events(cache, [inbound(account, "wamid.s", SECRET, phone=PHONE, name="Dona Zélia")])
    conversation = conversation_id_for(cache, account, PHONE)
    message, _ = outbox.enqueue_text(cache, conversation, f"Resposta: {SECRET}")
    return message.id


def test_the_needle_search_finds_text_in_an_unencrypted_database(tmp_path: Path) -> None:
    # Proves the leak check below can fail: plain SQLite in WAL mode shows the text in both files.
    path = tmp_path / "plain.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (body TEXT)")
        conn.execute("INSERT INTO t VALUES (?)", (SECRET,))
        conn.commit()
        assert _leaks(_wal(path)) == NEEDLES
    conn.close()
    assert _leaks(path) == NEEDLES


def test_messages_are_unreadable_in_the_file_and_its_wal(
    cache_path: Path, cache_key: CacheKey
) -> None:
    cache = LocalCache.open(cache_path, cache_key)
    try:
        message_id = _write_secret(cache)
        # While open, the newest pages live in the WAL: it must be encrypted as well.
        assert _wal(cache_path).stat().st_size > 0
        assert _leaks(_wal(cache_path)) == []
        assert _leaks(cache_path) == []
        cache.conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        assert _leaks(cache_path) == []
    finally:
        cache.close()

    assert _leaks(cache_path) == []
    assert _leaks(_wal(cache_path)) == []
    assert not cache_path.read_bytes().startswith(b"SQLite format 3\x00")
    # And the text is really in there.
    reopened = LocalCache.open(cache_path, cache_key)
    try:
        texts = {hit.text for hit in search_messages(reopened, "mascavo")}
        assert texts == {SECRET, f"Resposta: {SECRET}"}
        assert queries.messages_by_id(reopened, [message_id])[0].status is DeliveryStatus.QUEUED
    finally:
        reopened.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_cache_file_is_private_to_its_owner(cache: LocalCache, cache_path: Path) -> None:
    assert stat.S_IMODE(cache_path.stat().st_mode) == 0o600


def test_a_wrong_key_is_refused_with_a_message_and_no_key_material(
    cache_path: Path, cache_key: CacheKey, capfd: pytest.CaptureFixture[str]
) -> None:
    cache = LocalCache.open(cache_path, cache_key)
    _write_secret(cache)
    cache.close()
    before = hashlib.sha256(cache_path.read_bytes()).hexdigest()
    wrong = CacheKey.generate()

    with pytest.raises(WrongCacheKey) as caught:
        LocalCache.open(cache_path, wrong)

    message = str(caught.value)
    assert message == (
        f"The local cache at {cache_path} could not be opened with the key that was found. "
        "The key is wrong, or the file is damaged or not a Caixa cache."
    )
    for key in (wrong, cache_key):
        assert key.hex() not in message.lower()
        assert key.hex()[:16] not in message.lower()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert caught.value.path == cache_path
    # SQLCipher's own complaints are silenced; the file is left as it was.
    assert capfd.readouterr().err == ""
    assert hashlib.sha256(cache_path.read_bytes()).hexdigest() == before
    reopened = LocalCache.open(cache_path, cache_key)
    assert len(search_messages(reopened, "mascavo")) == 2
    reopened.close()


def test_a_file_that_is_not_a_cache_is_refused_like_a_wrong_key(
    cache_path: Path, cache_key: CacheKey
) -> None:
    cache_path.write_bytes(b"this is a shopping list, not a database\n" * 200)

    with pytest.raises(WrongCacheKey):
        LocalCache.open(cache_path, cache_key)


# --- migrations --------------------------------------------------------------------------------


def _make_v1_cache(cache_path: Path, key: CacheKey) -> None:
    cache = LocalCache.open(cache_path, key, migrate_to=1)
    try:
        assert scalar(cache, "PRAGMA user_version") == 1
        assert scalar(cache, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'message_fts'") == 0
        # Rows as version 1 wrote them, with no full-text index at all.
        sql = cache.conn.exec_driver_sql
        sql("INSERT INTO accounts (id, name, provider) VALUES (1, 'Padaria', 'demo')")
        sql(
            "INSERT INTO conversations (id, account_id, chat_key, customer_phone, customer_name,"
            " last_message_at, last_preview, last_direction, last_status, last_message_seq,"
            " unread_count) VALUES (1, 1, '5511988887777', '+5511988887777', 'Seu Jorge',"
            " 1700000002000, 'Pode ser amanhã', 'out', 'queued', 2, 0)"
        )
        sql(
            "INSERT INTO messages (seq, id, account_id, conversation_id, provider_message_id,"
            " direction, ts, type, body, status) VALUES"
            " (1, 'old-1', 1, 1, 'wamid.old', 'in', 1700000001000, 'text',"
            "  'Quero uma encomenda de pão de queijo', 'received'),"
            " (2, 'old-2', 1, 1, NULL, 'out', 1700000002000, 'text', 'Pode ser amanhã', 'queued')"
        )
        sql("INSERT INTO outbox (message_id, account_id, created_at) VALUES ('old-2', 1, 1)")
    finally:
        cache.close()


def test_a_version_1_cache_is_upgraded_in_place_with_its_rows(
    cache_path: Path, cache_key: CacheKey
) -> None:
    _make_v1_cache(cache_path, cache_key)

    cache = LocalCache.open(cache_path, cache_key)
    try:
        assert cache.upgraded_from == 1
        assert scalar(cache, "PRAGMA user_version") == LATEST_VERSION
        (conversation,) = queries.latest_conversations(cache)
        assert (conversation.customer_name, conversation.last_preview) == (
            "Seu Jorge",
            "Pode ser amanhã",
        )
        texts = [m.text for m in queries.message_page(cache, 1)]
        assert texts == ["Quero uma encomenda de pão de queijo", "Pode ser amanhã"]
        # Old rows are in the new index, found the new way (accents folded, prefix).
        assert [h.message_id for h in search_messages(cache, "pao de queijo")] == ["old-1"]
        assert [h.message_id for h in search_messages(cache, "amanha")] == ["old-2"]
        assert [h.message_id for h in search_messages(cache, "encomend")] == ["old-1"]
        # ...and within its number, through the index's account column (v4).
        assert [h.message_id for h in search_messages(cache, "queijo", account_id=1)] == ["old-1"]
        assert search_messages(cache, "queijo", account_id=2) == []
        # The queued reply from before the upgrade still goes out.
        claimed = outbox.claim_next(cache)
        assert claimed is not None and claimed.message.client_id == "old-2"
    finally:
        cache.close()

    again = LocalCache.open(cache_path, cache_key)
    assert again.upgraded_from == LATEST_VERSION  # nothing left to do
    again.close()


def test_a_new_cache_starts_at_the_latest_version(cache: LocalCache) -> None:
    assert cache.upgraded_from == 0
    assert scalar(cache, "PRAGMA user_version") == LATEST_VERSION


def test_a_cache_from_a_newer_caixa_is_refused_untouched(
    cache_path: Path, cache_key: CacheKey
) -> None:
    cache = LocalCache.open(cache_path, cache_key)
    cache.conn.exec_driver_sql("PRAGMA user_version = 99")
    cache.close()
    before = hashlib.sha256(cache_path.read_bytes()).hexdigest()

    with pytest.raises(CacheIncompatible, match="99") as caught:
        LocalCache.open(cache_path, cache_key)

    assert f"({LATEST_VERSION})" in str(caught.value)
    assert "Update Caixa" in str(caught.value)
    assert hashlib.sha256(cache_path.read_bytes()).hexdigest() == before


def test_a_failed_migration_step_leaves_the_previous_version(
    cache_path: Path, cache_key: CacheKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_v1_cache(cache_path, cache_key)
    last_good = migrations.LATEST_VERSION
    broken = (*migrations.MIGRATIONS, Migration(99, "broken", ("CREATE TABLE x (",)))
    monkeypatch.setattr(migrations, "MIGRATIONS", broken)
    monkeypatch.setattr(migrations, "LATEST_VERSION", 99)

    with pytest.raises(Exception, match=r"syntax error|incomplete input"):
        LocalCache.open(cache_path, cache_key, migrate_to=99)

    monkeypatch.undo()
    cache = LocalCache.open(cache_path, cache_key)
    try:
        # Every good step committed on its own; the broken step 99 left nothing behind.
        assert cache.upgraded_from == last_good
        assert scalar(cache, "PRAGMA user_version") == LATEST_VERSION
        assert len(search_messages(cache, "queijo")) == 1
    finally:
        cache.close()


# --- connection settings -----------------------------------------------------------------------


def test_the_connection_uses_wal_big_pages_and_a_64_mb_cache(cache: LocalCache) -> None:
    assert scalar(cache, "PRAGMA journal_mode") == "wal"
    assert int(scalar(cache, "PRAGMA cipher_page_size")) == CIPHER_PAGE_SIZE == 16384
    assert int(scalar(cache, "PRAGMA page_size")) == CIPHER_PAGE_SIZE
    assert scalar(cache, "PRAGMA cache_size") == -65536
    assert scalar(cache, "PRAGMA foreign_keys") == 1
    assert scalar(cache, "PRAGMA synchronous") == 2  # FULL
    assert scalar(cache, "PRAGMA cipher_version")  # really SQLCipher


def test_a_transaction_commits_together_or_not_at_all(cache: LocalCache) -> None:
    with pytest.raises(RuntimeError), cache.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('a', '1')")
        raise RuntimeError("interrupted")
    assert queries.get_meta(cache, "a") is None

    with cache.transaction() as conn:
        conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('a', '1')")
    assert queries.get_meta(cache, "a") == "1"


def test_close_checkpoints_the_wal_and_is_idempotent(cache_path: Path, cache_key: CacheKey) -> None:
    cache = LocalCache.open(cache_path, cache_key)
    _write_secret(cache)
    assert _wal(cache_path).stat().st_size > 0

    cache.close()
    cache.close()

    assert not _wal(cache_path).exists() or _wal(cache_path).stat().st_size == 0
    assert "<hidden>" not in repr(cache) and cache_key.hex() not in repr(cache)
