"""The definition of "a store": every store the engine may drive passes this, through the
``Store`` protocol only (``sync/engine/store.py``).

Each case runs against the local SQLCipher cache (``local``: a real encrypted file) and the
team's Postgres (``team``: a real server, ``tests/fakes/postgres.py``). The probes
(``store_probes.py``) only make numbers and read back what a store kept; everything else goes
through the protocol's verbs. Times are the test's own (``NOW``), handed to the verbs as the
engine's clock would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sync.domain.events import (
    ConnectionEvent,
    EditEvent,
    MessageEvent,
    ProviderEvent,
    ReactionEvent,
    RevokeEvent,
    StatusEvent,
    UnstorableEvents,
)
from sync.domain.ids import chat_key_for_phone, uuid7
from sync.domain.messages import TemplateRef
from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.domain.outbox import (
    INTERRUPTED_REASON,
    UNCONFIRMED_REASON,
    Claim,
    Outcome,
    SendRefused,
)
from tests.sync.helpers import inbound, outbound_echo
from tests.sync.helpers import receipt as status_receipt
from tests.sync.store.store_probes import StoreProbe, open_probe

if TYPE_CHECKING:
    from sync.engine.store import Store

pytestmark = pytest.mark.anyio

NOW = 1_750_000_000_000  # epoch ms: the engine's clock, as the verbs are given it
CLAIM_AT = NOW + 1_000  # when claims look, unless a case says: after the texts it queued
LEASE_MS = 30_000  # a claim's lease, unless a case says
TS = NOW / 1000 - 3600  # epoch seconds: when the customer wrote (before anything we send)
ANA = "+55 11 99999-0001"
BIA = "+55 11 98888-0002"


@pytest.fixture(params=["local", "team"])
def probe(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreProbe]:
    """A fresh, empty store of each kind, with its probe."""
    with open_probe(request.param, request, tmp_path) as opened:
        yield opened


# --- events, as adapters normalize them ------------------------------------------------------


def customer(
    account: int, pid: str, body: str = "Olá", *, phone: str = ANA, ts: float = TS, name: str = ""
) -> MessageEvent:
    """A customer's message."""
    return inbound(account, pid, body, phone=phone, ts=ts, name=name or "Ana")


def from_me(account: int, pid: str, body: str, *, phone: str = ANA, ts: float = TS) -> MessageEvent:
    """A message the number sent, as a QR provider reports it ("from me"): from the phone, or
    the echo of one of our own sends."""
    return outbound_echo(account, pid, body, phone=phone, ts=ts)


def receipt(
    account: int,
    pid: str,
    status: DeliveryStatus,
    *,
    client_ref: str | None = None,
    error: str | None = None,
) -> StatusEvent:
    """A delivery receipt."""
    return status_receipt(account, pid, status, client_ref=client_ref, error=error, ts=TS + 1)


def edit(account: int, target: str, body: str, *, ts: float = TS + 10) -> EditEvent:
    """The customer changed the text of a message."""
    return EditEvent(account, target, body, chat_key_for_phone(ANA), ANA, ts)


def revoke(account: int, target: str, *, ts: float = TS + 20) -> RevokeEvent:
    """The customer deleted a message for everyone."""
    return RevokeEvent(account, target, chat_key_for_phone(ANA), ANA, ts)


def reaction(account: int, target: str, emoji: str, *, ts: float = TS + 5) -> ReactionEvent:
    """The customer reacted to a message (an empty emoji removes it)."""
    return ReactionEvent(
        account_id=account,
        provider_message_id=f"react.{target}.{ts}",
        target_message_id=target,
        emoji=emoji,
        chat_key=chat_key_for_phone(ANA),
        chat_phone=ANA,
        direction=Direction.IN,
        timestamp=ts,
        sender_phone=ANA,
    )


# --- helpers through the protocol ----------------------------------------------------------


async def chat(probe: StoreProbe, account: int, phone: str = ANA) -> int:
    """A conversation with ``phone``, made as in life: the customer writes first."""
    result = await probe.store.ingest(
        [customer(account, f"in.{account}.{phone}", "Oi", phone=phone)]
    )
    (message_id,) = result.new_inbound
    seen = probe.message(message_id)
    assert seen is not None
    return seen.conversation_id


async def queue(probe: StoreProbe, conversation: int, body: str, *, at: int = NOW) -> str:
    """Queue a text with a client-made id; returns the id."""
    message_id = uuid7(at)
    await probe.store.queue_text(message_id, conversation, body, now_ms=at)
    return message_id


async def claim(
    store: Store,
    ready: set[int],
    *,
    blocked: set[tuple[int, str]] | None = None,
    at: int = CLAIM_AT,
    lease_ms: int = LEASE_MS,
) -> Claim | None:
    return await store.claim_next(ready, blocked or set(), now_ms=at, lease_until_ms=at + lease_ms)


async def claim_one(
    probe: StoreProbe, account: int, *, at: int = CLAIM_AT, lease_ms: int = LEASE_MS
) -> Claim:
    claimed = await claim(probe.store, {account}, at=at, lease_ms=lease_ms)
    assert claimed is not None, "nothing was claimable"
    return claimed


async def sending(probe: StoreProbe, body: str = "Seu bolo está pronto") -> tuple[int, str, Claim]:
    """A number, and one of our texts claimed ("sending"): (number, message id, claim)."""
    account = probe.number()
    message_id = await queue(probe, await chat(probe, account), body)
    claimed = await claim_one(probe, account)
    assert claimed.message_id == message_id
    return account, message_id, claimed


def status_of(probe: StoreProbe, message_id: str) -> str:
    seen = probe.message(message_id)
    assert seen is not None, f"message {message_id} is gone"
    return seen.status


# --- ingest: messages ------------------------------------------------------------------------


async def test_an_inbound_message_is_stored_once_and_a_redelivery_changes_nothing(
    probe: StoreProbe,
) -> None:
    account = probe.number()
    event = customer(account, "w.1", "Tem bolo de fubá?")

    first = await probe.store.ingest([event])
    again = await probe.store.ingest([event])
    twice_in_one = await probe.store.ingest([customer(account, "w.2"), customer(account, "w.2")])

    (message_id,) = first.new_inbound
    seen = probe.message(message_id)
    assert seen is not None and (seen.body, seen.status, seen.direction) == (
        "Tem bolo de fubá?",
        "received",
        "in",
    )
    assert message_id in first.changes.messages and account in first.changes.accounts
    assert seen.conversation_id in first.changes.conversations
    assert (again.new_inbound, bool(again.changes)) == ([], False)
    assert len(twice_in_one.new_inbound) == 1
    assert probe.count(account) == 2


async def test_new_inbound_lists_only_customer_messages_in_order(probe: StoreProbe) -> None:
    account = probe.number()
    result = await probe.store.ingest(
        [
            customer(account, "w.1", "um"),
            from_me(account, "w.phone", "resposta do celular", ts=TS + 1),
            customer(account, "w.2", "dois", ts=TS + 2),
            customer(account, "w.3", "três", phone=BIA, ts=TS + 3),
        ]
    )

    bodies = []
    for message_id in result.new_inbound:
        seen = probe.message(message_id)
        assert seen is not None
        bodies.append(seen.body)
    assert bodies == ["um", "dois", "três"]
    assert probe.message_id(account, "w.phone") in result.changes.messages


async def test_nul_and_lone_surrogates_are_cleaned(probe: StoreProbe) -> None:
    account = probe.number()
    result = await probe.store.ingest([customer(account, "w.nul", "bolo\x00 de \ud83d fubá")])

    (message_id,) = result.new_inbound
    seen = probe.message(message_id)
    assert seen is not None and seen.body == "bolo de \ufffd fubá"
    assert probe.conversation(seen.conversation_id).preview == "bolo de \ufffd fubá"


# What no store can take, however often it is tried. Each is the second event of a batch whose
# first is good: the store must refuse the whole batch (``UnstorableEvents``, so the receiver
# answers 422 rather than 503) and keep nothing of it, so the group commit can retry the good
# calls of a batch without the bad one and never store half a webhook.
_GONE = 10_000  # added to a real number's id: a number that does not exist


def _past_64_bits(account: int) -> ProviderEvent:
    return replace(customer(account, "w.bad"), timestamp=10**30)


def _infinite_time(account: int) -> ProviderEvent:
    return customer(account, "w.bad", ts=float("inf"))


def _message_of_no_number(account: int) -> ProviderEvent:
    return customer(account + _GONE, "w.bad")


def _receipt_of_no_number(account: int) -> ProviderEvent:
    return receipt(account + _GONE, "w.1", DeliveryStatus.READ)


def _connection_of_no_number(account: int) -> ProviderEvent:
    return ConnectionEvent(account + _GONE, ConnectionState.CONNECTED)


@pytest.mark.parametrize(
    "bad",
    [
        _past_64_bits,
        _infinite_time,
        _message_of_no_number,
        _receipt_of_no_number,
        _connection_of_no_number,
    ],
)
async def test_a_value_the_store_cannot_take_is_unstorable_and_nothing_of_its_batch_is_kept(
    probe: StoreProbe, bad: Callable[[int], ProviderEvent]
) -> None:
    account = probe.number()

    with pytest.raises(UnstorableEvents):
        await probe.store.ingest([customer(account, "w.1", "bom dia"), bad(account)])

    assert probe.count(account) == 0
    # The store is not hurt: the good event alone goes in.
    stored = await probe.store.ingest([customer(account, "w.1", "bom dia")])
    assert len(stored.new_inbound) == 1 and probe.count(account) == 1


async def test_the_preview_follows_the_newest_message_and_a_late_older_one_does_not_replace_it(
    probe: StoreProbe,
) -> None:
    account = probe.number()
    conversation = await chat(probe, account)

    await probe.store.ingest([customer(account, "w.new", "a mais nova", ts=TS + 100)])
    await probe.store.ingest([customer(account, "w.old", "atrasada", ts=TS + 50)])

    assert probe.conversation(conversation).preview == "a mais nova"
    assert probe.message_id(account, "w.old") is not None  # stored all the same


async def test_unread_counts_customer_messages_and_a_reply_reads_them(probe: StoreProbe) -> None:
    account = probe.number()
    conversation = await chat(probe, account)  # one unread
    await probe.store.ingest(
        [customer(account, "w.2", "dois", ts=TS + 1), customer(account, "w.3", "três", ts=TS + 2)]
    )
    assert probe.conversation(conversation).unread == 3

    # Someone answered from the phone: the conversation counts as read.
    await probe.store.ingest([from_me(account, "w.phone", "Oi Ana!", ts=TS + 3)])
    assert probe.conversation(conversation).unread == 0

    await probe.store.ingest([customer(account, "w.4", "quatro", ts=TS + 4)])
    assert probe.conversation(conversation).unread == 1
    # So does our own reply.
    await queue(probe, conversation, "Já respondo")
    listed = probe.conversation(conversation)
    assert (listed.unread, listed.preview, listed.last_status) == (0, "Já respondo", "queued")


# --- ingest: receipts ------------------------------------------------------------------------


async def test_statuses_only_move_forward(probe: StoreProbe) -> None:
    account = probe.number()
    await probe.store.ingest([from_me(account, "w.out", "Pedido saiu")])
    message_id = probe.message_id(account, "w.out")
    assert message_id is not None and status_of(probe, message_id) == "sent"

    read = await probe.store.ingest([receipt(account, "w.out", DeliveryStatus.READ)])
    late = await probe.store.ingest([receipt(account, "w.out", DeliveryStatus.DELIVERED)])

    assert message_id in read.changes.messages
    assert not late.changes
    assert status_of(probe, message_id) == "read"
    seen = probe.message(message_id)
    assert seen is not None and probe.conversation(seen.conversation_id).last_status == "read"


async def test_a_repeated_receipt_changes_nothing(probe: StoreProbe) -> None:
    account = probe.number()
    await probe.store.ingest([from_me(account, "w.out", "Pedido saiu")])
    event = receipt(account, "w.out", DeliveryStatus.DELIVERED)

    first = await probe.store.ingest([event])
    again = await probe.store.ingest([event])

    assert first.changes and not again.changes


async def test_failed_is_terminal(probe: StoreProbe) -> None:
    account = probe.number()
    await probe.store.ingest(
        [
            from_me(account, "w.f", "não vai"),
            receipt(account, "w.f", DeliveryStatus.FAILED, error="131026: undeliverable"),
        ]
    )

    later = await probe.store.ingest([receipt(account, "w.f", DeliveryStatus.DELIVERED)])

    message_id = probe.message_id(account, "w.f")
    assert message_id is not None and not later.changes
    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.error) == ("failed", "131026: undeliverable")


async def test_a_late_failed_after_delivered_is_ignored(probe: StoreProbe) -> None:
    account = probe.number()
    await probe.store.ingest(
        [from_me(account, "w.d", "chegou"), receipt(account, "w.d", DeliveryStatus.DELIVERED)]
    )

    late = await probe.store.ingest([receipt(account, "w.d", DeliveryStatus.FAILED, error="stale")])

    message_id = probe.message_id(account, "w.d")
    assert message_id is not None and not late.changes
    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.error) == ("delivered", None)


async def test_a_receipt_for_an_unknown_message_is_ignored(probe: StoreProbe) -> None:
    account = probe.number()

    result = await probe.store.ingest(
        [
            receipt(account, "w.elsewhere", DeliveryStatus.READ),
            receipt(account, "w.junk", DeliveryStatus.READ, client_ref="not-one-of-ours"),
            receipt(account, "w.other", DeliveryStatus.READ, client_ref=uuid7(NOW)),
        ]
    )

    assert not result.changes and result.new_inbound == []
    assert probe.count(account) == 0


async def test_a_receipt_with_our_id_settles_an_unknown_send_and_teaches_its_provider_id(
    probe: StoreProbe,
) -> None:
    account, message_id, claimed = await sending(probe)
    await probe.store.record_outcome(claimed, Outcome("unknown", reason="timeout"), now_ms=NOW)
    assert status_of(probe, message_id) == "unknown"

    result = await probe.store.ingest(
        [receipt(account, "wamid.X", DeliveryStatus.DELIVERED, client_ref=message_id)]
    )

    seen = probe.message(message_id)
    assert seen is not None
    assert (seen.status, seen.provider_id, seen.error) == ("delivered", "wamid.X", None)
    assert message_id in result.changes.messages
    # Later receipts find it by the provider's id.
    await probe.store.ingest([receipt(account, "wamid.X", DeliveryStatus.READ)])
    assert status_of(probe, message_id) == "read"


# --- ingest: echoes of our own sends ---------------------------------------------------------


async def test_an_echo_before_the_send_answers_is_absorbed_not_duplicated(
    probe: StoreProbe,
) -> None:
    account, message_id, claimed = await sending(probe, "Chegou!")
    before = probe.count(account)

    await probe.store.ingest([from_me(account, "3EB0ECHO", "Chegou!", ts=NOW / 1000)])
    await probe.store.record_outcome(claimed, Outcome("sent", "3EB0ECHO"), now_ms=NOW)
    # The provider redelivers the echo: still nothing new.
    again = await probe.store.ingest([from_me(account, "3EB0ECHO", "Chegou!", ts=NOW / 1000)])

    assert probe.count(account) == before
    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.provider_id) == ("sent", "3EB0ECHO")
    assert probe.message_id(account, "3EB0ECHO") == message_id
    assert not again.changes
    assert probe.queued() == 0


async def test_an_echo_and_its_receipt_before_the_answer_keep_the_receipt(
    probe: StoreProbe,
) -> None:
    account, message_id, claimed = await sending(probe, "Chegou!")

    await probe.store.ingest(
        [
            from_me(account, "3EB0ECHO", "Chegou!", ts=NOW / 1000),
            receipt(account, "3EB0ECHO", DeliveryStatus.READ),
        ]
    )
    await probe.store.record_outcome(claimed, Outcome("sent", "3EB0ECHO"), now_ms=NOW)

    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.provider_id) == ("read", "3EB0ECHO")


async def test_an_echo_of_an_unknown_send_settles_it(probe: StoreProbe) -> None:
    account, message_id, claimed = await sending(probe, "Chegou!")
    await probe.store.record_outcome(claimed, Outcome("unknown", reason="timeout"), now_ms=NOW)
    before = probe.count(account)

    await probe.store.ingest([from_me(account, "3EB0LOST", "Chegou!", ts=NOW / 1000)])

    assert probe.count(account) == before
    seen = probe.message(message_id)
    assert seen is not None
    assert (seen.status, seen.provider_id, seen.error) == ("sent", "3EB0LOST", None)


async def test_an_echo_stored_on_its_own_is_folded_in_when_the_send_answers(
    probe: StoreProbe,
) -> None:
    account, message_id, claimed = await sending(probe, "Texto que o provedor muda")
    before = probe.count(account)
    # The echo's text differs (the provider normalised it): nothing tells it is ours yet.
    await probe.store.ingest(
        [
            from_me(account, "3EB0X", "Texto que o provedor muda ", ts=NOW / 1000),
            receipt(account, "3EB0X", DeliveryStatus.DELIVERED),
        ]
    )
    assert probe.count(account) == before + 1

    changes = await probe.store.record_outcome(claimed, Outcome("sent", "3EB0X"), now_ms=NOW)

    assert probe.count(account) == before
    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.provider_id) == ("delivered", "3EB0X")
    assert probe.message_id(account, "3EB0X") == message_id
    assert len(changes.messages) == 2  # ours, and the echo that went


# --- ingest: edits, deletions, reactions --------------------------------------------------


async def test_an_edit_is_applied_and_the_preview_follows(probe: StoreProbe) -> None:
    account = probe.number()
    await probe.store.ingest([customer(account, "w.1", "bolo de fuba")])

    result = await probe.store.ingest([edit(account, "w.1", "bolo de fubá")])
    same = await probe.store.ingest([edit(account, "w.1", "bolo de fubá", ts=TS + 11)])

    message_id = probe.message_id(account, "w.1")
    assert message_id is not None and message_id in result.changes.messages
    seen = probe.message(message_id)
    assert seen is not None and seen.body == "bolo de fubá"
    assert probe.conversation(seen.conversation_id).preview == "bolo de fubá"
    assert not same.changes


async def test_an_edit_before_its_message_is_kept_and_applied_when_it_arrives(
    probe: StoreProbe,
) -> None:
    account = probe.number()

    early = await probe.store.ingest([edit(account, "w.1", "versão final")])
    await probe.store.ingest([customer(account, "w.1", "rascunho")])

    assert not early.new_inbound
    message_id = probe.message_id(account, "w.1")
    assert message_id is not None
    seen = probe.message(message_id)
    assert seen is not None and seen.body == "versão final"


async def test_a_deletion_clears_the_text_and_the_preview(probe: StoreProbe) -> None:
    account = probe.number()
    await probe.store.ingest([customer(account, "w.1", "meu cartão é 1234")])

    result = await probe.store.ingest([revoke(account, "w.1")])
    again = await probe.store.ingest([revoke(account, "w.1", ts=TS + 30)])

    message_id = probe.message_id(account, "w.1")
    assert message_id is not None and message_id in result.changes.messages
    seen = probe.message(message_id)
    assert seen is not None and (seen.body, seen.revoked) == ("", True)
    assert "1234" not in probe.conversation(seen.conversation_id).preview
    assert not again.changes


async def test_a_deletion_before_its_message_is_applied_when_it_arrives(
    probe: StoreProbe,
) -> None:
    account = probe.number()

    await probe.store.ingest([revoke(account, "w.1")])
    await probe.store.ingest([customer(account, "w.1", "meu cartão é 1234")])

    message_id = probe.message_id(account, "w.1")
    assert message_id is not None
    seen = probe.message(message_id)
    assert seen is not None and (seen.body, seen.revoked) == ("", True)


async def test_an_edit_after_a_deletion_is_ignored(probe: StoreProbe) -> None:
    account = probe.number()
    await probe.store.ingest([customer(account, "w.1", "segredo"), revoke(account, "w.1")])

    late = await probe.store.ingest([edit(account, "w.1", "segredo de volta", ts=TS + 40)])

    message_id = probe.message_id(account, "w.1")
    assert message_id is not None and not late.changes
    seen = probe.message(message_id)
    assert seen is not None and (seen.body, seen.revoked) == ("", True)


async def test_a_reaction_is_added_replaced_and_removed(probe: StoreProbe) -> None:
    account = probe.number()
    await probe.store.ingest([from_me(account, "w.out", "Seu pedido chegou")])

    await probe.store.ingest([reaction(account, "w.out", "👍")])
    assert probe.reactions(account, "w.out") == {ANA: "👍"}
    await probe.store.ingest([reaction(account, "w.out", "❤️", ts=TS + 6)])
    assert probe.reactions(account, "w.out") == {ANA: "❤️"}
    removed = await probe.store.ingest([reaction(account, "w.out", "", ts=TS + 7)])

    assert probe.reactions(account, "w.out") == {}
    assert probe.message_id(account, "w.out") in removed.changes.messages


# --- queue and claim -------------------------------------------------------------------------


async def test_a_queued_text_is_claimed_once_and_is_sending(probe: StoreProbe) -> None:
    account = probe.number()
    conversation = await chat(probe, account)
    message_id = uuid7(NOW)

    changes = await probe.store.queue_text(
        message_id, conversation, "Seu bolo está pronto", now_ms=NOW, reply_to="in.x"
    )
    assert status_of(probe, message_id) == "queued"
    assert message_id in changes.messages and conversation in changes.conversations
    claimed = await claim_one(probe, account)

    assert (claimed.message_id, claimed.account_id, claimed.conversation_id) == (
        message_id,
        account,
        conversation,
    )
    outgoing = claimed.message
    assert (outgoing.text, outgoing.to_phone, outgoing.chat_key, outgoing.reply_to) == (
        "Seu bolo está pronto",
        ANA,
        chat_key_for_phone(ANA),
        "in.x",
    )
    assert (claimed.recipient, claimed.attempts) == (chat_key_for_phone(ANA), 1)
    assert message_id in claimed.changes.messages
    assert status_of(probe, message_id) == "sending"
    assert probe.conversation(conversation).last_status == "sending"
    assert await claim(probe.store, {account}) is None


async def test_queuing_the_same_id_again_changes_nothing(probe: StoreProbe) -> None:
    account = probe.number()
    conversation = await chat(probe, account)
    message_id = uuid7(NOW)

    await probe.store.queue_text(message_id, conversation, "uma vez", now_ms=NOW)
    again = await probe.store.queue_text(message_id, conversation, "uma vez", now_ms=NOW + 5)

    assert not again
    assert probe.count(account) == 2 and probe.queued() == 1
    assert (await claim_one(probe, account)).message_id == message_id
    assert await claim(probe.store, {account}) is None


async def test_an_empty_text_or_template_preview_is_refused(probe: StoreProbe) -> None:
    account = probe.number()
    conversation = await chat(probe, account)

    template = TemplateRef("pedido_pronto", "pt_BR")
    for body in ("", "   ", "\n\t", "\x00", " \x00\x00 "):
        with pytest.raises(SendRefused) as refused:
            await probe.store.queue_text(uuid7(NOW), conversation, body, now_ms=NOW)
        assert refused.value.code == "empty", body
        # A template's preview is what the customer reads: nothing to show is refused too.
        with pytest.raises(SendRefused) as refused:
            await probe.store.queue_template(uuid7(NOW), conversation, template, body, now_ms=NOW)
        assert refused.value.code == "empty", body

    assert probe.queued() == 0 and probe.count(account) == 1


async def test_a_text_for_a_conversation_that_does_not_exist_is_refused(
    probe: StoreProbe,
) -> None:
    with pytest.raises(SendRefused):
        await probe.store.queue_text(uuid7(NOW), 987654, "olá", now_ms=NOW)
    assert probe.queued() == 0


async def test_a_queued_text_is_cleaned(probe: StoreProbe) -> None:
    account = probe.number()
    message_id = await queue(probe, await chat(probe, account), "bolo\x00 pronto \ud83d")

    seen = probe.message(message_id)
    assert seen is not None and seen.body == "bolo pronto \ufffd"
    assert (await claim_one(probe, account)).message.text == "bolo pronto \ufffd"


async def test_a_template_is_queued_and_claimed_with_its_template(probe: StoreProbe) -> None:
    account = probe.number()
    conversation = await chat(probe, account)
    template = TemplateRef("pedido_pronto", "pt_BR", body_parameters=("Ana\x00", "123"))
    message_id = uuid7(NOW)

    await probe.store.queue_template(
        message_id, conversation, template, "Olá Ana, seu pedido 123 está pronto", now_ms=NOW
    )
    claimed = await claim_one(probe, account)

    seen = probe.message(message_id)
    assert seen is not None and seen.body == "Olá Ana, seu pedido 123 está pronto"
    assert probe.conversation(conversation).preview == "Olá Ana, seu pedido 123 está pronto"
    assert claimed.message.type is MessageType.TEMPLATE
    assert claimed.message.template == TemplateRef(
        "pedido_pronto", "pt_BR", body_parameters=("Ana", "123")
    )


# --- order, readiness, pacing ------------------------------------------------------------


async def test_a_conversations_next_message_waits_while_the_first_is_sending(
    probe: StoreProbe,
) -> None:
    account = probe.number()
    conversation = await chat(probe, account)
    first = await queue(probe, conversation, "primeira", at=NOW)
    second = await queue(probe, conversation, "segunda", at=NOW + 1)

    assert (await claim_one(probe, account, at=NOW + 10)).message_id == first
    assert await claim(probe.store, {account}, at=NOW + 10) is None
    assert await probe.store.next_due({account}, set()) is None  # nothing claimable: sleep
    assert status_of(probe, second) == "queued"


async def test_the_next_message_goes_once_the_first_is_done(probe: StoreProbe) -> None:
    account = probe.number()
    conversation = await chat(probe, account)
    first = await queue(probe, conversation, "primeira", at=NOW)
    second = await queue(probe, conversation, "segunda", at=NOW + 1)
    claimed = await claim_one(probe, account)
    assert claimed.message_id == first

    await probe.store.record_outcome(claimed, Outcome("sent", "wamid.1"), now_ms=NOW)

    assert (await claim_one(probe, account)).message_id == second


async def test_a_conversations_next_message_waits_while_the_first_waits_a_retry(
    probe: StoreProbe,
) -> None:
    account = probe.number()
    conversation = await chat(probe, account)
    first = await queue(probe, conversation, "primeira", at=NOW)
    await queue(probe, conversation, "segunda", at=NOW + 1)
    claimed = await claim_one(probe, account)

    await probe.store.record_outcome(
        claimed, Outcome("retry", reason="rate_limited", delay_s=30), now_ms=NOW
    )

    # The second must not overtake the first, even though it is due and the first is not.
    assert await claim(probe.store, {account}, at=NOW + 29_999) is None
    assert await probe.store.next_due({account}, set()) == NOW + 30_000
    again = await claim(probe.store, {account}, at=NOW + 30_000)
    assert again is not None and (again.message_id, again.attempts) == (first, 2)


async def test_another_conversation_of_the_same_number_goes_ahead(probe: StoreProbe) -> None:
    account = probe.number()
    ana, bia = await chat(probe, account, ANA), await chat(probe, account, BIA)
    first = await queue(probe, ana, "para Ana 1", at=NOW)
    await queue(probe, ana, "para Ana 2", at=NOW + 1)
    to_bia = await queue(probe, bia, "para Bia", at=NOW + 2)

    assert (await claim_one(probe, account)).message_id == first
    other = await claim_one(probe, account)

    assert other.message_id == to_bia and other.conversation_id == bia
    assert await claim(probe.store, {account}) is None


async def test_claims_take_the_earliest_due_then_the_oldest(probe: StoreProbe) -> None:
    account = probe.number()
    ana, bia = await chat(probe, account, ANA), await chat(probe, account, BIA)
    to_ana = await queue(probe, ana, "para Ana", at=NOW)
    to_bia = await queue(probe, bia, "para Bia", at=NOW + 1)
    claimed = await claim_one(probe, account)
    assert claimed.message_id == to_ana
    await probe.store.record_outcome(claimed, Outcome("retry", delay_s=10), now_ms=NOW)

    # Ana's is older but due later: Bia's goes first; Ana's once due.
    assert (await claim_one(probe, account, at=NOW + 10_000)).message_id == to_bia
    assert (await claim_one(probe, account, at=NOW + 10_000)).message_id == to_ana


async def test_a_blocked_recipient_is_skipped(probe: StoreProbe) -> None:
    account = probe.number()
    ana, bia = await chat(probe, account, ANA), await chat(probe, account, BIA)
    to_ana = await queue(probe, ana, "para Ana", at=NOW)
    to_bia = await queue(probe, bia, "para Bia", at=NOW + 1)
    held = {(account, chat_key_for_phone(ANA))}

    claimed = await claim(probe.store, {account}, blocked=held)

    assert claimed is not None and claimed.message_id == to_bia
    assert await claim(probe.store, {account}, blocked=held) is None
    assert await probe.store.next_due({account}, held) is None
    assert status_of(probe, to_ana) == "queued"
    assert (await claim_one(probe, account)).message_id == to_ana  # released


async def test_a_claim_spends_pacing_in_its_own_transaction(probe: StoreProbe) -> None:
    account = probe.number()
    ana = await chat(probe, account, ANA)
    first = await queue(probe, ana, "primeira", at=NOW)
    second = await queue(probe, ana, "segunda", at=NOW + 1)
    key = chat_key_for_phone(ANA)
    asked: list[tuple[int, str, float | None, float | None]] = []

    def admit(a: int, r: str, n: float | None, p: float | None) -> tuple[float, float] | None:
        asked.append((a, r, n, p))
        return None if n is not None and n >= 200.0 else ((n or 100.0) + 50.0, 7.0)

    one = await probe.store.claim_next(
        {account}, set(), now_ms=CLAIM_AT, lease_until_ms=CLAIM_AT + LEASE_MS, admit=admit
    )
    assert one is not None and one.message_id == first
    assert asked == [(account, key, None, None)]  # never written: None
    assert await probe.store.pacing_state({account}, after=0.0) == {
        (account, ""): 150.0,
        (account, key): 7.0,
    }
    await probe.store.record_outcome(one, Outcome("sent", "wamid.p1"), now_ms=NOW)
    two = await probe.store.claim_next(
        {account}, set(), now_ms=CLAIM_AT, lease_until_ms=CLAIM_AT + LEASE_MS, admit=admit
    )
    assert two is not None and two.message_id == second
    assert asked[-1] == (account, key, 150.0, 7.0)
    # Refused: nothing is claimed and nothing is written.
    await probe.store.record_outcome(two, Outcome("sent", "wamid.p2"), now_ms=NOW)
    third = await queue(probe, ana, "terceira", at=NOW + 2)
    refused = await probe.store.claim_next(
        {account}, set(), now_ms=CLAIM_AT, lease_until_ms=CLAIM_AT + LEASE_MS, admit=admit
    )
    assert refused is None and status_of(probe, third) == "queued"
    assert await probe.store.pacing_state({account}, after=0.0) == {
        (account, ""): 200.0,
        (account, key): 7.0,
    }
    assert await probe.store.pacing_state({account}, after=100.0) == {(account, ""): 200.0}
    assert await probe.store.pacing_state({probe.number()}, after=0.0) == {}


async def test_a_number_is_held_and_old_pacing_times_are_forgotten(probe: StoreProbe) -> None:
    account, other = probe.number(), probe.number()
    await probe.store.hold_pacing(account, 500.0)
    await probe.store.hold_pacing(account, 400.0)  # never shortens a hold
    await probe.store.hold_pacing(other, 300.0)
    assert await probe.store.pacing_state({account, other}, after=0.0) == {
        (account, ""): 500.0,
        (other, ""): 300.0,
    }
    await probe.store.forget_pacing(before=400.0)
    assert await probe.store.pacing_state({account, other}, after=0.0) == {(account, ""): 500.0}


async def test_a_number_not_ready_is_skipped(probe: StoreProbe) -> None:
    shop, garage = probe.number(), probe.number()
    to_shop = await queue(probe, await chat(probe, shop), "loja")
    to_garage = await queue(probe, await chat(probe, garage), "oficina")

    assert await claim(probe.store, set()) is None
    assert await probe.store.next_due(set(), set()) is None
    claimed = await claim(probe.store, {garage})
    assert claimed is not None and claimed.message_id == to_garage
    assert await claim(probe.store, {garage}) is None
    assert await probe.store.next_due({garage}, set()) is None
    assert status_of(probe, to_shop) == "queued"
    assert await probe.store.next_due({shop, garage}, set()) == NOW


async def test_next_due_is_none_when_nothing_is_queued(probe: StoreProbe) -> None:
    account = probe.number()
    await chat(probe, account)

    assert await probe.store.next_due({account}, set()) is None
    assert await claim(probe.store, {account}) is None


# --- outcomes ----------------------------------------------------------------------------


async def test_a_retry_is_queued_again_not_claimable_before_its_time(probe: StoreProbe) -> None:
    account, message_id, claimed = await sending(probe)

    changes = await probe.store.record_outcome(
        claimed, Outcome("retry", reason="not_sent: refused", delay_s=5), now_ms=NOW
    )

    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.error) == ("queued", "not_sent: refused")
    assert message_id in changes.messages
    assert await probe.store.next_due({account}, set()) == NOW + 5_000
    assert await claim(probe.store, {account}, at=NOW + 4_999) is None
    again = await claim(probe.store, {account}, at=NOW + 5_000)
    assert again is not None and (again.message_id, again.attempts) == (message_id, 2)


async def test_sent_records_the_provider_id(probe: StoreProbe) -> None:
    _, message_id, claimed = await sending(probe)

    changes = await probe.store.record_outcome(claimed, Outcome("sent", "wamid.ok"), now_ms=NOW)

    seen = probe.message(message_id)
    assert seen is not None
    assert (seen.status, seen.provider_id, seen.error) == ("sent", "wamid.ok", None)
    assert probe.conversation(seen.conversation_id).last_status == "sent"
    assert message_id in changes.messages and probe.queued() == 0


async def test_failed_records_the_reason_and_is_never_claimed_again(probe: StoreProbe) -> None:
    account, message_id, claimed = await sending(probe)

    await probe.store.record_outcome(
        claimed, Outcome("failed", reason="rejected: invalid number \x00"), now_ms=NOW
    )

    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.error) == (
        "failed",
        "rejected: invalid number ",
    )
    assert probe.queued() == 0
    assert await claim(probe.store, {account}, at=NOW * 2) is None


async def test_unknown_is_never_claimed_again(probe: StoreProbe) -> None:
    account, message_id, claimed = await sending(probe)

    await probe.store.record_outcome(
        claimed, Outcome("unknown", reason="timeout after send"), now_ms=NOW
    )

    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.error) == ("unknown", "timeout after send")
    assert await claim(probe.store, {account}, at=NOW * 2) is None
    assert await probe.store.next_due({account}, set()) is None
    assert probe.queued() == 0


async def test_a_receipt_that_arrived_before_the_send_answer_is_kept(probe: StoreProbe) -> None:
    account, message_id, claimed = await sending(probe)
    # The "delivered" webhook beat the HTTP answer.
    await probe.store.ingest(
        [receipt(account, "wamid.A", DeliveryStatus.DELIVERED, client_ref=message_id)]
    )

    await probe.store.record_outcome(claimed, Outcome("sent", "wamid.A"), now_ms=NOW)

    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.provider_id) == ("delivered", "wamid.A")
    assert probe.queued() == 0


async def test_a_lost_answer_does_not_undo_a_receipt(probe: StoreProbe) -> None:
    account, message_id, claimed = await sending(probe)
    await probe.store.ingest(
        [receipt(account, "wamid.A", DeliveryStatus.DELIVERED, client_ref=message_id)]
    )

    await probe.store.record_outcome(claimed, Outcome("unknown", reason="timeout"), now_ms=NOW)

    assert status_of(probe, message_id) == "delivered"
    assert probe.queued() == 0


async def test_a_retry_after_a_receipt_proved_the_send_is_never_sent_again(
    probe: StoreProbe,
) -> None:
    account, message_id, claimed = await sending(probe)
    await probe.store.ingest(
        [receipt(account, "wamid.A", DeliveryStatus.SENT, client_ref=message_id)]
    )

    await probe.store.record_outcome(claimed, Outcome("retry", delay_s=1), now_ms=NOW)

    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.provider_id) == ("sent", "wamid.A")
    assert probe.queued() == 0
    assert await claim(probe.store, {account}, at=NOW * 2) is None


async def test_an_outcome_for_a_claim_no_longer_sending_is_ignored(probe: StoreProbe) -> None:
    # A dispatcher that lost the database's answer records again; a stale claim is no news.
    account, message_id, claimed = await sending(probe)
    await probe.store.record_outcome(claimed, Outcome("retry", reason="busy"), now_ms=NOW)

    stale = await probe.store.record_outcome(claimed, Outcome("failed", reason="x"), now_ms=NOW)

    assert not stale
    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.error) == ("queued", "busy")
    again = await claim_one(probe, account)
    assert (again.message_id, again.attempts) == (message_id, 2)


# --- recovery ----------------------------------------------------------------------------


async def test_recovery_marks_sending_unknown_and_never_resends(probe: StoreProbe) -> None:
    account, message_id, _ = await sending(probe)
    waiting = await queue(probe, await chat(probe, account, BIA), "na fila")

    changes = await probe.store.recover_interrupted(expired_by_ms=None)

    seen = probe.message(message_id)
    assert seen is not None and (seen.status, seen.error) == ("unknown", INTERRUPTED_REASON)
    assert changes.messages == {message_id}
    assert probe.conversation(seen.conversation_id).last_status == "unknown"
    claimed = await claim_one(probe, account)
    assert claimed.message_id == waiting  # only the untouched one is ever claimed
    assert await claim(probe.store, {account}, at=NOW * 2) is None
    assert not await probe.store.recover_interrupted(expired_by_ms=CLAIM_AT + LEASE_MS - 1)


async def test_recovery_takes_only_the_sends_whose_lease_ran_out(probe: StoreProbe) -> None:
    account = probe.number()
    mine = await queue(probe, await chat(probe, account, ANA), "minha")
    crashed = await queue(probe, await chat(probe, account, BIA), "de quem caiu")
    mine_claim = await claim_one(probe, account, lease_ms=10_000)
    await claim_one(probe, account, lease_ms=10_000)
    assert mine_claim.message_id == mine
    # The live dispatcher renews its own lease; the stopped one renews nothing.
    await probe.store.renew_leases([mine], until_ms=CLAIM_AT + 20_000)

    assert not await probe.store.recover_interrupted(expired_by_ms=CLAIM_AT + 9_999)
    changes = await probe.store.recover_interrupted(expired_by_ms=CLAIM_AT + 10_001)

    assert changes.messages == {crashed}
    assert (status_of(probe, mine), status_of(probe, crashed)) == ("sending", "unknown")
    # Renewing a settled send does not bring it back.
    await probe.store.renew_leases([crashed], until_ms=CLAIM_AT + 90_000)
    assert status_of(probe, crashed) == "unknown"
    await probe.store.record_outcome(mine_claim, Outcome("sent", "wamid.mine"), now_ms=NOW)
    assert status_of(probe, mine) == "sent"


async def test_a_late_outcome_after_recovery_only_teaches_a_provider_id(
    probe: StoreProbe,
) -> None:
    account = probe.number()
    conversation = await chat(probe, account)
    first = await queue(probe, conversation, "primeira", at=NOW)
    second = await queue(probe, await chat(probe, account, BIA), "segunda", at=NOW + 1)
    first_claim, second_claim = await claim_one(probe, account), await claim_one(probe, account)
    await probe.store.recover_interrupted(expired_by_ms=None)

    sent = await probe.store.record_outcome(first_claim, Outcome("sent", "wamid.late"), now_ms=NOW)
    failed = await probe.store.record_outcome(
        second_claim, Outcome("failed", reason="too late"), now_ms=NOW
    )
    retried = await probe.store.record_outcome(second_claim, Outcome("retry"), now_ms=NOW)

    seen = probe.message(first)
    assert seen is not None and (seen.status, seen.provider_id) == ("sent", "wamid.late")
    assert first in sent.messages
    assert not failed and not retried
    assert status_of(probe, second) == "unknown"
    assert probe.queued() == 0


# --- settling what nothing confirmed ------------------------------------------------------


async def test_settle_unconfirmed_fails_old_unknowns_and_leaves_the_others(
    probe: StoreProbe,
) -> None:
    account = probe.number()
    ana, bia = await chat(probe, account, ANA), await chat(probe, account, BIA)
    old = await queue(probe, ana, "antiga", at=NOW)
    confirmed = await queue(probe, bia, "confirmada", at=NOW + 1)
    for claimed in (await claim_one(probe, account), await claim_one(probe, account)):
        await probe.store.record_outcome(claimed, Outcome("unknown", reason="timeout"), now_ms=NOW)
    await probe.store.ingest(
        [receipt(account, "wamid.C", DeliveryStatus.DELIVERED, client_ref=confirmed)]
    )
    recent = await queue(probe, ana, "recente", at=NOW + 60_000)
    await probe.store.record_outcome(
        await claim_one(probe, account, at=NOW + 60_000),
        Outcome("unknown", reason="timeout"),
        now_ms=NOW + 60_000,
    )

    changes = await probe.store.settle_unconfirmed(before_ms=NOW + 30_000)
    again = await probe.store.settle_unconfirmed(before_ms=NOW + 30_000)

    seen = probe.message(old)
    assert seen is not None and (seen.status, seen.error) == ("failed", UNCONFIRMED_REASON)
    assert changes.messages == {old} and not again
    assert status_of(probe, confirmed) == "delivered"
    assert status_of(probe, recent) == "unknown"


# --- sending again -----------------------------------------------------------------------


async def test_send_again_queues_a_copy_and_keeps_the_original(probe: StoreProbe) -> None:
    account, original, claimed = await sending(probe, "Tem sim!")
    await probe.store.record_outcome(claimed, Outcome("failed", reason="rejected"), now_ms=NOW)
    copy = uuid7(NOW + 1)

    changes = await probe.store.send_again(original, copy, now_ms=NOW + 1)

    assert copy in changes.messages
    seen = probe.message(copy)
    assert seen is not None and (seen.status, seen.body) == ("queued", "Tem sim!")
    assert status_of(probe, original) == "failed"
    claimed_copy = await claim_one(probe, account, at=NOW + 1)
    assert claimed_copy.message_id == copy and claimed_copy.attempts == 1


async def test_send_again_refuses_what_cannot_be_sent_again(probe: StoreProbe) -> None:
    account, sent, claimed = await sending(probe)
    await probe.store.record_outcome(claimed, Outcome("sent", "wamid.s"), now_ms=NOW)
    queued = await queue(probe, await chat(probe, account, BIA), "na fila")
    received = probe.message_id(account, f"in.{account}.{ANA}")
    assert received is not None

    for message_id, code in (
        (sent, "not_resendable"),
        (received, "not_resendable"),
        (queued, "not_resendable"),
        (uuid7(NOW), "gone"),
    ):
        with pytest.raises(SendRefused) as refused:
            await probe.store.send_again(message_id, uuid7(NOW + 2), now_ms=NOW + 2)
        assert refused.value.code == code, message_id
    assert probe.queued() == 1


# --- many claimers at once ---------------------------------------------------------------


async def test_concurrent_claimers_never_claim_the_same_message_twice(probe: StoreProbe) -> None:
    account = probe.number()
    queued = set()
    for i in range(10):
        conversation = await chat(probe, account, f"+55 11 97777-{i:04d}")
        queued.add(await queue(probe, conversation, f"mensagem {i}", at=NOW + i))
    stores = [probe.store, probe.another_store()]

    claims = await asyncio.gather(
        *(claim(stores[i % 2], {account}, at=NOW + 100) for i in range(20))
    )

    taken = [c.message_id for c in claims if c is not None]
    assert len(taken) == len(set(taken)), "a message was claimed twice"
    # Whatever a busy claimer skipped is still there for the next pass, once.
    while (more := await claim(probe.store, {account}, at=NOW + 100)) is not None:
        taken.append(more.message_id)
    assert sorted(taken) == sorted(queued)
    for message_id in queued:
        assert status_of(probe, message_id) == "sending"
