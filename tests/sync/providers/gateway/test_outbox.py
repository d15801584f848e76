"""A reply typed while the gateway is not ready waits in the engine's outbox and goes out once,
when the socket has stayed open 3 s (the real engine, cache, receiver and fake gateway)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from sync.domain.messages import Message
from sync.domain.models import ConnectionState, DeliveryStatus
from sync.engine.service import Engine
from sync.ingress.receiver import WebhookReceiver
from sync.providers.directory import StaticDirectory
from sync.providers.gateway import GatewayAdapter, parse_webhook
from sync.store.local import outbox, queries
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.local.ingest import apply_events
from tests.fakes.clock import FakeClock
from tests.fakes.gateway_server import FakeGateway
from tests.polling import eventually
from tests.sync.helpers import add_account, conversation_id_for, inbound
from tests.sync.providers.gateway.harness import (
    INSTANCE,
    MASTER,
    TOKEN,
    gateway_account,
    mounted,
    serve_in_loop,
)

pytestmark = pytest.mark.anyio

CUSTOMER = "+55 11 99999-0001"


@pytest.fixture
def db(cache_path: Path, cache_key: CacheKey) -> Iterator[Database]:
    database = Database(cache_path, cache_key)
    database.open_sync()
    try:
        yield database
    finally:
        database.close_sync()


async def _message(db: Database, message_id: str) -> Message:
    (found,) = await db.run(queries.messages_by_id, [message_id])
    return found


async def _idle(engine: Engine) -> None:
    """The dispatcher has looked after this moment and found nothing it may send (bounded)."""
    await asyncio.wait_for(engine.idle(), 10)


@dataclasses.dataclass
class World:
    db: Database
    fake: FakeGateway
    engine: Engine
    adapter: GatewayAdapter
    clock: FakeClock
    conversation: int
    account: int


@pytest.fixture
async def world(db: Database) -> AsyncIterator[World]:
    account_id = db.run_sync(add_account, "Loja gateway")
    db.run_sync(apply_events, [inbound(account_id, "3EB0HELLO", phone=CUSTOMER)])
    conversation = db.run_sync(conversation_id_for, account_id, CUSTOMER)
    fake = FakeGateway(MASTER)
    clock = FakeClock()
    with mounted(fake.app) as gateway_url:
        account = gateway_account(gateway_url, master=MASTER, instance_token=TOKEN)
        account = dataclasses.replace(account, account_id=account_id)
        async with httpx.AsyncClient(timeout=2.0) as http:
            adapter = GatewayAdapter(account, http, clock=clock.now, sleep=clock.sleep)
            engine = Engine(db, {account_id: adapter})
            # As in the app: the receiver stores through the engine, then the adapter observes.
            receiver = WebhookReceiver(
                StaticDirectory([account]),
                engine.ingest,
                observers=[adapter.observe],
                parsers={"gateway": parse_webhook},
            )
            async with serve_in_loop(receiver.app) as receiver_url:
                fake.add_instance(
                    INSTANCE,
                    token=TOKEN,
                    state="disconnected",
                    phone="5511988887777",
                    webhook_url=f"{receiver_url}/hooks/gateway/{INSTANCE}",
                ).session = True
                fake.auto_events = False  # the test says when the session comes back
                await engine.start()
                try:
                    yield World(db, fake, engine, adapter, clock, conversation, account_id)
                finally:
                    await engine.aclose()


async def test_a_reply_typed_while_not_ready_goes_out_once_when_ready(world: World) -> None:
    fake, engine, clock, adapter = world.fake, world.engine, world.clock, world.adapter
    assert not adapter.ready_to_send()  # the instance is down (start saw it)

    queued = await engine.send_text(world.conversation, "Seu pedido está pronto")
    await _idle(engine)  # it looked with the reply queued, and held it
    assert fake.calls_to("send") == [] and fake.accepted == []
    assert (await _message(world.db, queued.id)).status is DeliveryStatus.QUEUED

    # The gateway restores the session: ``ready`` through the receiver (the engine wakes).
    await fake.restore(INSTANCE)
    t_ready = clock.now()
    accounts = {a.id: a for a in await world.db.run(queries.list_accounts)}
    assert accounts[world.account].state is ConnectionState.CONNECTED
    clock.set(t_ready + 2.999)
    await fake.heartbeat(INSTANCE)  # wakes the dispatcher again: still too early
    await _idle(engine)  # it looked at 2.999 s, and held it
    assert fake.calls_to("send") == []
    assert (await _message(world.db, queued.id)).status is DeliveryStatus.QUEUED

    clock.set(t_ready + 3.0)
    await fake.heartbeat(INSTANCE)
    await eventually(lambda: len(fake.accepted) == 1)

    async def sent() -> Message | None:
        message = await _message(world.db, queued.id)
        return message if message.status is DeliveryStatus.SENT else None

    message = await eventually(sent, message="the reply is marked sent")
    assert message.provider_message_id == fake.accepted[0]["id"]
    assert fake.accepted[0]["to"] == "5511999990001@s.whatsapp.net"
    assert fake.accepted[0]["message"] == "Seu pedido está pronto"

    # Nothing goes out twice, however often the engine is woken.
    for _ in range(3):
        await fake.heartbeat(INSTANCE)
    await _idle(engine)  # it looked after the wake-ups, and found nothing to send
    assert len(fake.accepted) == 1
    assert len(fake.calls_to("send")) == 1
    assert await world.db.run(outbox.pending_count) == 0


async def test_a_gateway_saying_not_connected_puts_the_reply_back_in_the_queue(
    world: World,
) -> None:
    fake, engine, clock = world.fake, world.engine, world.clock
    await fake.restore(INSTANCE)
    clock.advance(3.0)
    await fake.heartbeat(INSTANCE)
    assert world.adapter.ready_to_send()
    fake.arrange("not_connected")  # the socket dropped and the event is still on its way

    queued = await engine.send_text(world.conversation, "vai esperar")
    await eventually(lambda: len(fake.calls_to("send")) == 1)
    await _idle(engine)  # the refusal is recorded, and the reply is not sent again
    message = await _message(world.db, queued.id)
    assert message.status is DeliveryStatus.QUEUED
    assert message.error == "not_sent: HTTP 409: Instance not connected"
    assert not world.adapter.ready_to_send()
    assert fake.accepted == []
