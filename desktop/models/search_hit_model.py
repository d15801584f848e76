"""Search results: one row per matching message, with the matched words located for highlighting."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from desktop.compat import override
from desktop.models.formatting import full_time, list_time

if TYPE_CHECKING:
    from sync.store.local.search import SearchHit  # the search itself runs later, on the DB thread

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()  # the list's invisible parent, as an argument default
_WORD = re.compile(r"\w+", re.UNICODE)


def fold(text: str) -> str:
    """Lower case without accents, as the search index compares words ("Açúcar" → "acucar")."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def match_spans(text: str, query: str) -> list[tuple[int, int]]:
    """``(start, length)`` of each word of ``text`` the query matched.

    Mirrors ``sync.store.local.search.build_match``: every typed word matches a whole word, the last
    one also any word it begins ("encomend" → "encomendas"), ignoring case and accents.
    """
    terms = [fold(w) for w in _WORD.findall(query)]
    if not terms:
        return []
    whole = set(terms[:-1])
    prefix = terms[-1]
    spans = []
    for word in _WORD.finditer(text):
        folded = fold(word.group())
        if folded in whole or folded.startswith(prefix):
            spans.append((word.start(), word.end() - word.start()))
    return spans


class SearchHitModel(QAbstractListModel):
    """The hits of the latest query, newest first."""

    HitRole = Qt.ItemDataRole.UserRole + 1
    SpansRole = Qt.ItemDataRole.UserRole + 2  # list of (start, length) in the hit's text
    AccountNameRole = Qt.ItemDataRole.UserRole + 3
    WhenRole = Qt.ItemDataRole.UserRole + 4

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._hits: list[SearchHit] = []
        self._spans: list[list[tuple[int, int]]] = []
        self._query = ""
        self._account_names: dict[int, str] = {}

    @override
    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._hits)

    @override
    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names.update(
            {
                self.HitRole: b"hit",
                self.SpansRole: b"spans",
                self.AccountNameRole: b"accountName",
                self.WhenRole: b"when",
            }
        )
        return names

    @override
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._hits):
            return None
        hit = self._hits[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return hit.text
        if role == self.HitRole:
            return hit
        if role == self.SpansRole:
            return self._spans[index.row()]
        if role == self.AccountNameRole:
            return self._account_names.get(hit.account_id, "")
        if role == self.WhenRole:
            return list_time(hit.timestamp_ms)
        if role == Qt.ItemDataRole.ToolTipRole:
            return full_time(hit.timestamp_ms)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            name = hit.customer_name or hit.customer_phone
            return f"{name}, {full_time(hit.timestamp_ms)}: {hit.text}"
        return None

    @property
    def query(self) -> str:
        """The text these hits answer."""
        return self._query

    def hit(self, row: int) -> SearchHit:
        """The hit at ``row``."""
        return self._hits[row]

    def set_account_names(self, names: Mapping[int, str]) -> None:
        """Number labels shown on each hit."""
        self._account_names = dict(names)

    def show(self, query: str, hits: Sequence[SearchHit]) -> None:
        """Replace the results."""
        self.beginResetModel()
        self._query = query
        self._hits = list(hits)
        self._spans = [match_spans(h.text, query) for h in self._hits]
        self.endResetModel()
