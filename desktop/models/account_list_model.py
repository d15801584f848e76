"""The rail: "All numbers" first, then each WhatsApp number with its unread count and state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from PySide6.QtCore import (
    QAbstractListModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from desktop.compat import override
from sync.domain.models import Account, ConnectionState

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the list's invisible parent, as an argument default


class RailEntry(NamedTuple):
    """One row of the rail; ``account`` is None for "All numbers".

    (A named tuple: made on the way to the first paint, where a frozen dataclass costs more.)
    """

    account: Account | None
    unread: int

    @property
    def account_id(self) -> int | None:
        """The number's id, or None for "All numbers"."""
        return None if self.account is None else self.account.id


def account_label(account: Account) -> str:
    """How a number is named in the rail and in lists."""
    return account.display_name or account.name or account.phone


def state_label(state: ConnectionState) -> str:
    """The connection state in words (the dot's tooltip)."""
    if state is ConnectionState.CONNECTED:
        return QCoreApplication.translate("AccountListModel", "Connected")
    if state is ConnectionState.CONNECTING:
        return QCoreApplication.translate("AccountListModel", "Connecting…")
    if state is ConnectionState.WAITING_FOR_QR:
        return QCoreApplication.translate(
            "AccountListModel", "Waiting for the QR code to be scanned"
        )
    if state is ConnectionState.NEEDS_REPAIR:
        return QCoreApplication.translate(
            "AccountListModel", "Needs repair: link this number again"
        )
    if state is ConnectionState.BLOCKED:
        return QCoreApplication.translate("AccountListModel", "Blocked by the provider")
    return QCoreApplication.translate("AccountListModel", "Offline")


class AccountListModel(QAbstractListModel):
    """Rows: "All numbers", then each number in rail order. A handful of rows, so updates are
    applied by comparing rows (inserts/removes only when numbers come or go)."""

    EntryRole = Qt.ItemDataRole.UserRole + 1
    AccountIdRole = Qt.ItemDataRole.UserRole + 2
    UnreadRole = Qt.ItemDataRole.UserRole + 3
    StateRole = Qt.ItemDataRole.UserRole + 4

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[RailEntry] = [RailEntry(None, 0)]

    @override
    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    @override
    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names.update(
            {
                self.EntryRole: b"entry",
                self.AccountIdRole: b"accountId",
                self.UnreadRole: b"unread",
                self.StateRole: b"state",
            }
        )
        return names

    @override
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        entry = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            if entry.account is None:
                return self.tr("All numbers")
            return account_label(entry.account)
        if role == self.EntryRole:
            return entry
        if role == self.AccountIdRole:
            return entry.account_id
        if role == self.UnreadRole:
            return entry.unread
        if role == self.StateRole:
            return None if entry.account is None else entry.account.state.value
        if role == Qt.ItemDataRole.ToolTipRole:
            if entry.account is None:
                return self.tr("Every conversation of every number")
            parts = [account_label(entry.account)]
            if entry.account.phone:
                parts.append(entry.account.phone)
            parts.append(state_label(entry.account.state))
            if entry.account.state_reason and entry.account.state is not ConnectionState.CONNECTED:
                parts.append(entry.account.state_reason)
            return "\n".join(parts)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            text = self.data(index, Qt.ItemDataRole.DisplayRole)
            if entry.unread:
                text += ", " + self.tr("%n unread", "", entry.unread)
            return text
        return None

    # -- reads -------------------------------------------------------------------------------

    @property
    def accounts(self) -> list[Account]:
        """The numbers shown, in rail order."""
        return [e.account for e in self._rows if e.account is not None]

    def account(self, account_id: int) -> Account | None:
        """The number with this id, if shown."""
        for entry in self._rows:
            if entry.account is not None and entry.account.id == account_id:
                return entry.account
        return None

    def row_of(self, account_id: int | None) -> int | None:
        """The row of a number (row 0 for None, "All numbers")."""
        for row, entry in enumerate(self._rows):
            if entry.account_id == account_id:
                return row
        return None

    def account_names(self) -> dict[int, str]:
        """Each number's label by id (the conversation list shows it in "All numbers")."""
        return {a.id: account_label(a) for a in self.accounts}

    # -- updates -----------------------------------------------------------------------------

    def set_accounts(self, accounts: Sequence[Account], unread: Mapping[int, int]) -> None:
        """Show these numbers; rows whose number stays in place only emit ``dataChanged``."""
        total = sum(unread.get(a.id, 0) for a in accounts)
        new_rows = [RailEntry(None, total), *(RailEntry(a, unread.get(a.id, 0)) for a in accounts)]
        old_ids = [e.account_id for e in self._rows]
        new_ids = [e.account_id for e in new_rows]
        if old_ids != new_ids:
            # Numbers added, removed or re-ordered: rare, and a few rows, so reset.
            self.beginResetModel()
            self._rows = new_rows
            self.endResetModel()
            return
        for row, (old, new) in enumerate(zip(self._rows, new_rows, strict=True)):
            if old != new:
                self._rows[row] = new
                index = self.index(row, 0)
                self.dataChanged.emit(index, index)

    def set_unread(self, unread: Mapping[int, int]) -> None:
        """Update only the badges."""
        self.set_accounts(self.accounts, unread)
