"""The local cache as the engine's store: the ``Store`` verbs (``sync/engine/store.py``) over the
outbox and ingest functions of this package, each run on the ``Database``'s one thread.

This module does not import the engine (a store sits below it): ``LocalStore`` matches the
protocol structurally, and the contract test (``tests/sync/store/test_store_contract.py``)
holds it to it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sync.domain.changes import ChangeSet
from sync.domain.events import ProviderEvent
from sync.domain.messages import TemplateRef
from sync.domain.outbox import Admit, Claim, IngestResult, Outcome
from sync.store.local import outbox
from sync.store.local.database import Database
from sync.store.local.ingest import apply_events


class LocalStore:
    """The engine's store in solo mode: the SQLCipher cache behind ``db``.

    It writes only; publishing what changed to the views (``Database.publish``) stays the
    caller's, who decides when a change is worth a repaint.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def __repr__(self) -> str:
        return f"LocalStore({self._db!r})"

    @property
    def db(self) -> Database:
        """The database this store writes to."""
        return self._db

    async def ingest(self, events: Sequence[ProviderEvent]) -> IngestResult:
        """Persist a batch of provider events (``Store.ingest``)."""
        return await self._db.run(apply_events, events)

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
        _, changes = await self._db.run(
            outbox.enqueue_text,
            conversation_id,
            text,
            reply_to=reply_to,
            now_ms=now_ms,
            client_id=message_id,
        )
        return changes

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
        _, changes = await self._db.run(
            outbox.enqueue_template,
            conversation_id,
            template,
            preview,
            now_ms=now_ms,
            client_id=message_id,
        )
        return changes

    async def send_again(self, message_id: str, copy_id: str, *, now_ms: int) -> ChangeSet:
        """Queue a copy of a failed or unknown text (``Store.send_again``)."""
        _, changes = await self._db.run(
            outbox.send_again, message_id, now_ms=now_ms, client_id=copy_id
        )
        return changes

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
        return await self._db.run(
            outbox.claim_next,
            now_ms=now_ms,
            account_ids=frozenset(ready),
            blocked=blocked,
            lease_until_ms=lease_until_ms,
            admit=admit,
        )

    async def pacing_state(
        self, accounts: Collection[int], *, after: float
    ) -> dict[tuple[int, str], float]:
        """The pacing times later than ``after`` (``Store.pacing_state``)."""
        return await self._db.run(outbox.pacing_state, list(accounts), after)

    async def hold_pacing(self, account_id: int, until: float, *, recipient: str = "") -> None:
        """Hold a number's (or a customer's) sends until ``until`` (``Store.hold_pacing``)."""
        await self._db.run(outbox.hold_pacing, account_id, until, recipient)

    async def forget_pacing(self, *, before: float) -> None:
        """Drop pacing times before ``before`` (``Store.forget_pacing``)."""
        await self._db.run(outbox.forget_pacing, before)

    async def renew_leases(self, message_ids: Collection[str], *, until_ms: int) -> None:
        """Extend the leases of claimed sends (``Store.renew_leases``)."""
        await self._db.run(outbox.renew_leases, list(message_ids), until_ms)

    async def next_due(
        self, ready: Collection[int], blocked: Collection[tuple[int, str]]
    ) -> int | None:
        """When the next claimable entry is due (``Store.next_due``)."""
        return await self._db.run(outbox.next_due_ms, account_ids=frozenset(ready), blocked=blocked)

    async def record_outcome(self, claim: Claim, outcome: Outcome, *, now_ms: int) -> ChangeSet:
        """Write what came of a send (``Store.record_outcome``)."""
        return await self._db.run(outbox.record_outcome, claim, outcome, now_ms=now_ms)

    async def recover_interrupted(self, *, expired_by_ms: int | None) -> ChangeSet:
        """Sends a stop cut short become "unknown" (``Store.recover_interrupted``)."""
        return await self._db.run(outbox.recover_interrupted, expired_by_ms=expired_by_ms)

    async def settle_unconfirmed(self, *, before_ms: int) -> ChangeSet:
        """Old "unknown" sends nothing confirmed become failed (``Store.settle_unconfirmed``)."""
        return await self._db.run(outbox.settle_unconfirmed, before_ms)
