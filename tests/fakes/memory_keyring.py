"""An in-memory keyring backend, so tests never touch (or depend on) the machine's keyring."""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps entries in a dict, one per instance.

    Hand an instance to the code under test (``KeyringKeyStore(path, backend=MemoryKeyring())``);
    never install it with ``keyring.set_keyring``, which would leak into other tests.
    """

    # Read on the class, as keyring does; 1 is the lowest priority keyring "recommends", so the
    # code under test treats this like a real OS keyring.
    priority: float = 1

    # Every KeyringBackend subclass registers itself with keyring when it is defined; this keeps
    # keyring's own auto-detection (keyring.get_keyring() elsewhere in the test process) from
    # ever picking this fake.
    viable = False

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring's __init__ is unannotated
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        """The stored password, or None."""
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        """Store (or replace) a password."""
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        """Remove an entry; ``PasswordDeleteError`` when absent, as the real backends do."""
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise PasswordDeleteError("no such entry") from None
