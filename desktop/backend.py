"""What the desktop's windows talk to: one interface, a solo and a team implementation.

A window reads the local cache (``Backend.db``, the same encrypted SQLite file in both modes)
and sends every command through its ``Backend``:

- ``desktop.solo_backend.SoloBackend``: the whole engine in this process; it talks to the
  providers itself and sends from this computer's outbox.
- ``desktop.team_backend.TeamBackend``: a team's server does that; this desktop syncs its cache
  with the server and queues commands for it.

A view never asks which one it has. It asks what the backend lets its user do
(``Backend.features``: take a conversation, assign it, write notes...) and what a number's
provider can do (``Backend.number_capabilities``: templates, a QR link...), so a third kind of
backend, or a provider with new abilities, changes no view. Both are built in ``desktop.app``.

Qt-free, and below every other desktop module but ``compat`` and ``bridge``. Off the first
paint's path (defining these classes costs about a millisecond): views import it for types only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from sync.backend.workspace import Workspace
    from sync.domain.messages import Message, TemplateRef
    from sync.domain.models import Account
    from sync.providers.base import Capabilities
    from sync.providers.meta_cloud import TemplateInfo
    from sync.store.local.database import Database
    from sync.store.local.queries import Note, Teammate


@dataclass(frozen=True, slots=True)
class Features:
    """What a workspace lets its user do; the views offer exactly this.

    The defaults are what a window offers before its backend has said: nothing beyond reading.
    """

    # Conversations have an owner, shown in the chat's header.
    assignments: bool = False
    # The user may take the open conversation for themself.
    can_take: bool = False
    # The user may give a conversation to someone else, or to nobody (a team's supervisor).
    can_assign: bool = False
    # Internal notes on a conversation, for colleagues, never sent to the customer.
    notes: bool = False
    # The user may send a failed (or possibly unsent) message again.
    can_send_again: bool = False
    # Numbers are added, linked and reached by webhooks on this computer (``Backend.workspace``).
    manages_numbers: bool = False


class Assignment(NamedTuple):
    """Who has a conversation: their name, and whether it is the user of this desktop."""

    name: str
    mine: bool


class NotOffered(Exception):
    """An action the backend's ``Features`` do not offer was asked for.

    The views offer only what ``features()`` allows, so reaching this is a bug, not a refusal
    to show the user.
    """


class Backend(Protocol):
    """Everything a window does besides reading the cache."""

    @property
    def db(self) -> Database:
        """The local cache the views read (opened by ``prepare``)."""
        ...

    @property
    def workspace(self) -> Workspace | None:
        """This computer's own numbers (adapters, pairing, the webhook receiver); None when
        someone else connects them (the demo's fictitious numbers, a team's server)."""
        ...

    # -- life ------------------------------------------------------------------------------

    async def prepare(self, *, progress: Callable[[int], None] | None = None) -> None:
        """Open the cache (and what works over it); raises the cache's errors with it closed."""
        ...

    async def start(self) -> None:
        """Start working: connect the numbers and send (solo), or sync (team)."""
        ...

    async def aclose(self) -> None:
        """Stop everything ``start`` started, then close the cache."""
        ...

    # -- what it offers --------------------------------------------------------------------

    async def features(self) -> Features:
        """What this workspace lets its user do (a team's answer depends on their role)."""
        ...

    def number_capabilities(self, account: Account) -> Capabilities | None:
        """What ``account``'s provider can do, as it declares it; None for a provider this
        version of Caixa does not know (a team's server may be newer)."""
        ...

    # -- messages --------------------------------------------------------------------------

    async def send_text(self, conversation_id: int, text: str) -> Message:
        """Queue a reply; it is safe on disk when this returns."""
        ...

    async def list_templates(self, account_id: int) -> list[TemplateInfo]:
        """The approved templates of a number (asked of its provider)."""
        ...

    async def send_template(
        self, conversation_id: int, template: TemplateRef, preview: str
    ) -> Message:
        """Queue an approved template; ``preview`` is what the customer will read."""
        ...

    async def send_again(self, message_id: str) -> Message:
        """A new copy of a failed (or possibly unsent) message, by the user's choice."""
        ...

    async def mark_read(self, conversation_id: int) -> None:
        """The user opened a conversation: read at once here (and for the team once pushed)."""
        ...

    # -- who has a conversation (Features.assignments, can_take, can_assign) ----------------

    async def assignment(self, conversation_id: int) -> Assignment | None:
        """Who has the conversation; None when nobody has it (or nobody can)."""
        ...

    async def claim(self, conversation_id: int) -> None:
        """Take the conversation (refused if a colleague has it meanwhile)."""
        ...

    async def teammates(self) -> list[Teammate]:
        """Who a conversation can be given to."""
        ...

    async def assign(self, conversation_id: int, user_id: int | None) -> str | None:
        """Give the conversation to ``user_id`` (None: to nobody); the reason it was refused,
        or None once done (or still waiting to reach the server, offline)."""
        ...

    # -- internal notes (Features.notes) ---------------------------------------------------

    async def notes(self, conversation_id: int) -> list[Note]:
        """The conversation's internal notes, oldest first."""
        ...

    async def add_note(self, conversation_id: int, text: str) -> None:
        """Add an internal note for the team."""
        ...

    # -- this computer's numbers (Features.manages_numbers) --------------------------------

    async def receiver_settings(self) -> tuple[str, str]:
        """Where the webhook receiver listens and the public address that reaches it."""
        ...

    async def set_receiver(self, listen: str, public_url: str) -> bool:
        """Save the receiver settings and apply them now; False when it cannot listen there."""
        ...


def provider_capabilities(kind: str) -> Capabilities | None:
    """What provider ``kind`` declares it can do, without an adapter (None: unknown kind).

    Loads that provider's declaration on first use (the registry names packages, it does not
    import them; a declaration loads without its adapter), after the first paint: no window
    asks before a chat is open.
    """
    from sync.providers import registry

    try:
        return registry.provider(kind).capabilities
    except KeyError:
        return None
