"""The open chat: a window of its messages, oldest first, with day separators.

The presenter fills it page by page (``message_page`` when opened or scrolled to the top,
``messages_around`` for a search hit, ``messages_after`` to continue down) and merges what
changes (``messages_by_id``): a status moving from "sent" to "read" is one ``dataChanged``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from desktop.compat import override
from desktop.models.formatting import (
    clock,
    day_label,
    full_time,
    local_day,
    message_body,
    status_tooltip,
)
from sync.domain.models import Direction

if TYPE_CHECKING:
    from sync.domain.messages import Message

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the list's invisible parent, as an argument default
_Key = tuple[int, int]  # (timestamp_ms, seq): the chat's order, as the store pages it


def _key(message: Message) -> _Key:
    return (message.timestamp_ms, message.seq)


class MessageListModel(QAbstractListModel):
    """The loaded part of one conversation; ``has_older``/``has_newer`` say what lies beyond."""

    MessageRole = Qt.ItemDataRole.UserRole + 1
    MessageIdRole = Qt.ItemDataRole.UserRole + 2
    StatusRole = Qt.ItemDataRole.UserRole + 3
    # The separator label above this row ("Today", "Yesterday", a date), or None.
    DaySeparatorRole = Qt.ItemDataRole.UserRole + 4
    TimeRole = Qt.ItemDataRole.UserRole + 5
    OutgoingRole = Qt.ItemDataRole.UserRole + 6

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Message] = []
        self._keys: list[_Key] = []
        self._days: list[int] = []
        self._bodies: list[str] = []
        self._conversation_id: int | None = None
        self.has_older = False
        self.has_newer = False

    # -- Qt model ----------------------------------------------------------------------------

    @override
    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    @override
    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names.update(
            {
                self.MessageRole: b"message",
                self.MessageIdRole: b"messageId",
                self.StatusRole: b"status",
                self.DaySeparatorRole: b"daySeparator",
                self.TimeRole: b"time",
                self.OutgoingRole: b"outgoing",
            }
        )
        return names

    @override
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = index.row()
        message = self._rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._bodies[row]
        if role == self.MessageRole:
            return message
        if role == self.MessageIdRole:
            return message.id
        if role == self.StatusRole:
            return message.status.value
        if role == self.OutgoingRole:
            return message.direction is Direction.OUT
        if role == self.DaySeparatorRole:
            if row > 0 and self._days[row - 1] == self._days[row]:
                return None
            return day_label(self._days[row])
        if role == self.TimeRole:
            return clock(message.timestamp_ms)
        if role == Qt.ItemDataRole.ToolTipRole:
            if message.direction is Direction.OUT:
                return status_tooltip(message.status, message.error)
            return None
        if role == Qt.ItemDataRole.AccessibleTextRole:
            who = (
                self.tr("You")
                if message.direction is Direction.OUT
                else (message.sender_name or self.tr("Customer"))
            )
            return f"{who}, {full_time(message.timestamp_ms)}: {self._bodies[row]}"
        return None

    # -- reads -------------------------------------------------------------------------------

    @property
    def conversation_id(self) -> int | None:
        """The conversation shown, if any."""
        return self._conversation_id

    @property
    def messages(self) -> list[Message]:
        """The loaded messages, oldest first (a copy)."""
        return list(self._rows)

    def message(self, row: int) -> Message:
        """The message at ``row``."""
        return self._rows[row]

    def row_of(self, message_id: str) -> int | None:
        """The row of a loaded message."""
        for row in range(len(self._rows) - 1, -1, -1):  # recent ones are looked up most
            if self._rows[row].id == message_id:
                return row
        return None

    def oldest_cursor(self) -> _Key | None:
        """``(ts, seq)`` of the first loaded message (``message_page``'s ``before``)."""
        return self._keys[0] if self._keys else None

    def newest_cursor(self) -> _Key | None:
        """``(ts, seq)`` of the last loaded message (``messages_after``'s ``after``)."""
        return self._keys[-1] if self._keys else None

    # -- updates -----------------------------------------------------------------------------

    def show(
        self,
        conversation_id: int | None,
        messages: Sequence[Message],
        *,
        has_older: bool,
        has_newer: bool = False,
    ) -> None:
        """Replace the chat with these messages (chronological)."""
        self.beginResetModel()
        self._conversation_id = conversation_id
        ordered = sorted(messages, key=_key)
        self._rows = ordered
        self._keys = [_key(m) for m in ordered]
        self._days = [local_day(m.timestamp_ms) for m in ordered]
        self._bodies = [message_body(m) for m in ordered]
        self.has_older = has_older
        self.has_newer = has_newer
        self.endResetModel()

    def clear(self) -> None:
        """Show no conversation."""
        self.show(None, [], has_older=False)

    def prepend(self, older: Sequence[Message], *, has_older: bool) -> int:
        """Add a page of older messages above; returns how many rows were added."""
        self.has_older = has_older
        first = self._keys[0] if self._keys else None
        fresh = sorted((m for m in older if first is None or _key(m) < first), key=_key)
        if not fresh:
            return 0
        self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
        self._rows[0:0] = fresh
        self._keys[0:0] = [_key(m) for m in fresh]
        self._days[0:0] = [local_day(m.timestamp_ms) for m in fresh]
        self._bodies[0:0] = [message_body(m) for m in fresh]
        self.endInsertRows()
        self._separator_changed(len(fresh))
        return len(fresh)

    def append(self, newer: Sequence[Message], *, has_newer: bool) -> int:
        """Add a page of newer messages below; returns how many rows were added."""
        self.has_newer = has_newer
        return self.merge(newer)

    def merge(self, messages: Iterable[Message]) -> int:
        """Update loaded messages and insert new ones that fall inside the loaded window;
        returns how many rows were inserted."""
        inserted = 0
        for message in sorted(messages, key=_key):
            if self._conversation_id is None or message.conversation_id != self._conversation_id:
                continue
            row = self.row_of(message.id)
            if row is not None:
                self._replace(row, message)
                continue
            key = _key(message)
            if self._keys and (
                (key < self._keys[0] and self.has_older)
                or (key > self._keys[-1] and self.has_newer)
            ):
                continue  # beyond a gap: it comes with its page
            row = bisect.bisect_left(self._keys, key)
            self.beginInsertRows(QModelIndex(), row, row)
            self._rows.insert(row, message)
            self._keys.insert(row, key)
            self._days.insert(row, local_day(message.timestamp_ms))
            self._bodies.insert(row, message_body(message))
            self.endInsertRows()
            self._separator_changed(row + 1)
            inserted += 1
        return inserted

    def _replace(self, row: int, message: Message) -> None:
        old = self._rows[row]
        if old == message:
            return
        self._rows[row] = message
        roles = [self.MessageRole, self.StatusRole, Qt.ItemDataRole.ToolTipRole]
        if (old.text, old.type, old.media) != (message.text, message.type, message.media):
            self._bodies[row] = message_body(message)
            roles.append(Qt.ItemDataRole.DisplayRole)
        index = self.index(row, 0)
        self.dataChanged.emit(index, index, roles)

    def _separator_changed(self, row: int) -> None:
        """The row after an insertion may gain or lose its day separator."""
        if 0 <= row < len(self._rows):
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [self.DaySeparatorRole])
