"""The cache key: keyring and key-file storage, and how ``resolve_cache_key`` picks between them.

Every test that touches a keyring hands in a backend; none reads or writes the machine's own.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringLocked, PasswordSetError

from sync.store.local import cache_key as ck
from sync.store.local.cache_key import (
    CacheKey,
    CacheKeyError,
    KeyFileInvalid,
    KeyFileStore,
    KeyFileWriteError,
    KeyringEntryInvalid,
    KeyringKeyStore,
    MissingCacheKey,
    NoKeyringAvailable,
    PasscodeRequired,
    WrongPasscode,
    key_file_from_env,
    keyring_backend_usable,
    resolve_cache_key,
)
from tests.fakes.memory_keyring import MemoryKeyring

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")

PASSCODE = "correct horse"


# --- helpers and fakes ----------------------------------------------------------------------


class LowPriorityKeyring(MemoryKeyring):
    """Like keyrings.alt's plain-text file: works, but keyring does not recommend it."""

    priority = 0.5


class LockedKeyring(MemoryKeyring):
    """A real OS keyring that is locked: every call fails."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("locked")


class RefusingKeyring(MemoryKeyring):
    """Reads work, writes are refused (a read-only or policy-restricted keyring)."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError("refused")


class ForgetfulKeyring(MemoryKeyring):
    """Accepts every write and keeps nothing."""

    def set_password(self, service: str, username: str, password: str) -> None:
        pass


class BrokenPriorityKeyring(MemoryKeyring):
    """A backend whose priority check fails, as keyring documents for unsuitable backends."""

    @property
    def priority(self) -> float:  # type: ignore[override]
        raise RuntimeError("backend not usable here")


def make_chainer() -> KeyringBackend:
    """keyring's chainer, over whatever ``ChainerBackend.backends`` was patched to."""
    return chainer.ChainerBackend()  # type: ignore[no-untyped-call]  # unannotated in keyring


def make_fail() -> KeyringBackend:
    """What keyring picks when the OS offers no keyring."""
    return fail.Keyring()  # type: ignore[no-untyped-call]  # unannotated in keyring


@pytest.fixture
def memory_keyring() -> MemoryKeyring:
    """A fresh, usable, empty keyring."""
    return MemoryKeyring()


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    """Where a cache would live; the file itself is not created."""
    return tmp_path / "data" / "caixa-cache.db"


@pytest.fixture
def fast_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cheap scrypt cost for tests that are not about the cost (the format test is)."""
    monkeypatch.setattr(ck, "SCRYPT_N", 1024)


def make_cache(cache_file: Path) -> None:
    """Put a (fake) cache file in place: all these tests look at is whether it exists."""
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_bytes(b"not really sqlcipher")


def exception_texts(exc: BaseException) -> Iterator[str]:
    """The str, repr and args of ``exc`` and of every exception chained to it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield from (repr(arg) for arg in current.args)
        yield from (repr(value) for value in vars(current).values())
        current = current.__cause__ or current.__context__


def assert_no_key_material(exc: BaseException, key: CacheKey) -> None:
    """The exception (and its chain) shows the key in no form."""
    forms = [key.hex(), key.hex().upper(), repr(key.raw), base64.b64encode(key.raw).decode()]
    for text in exception_texts(exc):
        for form in forms:
            assert form not in text


def files_under(folder: Path) -> list[str]:
    """Every file and folder below ``folder``, relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def read_json(path: Path) -> dict[str, Any]:
    """The key file's JSON."""
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# --- CacheKey -------------------------------------------------------------------------------


def test_generate_makes_distinct_32_byte_keys() -> None:
    first, second = CacheKey.generate(), CacheKey.generate()
    assert len(first.raw) == 32
    assert first != second


def test_hex_and_pragma_value() -> None:
    key = CacheKey(bytes(range(32)))
    assert key.hex() == bytes(range(32)).hex()
    assert key.hex() == key.hex().lower()
    assert len(key.hex()) == 64
    assert key.sqlcipher_pragma_value() == f"x'{key.hex()}'"


def test_repr_and_str_hide_the_key() -> None:
    key = CacheKey.generate()
    for text in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert key.hex() not in text
        assert repr(key.raw) not in text
    assert repr(key) == "CacheKey(<hidden>)"
    assert str(key) == "CacheKey(<hidden>)"


def test_equal_keys_compare_and_hash_equal() -> None:
    key = CacheKey.generate()
    same = CacheKey(bytes(key.raw))
    assert key == same
    assert hash(key) == hash(same)
    assert key != "ephemeral"


@pytest.mark.parametrize("raw", [b"", b"\x00" * 31, b"\x00" * 33])
def test_a_key_is_exactly_32_bytes(raw: bytes) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CacheKey(raw)


def test_from_hex_round_trips_and_hides_bad_input() -> None:
    key = CacheKey.generate()
    assert CacheKey.from_hex(key.hex()) == key
    assert CacheKey.from_hex(key.hex().upper()) == key
    bad = key.hex()[:-1] + "g"
    with pytest.raises(ValueError) as info:
        CacheKey.from_hex(bad)
    assert bad not in str(info.value)
    with pytest.raises(ValueError):
        CacheKey.from_hex(key.hex()[:-2])


# --- the keyring ----------------------------------------------------------------------------


def test_keyring_round_trip(memory_keyring: MemoryKeyring, cache_file: Path) -> None:
    store = KeyringKeyStore(cache_file, memory_keyring)
    assert store.available()
    assert store.load() is None
    key = CacheKey.generate()
    store.save(key)
    assert store.load() == key
    # A second store (the next start) finds the same key.
    assert KeyringKeyStore(cache_file, memory_keyring).load() == key


def test_keyring_entry_is_the_documented_one(
    memory_keyring: MemoryKeyring, cache_file: Path
) -> None:
    store = KeyringKeyStore(cache_file, memory_keyring)
    key = CacheKey.generate()
    store.save(key)
    username = "cache-key:" + str(cache_file.resolve())
    assert store.entry == ("caixa", username)
    assert memory_keyring.entries == {("caixa", username): key.hex()}


def test_keyring_entry_uses_the_absolute_path(
    memory_keyring: MemoryKeyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = KeyringKeyStore(Path("caixa-cache.db"), memory_keyring)
    absolute = KeyringKeyStore(tmp_path / "caixa-cache.db", memory_keyring)
    assert relative.entry == absolute.entry
    assert Path(relative.entry[1].removeprefix("cache-key:")).is_absolute()


def test_each_cache_file_has_its_own_entry(memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    real, demo = CacheKey.generate(), CacheKey.generate()
    KeyringKeyStore(tmp_path / "caixa-cache.db", memory_keyring).save(real)
    KeyringKeyStore(tmp_path / "demo" / "caixa-cache.db", memory_keyring).save(demo)
    assert KeyringKeyStore(tmp_path / "caixa-cache.db", memory_keyring).load() == real
    assert KeyringKeyStore(tmp_path / "demo" / "caixa-cache.db", memory_keyring).load() == demo


def test_keyring_delete(memory_keyring: MemoryKeyring, cache_file: Path) -> None:
    store = KeyringKeyStore(cache_file, memory_keyring)
    store.save(CacheKey.generate())
    store.delete()
    assert store.load() is None
    assert memory_keyring.entries == {}
    store.delete()  # deleting what is not there is not an error


def unusable_backends() -> list[tuple[str, Callable[[], KeyringBackend]]]:
    """Backends Caixa must refuse to keep the key in, by name."""
    return [
        ("fail", fail.Keyring),
        ("null", null.Keyring),
        ("low priority", LowPriorityKeyring),
        ("priority raises", BrokenPriorityKeyring),
    ]


@pytest.mark.parametrize(("name", "make"), unusable_backends(), ids=lambda v: v)
def test_unusable_backends_are_refused(
    name: str, make: Callable[[], KeyringBackend], cache_file: Path
) -> None:
    backend = make()
    store = KeyringKeyStore(cache_file, backend)
    assert not keyring_backend_usable(backend)
    assert not store.available()
    key = CacheKey.generate()
    with pytest.raises(NoKeyringAvailable) as info:
        store.save(key)
    assert_no_key_material(info.value, key)
    with pytest.raises(NoKeyringAvailable):
        store.load()
    if isinstance(backend, MemoryKeyring):
        assert backend.entries == {}


def test_chainer_with_nothing_to_chain_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    assert not keyring_backend_usable(make_chainer())


def test_chainer_of_only_low_priority_backends_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [LowPriorityKeyring()])
    assert not keyring_backend_usable(make_chainer())


def test_chainer_over_a_real_keyring_is_used(
    monkeypatch: pytest.MonkeyPatch, cache_file: Path
) -> None:
    inner = MemoryKeyring()
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [inner])
    store = KeyringKeyStore(cache_file, make_chainer())
    assert store.available()
    key = CacheKey.generate()
    store.save(key)
    assert store.load() == key
    assert list(inner.entries.values()) == [key.hex()]


@pytest.mark.parametrize("backend_class", [LockedKeyring, RefusingKeyring, ForgetfulKeyring])
def test_keyring_failures_become_no_keyring_available(
    backend_class: type[MemoryKeyring], cache_file: Path
) -> None:
    store = KeyringKeyStore(cache_file, backend_class())
    key = CacheKey.generate()
    with pytest.raises(NoKeyringAvailable) as info:
        store.save(key)
    assert_no_key_material(info.value, key)


def test_locked_keyring_on_load(cache_file: Path) -> None:
    with pytest.raises(NoKeyringAvailable, match="unlock"):
        KeyringKeyStore(cache_file, LockedKeyring()).load()


def test_damaged_keyring_entry(memory_keyring: MemoryKeyring, cache_file: Path) -> None:
    store = KeyringKeyStore(cache_file, memory_keyring)
    memory_keyring.set_password(*store.entry, "hunter2-not-a-key")
    with pytest.raises(KeyringEntryInvalid) as info:
        store.load()
    assert "hunter2" not in str(info.value)
    assert isinstance(info.value, CacheKeyError)


# --- key files ------------------------------------------------------------------------------


def test_plain_key_file_round_trip_and_format(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    key = CacheKey.generate()
    store = KeyFileStore(path)
    assert not store.exists()
    store.save_plain(key)
    assert store.exists()
    assert not store.is_protected()
    assert store.load() == key
    assert store.load(passcode="ignored for a plain file") == key
    assert read_json(path) == {
        "format": "caixa-cache-key",
        "version": 1,
        "kind": "plain",
        "key": key.hex(),
    }


def test_protected_key_file_round_trip_and_format(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    key = CacheKey.generate()
    store = KeyFileStore(path)
    store.save_protected(key, PASSCODE)
    assert store.is_protected()
    assert store.load(PASSCODE) == key
    assert KeyFileStore(path).load(PASSCODE) == key
    record = read_json(path)
    assert set(record) == {
        "format",
        "version",
        "kind",
        "salt",
        "n",
        "r",
        "p",
        "nonce",
        "ciphertext",
    }
    assert (record["format"], record["version"], record["kind"]) == (
        "caixa-cache-key",
        1,
        "scrypt-aesgcm",
    )
    assert (record["n"], record["r"], record["p"]) == (32768, 8, 1)
    assert len(base64.b64decode(record["salt"])) == 16
    assert len(base64.b64decode(record["nonce"])) == 12
    assert len(base64.b64decode(record["ciphertext"])) == 48


@pytest.mark.usefixtures("fast_scrypt")
def test_protected_file_holds_no_key_material(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    key = CacheKey.generate()
    KeyFileStore(path).save_protected(key, PASSCODE)
    data = path.read_bytes()
    assert key.hex().encode() not in data
    assert key.hex().upper().encode() not in data
    assert key.raw not in data
    assert base64.b64encode(key.raw) not in data
    assert PASSCODE.encode() not in data


@pytest.mark.usefixtures("fast_scrypt")
def test_each_protected_save_uses_fresh_salt_and_nonce(tmp_path: Path) -> None:
    key = CacheKey.generate()
    KeyFileStore(tmp_path / "a.json").save_protected(key, PASSCODE)
    KeyFileStore(tmp_path / "b.json").save_protected(key, PASSCODE)
    a, b = read_json(tmp_path / "a.json"), read_json(tmp_path / "b.json")
    assert a["salt"] != b["salt"]
    assert a["nonce"] != b["nonce"]
    assert a["ciphertext"] != b["ciphertext"]


@pytest.mark.usefixtures("fast_scrypt")
def test_wrong_passcode(tmp_path: Path) -> None:
    store = KeyFileStore(tmp_path / "key.json")
    key = CacheKey.generate()
    store.save_protected(key, PASSCODE)
    for wrong in ("correct horse ", "Correct horse", "", "x"):
        with pytest.raises(WrongPasscode) as info:
            store.load(wrong)
        assert_no_key_material(info.value, key)


@pytest.mark.usefixtures("fast_scrypt")
def test_protected_file_without_passcode(tmp_path: Path) -> None:
    store = KeyFileStore(tmp_path / "key.json")
    store.save_protected(CacheKey.generate(), PASSCODE)
    with pytest.raises(PasscodeRequired):
        store.load()


@pytest.mark.usefixtures("fast_scrypt")
def test_passcode_is_unicode_normalized(tmp_path: Path) -> None:
    store = KeyFileStore(tmp_path / "key.json")
    key = CacheKey.generate()
    store.save_protected(key, unicodedata.normalize("NFC", "coração"))
    assert store.load(unicodedata.normalize("NFD", "coração")) == key


@pytest.mark.usefixtures("fast_scrypt")
def test_changing_the_passcode_keeps_the_key(tmp_path: Path) -> None:
    store = KeyFileStore(tmp_path / "key.json")
    key = CacheKey.generate()
    store.save_protected(key, PASSCODE)
    store.save_protected(store.load(PASSCODE), "new passcode")
    assert store.load("new passcode") == key
    with pytest.raises(WrongPasscode):
        store.load(PASSCODE)


def test_empty_passcode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        KeyFileStore(tmp_path / "key.json").save_protected(CacheKey.generate(), "")
    assert files_under(tmp_path) == []


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(MissingCacheKey):
        KeyFileStore(tmp_path / "nope.json").load()


@posix_only
@pytest.mark.usefixtures("fast_scrypt")
@pytest.mark.parametrize("kind", ["plain", "protected"])
def test_key_files_are_private(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "key.json"
    # An older, world-readable file in the way must not pass its permissions on.
    path.write_text("{}")
    path.chmod(0o644)
    store = KeyFileStore(path)
    if kind == "plain":
        store.save_plain(CacheKey.generate())
    else:
        store.save_protected(CacheKey.generate(), PASSCODE)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_key_file_folder_is_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "key.json"
    key = CacheKey.generate()
    KeyFileStore(path).save_plain(key)
    assert KeyFileStore(path).load() == key


@pytest.mark.usefixtures("fast_scrypt")
def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    store = KeyFileStore(path)
    store.save_plain(CacheKey.generate())
    store.save_protected(CacheKey.generate(), PASSCODE)
    store.save_plain(CacheKey.generate())
    assert files_under(tmp_path) == ["key.json"]


def test_failed_write_keeps_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "key.json"
    old = CacheKey.generate()
    KeyFileStore(path).save_plain(old)

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    new = CacheKey.generate()
    with pytest.raises(KeyFileWriteError) as info:
        KeyFileStore(path).save_plain(new)
    monkeypatch.undo()
    assert_no_key_material(info.value, new)
    assert KeyFileStore(path).load() == old
    assert files_under(tmp_path) == ["key.json"]


# --- invalid key files ----------------------------------------------------------------------


KEY = CacheKey.generate()
PLAIN: dict[str, Any] = {
    "format": "caixa-cache-key",
    "version": 1,
    "kind": "plain",
    "key": KEY.hex(),
}


def protected_record() -> dict[str, Any]:
    """A well-formed protected record (cheap scrypt cost: it is never decrypted successfully)."""
    return {
        "format": "caixa-cache-key",
        "version": 1,
        "kind": "scrypt-aesgcm",
        "salt": base64.b64encode(b"s" * 16).decode(),
        "n": 1024,
        "r": 8,
        "p": 1,
        "nonce": base64.b64encode(b"n" * 12).decode(),
        "ciphertext": base64.b64encode(b"c" * 48).decode(),
    }


def with_changes(base: dict[str, Any], **changes: Any) -> bytes:
    """``base`` with fields replaced (a value of ``...`` removes the field), as JSON bytes."""
    record = dict(base)
    for name, value in changes.items():
        if value is ...:
            record.pop(name, None)
        else:
            record[name] = value
    return json.dumps(record).encode()


INVALID_FILES: dict[str, bytes] = {
    "empty": b"",
    "garbage": b"\x00\xff\xfe garbage \x80",
    "not utf-8 json": b'{"format": "\xff"}',
    "truncated plain": json.dumps(PLAIN).encode()[:-20],
    "truncated protected": json.dumps(protected_record()).encode()[:40],
    "a list": json.dumps([PLAIN]).encode(),
    "a string": json.dumps(KEY.hex()).encode(),
    "null": b"null",
    "bare hex key": KEY.hex().encode(),
    "wrong format": with_changes(PLAIN, format="something-else"),
    "no format": with_changes(PLAIN, format=...),
    "newer version": with_changes(PLAIN, version=2),
    "version as text": with_changes(PLAIN, version="1"),
    "version as bool": with_changes(PLAIN, version=True),
    "unknown kind": with_changes(PLAIN, kind="rot13"),
    "no kind": with_changes(PLAIN, kind=...),
    "no key": with_changes(PLAIN, key=...),
    "short key": with_changes(PLAIN, key=KEY.hex()[:62]),
    "long key": with_changes(PLAIN, key=KEY.hex() + "00"),
    "non-hex key": with_changes(PLAIN, key=KEY.hex()[:63] + "z"),
    "key as number": with_changes(PLAIN, key=12345),
    "salt not base64": with_changes(protected_record(), salt="!!!"),
    "short salt": with_changes(protected_record(), salt=base64.b64encode(b"s" * 4).decode()),
    "short nonce": with_changes(protected_record(), nonce=base64.b64encode(b"n" * 8).decode()),
    "no ciphertext": with_changes(protected_record(), ciphertext=...),
    "short ciphertext": with_changes(
        protected_record(), ciphertext=base64.b64encode(b"c" * 40).decode()
    ),
    "n not a power of two": with_changes(protected_record(), n=1000),
    "n huge": with_changes(protected_record(), n=2**40),
    "n as text": with_changes(protected_record(), n="32768"),
    "r zero": with_changes(protected_record(), r=0),
    "p huge": with_changes(protected_record(), p=10**9),
    "too much memory": with_changes(protected_record(), n=2**20, r=32),
    # Valid but for its size: only the size limit can refuse it.
    "huge file": with_changes(PLAIN, padding="a" * 200_000),
}


@pytest.mark.parametrize("content", INVALID_FILES.values(), ids=INVALID_FILES.keys())
def test_invalid_key_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "key.json"
    path.write_bytes(content)
    store = KeyFileStore(path)
    with pytest.raises(KeyFileInvalid) as info:
        # A passcode, so that protected records get as far as their parameters.
        store.load(PASSCODE)
    message = str(info.value)
    assert str(path) in message
    assert "not a valid Caixa key file" in message
    assert_no_key_material(info.value, KEY)


def test_truncated_plain_file_error_carries_no_key(tmp_path: Path) -> None:
    # json's own error keeps the whole document; it must not ride along as the cause/context.
    path = tmp_path / "key.json"
    key = CacheKey.generate()
    KeyFileStore(path).save_plain(key)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(KeyFileInvalid) as info:
        KeyFileStore(path).load()
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert_no_key_material(info.value, key)


def test_oversized_key_file_is_refused_by_size(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_bytes(with_changes(PLAIN, padding="a" * 200_000))
    with pytest.raises(KeyFileInvalid, match="too large"):
        KeyFileStore(path).load()


def test_key_file_path_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(KeyFileInvalid):
        KeyFileStore(tmp_path).load()


def test_is_protected_rejects_invalid_files(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    path.write_bytes(b"garbage")
    with pytest.raises(KeyFileInvalid):
        KeyFileStore(path).is_protected()


# --- resolve_cache_key ----------------------------------------------------------------------


def test_first_run_makes_and_stores_a_key(memory_keyring: MemoryKeyring, cache_file: Path) -> None:
    key = resolve_cache_key(cache_file, keyring_backend=memory_keyring)
    assert list(memory_keyring.entries.values()) == [key.hex()]
    make_cache(cache_file)
    assert resolve_cache_key(cache_file, keyring_backend=memory_keyring) == key


def test_key_found_before_the_cache_exists_is_reused(
    memory_keyring: MemoryKeyring, cache_file: Path
) -> None:
    # A first run that stored the key and stopped before creating the cache.
    key = CacheKey.generate()
    KeyringKeyStore(cache_file, memory_keyring).save(key)
    assert resolve_cache_key(cache_file, keyring_backend=memory_keyring) == key


def test_cache_without_key_in_keyring(memory_keyring: MemoryKeyring, cache_file: Path) -> None:
    make_cache(cache_file)
    with pytest.raises(MissingCacheKey, match="caixa"):
        resolve_cache_key(cache_file, keyring_backend=memory_keyring)
    assert memory_keyring.entries == {}


def test_no_key_and_create_false(memory_keyring: MemoryKeyring, cache_file: Path) -> None:
    with pytest.raises(MissingCacheKey):
        resolve_cache_key(cache_file, keyring_backend=memory_keyring, create=False)
    assert memory_keyring.entries == {}


@pytest.mark.parametrize(("name", "make"), unusable_backends(), ids=lambda v: v)
def test_no_keyring_writes_nothing_anywhere(
    name: str,
    make: Callable[[], KeyringBackend],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    backend = make()
    with pytest.raises(NoKeyringAvailable):
        resolve_cache_key(tmp_path / "caixa-cache.db", keyring_backend=backend)
    assert files_under(tmp_path) == []
    if isinstance(backend, MemoryKeyring):
        assert backend.entries == {}


def test_damaged_entry_is_replaced_when_no_cache_depends_on_it(
    memory_keyring: MemoryKeyring, cache_file: Path
) -> None:
    memory_keyring.set_password(*KeyringKeyStore(cache_file, memory_keyring).entry, "damaged")
    key = resolve_cache_key(cache_file, keyring_backend=memory_keyring)
    assert list(memory_keyring.entries.values()) == [key.hex()]


def test_damaged_entry_with_a_cache_is_a_missing_key(
    memory_keyring: MemoryKeyring, cache_file: Path
) -> None:
    make_cache(cache_file)
    entry = KeyringKeyStore(cache_file, memory_keyring).entry
    memory_keyring.set_password(*entry, "damaged")
    with pytest.raises(MissingCacheKey):
        resolve_cache_key(cache_file, keyring_backend=memory_keyring)
    assert memory_keyring.entries == {entry: "damaged"}


def test_damaged_entry_and_create_false(memory_keyring: MemoryKeyring, cache_file: Path) -> None:
    entry = KeyringKeyStore(cache_file, memory_keyring).entry
    memory_keyring.set_password(*entry, "damaged")
    with pytest.raises(MissingCacheKey, match="not a valid Caixa key"):
        resolve_cache_key(cache_file, keyring_backend=memory_keyring, create=False)
    assert memory_keyring.entries == {entry: "damaged"}


def test_key_file_first_run_is_plain_and_reused(
    memory_keyring: MemoryKeyring, cache_file: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys" / "caixa.key"
    key = resolve_cache_key(cache_file, key_file=key_file, keyring_backend=memory_keyring)
    assert read_json(key_file)["kind"] == "plain"
    make_cache(cache_file)
    assert resolve_cache_key(cache_file, key_file=key_file, keyring_backend=memory_keyring) == key
    assert memory_keyring.entries == {}  # the keyring is never touched with a key file


@pytest.mark.usefixtures("fast_scrypt")
def test_key_file_first_run_with_passcode_is_protected(cache_file: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "caixa.key"
    key = resolve_cache_key(cache_file, key_file=key_file, passcode=PASSCODE)
    assert KeyFileStore(key_file).is_protected()
    assert resolve_cache_key(cache_file, key_file=key_file, passcode=PASSCODE) == key


def test_key_file_works_without_a_keyring(cache_file: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "caixa.key"
    key = CacheKey.generate()
    KeyFileStore(key_file).save_plain(key)
    make_cache(cache_file)
    assert resolve_cache_key(cache_file, key_file=key_file, keyring_backend=make_fail()) == key


@pytest.mark.usefixtures("fast_scrypt")
def test_key_file_passcode_errors(cache_file: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "caixa.key"
    KeyFileStore(key_file).save_protected(CacheKey.generate(), PASSCODE)
    with pytest.raises(PasscodeRequired):
        resolve_cache_key(cache_file, key_file=key_file)
    with pytest.raises(WrongPasscode):
        resolve_cache_key(cache_file, key_file=key_file, passcode="wrong")


def test_missing_key_file_for_an_existing_cache(cache_file: Path, tmp_path: Path) -> None:
    make_cache(cache_file)
    key_file = tmp_path / "caixa.key"
    with pytest.raises(MissingCacheKey):
        resolve_cache_key(cache_file, key_file=key_file)
    assert not key_file.exists()


def test_missing_key_file_and_create_false(cache_file: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "caixa.key"
    with pytest.raises(MissingCacheKey):
        resolve_cache_key(cache_file, key_file=key_file, create=False)
    assert not key_file.exists()


def test_invalid_key_file_is_not_overwritten(cache_file: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "caixa.key"
    key_file.write_bytes(b"garbage")
    with pytest.raises(KeyFileInvalid):
        resolve_cache_key(cache_file, key_file=key_file)
    assert key_file.read_bytes() == b"garbage"


def test_key_file_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CAIXA_KEY_FILE", raising=False)
    assert key_file_from_env() is None
    monkeypatch.setenv("CAIXA_KEY_FILE", "")
    assert key_file_from_env() is None
    monkeypatch.setenv("CAIXA_KEY_FILE", str(tmp_path / "k.json"))
    assert key_file_from_env() == (tmp_path / "k.json").resolve()
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    monkeypatch.setenv("CAIXA_KEY_FILE", "~/k.json")
    assert key_file_from_env() == (tmp_path / "k.json").resolve()


def test_module_docstring_documents_the_keyring_entry() -> None:
    # The README copies this; it must stay in step with the code.
    doc = ck.__doc__ or ""
    assert "service: ``caixa``" in doc
    assert "``cache-key:<absolute path of the cache file>``" in doc
    assert "64 lowercase hexadecimal" in doc
