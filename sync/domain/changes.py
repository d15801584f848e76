"""What a write changed, so views refresh only what they show."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class ChangeSet(NamedTuple):
    """Ids touched by one or more writes. Empty sets mean "nothing of that kind".

    (A named tuple rather than a frozen dataclass: it is made on the way to the first paint,
    where a dataclass costs most of a millisecond to define.)
    """

    accounts: frozenset[int] = frozenset()
    conversations: frozenset[int] = frozenset()
    messages: frozenset[str] = frozenset()
    reset: bool = False  # so much changed (a bulk load, a reset) that views should reload

    def __bool__(self) -> bool:
        return bool(self.accounts or self.conversations or self.messages or self.reset)

    def __or__(self, other: ChangeSet) -> ChangeSet:
        return ChangeSet(
            self.accounts | other.accounts,
            self.conversations | other.conversations,
            self.messages | other.messages,
            self.reset or other.reset,
        )

    @classmethod
    def of_message(cls, account_id: int, conversation_id: int, message_id: str) -> ChangeSet:
        """One message changed, and with it its conversation and number."""
        return cls(
            accounts=frozenset({account_id}),
            conversations=frozenset({conversation_id}),
            messages=frozenset({message_id}),
        )

    @classmethod
    def merge(cls, sets: Iterable[ChangeSet]) -> ChangeSet:
        """Union of several change sets."""
        result = cls()
        for item in sets:
            result = result | item
        return result
