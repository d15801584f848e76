"""The inbox's item models, driven without a database (a fake source stands in for the store)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import QModelIndex, Qt

from desktop.models.account_list_model import AccountListModel
from desktop.models.conversation_list_model import ConversationListModel, sort_key
from desktop.models.formatting import body_for, day_label, duration, preview_text, today
from desktop.models.message_list_model import MessageListModel
from desktop.models.search_hit_model import SearchHitModel, fold, match_spans
from sync.domain.messages import Message
from sync.domain.models import (
    Account,
    ConnectionState,
    Conversation,
    DeliveryStatus,
    Direction,
    MessageType,
)
from sync.store.local.search import SearchHit
from tests.polling import at_most

if TYPE_CHECKING:
    from pytestqt.modeltest import ModelTester
    from pytestqt.qtbot import QtBot

    from tests.conftest import ARun

PAGE = 20


def conversation(cid: int, at: int, *, account_id: int = 1, unread: int = 0) -> Conversation:
    return Conversation(
        id=cid,
        account_id=account_id,
        chat_key=f"55{cid:09d}",
        customer_phone=f"+55 11 9{cid:08d}",
        customer_name=f"Customer {cid}",
        last_message_at=at,
        last_preview=f"preview {cid}",
        last_direction=Direction.IN,
        last_status=DeliveryStatus.RECEIVED,
        unread_count=unread,
    )


class FakeConversations:
    """A ``ConversationSource`` over a dict, paging exactly like ``latest_conversations``."""

    def __init__(self, rows: list[Conversation]) -> None:
        self.rows = {c.id: c for c in rows}
        self.page_calls = 0

    def _sorted(self, account_id: int | None) -> list[Conversation]:
        rows = [c for c in self.rows.values() if account_id in (None, c.account_id)]
        return sorted(rows, key=sort_key)

    async def page(
        self, account_id: int | None, after: tuple[int, int] | None, limit: int
    ) -> list[Conversation]:
        self.page_calls += 1
        rows = self._sorted(account_id)
        if after is not None:
            rows = [c for c in rows if (c.last_message_at, c.id) < after]
        return rows[:limit]

    async def by_id(self, ids: Collection[int]) -> list[Conversation]:
        return [self.rows[i] for i in ids if i in self.rows]

    def touch(self, cid: int, at: int, **changes: Any) -> None:
        self.rows[cid] = self.rows[cid]._replace(last_message_at=at, **changes)


class Spy:
    """Counts a model's structural signals."""

    def __init__(self, model: Any) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        for name in ("modelReset", "rowsInserted", "rowsRemoved", "rowsMoved", "layoutChanged"):
            getattr(model, name).connect(lambda *args, name=name: self.events.append((name, args)))
        model.dataChanged.connect(lambda *args: self.events.append(("dataChanged", args)))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


@pytest.fixture
def source() -> FakeConversations:
    # 95 conversations of number 1 and 5 of number 2, one minute apart, newest has id 100.
    rows = [
        conversation(i, 1_000_000 + i * 60_000, account_id=2 if i % 20 == 0 else 1)
        for i in range(1, 101)
    ]
    return FakeConversations(rows)


@pytest.fixture
def conversations(source: FakeConversations, arun: ARun) -> ConversationListModel:
    model = ConversationListModel(source, page_size=PAGE)
    arun(model.reload(None))
    return model


def ids(model: ConversationListModel) -> list[int]:
    return [model.conversation(r).id for r in range(model.rowCount())]


# -- conversation list -------------------------------------------------------------------------


def fetch_all(conversations: ConversationListModel, arun: ARun) -> None:
    """Load every page; a model that never stops offering more fails instead of hanging."""
    for _ in at_most(100, "the model kept offering more rows"):
        if not conversations.canFetchMore(QModelIndex()):
            break
        arun(conversations.fetch_more())


def test_conversation_list_passes_the_model_tester(
    conversations: ConversationListModel, qtmodeltester: ModelTester, arun: ARun
) -> None:
    arun(conversations.fetch_more())
    qtmodeltester.check(conversations)


def test_first_page_is_the_newest_conversations(conversations: ConversationListModel) -> None:
    assert conversations.rowCount() == PAGE
    assert ids(conversations) == list(range(100, 80, -1))
    assert conversations.canFetchMore(QModelIndex())
    index = conversations.index(0, 0)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "Customer 100"
    assert index.data(ConversationListModel.ConversationIdRole) == 100


def test_fetch_more_pages_until_exhausted(
    conversations: ConversationListModel, source: FakeConversations, arun: ARun
) -> None:
    spy = Spy(conversations)
    fetch_all(conversations, arun)
    assert ids(conversations) == list(range(100, 0, -1))
    assert conversations.exhausted
    assert source.page_calls == 1 + 5  # 100 rows in pages of 20, the last one found empty
    assert "modelReset" not in spy.names()
    assert spy.names().count("rowsInserted") == 4


def test_qt_fetch_more_loads_the_next_page_in_the_background(
    conversations: ConversationListModel, qtbot: QtBot
) -> None:
    with qtbot.waitSignal(conversations.page_loaded, timeout=5000):
        conversations.fetchMore(QModelIndex())
        # A second request while the first is under way is ignored, not doubled.
        assert not conversations.canFetchMore(QModelIndex())
        conversations.fetchMore(QModelIndex())
    assert conversations.rowCount() == 2 * PAGE


def test_a_new_message_moves_one_row_to_the_top_without_a_reset(
    conversations: ConversationListModel,
    source: FakeConversations,
    arun: ARun,
    qtmodeltester: ModelTester,
) -> None:
    fetch_all(conversations, arun)
    qtmodeltester.check(conversations)  # stays attached: checks every signal below
    spy = Spy(conversations)
    source.touch(90, 9_000_000_000, unread_count=1)
    arun(conversations.refresh([90]))
    assert spy.names() == ["rowsMoved", "dataChanged"]
    (_, (_, start, end, _, destination)) = spy.events[0]
    assert (start, end, destination) == (10, 10, 0)
    assert ids(conversations)[:3] == [90, 100, 99]
    assert conversations.rowCount() == 100
    assert conversations.row_of(90) == 0
    assert conversations.index(0, 0).data(ConversationListModel.UnreadRole) == 1


def test_a_change_that_keeps_the_position_only_updates_the_row(
    conversations: ConversationListModel, source: FakeConversations, arun: ARun
) -> None:
    spy = Spy(conversations)
    source.rows[95] = source.rows[95]._replace(unread_count=0, customer_name="Zé")
    arun(conversations.refresh([95]))
    assert spy.names() == ["dataChanged"]
    assert conversations.index(5, 0).data(Qt.ItemDataRole.DisplayRole) == "Zé"


def test_a_row_moving_down_inside_the_window(
    conversations: ConversationListModel, source: FakeConversations, arun: ARun
) -> None:
    spy = Spy(conversations)
    source.touch(100, source.rows[90].last_message_at - 1)  # now sorts just below 90
    arun(conversations.refresh([100]))
    assert spy.names() == ["rowsMoved", "dataChanged"]
    assert ids(conversations)[:12] == [99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 100, 89]


def test_new_conversation_is_inserted_and_deleted_one_removed(
    conversations: ConversationListModel, source: FakeConversations, arun: ARun
) -> None:
    spy = Spy(conversations)
    source.rows[500] = conversation(500, 9_000_000_000)
    del source.rows[99]
    arun(conversations.refresh([500, 99]))
    assert spy.names() == ["rowsInserted", "rowsRemoved"]
    assert ids(conversations)[:3] == [500, 100, 98]


def test_rows_below_the_loaded_pages_wait_for_their_page(
    conversations: ConversationListModel, source: FakeConversations, arun: ARun
) -> None:
    spy = Spy(conversations)
    source.touch(85, 1)  # became the oldest: beyond what is loaded
    source.touch(10, 2)  # not loaded, and still not
    arun(conversations.refresh([85, 10]))
    assert spy.names() == ["rowsRemoved"]
    assert 85 not in ids(conversations)
    fetch_all(conversations, arun)
    assert ids(conversations)[-2:] == [10, 85]
    assert len(set(ids(conversations))) == 100


def test_a_number_filter_lists_only_its_conversations(
    source: FakeConversations, arun: ARun, qtmodeltester: ModelTester
) -> None:
    model = ConversationListModel(source, page_size=PAGE)
    arun(model.reload(2))
    assert ids(model) == [100, 80, 60, 40, 20]
    assert not model.canFetchMore(QModelIndex())
    qtmodeltester.check(model)
    spy = Spy(model)
    source.touch(7, 9_000_000_000)  # number 1's: not shown here
    arun(model.refresh([7]))
    assert spy.names() == []


def test_a_refresh_read_before_a_reload_is_dropped(
    conversations: ConversationListModel, source: FakeConversations, arun: ARun
) -> None:
    async def race() -> None:
        source.touch(81, 9_000_000_000)
        stale = conversations.refresh([81])  # would move 81 up, but the list is re-read
        reload = conversations.reload(2)
        await stale
        await reload

    arun(race())
    assert all(c in (100, 81, 80, 60, 40, 20) for c in ids(conversations))
    assert 81 not in ids(conversations)


def test_account_names_only_in_the_all_numbers_list(
    conversations: ConversationListModel, arun: ARun
) -> None:
    conversations.set_account_names({1: "Padaria", 2: "Oficina"})
    index = conversations.index(0, 0)
    assert index.data(ConversationListModel.AccountNameRole) == "Oficina"
    arun(conversations.reload(1))
    assert conversations.index(0, 0).data(ConversationListModel.AccountNameRole) is None


# -- accounts ----------------------------------------------------------------------------------


def account(aid: int, state: ConnectionState = ConnectionState.CONNECTED) -> Account:
    return Account(
        id=aid,
        name=f"Shop {aid}",
        provider="demo",
        phone=f"+55 11 4000-000{aid}",
        display_name=f"Shop {aid}",
        state=state,
    )


def test_rail_lists_all_numbers_first(qtmodeltester: ModelTester) -> None:
    model = AccountListModel()
    model.set_accounts([account(1), account(2, ConnectionState.NEEDS_REPAIR)], {1: 3, 2: 4})
    qtmodeltester.check(model)
    assert model.rowCount() == 3
    assert model.index(0, 0).data(Qt.ItemDataRole.DisplayRole) == "All numbers"
    assert model.index(0, 0).data(AccountListModel.AccountIdRole) is None
    assert model.index(0, 0).data(AccountListModel.UnreadRole) == 7
    assert model.index(2, 0).data(AccountListModel.StateRole) == "needs_repair"
    assert "Needs repair" in model.index(2, 0).data(Qt.ItemDataRole.ToolTipRole)


def test_rail_updates_badges_without_a_reset() -> None:
    model = AccountListModel()
    model.set_accounts([account(1), account(2)], {1: 3})
    spy = Spy(model)
    model.set_accounts([account(1), account(2, ConnectionState.OFFLINE)], {1: 0})
    assert spy.names() == ["dataChanged", "dataChanged", "dataChanged"]
    assert model.index(0, 0).data(AccountListModel.UnreadRole) == 0
    model.set_accounts([account(1)], {})
    assert spy.names()[-1] == "modelReset"


# -- messages ----------------------------------------------------------------------------------

_NOW = int(dt.datetime.now().timestamp() * 1000)
_DAY = 86_400_000


def message(
    seq: int,
    ts: int,
    *,
    direction: Direction = Direction.IN,
    status: DeliveryStatus = DeliveryStatus.RECEIVED,
    text: str = "",
    type_: MessageType = MessageType.TEXT,
    error: str | None = None,
    media: dict[str, Any] | None = None,
    conversation_id: int = 7,
) -> Message:
    return Message(
        seq=seq,
        id=f"m{seq}",
        account_id=1,
        conversation_id=conversation_id,
        provider_message_id=None,
        direction=direction,
        timestamp_ms=ts,
        type=type_,
        text=text or f"message {seq}",
        sender_name="",
        reply_to=None,
        status=status,
        error=error,
        media=media,
    )


def chat() -> list[Message]:
    start = _NOW - 3 * _DAY
    return [message(i, start + i * (_DAY // 4)) for i in range(1, 10)]


def test_message_model_passes_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = MessageListModel()
    model.show(7, chat(), has_older=True)
    qtmodeltester.check(model)
    model.prepend([message(0, _NOW - 4 * _DAY)], has_older=False)
    model.merge([message(20, _NOW, direction=Direction.OUT, status=DeliveryStatus.QUEUED)])


def test_day_separators_only_where_the_day_changes() -> None:
    model = MessageListModel()
    now = today()
    day_start = int(dt.datetime.combine(dt.date.today(), dt.time()).timestamp() * 1000)
    rows = [
        message(1, day_start - _DAY + 1000),  # yesterday
        message(2, day_start - _DAY + 2000),
        message(3, day_start + 1000),  # today
    ]
    model.show(7, rows, has_older=False)
    separators = [model.index(r, 0).data(MessageListModel.DaySeparatorRole) for r in range(3)]
    assert separators == ["Yesterday", None, "Today"]
    assert day_label(now - 10) not in ("Today", "Yesterday")


def test_status_updates_change_one_row_and_new_messages_append() -> None:
    model = MessageListModel()
    model.show(7, chat(), has_older=False)
    spy = Spy(model)
    sent = message(20, _NOW, direction=Direction.OUT, status=DeliveryStatus.QUEUED)
    assert model.merge([sent]) == 1
    for status in (DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.READ):
        model.merge([dataclasses.replace(sent, status=status)])
    assert spy.names().count("rowsInserted") == 1
    assert "modelReset" not in spy.names()
    assert model.index(model.rowCount() - 1, 0).data(MessageListModel.StatusRole) == "read"
    model.merge([message(30, _NOW, conversation_id=8)])  # another chat's: ignored
    assert model.rowCount() == 10


def test_messages_beyond_a_gap_wait_for_their_page() -> None:
    model = MessageListModel()
    model.show(7, chat()[3:6], has_older=True, has_newer=True)
    assert model.merge([message(1, chat()[0].timestamp_ms), message(99, _NOW + 1000)]) == 0
    assert model.prepend(chat()[:3], has_older=False) == 3
    assert [model.message(r).seq for r in range(model.rowCount())] == [1, 2, 3, 4, 5, 6]


def test_failed_and_unknown_messages_explain_themselves_in_the_tooltip() -> None:
    model = MessageListModel()
    model.show(
        7,
        [
            message(
                1,
                _NOW - 2000,
                direction=Direction.OUT,
                status=DeliveryStatus.FAILED,
                error="131026: recipient cannot receive this message",
            ),
            message(2, _NOW - 1000, direction=Direction.OUT, status=DeliveryStatus.UNKNOWN),
            message(3, _NOW, direction=Direction.OUT, status=DeliveryStatus.DELIVERED),
        ],
        has_older=False,
    )
    tips = [model.index(r, 0).data(Qt.ItemDataRole.ToolTipRole) for r in range(3)]
    assert "recipient cannot receive this message" in tips[0]
    assert "may not have been delivered" in tips[1]
    assert tips[2] is None


@pytest.mark.parametrize(
    ("type_", "text", "media", "expected"),
    [
        (MessageType.IMAGE, "Bolo de cenoura", None, "📷 Photo\nBolo de cenoura"),
        (MessageType.IMAGE, "", None, "📷 Photo"),
        (MessageType.DOCUMENT, "", {"filename": "orcamento.pdf"}, "📄 orcamento.pdf"),
        (MessageType.AUDIO, "", {"duration_s": 12}, "🎤 Voice message 0:12"),
        (MessageType.VIDEO, "Olha", {"duration_s": 65}, "🎥 Video 1:05\nOlha"),
        (MessageType.LOCATION, "", None, "📍 Location"),
        (MessageType.TEXT, "olá\nmundo", None, "olá\nmundo"),
    ],
)
def test_non_text_messages_read_as_placeholders(
    type_: MessageType, text: str, media: dict[str, Any] | None, expected: str
) -> None:
    assert body_for(type_, text, media) == expected


def test_media_previews_read_as_placeholders() -> None:
    assert preview_text("[audio]") == "🎤 Voice message"
    assert preview_text("[document]") == "📄 Document"
    assert preview_text("[nonsense]") == "[nonsense]"
    assert preview_text("Olá\ntudo bem?") == "Olá tudo bem?"


def test_durations() -> None:
    assert [duration(s) for s in (0, 12, 65, 600.4)] == ["0:00", "0:12", "1:05", "10:00"]


# -- search hits -------------------------------------------------------------------------------


def test_matches_ignore_case_and_accents_and_the_last_word_is_a_prefix() -> None:
    assert fold("Açúcar CAFÉ") == "acucar cafe"
    text = "Tem açúcar e café? Quero fazer encomendas."
    assert [text[s : s + n] for s, n in match_spans(text, "acucar")] == ["açúcar"]
    assert [text[s : s + n] for s, n in match_spans(text, "cafe")] == ["café"]
    assert [text[s : s + n] for s, n in match_spans(text, "encomend")] == ["encomendas"]
    assert [text[s : s + n] for s, n in match_spans(text, "açucar caf")] == ["açúcar", "café"]
    assert match_spans(text, "  ") == []


def test_search_hit_model(qtmodeltester: ModelTester) -> None:
    model = SearchHitModel()
    hit = SearchHit(
        message_id="m1",
        conversation_id=7,
        account_id=1,
        customer_name="Ana",
        customer_phone="+55",
        timestamp_ms=_NOW,
        text="Tem café?",
        direction=Direction.IN,
    )
    model.set_account_names({1: "Padaria"})
    model.show("cafe", [hit])
    qtmodeltester.check(model)
    index = model.index(0, 0)
    assert index.data(SearchHitModel.HitRole) is hit
    assert index.data(SearchHitModel.SpansRole) == [(4, 4)]
    assert index.data(SearchHitModel.AccountNameRole) == "Padaria"
