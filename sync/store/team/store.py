"""The team's Postgres as the engine's store: the ``Store`` verbs (``sync/engine/store.py``)
over the ingest and outbox functions of this package, each run off the event loop.

This module does not import the engine (a store sits below it): ``TeamStore`` matches the
protocol structurally, and the contract test (``tests/sync/store/test_store_contract.py``)
holds it to it. It works under the server's system scope, across workspaces, as the
dispatcher does; what agents may do is the sync API's business (``sync/server/``), and a
team-only policy such as "only supervisors send again" stays there (``retry_message``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import text

from sync.domain.changes import ChangeSet
from sync.domain.events import ProviderEvent
from sync.domain.messages import TemplateRef, template_spec
from sync.domain.models import MessageType
from sync.domain.outbox import Admit, Claim, IngestResult, Outcome, text_to_send
from sync.store.team import outbox
from sync.store.team.database import ServerDatabase
from sync.store.team.ingest import EnqueueError, enqueue_send, ingest_events


class TeamStore:
    """The engine's store on the team server: the Postgres database behind ``db``.

    Several ``TeamStore`` objects (one per task, per process) may share one database: claims
    never hand out the same message twice.
    """

    def __init__(self, db: ServerDatabase) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"TeamStore({self._db!r})"

    @property
    def db(self) -> ServerDatabase:
        """The database this store writes to."""
        return self._db

    async def ingest(self, events: Sequence[ProviderEvent]) -> IngestResult:
        """Persist a batch of provider events (``Store.ingest``)."""
        return await ingest_events(self._db, events)

    async def queue_text(
        self,
        message_id: str,
        conversation_id: int,
        text: str,
        *,
        now_ms: int,
        reply_to: str | None = None,
    ) -> ChangeSet:
        """Queue an outgoing text (``Store.queue_text``)."""
        return await asyncio.to_thread(
            self._queue, message_id, conversation_id, MessageType.TEXT, text, now_ms, reply_to
        )

    async def queue_template(
        self,
        message_id: str,
        conversation_id: int,
        template: TemplateRef,
        preview: str,
        *,
        now_ms: int,
    ) -> ChangeSet:
        """Queue an approved template (``Store.queue_template``)."""
        if not template.name or not template.language:
            raise EnqueueError("a template needs its name and language")
        return await asyncio.to_thread(
            self._queue,
            message_id,
            conversation_id,
            MessageType.TEMPLATE,
            preview,
            now_ms,
            None,
            template_spec(template),
        )

    def _queue(
        self,
        message_id: str,
        conversation_id: int,
        type_: MessageType,
        body: str,
        now_ms: int,
        reply_to: str | None,
        template: dict[str, Any] | None = None,
    ) -> ChangeSet:
        # Cleaned as every stored text (Postgres refuses a NUL); nothing left is refused.
        body = text_to_send(body, EnqueueError)
        with self._db.system() as conn:
            found = conn.execute(
                text(
                    "SELECT workspace_id, account_id, chat_key FROM conversations"
                    " WHERE id = :c AND NOT deleted"
                ),
                {"c": conversation_id},
            ).first()
            if found is None:
                raise EnqueueError(f"conversation {conversation_id} does not exist")
            ws, account_id, chat_key = found
            already = conn.execute(
                text("SELECT 1 FROM messages WHERE id = :id"), {"id": uuid.UUID(message_id)}
            ).first()
            if already is not None:
                return ChangeSet()  # queued by an earlier call with this id: nothing again
            enqueue_send(
                conn,
                message_id=uuid.UUID(message_id),
                workspace_id=int(ws),
                account_id=int(account_id),
                conversation_id=conversation_id,
                recipient=str(chat_key),
                body=body,
                author_user_id=None,
                reply_to=reply_to,
                ts_ms=now_ms,
                template=template,
                due_ms=now_ms,
            )
        return ChangeSet.of_message(int(account_id), conversation_id, message_id)

    async def send_again(self, message_id: str, copy_id: str, *, now_ms: int) -> ChangeSet:
        """Queue a copy of a failed or unknown text (``Store.send_again``)."""
        return await asyncio.to_thread(self._send_again, message_id, copy_id, now_ms)

    def _send_again(self, message_id: str, copy_id: str, now_ms: int) -> ChangeSet:
        original = _uuid_or_none(message_id)
        with self._db.system() as conn:
            found = (
                None
                if original is None
                else conn.execute(
                    text(
                        "SELECT workspace_id, account_id, conversation_id FROM messages"
                        " WHERE id = :id"
                    ),
                    {"id": original},
                ).first()
            )
            if original is None or found is None:
                raise outbox.RetryRefused("that message does not exist", "gone")
            ws, account_id, conversation_id = found
            outbox.copy_for_resend(
                conn,
                original,
                uuid.UUID(copy_id),
                workspace_id=int(ws),
                author_user_id=None,
                ts_ms=now_ms,
                due_ms=now_ms,
            )
        return ChangeSet.of_message(int(account_id), int(conversation_id), copy_id)

    async def claim_next(
        self,
        ready: Collection[int],
        blocked: Collection[tuple[int, str]],
        *,
        now_ms: int,
        lease_until_ms: int,
        admit: Admit | None = None,
    ) -> Claim | None:
        """Claim the next due head of a conversation (``Store.claim_next``)."""
        if not ready:
            return None
        return await asyncio.to_thread(
            outbox.claim_next,
            self._db,
            sorted(ready),
            outbox.blocked_keys(blocked),
            now_ms=now_ms,
            lease_until_ms=lease_until_ms,
            admit=admit,
        )

    async def pacing_state(
        self, accounts: Collection[int], *, after: float
    ) -> dict[tuple[int, str], float]:
        """The pacing times later than ``after`` (``Store.pacing_state``)."""
        if not accounts:
            return {}
        return await asyncio.to_thread(outbox.pacing_state, self._db, sorted(accounts), after)

    async def hold_pacing(self, account_id: int, until: float, *, recipient: str = "") -> None:
        """Hold a number's (or a customer's) sends until ``until`` (``Store.hold_pacing``)."""
        await asyncio.to_thread(outbox.hold_pacing, self._db, account_id, until, recipient)

    async def forget_pacing(self, *, before: float) -> None:
        """Drop pacing times before ``before`` (``Store.forget_pacing``)."""
        await asyncio.to_thread(outbox.forget_pacing, self._db, before)

    async def renew_leases(self, message_ids: Collection[str], *, until_ms: int) -> None:
        """Extend the leases of claimed sends (``Store.renew_leases``)."""
        await asyncio.to_thread(outbox.renew_leases, self._db, list(message_ids), until_ms)

    async def next_due(
        self, ready: Collection[int], blocked: Collection[tuple[int, str]]
    ) -> int | None:
        """When the next claimable entry is due (``Store.next_due``)."""
        if not ready:
            return None
        return await asyncio.to_thread(
            outbox.next_due_ms, self._db, sorted(ready), outbox.blocked_keys(blocked)
        )

    async def record_outcome(self, claim: Claim, outcome: Outcome, *, now_ms: int) -> ChangeSet:
        """Write what came of a send (``Store.record_outcome``)."""
        return await asyncio.to_thread(
            outbox.record_outcome, self._db, claim, outcome, now_ms=now_ms
        )

    async def recover_interrupted(self, *, expired_by_ms: int | None) -> ChangeSet:
        """Sends a stop cut short become "unknown" (``Store.recover_interrupted``)."""
        return await asyncio.to_thread(outbox.recover, self._db, expired_by_ms=expired_by_ms)

    async def settle_unconfirmed(self, *, before_ms: int) -> ChangeSet:
        """Old "unknown" sends nothing confirmed become failed (``Store.settle_unconfirmed``)."""
        return await asyncio.to_thread(outbox.fail_unconfirmed, self._db, before_ms)


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
