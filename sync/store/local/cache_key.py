"""The local cache's key: a random 256-bit key, kept in the OS keyring or in a key file.

The cache is one SQLCipher file opened with a raw key (``PRAGMA key = "x'<64 hex>'"``), so
opening it never runs a key derivation. The key is 32 random bytes made once, on first run,
by ``secrets.token_bytes(32)``; it is never derived from something a person types.

Where the key lives
===================

**The OS keyring** (the default: macOS Keychain, Windows Credential Manager, Secret Service /
KWallet on Linux), one entry per cache file:

- service: ``caixa``
- username: ``cache-key:<absolute path of the cache file>``
  (for example ``cache-key:/home/ana/.local/share/Caixa/caixa-cache.db``)
- password: the key as 64 lowercase hexadecimal characters

Deleting that entry makes the cache unreadable for good; Caixa then offers to move the old file
aside and start a new, empty cache.

**A key file**, when the machine has no usable keyring (headless servers, some Linux desktops)
and for ``--key-file PATH`` / ``CAIXA_KEY_FILE``. Caixa never falls back to a file on its own:
with no keyring it raises ``NoKeyringAvailable`` and the app asks the user to choose between a
passcode-protected file and, only on explicit opt-in, a plain one. Key files are JSON, written
atomically (temporary file in the same folder, fsync, rename), with permissions 0600 on
macOS and Linux (on Windows they inherit the folder's access rules, by default the user's own).

Plain (anyone who can read the file can read the cache)::

    {"format": "caixa-cache-key", "version": 1, "kind": "plain", "key": "<64 hex>"}

Passcode-protected::

    {"format": "caixa-cache-key", "version": 1, "kind": "scrypt-aesgcm",
     "salt": "<base64, 16 bytes>", "n": 32768, "r": 8, "p": 1,
     "nonce": "<base64, 12 bytes>", "ciphertext": "<base64, 48 bytes>"}

where the key-encryption key is ``scrypt(NFC-normalized passcode as UTF-8, salt, n, r, p)``
(32 bytes) and ``ciphertext`` is the cache key sealed with AES-256-GCM under it, with the
associated data ``caixa-cache-key-v1``. A wrong passcode fails the GCM tag check.

Every error here derives from ``CacheKeyError``; its message is English, fit to show a user,
and never contains key material.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

# keyring and cryptography are imported where they are used: together they cost a quarter of a
# second at start-up, and a start with a plain --key-file needs neither before the first paint.
# So are hmac and secrets (they load OpenSSL's hashlib), tempfile and unicodedata: loading an
# existing key needs none of them.
if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

KEY_BYTES: Final = 32
KEYRING_SERVICE: Final = "caixa"
KEYRING_USERNAME_PREFIX: Final = "cache-key:"
KEY_FILE_ENV: Final = "CAIXA_KEY_FILE"

KEY_FILE_FORMAT: Final = "caixa-cache-key"
KEY_FILE_VERSION: Final = 1
KIND_PLAIN: Final = "plain"
KIND_SCRYPT_AESGCM: Final = "scrypt-aesgcm"

# scrypt's "interactive" cost of 2^15 × 8: about 0.1 s and 32 MiB per try on a laptop, which is
# invisible once per start but makes guessing a short passcode offline expensive.
SCRYPT_N: Final = 32768
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SALT_BYTES: Final = 16
_NONCE_BYTES: Final = 12  # the nonce size AES-GCM is specified for
_TAG_BYTES: Final = 16
# Binds the ciphertext to this use and format version: a blob sealed for anything else
# under the same passcode never decrypts as a cache key.
_ASSOCIATED_DATA: Final = b"caixa-cache-key-v1"

# The parameters are read from the file, so a damaged or hostile file could ask for any amount
# of memory or time; these bounds accept everything Caixa writes (and stronger settings a later
# version may choose) but refuse a file that would take more than about a gigabyte.
_SCRYPT_MAX_N: Final = 2**20
_SCRYPT_MIN_N: Final = 2**10
_SCRYPT_MAX_R: Final = 32
_SCRYPT_MAX_P: Final = 16
_SCRYPT_MAX_MEMORY: Final = 1024 * 1024 * 1024

# A key file is a few hundred bytes; anything much bigger is not one, and reading it whole
# (a video chosen by mistake) would only waste memory before failing.
_KEY_FILE_MAX_BYTES: Final = 64 * 1024


class CacheKeyError(Exception):
    """Base of this module's errors; the message is English, user-presentable, key-free."""


class NoKeyringAvailable(CacheKeyError):
    """The OS has no keyring Caixa can trust with the key; the user must choose a key file."""


class MissingCacheKey(CacheKeyError):
    """The cache file exists but no key was found for it (a new key would not open it)."""


class WrongPasscode(CacheKeyError):
    """The passcode does not open this key file."""


class KeyFileInvalid(CacheKeyError):
    """The key file is not a Caixa key file, is damaged, or cannot be read."""


class PasscodeRequired(CacheKeyError):
    """The key file is passcode-protected and no passcode was given."""


class KeyringEntryInvalid(CacheKeyError):
    """The keyring holds an entry for this cache, but it is not a key Caixa wrote."""


class KeyFileWriteError(CacheKeyError):
    """The key file could not be written (folder missing and not creatable, disk full, ...)."""


class CacheKey:
    """The 32 raw bytes that open one local cache (immutable).

    ``repr``/``str`` never show the bytes, so a key that ends up in a log line, a traceback
    or a debugger's variable view stays secret. A plain class rather than a frozen dataclass:
    it is made on the way to the app's first paint, where defining one costs half a millisecond.
    """

    __slots__ = ("raw",)
    raw: bytes

    def __init__(self, raw: bytes) -> None:
        checked: object = raw  # checked at run time too: callers outside mypy exist
        if not isinstance(checked, bytes) or len(checked) != KEY_BYTES:
            raise ValueError(f"a cache key is exactly {KEY_BYTES} bytes")
        object.__setattr__(self, "raw", raw)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a cache key cannot be changed")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("a cache key cannot be changed")

    def __reduce__(self) -> tuple[type[CacheKey], tuple[bytes]]:
        return CacheKey, (self.raw,)

    def __repr__(self) -> str:
        return "CacheKey(<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CacheKey):
            return NotImplemented
        # Constant time: comparing secrets must not leak how many leading bytes matched.
        import hmac

        return hmac.compare_digest(self.raw, other.raw)

    def __hash__(self) -> int:
        return hash((CacheKey, self.raw))

    def hex(self) -> str:
        """The key as 64 lowercase hexadecimal characters (what the keyring stores)."""
        return self.raw.hex()

    def sqlcipher_pragma_value(self) -> str:
        """The value for ``PRAGMA key``: a raw-key blob literal, so SQLCipher skips its KDF."""
        return f"x'{self.hex()}'"

    @classmethod
    def generate(cls) -> CacheKey:
        """A new random key from the OS's cryptographic random source."""
        import secrets

        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_hex(cls, text: str) -> CacheKey:
        """Parse 64 hexadecimal characters; ``ValueError`` (without the text) otherwise."""
        if len(text) != 2 * KEY_BYTES or not all(c in "0123456789abcdefABCDEF" for c in text):
            # The message says what was expected, never what was found: it may be a key.
            raise ValueError(f"a cache key is {2 * KEY_BYTES} hexadecimal characters")
        return cls(bytes.fromhex(text))


# --- the OS keyring -------------------------------------------------------------------------


def keyring_backend_usable(backend: KeyringBackend) -> bool:
    """Whether ``backend`` is a keyring Caixa may keep the cache key in.

    Refused: keyring's ``fail`` backend (what ``keyring`` picks when the OS offers nothing),
    a chainer with nothing usable to chain, and any backend with priority below 1: keyring
    itself calls those "not recommended"; they include the ``null`` backend (which silently
    forgets) and keyrings.alt's plain-text file, which would store the key in clear.
    """
    from keyring.backends import chainer, fail

    if isinstance(backend, fail.Keyring):
        return False
    try:
        if isinstance(backend, chainer.ChainerBackend):
            # A chainer's own priority only steers keyring's choice (it is -1 with a single
            # backend); what matters is where it writes: the first, highest-priority backend.
            chained: list[KeyringBackend] = list(backend.backends)
            return bool(chained) and max(float(b.priority) for b in chained) >= 1
        return float(backend.priority) >= 1
    except Exception:
        # keyring documents that ``priority`` raises (RuntimeError, but backends vary) when a
        # backend cannot work here; a backend that cannot say so cleanly is not one to trust.
        return False


class KeyringKeyStore:
    """The cache key of one cache file, in the OS keyring (see the module docstring)."""

    def __init__(self, cache_path: Path, backend: KeyringBackend | None = None) -> None:
        self._cache_path = _absolute(cache_path)
        # None means keyring's detected default, looked up on use: detection can be slow
        # (D-Bus on Linux) and a store is often built without ever being used.
        self._given_backend = backend

    def __repr__(self) -> str:
        return f"KeyringKeyStore({str(self._cache_path)!r})"

    @property
    def entry(self) -> tuple[str, str]:
        """The keyring entry as ``(service, username)``."""
        return KEYRING_SERVICE, KEYRING_USERNAME_PREFIX + str(self._cache_path)

    def available(self) -> bool:
        """Whether the keyring is one Caixa may keep the key in (no read or write happens)."""
        return keyring_backend_usable(self._backend())

    def load(self) -> CacheKey | None:
        """The stored key, or None when this cache has no entry.

        Raises ``NoKeyringAvailable`` when the keyring is unusable or fails (locked, denied),
        and ``KeyringEntryInvalid`` when the entry holds something that is not a key.
        """
        import keyring.errors

        backend = self._usable_backend()
        service, username = self.entry
        try:
            value = backend.get_password(service, username)
        except keyring.errors.KeyringError as exc:
            raise self._failed("read from", exc) from exc
        if value is None:
            return None
        try:
            return CacheKey.from_hex(value.strip())
        except ValueError:
            pass
        # Raised outside the except block so no chained exception carries the stored value.
        raise KeyringEntryInvalid(
            f"The system keyring holds an entry for the local cache at {self._cache_path} "
            f"(service {service!r}, user {username!r}), but it is not a valid Caixa key."
        )

    def save(self, key: CacheKey) -> None:
        """Store ``key`` for this cache, replacing any previous one.

        Raises ``NoKeyringAvailable`` when the keyring is unusable, fails, or does not give
        the key back afterwards; in every such case nothing was written anywhere else.
        """
        import keyring.errors

        backend = self._usable_backend()
        service, username = self.entry
        try:
            backend.set_password(service, username, key.hex())
            stored = backend.get_password(service, username)
        except keyring.errors.KeyringError as exc:
            raise self._failed("write to", exc) from exc
        # Read back: a keyring that accepts the key and then forgets it would leave a cache
        # nobody can open on the next start, so it is reported now, before the cache exists.
        import hmac

        if stored is None or not hmac.compare_digest(stored.strip().lower(), key.hex()):
            raise NoKeyringAvailable(
                "The system keyring accepted the cache key but did not keep it, "
                "so Caixa cannot rely on it."
            )

    def delete(self) -> None:
        """Remove this cache's entry; deleting an entry that does not exist is not an error."""
        import keyring.errors

        backend = self._usable_backend()
        service, username = self.entry
        try:
            backend.delete_password(service, username)
        except keyring.errors.PasswordDeleteError as exc:
            # Most backends say "no such entry" with this error; only a failure that left the
            # entry in place is one.
            if self.load() is not None:
                raise self._failed("delete from", exc) from exc
        except keyring.errors.KeyringError as exc:
            raise self._failed("delete from", exc) from exc

    def _backend(self) -> KeyringBackend:
        if self._given_backend is not None:
            return self._given_backend
        import keyring

        return keyring.get_keyring()

    def _usable_backend(self) -> KeyringBackend:
        backend = self._backend()
        if not keyring_backend_usable(backend):
            raise NoKeyringAvailable(
                "This computer has no system keyring Caixa can use to keep the key of its "
                "local cache. Keep the key in a file instead, preferably protected by a passcode."
            )
        return backend

    @staticmethod
    def _failed(action: str, exc: Exception) -> NoKeyringAvailable:
        # The backend's own message is left out (it is chained for logs): it is written for
        # developers and we cannot vouch for what it contains.
        return NoKeyringAvailable(
            f"Caixa could not {action} the system keyring ({type(exc).__name__}). "
            "If it is locked, unlock it and try again, or keep the cache key in a file."
        )


# --- key files ------------------------------------------------------------------------------


class KeyFileStore:
    """A key file at a path the user chose (see the module docstring for the formats)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:
        return f"KeyFileStore({str(self.path)!r})"

    def exists(self) -> bool:
        """Whether something is at the path (``load`` says whether it is a valid key file)."""
        return self.path.exists()

    def is_protected(self) -> bool:
        """Whether the file needs a passcode; raises as ``load`` does for a missing/bad file."""
        return bool(self._read()["kind"] == KIND_SCRYPT_AESGCM)

    def load(self, passcode: str | None = None) -> CacheKey:
        """The key in the file; ``passcode`` is needed for a protected file, ignored otherwise.

        Raises ``MissingCacheKey`` (no file), ``KeyFileInvalid``, ``PasscodeRequired`` and
        ``WrongPasscode``.
        """
        record = self._read()
        if record["kind"] == KIND_PLAIN:
            return _key_from_field(record, "key", self.path)
        if passcode is None:
            raise PasscodeRequired(f"The key file {self.path} is protected by a passcode.")
        n, r, p = (_int_field(record, name, self.path) for name in ("n", "r", "p"))
        _check_scrypt_parameters(n, r, p, self.path)
        salt = _b64_field(record, "salt", self.path)
        nonce = _b64_field(record, "nonce", self.path)
        ciphertext = _b64_field(record, "ciphertext", self.path)
        if len(salt) < _SALT_BYTES or len(nonce) != _NONCE_BYTES:
            raise _invalid(self.path, "its salt or nonce has the wrong length")
        if len(ciphertext) != KEY_BYTES + _TAG_BYTES:
            raise _invalid(self.path, "its ciphertext has the wrong length")
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kek = _derive_kek(passcode, salt, n, r, p)
        try:
            raw = AESGCM(kek).decrypt(nonce, ciphertext, _ASSOCIATED_DATA)
        except InvalidTag:
            # A wrong passcode and an altered file look the same to GCM; the first is by far
            # the likelier, so that is what the user is told (and asked again).
            raise WrongPasscode(f"The passcode does not open the key file {self.path}.") from None
        return CacheKey(raw)

    def save_plain(self, key: CacheKey) -> None:
        """Write ``key`` in clear (only on the user's explicit choice); replaces the file."""
        self._write(
            {
                "format": KEY_FILE_FORMAT,
                "version": KEY_FILE_VERSION,
                "kind": KIND_PLAIN,
                "key": key.hex(),
            }
        )

    def save_protected(self, key: CacheKey, passcode: str) -> None:
        """Write ``key`` sealed under ``passcode`` (scrypt + AES-GCM); replaces the file.

        Saving the same key under a new passcode is how the passcode is changed.
        """
        if not passcode:
            raise ValueError("the passcode must not be empty")
        import secrets

        salt = secrets.token_bytes(_SALT_BYTES)
        # A fresh random nonce per file is safe: each file also has a fresh salt, so no
        # key-encryption key ever seals twice.
        nonce = secrets.token_bytes(_NONCE_BYTES)
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kek = _derive_kek(passcode, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        ciphertext = AESGCM(kek).encrypt(nonce, key.raw, _ASSOCIATED_DATA)
        self._write(
            {
                "format": KEY_FILE_FORMAT,
                "version": KEY_FILE_VERSION,
                "kind": KIND_SCRYPT_AESGCM,
                "salt": _b64(salt),
                "n": SCRYPT_N,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
                "nonce": _b64(nonce),
                "ciphertext": _b64(ciphertext),
            }
        )

    def _read(self) -> dict[str, Any]:
        """The file's JSON object with ``format``, ``version`` and ``kind`` checked."""
        problem: str | None = None
        data: bytes = b""
        try:
            with self.path.open("rb") as handle:
                data = handle.read(_KEY_FILE_MAX_BYTES + 1)
        except FileNotFoundError:
            raise MissingCacheKey(f"There is no key file at {self.path}.") from None
        except IsADirectoryError:
            problem = "it is a folder"
        except OSError as exc:
            problem = f"it could not be read ({exc.strerror or type(exc).__name__})"
        if problem is not None:
            raise _invalid(self.path, problem)
        if len(data) > _KEY_FILE_MAX_BYTES:
            raise _invalid(self.path, "it is far too large to be one")
        # Parsed without an ``except`` around the raise: json's errors keep the whole document
        # (``JSONDecodeError.doc``), and a chained exception would carry a plain key with it.
        record = _parse_json_object(data)
        if record is None:
            raise _invalid(self.path, "it is not a JSON object")
        if record.get("format") != KEY_FILE_FORMAT:
            raise _invalid(self.path, "it is not a Caixa key file")
        version = record.get("version")
        if type(version) is not int:
            raise _invalid(self.path, "its version is missing")
        if version != KEY_FILE_VERSION:
            raise _invalid(self.path, f"it has version {version}, made by a newer Caixa")
        if record.get("kind") not in (KIND_PLAIN, KIND_SCRYPT_AESGCM):
            raise _invalid(self.path, "its kind is unknown")
        return record

    def _write(self, record: dict[str, Any]) -> None:
        payload = (json.dumps(record, indent=2) + "\n").encode("utf-8")
        try:
            _write_atomically(self.path, payload)
        except OSError as exc:
            raise KeyFileWriteError(
                f"The key file {self.path} could not be written "
                f"({exc.strerror or type(exc).__name__})."
            ) from None


def _parse_json_object(data: bytes) -> dict[str, Any] | None:
    try:
        parsed: object = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _invalid(path: Path, problem: str) -> KeyFileInvalid:
    return KeyFileInvalid(f"The file {path} is not a valid Caixa key file: {problem}.")


def _key_from_field(record: dict[str, Any], name: str, path: Path) -> CacheKey:
    value = record.get(name)
    key: CacheKey | None = None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            key = CacheKey.from_hex(value)
    if key is None:
        raise _invalid(path, f"its {name!r} is not a 64-character hexadecimal key")
    return key


def _int_field(record: dict[str, Any], name: str, path: Path) -> int:
    value = record.get(name)
    # bool is an int in Python, but ``true`` is not a number in a key file.
    if type(value) is not int:
        raise _invalid(path, f"its {name!r} is not a whole number")
    return value


def _b64_field(record: dict[str, Any], name: str, path: Path) -> bytes:
    value = record.get(name)
    decoded: bytes | None = None
    if isinstance(value, str):
        with contextlib.suppress(binascii.Error, ValueError):
            decoded = base64.b64decode(value, validate=True)
    if decoded is None:
        raise _invalid(path, f"its {name!r} is not base64")
    return decoded


def _check_scrypt_parameters(n: int, r: int, p: int, path: Path) -> None:
    power_of_two = n > 1 and n & (n - 1) == 0
    if (
        not power_of_two
        or not _SCRYPT_MIN_N <= n <= _SCRYPT_MAX_N
        or not 1 <= r <= _SCRYPT_MAX_R
        or not 1 <= p <= _SCRYPT_MAX_P
        or 128 * n * r > _SCRYPT_MAX_MEMORY
    ):
        raise _invalid(path, "its scrypt parameters are out of range")


def _derive_kek(passcode: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # NFC: the same passcode typed on macOS and on Windows can arrive as different code point
    # sequences (composed vs decomposed accents); both must open the file.
    import unicodedata

    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    secret = unicodedata.normalize("NFC", passcode).encode("utf-8")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(secret)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _write_atomically(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` so that a crash leaves the old file or the new one.

    The temporary file is made in the target's folder (a rename is atomic only within one file
    system), is 0600 from its creation (mkstemp), and is flushed to disk before the rename,
    and the folder after it, so a power cut cannot leave an empty key file behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    import tempfile

    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if sys.platform != "win32":
                os.fchmod(handle.fileno(), 0o600)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if sys.platform != "win32":
        _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable. Best effort: some file systems refuse fsync on a folder,
    # and by now the new file is complete and in place either way.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- choosing where the key comes from ------------------------------------------------------


def key_file_from_env() -> Path | None:
    """The key file named by ``CAIXA_KEY_FILE``, or None when it is unset or empty."""
    value = os.environ.get(KEY_FILE_ENV, "").strip()
    return Path(value).expanduser().resolve() if value else None


def resolve_cache_key(
    cache_path: Path,
    *,
    key_file: Path | None = None,
    passcode: str | None = None,
    keyring_backend: KeyringBackend | None = None,
    create: bool = True,
) -> CacheKey:
    """The key of the cache at ``cache_path``, made and stored on first run when ``create``.

    With ``key_file`` the keyring is never touched: the file is loaded (``PasscodeRequired`` /
    ``WrongPasscode`` for a protected one). When it does not exist yet, a new key is written
    to it (sealed under ``passcode`` if one was given, else plain: the user chose the file
    explicitly, typically on a headless machine), unless the cache already exists.

    Without it the OS keyring is used: a key found is returned; none found with no cache yet
    makes a new key, stores it and returns it. ``NoKeyringAvailable`` when the keyring is
    unusable (nothing is written anywhere then), ``MissingCacheKey`` when the cache exists but
    no key for it does: a new key would not open it.
    """
    cache_path = _absolute(cache_path)
    if key_file is not None:
        return _resolve_from_file(cache_path, KeyFileStore(key_file), passcode, create)
    store = KeyringKeyStore(cache_path, keyring_backend)
    service, username = store.entry
    try:
        key = store.load()
    except KeyringEntryInvalid as exc:
        if cache_path.exists() or not create:
            raise MissingCacheKey(
                str(exc) + " The local cache cannot be opened without it."
            ) from None
        # No cache depends on the damaged entry (it is named after this very path), so
        # replacing it loses nothing.
        key = None
    if key is not None:
        return key
    if cache_path.exists():
        raise MissingCacheKey(
            f"The local cache at {cache_path} exists, but the system keyring has no key for it "
            f"(service {service!r}, user {username!r}). It cannot be opened without that key."
        )
    if not create:
        raise MissingCacheKey(f"The system keyring has no key for the local cache at {cache_path}.")
    key = CacheKey.generate()
    store.save(key)
    return key


def _resolve_from_file(
    cache_path: Path, store: KeyFileStore, passcode: str | None, create: bool
) -> CacheKey:
    if store.exists():
        return store.load(passcode)
    if cache_path.exists():
        raise MissingCacheKey(
            f"The key file {store.path} does not exist, but the local cache at {cache_path} "
            "does: a new key would not open it. Point Caixa at the cache's key file."
        )
    if not create:
        raise MissingCacheKey(f"There is no key file at {store.path}.")
    key = CacheKey.generate()
    if passcode:
        store.save_protected(key, passcode)
    else:
        store.save_plain(key)
    return key


def _absolute(path: Path) -> Path:
    # resolve(), not absolute(): the keyring entry is named after the path, so "..", "~" and
    # symlinked folders must all lead to the same name as the canonical path does.
    return Path(path).expanduser().resolve()
