"""What the engine needs from a store: the verbs of the domain, never SQL.

The rules (when to send, how long to back off, how many tries, when to give up waiting for a
receipt) are the engine's; a store keeps what happened, atomically, and answers questions about
it. Each store implements ``Store`` in its own dialect: ``sync/store/local/store.py`` (the
SQLCipher cache, solo) and ``sync/store/team/store.py`` (Postgres, the team server). They do not
import this module (a store sits below the engine); they match it structurally, and
``tests/sync/store/test_store_contract.py``, run against every store, is the definition of
"a store": a new one passes it or is not one.

Ids of messages are strings (our client-made UUIDv7s), times are epoch milliseconds handed in by
the engine's clock (never read by the store), and every verb that writes commits before it
returns and says what it changed (a ``ChangeSet``: empty when it changed nothing).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Protocol

from sync.domain.changes import ChangeSet
from sync.domain.events import ProviderEvent
from sync.domain.messages import TemplateRef
from sync.domain.outbox import Admit, Claim, IngestResult, Outcome

# A (number, recipient) pair per-customer pacing holds back: the number's account id and the
# ``Claim.recipient`` of the messages to hold.
Pair = tuple[int, str]


class Store(Protocol):
    """The messages and outbox of one or many numbers, as the engine sees them."""

    async def ingest(self, events: Sequence[ProviderEvent]) -> IngestResult:
        """Persist a batch of normalized provider events in one transaction, in their order.

        - A message is stored once per (number, provider message id): a redelivery changes
          nothing and is not in ``new_inbound`` again.
        - Every text is cleaned first (``clean_event``: no NUL, U+FFFD for a lone surrogate).
        - A delivery status only moves forward (``DeliveryStatus.can_become``): a repeated or
          late receipt changes nothing, ``failed`` is terminal, and a receipt for a message
          that is not stored is ignored.
        - A receipt carrying our id (``client_ref``) settles our send (an "unknown" one
          included) and teaches it the provider's id.
        - A "from me" message that is the echo of one of our sends (QR providers report our
          own messages, sometimes before the send answers) names that send instead of becoming
          a second message.
        - An edit or a deletion applies to its message; one that arrives before its message
          is kept and applied when the message comes; an edit of a deleted message is ignored.
        - A conversation's preview follows its newest message (an older message arriving late
          does not replace it); each new customer message counts as unread, a message sent
          from the number (the phone, or us) marks the conversation read.

        Returns what changed (empty when nothing did) and the new customer messages, for
        automations. Raises ``UnstorableEvents`` when an event holds a value the store cannot
        take (an integer past 64 bits, an infinite time) or names a number that does not exist:
        nothing of the batch is kept, and trying again would fail again. Any other error means
        the store could not write now (disk, connection): nothing of the batch is kept either,
        and the same events may be tried later. The group commit (``ingest_queue.py``) relies
        on exactly this split and knows no driver's exceptions.
        """
        ...

    async def queue_text(
        self,
        message_id: str,
        conversation_id: int,
        text: str,
        *,
        now_ms: int,
        reply_to: str | None = None,
    ) -> ChangeSet:
        """Write an outgoing text ("queued", dated ``now_ms``) and its outbox entry together.

        ``message_id`` is the client-made UUIDv7: queuing the same id again does nothing (a
        command pushed twice). The text is cleaned like every stored text; one that is empty
        once cleaned is refused (``SendRefused``, code ``empty``), as is an unknown
        conversation. The entry is due at once (``now_ms``).
        """
        ...

    async def queue_template(
        self,
        message_id: str,
        conversation_id: int,
        template: TemplateRef,
        preview: str,
        *,
        now_ms: int,
    ) -> ChangeSet:
        """``queue_text`` for an approved template; ``preview`` is the text the customer will
        read (the bubble, the list, search), the claim carries ``template`` itself. A preview
        that is empty once cleaned is refused (``empty``), as a text is."""
        ...

    async def send_again(self, message_id: str, copy_id: str, *, now_ms: int) -> ChangeSet:
        """Queue ``copy_id``, a new copy of an outgoing text that failed or may not have gone.

        A copy, never a re-queue: "failed" is terminal, and an "unknown" original may still be
        settled by a late receipt, so it keeps its identity. Refused (``SendRefused``) for a
        message that does not exist (``gone``), is not an outgoing failed/unknown one
        (``not_resendable``: a sent or received message), or is not a text (``text_only``).
        Who may send again is the caller's policy, not the store's.
        """
        ...

    async def claim_next(
        self,
        ready: Collection[int],
        blocked: Collection[Pair],
        *,
        now_ms: int,
        lease_until_ms: int,
        admit: Admit | None = None,
    ) -> Claim | None:
        """Claim one due message and commit it "sending" before returning it; None if none.

        With ``admit``, the claim also spends pacing, in its own transaction: the store locks
        the pacing times of the candidate's number and (number, recipient), calls
        ``admit(account_id, recipient, number_time, recipient_time)`` (None for a time never
        written), and writes the new times it returns; when it returns None the send must wait,
        and nothing is claimed. Concurrent claims of one number take turns on its lock, so its
        limits hold across every dispatcher of the store.

        The claim holds a lease until ``lease_until_ms``: while it lasts (``renew_leases``
        extends it) no recovery touches the send; once it ended, the claimer is taken to have
        stopped (``recover_interrupted``).

        Claimable: an entry of a number in ``ready`` whose (number, recipient) is not in
        ``blocked``, due by ``now_ms``, and the oldest entry of its conversation: a
        conversation's messages leave in the order they were written, a later one waiting
        while an earlier one is being sent or waits out a retry, while other conversations of
        the same number go ahead. Among those, the earliest due, then the oldest. Concurrent
        claimers (tasks, processes) never get the same entry.
        """
        ...

    async def pacing_state(self, accounts: Collection[int], *, after: float) -> dict[Pair, float]:
        """The pacing times (epoch seconds) of these numbers later than ``after``, keyed by
        (number, recipient), the recipient "" being the number's own limit (what ``admit`` and
        ``hold_pacing`` wrote). A time at or before now holds nothing back."""
        ...

    async def hold_pacing(self, account_id: int, until: float, *, recipient: str = "") -> None:
        """Make the pacing time of the number (or, with ``recipient``, of that customer) at
        least ``until``: a provider's "slow down" holds them for every dispatcher."""
        ...

    async def forget_pacing(self, *, before: float) -> None:
        """Drop the pacing times earlier than ``before`` (a time in the past is the same as
        none)."""
        ...

    async def next_due(self, ready: Collection[int], blocked: Collection[Pair]) -> int | None:
        """When (epoch ms) the next entry ``claim_next`` could take becomes due, with the same
        filters; at or before now when one is due already; None when none could be claimed
        (nothing queued, or all behind a message being sent), so the dispatcher sleeps."""
        ...

    async def record_outcome(self, claim: Claim, outcome: Outcome, *, now_ms: int) -> ChangeSet:
        """Write what came of a claimed send, in one transaction.

        ``sent`` records the provider's id (and folds in an echo stored under it, keeping the
        receipts it had); ``failed`` records the reason; ``unknown`` keeps the message
        unclaimable until a receipt settles it; ``retry`` puts it back to "queued", due at
        ``now_ms + delay_s``, unless a receipt or echo already proved the provider took it.
        Statuses still only move forward (a receipt that came first stays).

        If the claim is no longer "sending" (recovery marked it unknown meanwhile), only a
        ``sent`` is recorded, for its provider id. How many tries to allow is the engine's
        rule: the store records each one (``Claim.attempts``) and never gives up by itself.
        """
        ...

    async def renew_leases(self, message_ids: Collection[str], *, until_ms: int) -> None:
        """Extend to ``until_ms`` the leases of these claims, those still "sending" (a claim
        recovery settled meanwhile stays settled)."""
        ...

    async def recover_interrupted(self, *, expired_by_ms: int | None) -> ChangeSet:
        """Mark "unknown" every send left "sending" whose lease ended before ``expired_by_ms``
        (a claim without a lease counts as ended): its dispatcher stopped. Never resent: a
        receipt settles them later. With None, every send "sending", whatever its lease: only
        for a caller that knows no dispatcher is running (solo mode at start)."""
        ...

    async def settle_unconfirmed(self, *, before_ms: int) -> ChangeSet:
        """Mark failed (``UNCONFIRMED_REASON``) the "unknown" sends with no provider id that
        were written before ``before_ms``: nothing confirmed them, so they never went. When
        that is safe to conclude (``UNCONFIRMED_AFTER_S`` after the engine could hear
        receipts) is the engine's rule."""
        ...


if TYPE_CHECKING:
    # mypy --strict checks here that both stores keep the protocol's signatures (the contract
    # test checks their behaviour); only the type checker reads this.
    from sync.store.local.store import LocalStore
    from sync.store.team.store import TeamStore

    def _both_are_stores(local: LocalStore, team: TeamStore) -> tuple[Store, Store]:
        return local, team
