"""The inbox screen's presenter: what the main window shows, and every action it offers.

Each user action is one awaitable method (tests call them as the buttons do); every store read
runs on the database thread through ``Database.run``, and what the engine writes comes back as
change sets, coalesced for a moment so a burst of receipts costs one re-read.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QLocale, QObject, QTimer, Signal

from desktop import bridge
from desktop.models.account_list_model import AccountListModel
from desktop.models.conversation_list_model import ConversationListModel, DatabaseConversations
from sync.domain.changes import ChangeSet
from sync.domain.models import Account, Conversation, Direction
from sync.store.local import queries

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from desktop.backend import Backend, Features
    from desktop.models.message_list_model import MessageListModel
    from desktop.models.search_hit_model import SearchHitModel
    from sync.domain.messages import Message
    from sync.providers.base import Capabilities
    from sync.store.local.first_screen import FirstScreen
    from sync.store.local.local_cache import LocalCache  # on the DB thread, off the start-up path
    from sync.store.local.search import SearchHit

MESSAGE_PAGE = 50
AROUND = 25  # messages loaded on each side of a search hit
SEARCH_LIMIT = 100
# Long enough to fold a burst (a message, its conversation, its receipts) into one re-read,
# short enough to feel instant.
COALESCE_MS = 30


def _rail(cache: LocalCache) -> tuple[list[Account], dict[int, int]]:
    return queries.list_accounts(cache), queries.unread_by_account(cache)


def _open(
    cache: LocalCache, conversation_id: int, limit: int
) -> tuple[Conversation | None, list[Message]]:
    found = queries.conversations_by_id(cache, [conversation_id])
    if not found:
        return None, []
    return found[0], queries.message_page(cache, conversation_id, limit=limit)


class InboxPresenter(QObject):
    """Numbers, their conversations and the open chat, over one ``Backend``."""

    account_selected = Signal(object)  # int | None (None: every number)
    conversation_opened = Signal(object)  # Conversation | None (None: no chat open)
    conversation_updated = Signal(object)  # Conversation: the open one changed (name, …)
    message_revealed = Signal(int)  # row of ``messages`` to select and scroll to
    older_loaded = Signal(int)  # rows added above
    newer_loaded = Signal(int)  # rows added below
    message_queued = Signal(object)  # Message: the agent's message is safe on disk
    send_failed = Signal(str, str)  # text, reason: give the text back to the composer
    search_finished = Signal(str, int)  # query, hit count
    # ServiceWindow | None: the 24-hour customer-service window of the open chat (None: the
    # number's provider has no such rule)
    reply_window_changed = Signal(object)
    # Who has the open chat, a backend.Assignment (name, is it me), or None: nobody has it, or
    # the backend has no owners (``features.assignments``).
    assignment_changed = Signal(object)
    # The open chat's internal notes (a list of queries.Note; None: the backend has no notes).
    notes_changed = Signal(object)
    # The backend refused an assignment made here (the reason, in the server's words).
    assignment_refused = Signal(str)

    def __init__(
        self,
        backend: Backend | None,
        parent: QObject | None = None,
        *,
        message_page_size: int = MESSAGE_PAGE,
    ) -> None:
        super().__init__(parent)
        self._page = message_page_size
        self.accounts = AccountListModel(self)
        self.conversations = ConversationListModel(None, self)
        # Made on first use: the first paint shows neither a chat nor search results.
        self._messages: MessageListModel | None = None
        self._search_hits: SearchHitModel | None = None
        self._account_id: int | None = None
        self._current: Conversation | None = None
        # Bumped whenever another chat is opened: a page read for the previous one is dropped.
        self._chat_ticket = 0
        self._search_tickets = itertools.count(1)
        self._latest_search = 0
        self._loading_older = False
        self._loading_newer = False
        self.attentive = True  # the window is in front: messages arriving in the open chat are read
        self._features: Features | None = None
        self._pending = ChangeSet()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._unsubscribe: Any = None
        if backend is not None:
            self.attach(backend)

    @property
    def backend(self) -> Backend:
        """The backend the presenter works over (once attached)."""
        return self._backend

    @property
    def features(self) -> Features:
        """What the backend lets the user do: known once loaded (a team's depends on the
        role); until then, nothing beyond reading."""
        if self._features is None:
            from desktop.backend import Features

            self._features = Features()
        return self._features

    @property
    def messages(self) -> MessageListModel:
        """The open chat's messages."""
        if self._messages is None:
            from desktop.models.message_list_model import MessageListModel

            self._messages = MessageListModel(self)
        return self._messages

    @property
    def search_hits(self) -> SearchHitModel:
        """The results of the last search."""
        if self._search_hits is None:
            from desktop.models.search_hit_model import SearchHitModel

            self._search_hits = SearchHitModel(self)
            self._search_hits.set_account_names(self.accounts.account_names())
        return self._search_hits

    @property
    def attached(self) -> bool:
        """Whether the backend is attached (see ``attach``)."""
        return hasattr(self, "_backend")

    def attach(self, backend: Backend) -> None:
        """Work over ``backend`` from now on.

        The app builds and paints the window from a quick read of the cache before the event
        loop and the backend exist (``desktop.app``), then attaches it; everything else
        requires it.
        """
        import asyncio  # here, not at the top: the first paint happens before asyncio loads

        self._backend = backend
        self._db = backend.db
        self.conversations.set_source(DatabaseConversations(backend.db))
        self._apply_lock = asyncio.Lock()

    # -- state -------------------------------------------------------------------------------

    @property
    def account_id(self) -> int | None:
        """The number whose conversations are listed (None: every number)."""
        return self._account_id

    @property
    def current_conversation(self) -> Conversation | None:
        """The open chat's conversation, as last read."""
        return self._current

    # -- actions -----------------------------------------------------------------------------

    def preload(self, first: FirstScreen) -> None:
        """Show what a quick read found, before the cache is fully open (the first paint)."""
        self._set_accounts(first.accounts, first.unread)
        self.conversations.show_page(self._account_id, first.conversations)

    async def load(self) -> None:
        """Fill the rail and the first page of conversations; follow changes from then on."""
        if self._unsubscribe is None:
            self._unsubscribe = self._db.subscribe(self._on_db_changed)
        import asyncio

        await asyncio.gather(self._refresh_rail(), self.conversations.reload(self._account_id))
        self._features = await self._backend.features()

    def close(self) -> None:
        """Stop following changes (the window closed; the database closes next)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._timer.stop()
        self._pending = ChangeSet()

    async def select_account(self, account_id: int | None) -> None:
        """List one number's conversations (None: every number's)."""
        if account_id == self._account_id and self.conversations.account_id == account_id:
            return
        self._account_id = account_id
        self.account_selected.emit(account_id)
        await self.conversations.reload(account_id)
        if (
            self._current is not None
            and account_id is not None
            and self._current.account_id != account_id
        ):
            self._close_chat()

    async def open_conversation(self, conversation_id: int) -> None:
        """Show a conversation's latest messages and mark it read."""
        self._chat_ticket += 1
        ticket = self._chat_ticket
        conversation, page = await self._db.run(_open, conversation_id, self._page)
        if ticket != self._chat_ticket:
            return
        if conversation is None:
            self._close_chat()
            return
        self._current = conversation
        self._loading_older = self._loading_newer = False
        self.messages.show(conversation_id, page, has_older=len(page) >= self._page)
        self.conversation_opened.emit(conversation)
        await self._refresh_reply_window(conversation)
        await self._refresh_team_header(conversation)
        await self._mark_read(conversation)

    def _capabilities(self, account_id: int) -> Capabilities | None:
        """What the number's provider declares it can do (None: unknown number or provider)."""
        account = self.accounts.account(account_id)
        return None if account is None else self._backend.number_capabilities(account)

    async def _refresh_reply_window(self, conversation: Conversation) -> None:
        """Tell the composer whether a free-form reply may go out (the 24-hour rule)."""
        capabilities = self._capabilities(conversation.account_id)
        # Only a provider that declares the customer-service window has one (Meta's Cloud API:
        # free-form text within 24 hours of the customer's last message); a linked phone writes
        # whenever it likes.
        if capabilities is None or not capabilities.service_window:
            self.reply_window_changed.emit(None)
            return
        import time

        # The rule is the WhatsApp Business Platform's, written once with Meta's provider (a
        # small module: the package loads without its adapter).
        from sync.providers.meta_cloud.window import service_window

        last_ms = await self._db.run(queries.last_inbound_ms, conversation.id)
        if self._current is None or self._current.id != conversation.id:
            return
        window = service_window(None if last_ms is None else last_ms / 1000, time.time())
        self.reply_window_changed.emit(window)

    async def refresh_reply_window(self) -> None:
        """Say again whether the open chat's 24-hour window is open (it closes while shown)."""
        if self._current is not None:
            await self._refresh_reply_window(self._current)

    async def open_hit(self, hit: SearchHit) -> None:
        """Open a search hit's conversation around the message, and select that message."""
        if self._account_id is not None and self._account_id != hit.account_id:
            await self.select_account(hit.account_id)
        self._chat_ticket += 1
        ticket = self._chat_ticket
        conversation, around = await self._db.run(_around, hit.conversation_id, hit.message_id)
        if ticket != self._chat_ticket:
            return
        if conversation is None:
            self._close_chat()
            return
        anchor = next((i for i, m in enumerate(around) if m.id == hit.message_id), None)
        if anchor is None:  # deleted since the search ran: show the latest instead
            await self.open_conversation(hit.conversation_id)
            return
        self._current = conversation
        self._loading_older = self._loading_newer = False
        self.messages.show(
            conversation.id,
            around,
            has_older=anchor >= AROUND,
            has_newer=len(around) - anchor - 1 >= AROUND,
        )
        self.conversation_opened.emit(conversation)
        await self._refresh_reply_window(conversation)
        await self._refresh_team_header(conversation)  # who has it, its notes
        row = self.messages.row_of(hit.message_id)
        if row is not None:
            self.message_revealed.emit(row)
        await self._mark_read(conversation)

    async def load_older(self) -> int:
        """Add the page before the oldest loaded message; returns how many were added."""
        cursor = self.messages.oldest_cursor()
        conversation_id = self.messages.conversation_id
        if (
            self._loading_older
            or not self.messages.has_older
            or cursor is None
            or conversation_id is None
        ):
            return 0
        self._loading_older = True
        ticket = self._chat_ticket
        try:
            page = await self._db.run(
                queries.message_page, conversation_id, before=cursor, limit=self._page
            )
        finally:
            if ticket == self._chat_ticket:
                self._loading_older = False
        if ticket != self._chat_ticket:
            return 0
        added = self.messages.prepend(page, has_older=len(page) >= self._page)
        self.older_loaded.emit(added)
        return added

    async def load_newer(self) -> int:
        """After a jump to a search hit: add the page after the newest loaded message."""
        cursor = self.messages.newest_cursor()
        conversation_id = self.messages.conversation_id
        if (
            self._loading_newer
            or not self.messages.has_newer
            or cursor is None
            or conversation_id is None
        ):
            return 0
        self._loading_newer = True
        ticket = self._chat_ticket
        try:
            page = await self._db.run(
                queries.messages_after, conversation_id, cursor, limit=self._page
            )
        finally:
            if ticket == self._chat_ticket:
                self._loading_newer = False
        if ticket != self._chat_ticket:
            return 0
        added = self.messages.append(page, has_newer=len(page) >= self._page)
        self.newer_loaded.emit(added)
        return added

    async def send_text(self, text: str) -> Message | None:
        """Queue ``text`` in the open chat; None when there is nothing to send or it failed."""
        conversation = self._current
        if conversation is None or not text.strip():
            return None
        capabilities = self._capabilities(conversation.account_id)
        if capabilities is not None and len(text) > capabilities.max_text_length:
            # Refused here, where the text can still be shortened, rather than by the provider
            # once it is queued: the longest text the number's provider takes (declared).
            limit = QLocale().toString(capabilities.max_text_length)
            self.send_failed.emit(
                text,
                self.tr(
                    "the message is longer than this number can send (%1 characters): "
                    "shorten it or send it in parts."
                ).replace("%1", limit),
            )
            return None
        if self.messages.has_newer:  # the chat shows the past: jump to the present first
            await self.open_conversation(conversation.id)
        from sync.client.push import CommandError
        from sync.store.local import outbox

        try:
            message = await self._backend.send_text(conversation.id, text)
        except (outbox.OutboxError, CommandError) as exc:
            self.send_failed.emit(text, self.reason(exc))
            return None
        self.messages.merge([message])  # at once, not after the change set's round trip
        self.message_queued.emit(message)
        return message

    async def _refresh_team_header(self, conversation: Conversation) -> None:
        await self._refresh_assignment(conversation)
        await self._refresh_notes(conversation)

    async def _refresh_assignment(self, conversation: Conversation) -> None:
        """Tell the header who has the open chat (only where conversations have owners)."""
        if not self.features.assignments:
            return
        assignment = await self._backend.assignment(conversation.id)
        if self._current is not None and self._current.id == conversation.id:
            self.assignment_changed.emit(assignment)

    async def _refresh_notes(self, conversation: Conversation) -> None:
        """The open chat's internal notes (None where the backend has none)."""
        if not self.features.notes:
            self.notes_changed.emit(None)
            return
        found = await self._backend.notes(conversation.id)
        if self._current is not None and self._current.id == conversation.id:
            self.notes_changed.emit(found)

    async def add_note(self, text: str) -> bool:
        """An internal note on the open chat, for colleagues (never the customer)."""
        conversation = self._current
        if conversation is None or not self.features.notes or not text.strip():
            return False
        await self._backend.add_note(conversation.id, text.strip())
        await self._refresh_notes(conversation)
        return True

    async def teammates(self) -> list[queries.Teammate]:
        """Who a conversation can be given to."""
        return await self._backend.teammates()

    async def assign(self, user_id: int | None) -> None:
        """Give the open chat to ``user_id``, or to nobody (None), where the user may.

        The backend decides; its answer shows in the header, and a refusal is said.
        """
        conversation = self._current
        if conversation is None or not self.features.can_assign:
            return
        refused = await self._backend.assign(conversation.id, user_id)
        if refused is not None:
            self.assignment_refused.emit(refused)
        if self._current is not None and self._current.id == conversation.id:
            await self._refresh_assignment(conversation)

    async def claim(self) -> None:
        """Take the open conversation (refused if a colleague has it), where the user may."""
        conversation = self._current
        if conversation is None or not self.features.can_take:
            return
        await self._backend.claim(conversation.id)
        await self._refresh_assignment(conversation)

    def can_send_templates(self) -> bool:
        """Whether the open chat's number can send an approved template (its provider says)."""
        conversation = self._current
        if conversation is None or not self.attached:
            return False
        capabilities = self._capabilities(conversation.account_id)
        return capabilities is not None and capabilities.templates

    async def list_templates(self) -> list[Any]:
        """The approved templates of the open chat's number (asked of the provider)."""
        conversation = self._current
        if conversation is None:
            return []
        return await self._backend.list_templates(conversation.account_id)

    async def send_template(
        self, template: Any, header: Sequence[str], body: Sequence[str]
    ) -> Message | None:
        """Queue ``template`` (a ``TemplateInfo``) with its parameters in the open chat."""
        from sync.domain.messages import TemplateRef

        conversation = self._current
        if conversation is None:
            return None
        ref = TemplateRef(template.name, template.language, tuple(body), tuple(header))
        message = await self._backend.send_template(
            conversation.id, ref, template.render(header, body)
        )
        self.messages.merge([message])
        self.message_queued.emit(message)
        return message

    async def send_again(self, message_id: str) -> Message | None:
        """Queue a new copy of a message that failed or may not have been sent."""
        from sync.store.local import outbox

        try:
            message = await self._backend.send_again(message_id)
        except outbox.OutboxError as exc:
            self.send_failed.emit("", self.reason(exc))
            return None
        self.messages.merge([message])
        self.message_queued.emit(message)
        return message

    def reason(self, error: Exception) -> str:
        """Why a message could not be queued or sent again, in the user's language."""
        code = getattr(error, "code", "other")
        if code == "empty":
            return self.tr("an empty message cannot be sent")
        if code == "gone":
            return self.tr("that message no longer exists")
        if code == "not_resendable":
            return self.tr("only a message that failed or may not have been sent can be resent")
        if code == "text_only":
            return self.tr("only text messages can be sent again")
        if code == "supervisor_only":
            return self.tr("only a supervisor can send a failed message again")
        return str(error)  # not foreseen: the engine's own words

    async def search(self, text: str) -> list[SearchHit]:
        """Search every message of every number; the newest query's hits fill ``search_hits``."""
        ticket = next(self._search_tickets)
        self._latest_search = ticket
        query = text.strip()
        from sync.store.local.search import search_messages

        hits = await self._db.run(search_messages, query, limit=SEARCH_LIMIT) if query else []
        if ticket == self._latest_search:
            self.search_hits.show(query, hits)
            self.search_finished.emit(query, len(hits))
        return hits

    async def reload(self) -> None:
        """Read everything shown again (after a bulk change)."""
        await self.load()
        if self._current is not None:
            await self.open_conversation(self._current.id)

    async def apply_changes(self, changes: ChangeSet) -> None:
        """Bring the models up to date with what a write changed."""
        async with self._apply_lock:
            if changes.reset:
                await self.reload()
                return
            if changes.accounts:
                await self._refresh_rail()
            if changes.conversations:
                await self.conversations.refresh(changes.conversations)
            current = self._current
            if current is None or current.id not in changes.conversations:
                return
            fresh = self.conversations.find(current.id)
            messages: list[Message] = []
            if fresh is None or changes.messages:
                fresh_rows, messages = await self._db.run(
                    _conversation_and_messages, current.id, sorted(changes.messages)
                )
                fresh = fresh_rows or fresh
            if self._current is None or self._current.id != current.id:
                return  # another chat opened meanwhile
            self.messages.merge(messages)
            if fresh is not None and fresh != self._current:
                self._current = fresh
                self.conversation_updated.emit(fresh)
                await self._refresh_reply_window(fresh)
            if self._current is not None:
                await self._refresh_assignment(self._current)
                if current.id in changes.conversations:
                    await self._refresh_notes(self._current)
            if self.attentive and any(m.direction is Direction.IN for m in messages):
                await self._mark_read(self._current)

    # -- internals ---------------------------------------------------------------------------

    def _close_chat(self) -> None:
        self._chat_ticket += 1
        self._current = None
        self.messages.clear()
        self.conversation_opened.emit(None)

    async def _mark_read(self, conversation: Conversation | None) -> None:
        if conversation is not None and conversation.unread_count > 0:
            await self._backend.mark_read(conversation.id)

    async def _refresh_rail(self) -> None:
        accounts, unread = await self._db.run(_rail)
        self._set_accounts(accounts, unread)

    def _set_accounts(self, accounts: Sequence[Account], unread: Mapping[int, int]) -> None:
        """The rail's numbers, and their names wherever a row says which number it is."""
        self.accounts.set_accounts(accounts, unread)
        names = self.accounts.account_names()
        self.conversations.set_account_names(names)
        if self._search_hits is not None:  # made later with the names of the moment
            self._search_hits.set_account_names(names)

    def _on_db_changed(self, changes: ChangeSet) -> None:
        self._pending = self._pending | changes
        if not self._timer.isActive():
            self._timer.start()

    def _on_timer_timeout(self) -> None:
        changes, self._pending = self._pending, ChangeSet()
        if changes:
            bridge.spawn(self.apply_changes(changes))


def _around(
    cache: LocalCache, conversation_id: int, message_id: str
) -> tuple[Conversation | None, list[Message]]:
    found = queries.conversations_by_id(cache, [conversation_id])
    if not found:
        return None, []
    return found[0], queries.messages_around(cache, message_id, before=AROUND, after=AROUND)


def _conversation_and_messages(
    cache: LocalCache, conversation_id: int, message_ids: list[str]
) -> tuple[Conversation | None, list[Message]]:
    found = queries.conversations_by_id(cache, [conversation_id])
    rows = queries.messages_by_id(cache, message_ids)
    return (found[0] if found else None), [m for m in rows if m.conversation_id == conversation_id]
