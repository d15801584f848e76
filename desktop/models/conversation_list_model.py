"""The conversation list: most recent first, paged from the store, updated row by row.

Built for a million conversations: only the pages the user scrolled to are in memory
(``canFetchMore``/``fetchMore`` load the next ~200 rows on the database thread, by keyset
cursor), and a change re-reads just the touched conversations and moves each to its sorted
place by bisection. A small change never resets the model, so selection and scroll position
survive, and the view repaints only what moved.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from desktop import bridge
from desktop.compat import override
from desktop.models.formatting import preview_text
from sync.domain.models import Conversation
from sync.store.local import queries

if TYPE_CHECKING:
    from sync.store.local.database import Database

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the list's invisible parent, as an argument default
# Sort key ascending in list order: newest first means negated (last_message_at, id).
_Key = tuple[int, int]

PAGE_SIZE = 200


def sort_key(conversation: Conversation) -> _Key:
    """Where a conversation sorts in the list (smaller = higher up)."""
    return (-conversation.last_message_at, -conversation.id)


class ConversationSource(Protocol):
    """Where the model reads conversations from (the database, or a fake in tests)."""

    async def page(
        self, account_id: int | None, after: queries.ConversationCursor | None, limit: int
    ) -> list[Conversation]:
        """A page of ``latest_conversations``."""
        ...

    async def by_id(self, ids: Collection[int]) -> list[Conversation]:
        """The current rows of these conversations (missing ones left out)."""
        ...


class DatabaseConversations:
    """``ConversationSource`` over the local cache, every read on the database thread."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self, account_id: int | None, after: queries.ConversationCursor | None, limit: int
    ) -> list[Conversation]:
        """A page of ``latest_conversations``."""
        return await self._db.run(
            queries.latest_conversations, account_id, limit=limit, after=after
        )

    async def by_id(self, ids: Collection[int]) -> list[Conversation]:
        """The current rows of these conversations."""
        return await self._db.run(queries.conversations_by_id, list(ids))


class ConversationListModel(QAbstractListModel):
    """Conversations of one number (or all), sorted by (last_message_at, id) descending.

    Rows past the last loaded page are not known yet; a changed conversation that now sorts
    below that page is dropped, and comes back when the user scrolls that far.
    """

    ConversationRole = Qt.ItemDataRole.UserRole + 1
    ConversationIdRole = Qt.ItemDataRole.UserRole + 2
    UnreadRole = Qt.ItemDataRole.UserRole + 3
    AccountNameRole = Qt.ItemDataRole.UserRole + 4

    page_loaded = Signal(int)  # rows added by the page

    def __init__(
        self,
        source: ConversationSource | None,
        parent: Any = None,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        super().__init__(parent)
        # None until the cache is open: the first paint shows a preloaded page (``show_page``)
        # and the list fetches nothing more until ``set_source``.
        self._source = source
        self._page_size = page_size
        self._rows: list[Conversation] = []
        self._keys: list[_Key] = []
        self._key_of: dict[int, _Key] = {}
        self._account_id: int | None = None
        self._cursor: queries.ConversationCursor | None = None
        self._exhausted = True
        self._fetching = False
        # Reads finish in the order they were submitted (one database thread). Each read takes
        # a ticket, so a result older than the list on screen is dropped instead of applied.
        self._tickets = itertools.count()
        self._shown_ticket = -1  # the reload whose page is on screen
        self._latest_reload = -1
        self._list_id = 0  # bumped whenever the list is replaced; a page for an old list is dropped
        self._account_names: dict[int, str] = {}

    # -- Qt model ----------------------------------------------------------------------------

    @override
    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    @override
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        conversation = self._rows[index.row()]
        if role == self.ConversationRole:
            return conversation
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            name = conversation.customer_name or conversation.customer_phone
            if role == Qt.ItemDataRole.AccessibleTextRole:
                parts = [name, preview_text(conversation.last_preview)]
                if conversation.unread_count:
                    parts.append(self.tr("%n unread", "", conversation.unread_count))
                return ", ".join(p for p in parts if p)
            return name
        if role == self.ConversationIdRole:
            return conversation.id
        if role == self.UnreadRole:
            return conversation.unread_count
        if role == self.AccountNameRole:
            if self._account_id is not None:
                return None  # the rail already says which number this is
            return self._account_names.get(conversation.account_id)
        if role == Qt.ItemDataRole.ToolTipRole:
            return conversation.customer_phone or None
        return None

    @override
    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names.update(
            {
                self.ConversationRole: b"conversation",
                self.ConversationIdRole: b"conversationId",
                self.UnreadRole: b"unread",
                self.AccountNameRole: b"accountName",
            }
        )
        return names

    @override
    def canFetchMore(self, parent: _Index = _ROOT) -> bool:
        return (
            self._source is not None
            and not parent.isValid()
            and not self._exhausted
            and not self._fetching
        )

    @override
    def fetchMore(self, parent: _Index = _ROOT) -> None:
        if self.canFetchMore(parent):
            self._fetching = True  # before the task starts, so the view doesn't ask twice
            bridge.spawn(self._fetch_next_page())

    # -- reads -------------------------------------------------------------------------------

    def _require_source(self) -> ConversationSource:
        if self._source is None:
            raise RuntimeError("the conversation list has no source yet (set_source)")
        return self._source

    def set_source(self, source: ConversationSource) -> None:
        """Read from ``source`` from now on (the cache, once open)."""
        self._source = source

    @property
    def account_id(self) -> int | None:
        """The number whose conversations are listed (None: every number)."""
        return self._account_id

    @property
    def exhausted(self) -> bool:
        """True when every conversation of the filter is loaded."""
        return self._exhausted

    def conversation(self, row: int) -> Conversation:
        """The conversation at ``row``."""
        return self._rows[row]

    def row_of(self, conversation_id: int) -> int | None:
        """The row of a loaded conversation, by bisection (no scan, even at a million rows)."""
        key = self._key_of.get(conversation_id)
        if key is None:
            return None
        return bisect.bisect_left(self._keys, key)

    def find(self, conversation_id: int) -> Conversation | None:
        """The loaded row of a conversation."""
        row = self.row_of(conversation_id)
        return None if row is None else self._rows[row]

    # -- loading -----------------------------------------------------------------------------

    def set_account_names(self, names: Mapping[int, str]) -> None:
        """Number labels, shown on each row when every number is listed."""
        if dict(names) == self._account_names:
            return
        self._account_names = dict(names)
        if self._rows and self._account_id is None:
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self._rows) - 1, 0),
                [self.AccountNameRole],
            )

    async def reload(self, account_id: int | None) -> None:
        """Show the first page of ``account_id``'s conversations (None: every number)."""
        ticket = next(self._tickets)
        self._latest_reload = ticket
        rows = await self._require_source().page(account_id, None, self._page_size)
        if ticket != self._latest_reload:
            return  # the user switched again meanwhile
        self._shown_ticket = ticket
        self.show_page(account_id, rows)

    def show_page(self, account_id: int | None, rows: list[Conversation]) -> None:
        """Replace the list with this first page (read elsewhere, e.g. for the first paint)."""
        self._list_id += 1
        self.beginResetModel()
        self._account_id = account_id
        self._rows = []
        self._keys = []
        self._key_of = {}
        self._cursor = None
        self._fetching = False
        self._append_page(rows, notify=False)
        self.endResetModel()

    async def fetch_more(self) -> int:
        """Load the next page now (what ``fetchMore`` starts); returns the rows added."""
        if self._exhausted or self._fetching:
            return 0
        self._fetching = True
        return await self._fetch_next_page()

    async def _fetch_next_page(self) -> int:
        list_id = self._list_id
        try:
            rows = await self._require_source().page(
                self._account_id, self._cursor, self._page_size
            )
        finally:
            if list_id == self._list_id:
                self._fetching = False
        if list_id != self._list_id:
            return 0
        added = self._append_page(rows, notify=True)
        self.page_loaded.emit(added)
        return added

    def _append_page(self, page: list[Conversation], *, notify: bool) -> int:
        if page:
            last = page[-1]
            self._cursor = (last.last_message_at, last.id)
        self._exhausted = len(page) < self._page_size
        # A row already shown came in through a change, which is at least as fresh.
        fresh = [c for c in page if c.id not in self._key_of and self._accepts(c)]
        if not fresh:
            return 0
        keys = [sort_key(c) for c in fresh]
        if not self._keys or keys[0] > self._keys[-1]:
            first = len(self._rows)
            if notify:
                self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._rows.extend(fresh)
            self._keys.extend(keys)
            self._key_of.update(zip((c.id for c in fresh), keys, strict=True))
            if notify:
                self.endInsertRows()
        else:  # a change already put newer rows below: place each one
            for conversation in fresh:
                self._insert(conversation, notify=notify)
        return len(fresh)

    # -- changes -----------------------------------------------------------------------------

    async def refresh(self, ids: Collection[int]) -> None:
        """Re-read these conversations and move, insert, update or drop each one."""
        if not ids:
            return
        ticket = next(self._tickets)
        rows = await self._require_source().by_id(ids)
        if ticket > self._shown_ticket:  # else the list on screen was read after this
            self.apply(ids, rows)

    def apply(self, ids: Collection[int], rows: Sequence[Conversation]) -> None:
        """Apply the current state (``rows``) of the conversations ``ids``; ids absent from
        ``rows`` were deleted."""
        current = {c.id: c for c in rows}
        for conversation_id in ids:
            fresh = current.get(conversation_id)
            if fresh is not None and (not self._accepts(fresh) or not self._in_window(fresh)):
                fresh = None
            old_key = self._key_of.get(conversation_id)
            if old_key is None:
                if fresh is not None:
                    self._insert(fresh, notify=True)
            elif fresh is None:
                self._remove(bisect.bisect_left(self._keys, old_key))
            else:
                self._move(bisect.bisect_left(self._keys, old_key), fresh)

    def _accepts(self, conversation: Conversation) -> bool:
        return self._account_id is None or conversation.account_id == self._account_id

    def _in_window(self, conversation: Conversation) -> bool:
        """False when it sorts below the last loaded page (it will be fetched with its page)."""
        if self._exhausted or self._cursor is None:
            return True
        return sort_key(conversation) <= (-self._cursor[0], -self._cursor[1])

    def _insert(self, conversation: Conversation, *, notify: bool) -> None:
        key = sort_key(conversation)
        row = bisect.bisect_left(self._keys, key)
        if notify:
            self.beginInsertRows(QModelIndex(), row, row)
        self._rows.insert(row, conversation)
        self._keys.insert(row, key)
        self._key_of[conversation.id] = key
        if notify:
            self.endInsertRows()

    def _remove(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        conversation = self._rows.pop(row)
        del self._keys[row]
        del self._key_of[conversation.id]
        self.endRemoveRows()

    def _move(self, row: int, fresh: Conversation) -> None:
        key = sort_key(fresh)
        # Insertion point in the list as it is now, old row included (Qt's "before move" rows).
        target = bisect.bisect_left(self._keys, key)
        if target in (row, row + 1):
            self._rows[row] = fresh
            self._keys[row] = key
            self._key_of[fresh.id] = key
            index = self.index(row, 0)
            self.dataChanged.emit(index, index)
            return
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), target)
        del self._rows[row]
        del self._keys[row]
        final = target if target < row else target - 1
        self._rows.insert(final, fresh)
        self._keys.insert(final, key)
        self._key_of[fresh.id] = key
        self.endMoveRows()
        index = self.index(final, 0)
        self.dataChanged.emit(index, index)
