"""What the engine and a store hand each other: a claimed send, what came of it, what an
ingest changed, and the refusal of a send that cannot be queued.

One definition for both stores (the local cache and the team's Postgres), so the one dispatcher
the engine runs reads the same claim and writes the same outcome whichever store it drives
(the verbs are in ``sync/engine/store.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

from sync.domain.changes import ChangeSet
from sync.domain.messages import OutgoingMessage
from sync.domain.models import DeliveryStatus, Direction, MessageType
from sync.domain.text import clean_text

OutcomeKind = Literal["sent", "failed", "unknown", "retry"]

# Pacing's say on a claim (the engine's ``Pacer.admit`` at the claim's time), which a store calls
# inside its claim transaction: (account id, recipient, the number's pacing time, the
# recipient's; None for one never written) -> their new times (None: nothing to write), or
# None: the send must wait.
Admit = Callable[[int, str, float | None, float | None], tuple[float | None, float | None] | None]


class SendRefused(ValueError):
    """A message that cannot be queued or sent again; the message says why, in English.

    ``code`` names the reason for the interface, which words it in the user's language:
    ``empty``, ``gone``, ``not_resendable``, ``text_only``, ``supervisor_only``, or ``other``.
    """

    def __init__(self, message: str, code: str = "other") -> None:
        super().__init__(message)
        self.code = code


def text_to_send(text: str, refusal: type[SendRefused] = SendRefused) -> str:
    """``text`` as it will be stored and sent: cleaned (``clean_text``), and refused with
    ``refusal`` (code ``empty``) when nothing but blanks is left. The one rule for every queue
    a text goes through (the local outbox, the team's, the team client's pending commands)."""
    cleaned = clean_text(text)
    if not cleaned.strip():
        raise refusal("an empty message cannot be sent", "empty")
    return cleaned


def check_resendable(
    direction: str,
    status: str,
    type_: str,
    body: str | None,
    refusal: type[SendRefused] = SendRefused,
) -> None:
    """Refuse (with ``refusal``) to send a message again unless it is an outgoing text that
    failed or may not have gone ("unknown"): a sent or received message, or a media one, is not
    copied. The one rule of both stores' ``send_again``."""
    if direction != Direction.OUT.value or status not in (
        DeliveryStatus.UNKNOWN.value,
        DeliveryStatus.FAILED.value,
    ):
        raise refusal(
            "only a message that failed or may not have been sent can be resent", "not_resendable"
        )
    if type_ != MessageType.TEXT.value or not body:
        raise refusal("only text messages can be sent again", "text_only")


@dataclass(frozen=True, slots=True)
class Claim:
    """An outgoing message claimed for sending: committed "sending" before the provider is called.

    ``recipient`` is the key per-customer pacing blocks on (the conversation's chat key): a
    claim skips the (number, recipient) pairs it is told are blocked. ``attempts`` counts the
    tries including this one (1 on the first). ``workspace_id`` is the team's tenant (0 solo).
    """

    message: OutgoingMessage
    conversation_id: int
    recipient: str
    attempts: int
    workspace_id: int = 0

    @property
    def message_id(self) -> str:
        """Our id of the message (the client-made UUIDv7)."""
        return self.message.client_id

    @property
    def account_id(self) -> int:
        """The number that sends it."""
        return self.message.account_id

    @property
    def changes(self) -> ChangeSet:
        """What the claim changed (the message is now "sending")."""
        return ChangeSet.of_message(self.account_id, self.conversation_id, self.message_id)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of one send.

    - ``sent``: the provider took it and named it ``provider_message_id``;
    - ``failed``: refused for good, ``reason`` shown to the agent;
    - ``unknown``: the provider was called but its answer was lost (never resent blindly);
    - ``retry``: the provider certainly did not take it; try again in ``delay_s`` seconds.
    """

    kind: OutcomeKind
    provider_message_id: str | None = None
    reason: str | None = None
    delay_s: float = 0.0

    def __post_init__(self) -> None:
        # A "sent" without the provider's id could never be matched with its receipts.
        if self.kind == "sent" and not self.provider_message_id:
            raise ValueError("a sent outcome needs the provider's message id")
        if self.delay_s < 0:
            raise ValueError("a retry cannot be due in the past")


@dataclass(slots=True)
class IngestResult:
    """What one batch of provider events changed, and which customer messages were new.

    ``new_inbound`` (our ids, in the order the events came) is what automations answer: a
    message redelivered by the provider is not in it a second time.
    """

    changes: ChangeSet = field(default_factory=ChangeSet)
    new_inbound: list[str] = field(default_factory=list)


# A send whose answer was lost stays "unknown" until a receipt (status webhook, echo) settles it.
# One that nothing settles for this long, counted from when the engine was up to hear about it,
# never reached the provider: Meta reports "sent" within seconds, Evolution and the gateway echo
# an outgoing message at once, and Meta retries undelivered webhooks, so an engine that was down
# hears the backlog soon after it starts. It is then marked failed, with this reason, so the
# agent sees it was not sent and can send it again: settled, never resent blindly.
UNCONFIRMED_AFTER_S: Final = 15 * 60.0
# The reason a send cut short by a stop (a crash, a kill) shows: it may or may not have gone.
INTERRUPTED_REASON: Final = "interrupted while sending"
# The reason of a message the engine stopped trying (``gave_up``; the interface reads it back
# with ``GAVE_UP`` to word it in the user's language).
GAVE_UP: Final = re.compile(r"gave up after (\d+) attempts: (.*)", re.DOTALL)


def gave_up(attempts: int, reason: str) -> str:
    """The reason stored for a message failed after ``attempts`` tries, the last for ``reason``."""
    return f"gave up after {attempts} attempts: {reason}"


UNCONFIRMED_REASON: Final = (
    "the provider never confirmed this message: it was not sent (send it again if needed)"
)
