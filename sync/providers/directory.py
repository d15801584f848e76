"""The numbers served, by provider kind: what the receiver routes calls to and a workspace keeps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sync.providers.accounts import ProviderAccount


class AccountDirectory(Protocol):
    """The numbers the receiver routes calls to, by provider kind (with their secrets)."""

    def accounts(self, provider: str) -> Sequence[ProviderAccount]:
        """The numbers of ``provider`` (empty when it has none)."""
        ...


class StaticDirectory:
    """An ``AccountDirectory`` over a list of numbers, replaced whole when they change."""

    def __init__(self, accounts: Sequence[ProviderAccount] = ()) -> None:
        self._by_kind: dict[str, tuple[ProviderAccount, ...]] = {}
        self.replace(accounts)

    def __repr__(self) -> str:
        counts = {kind: len(found) for kind, found in self._by_kind.items()}
        return f"StaticDirectory({counts})"

    def replace(self, accounts: Sequence[ProviderAccount]) -> None:
        """Serve ``accounts`` from now on (an atomic swap: calls in flight keep the old list)."""
        grouped: dict[str, list[ProviderAccount]] = {}
        for account in accounts:
            grouped.setdefault(account.provider, []).append(account)
        self._by_kind = {kind: tuple(found) for kind, found in grouped.items()}

    def accounts(self, provider: str) -> Sequence[ProviderAccount]:
        """The numbers of ``provider``."""
        return self._by_kind.get(provider, ())

    def all(self) -> list[ProviderAccount]:
        """Every number served."""
        return [a for found in self._by_kind.values() for a in found]
