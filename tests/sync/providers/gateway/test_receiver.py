"""The gateway's events over real HTTP: the fake gateway POSTs them to the real receiver, which
parses them (``gateway.parse_webhook``), hands them to its sink and to ``adapter.observe``.

Pairing as a user lives it: a QR, a refreshed QR, the scan (authenticated, ready), the 3-second
rule, heartbeats, and a logout from the phone that asks for a new pairing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import httpx
import pytest

from sync.domain.events import ConnectionEvent, MessageEvent, ProviderEvent, QrEvent
from sync.domain.models import ConnectionState
from sync.ingress.receiver import WebhookReceiver
from sync.providers.accounts import Secret
from sync.providers.directory import StaticDirectory
from sync.providers.gateway import (
    HEARTBEAT_REASON,
    OPEN_SETTLE_S,
    GatewayAccount,
    GatewayAdapter,
    parse_webhook,
)
from tests.fakes.clock import FakeClock
from tests.fakes.gateway_server import FakeGateway
from tests.polling import eventually
from tests.sync.providers.gateway.harness import (
    ACCOUNT_ID,
    INSTANCE,
    MASTER,
    TOKEN,
    gateway_account,
    mounted,
    run_on_clock,
    serve_in_loop,
)

pytestmark = pytest.mark.anyio


@dataclass
class Stack:
    fake: FakeGateway
    adapter: GatewayAdapter
    account: GatewayAccount
    directory: StaticDirectory
    clock: FakeClock
    hook_url: str
    stored: list[ProviderEvent] = field(default_factory=list)
    observed: list[ProviderEvent] = field(default_factory=list)


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    fake = FakeGateway(MASTER)
    clock = FakeClock()
    with mounted(fake.app) as gateway_url:
        account = gateway_account(gateway_url, master=MASTER, instance_token=TOKEN)
        directory = StaticDirectory([account])
        stored: list[ProviderEvent] = []

        async def sink(events: Sequence[ProviderEvent]) -> None:
            stored.extend(events)

        receiver = WebhookReceiver(directory, sink, parsers={"gateway": parse_webhook})
        async with serve_in_loop(receiver.app) as receiver_url:
            hook_url = f"{receiver_url}/hooks/gateway/{INSTANCE}"
            async with httpx.AsyncClient(timeout=2.0) as http:
                adapter = GatewayAdapter(
                    account,
                    http,
                    clock=clock.now,
                    sleep=clock.sleep,
                    rng=lambda: 0.5,
                    webhook_url=hook_url,
                )
                made = Stack(fake, adapter, account, directory, clock, hook_url, stored)

                def observe(events: Sequence[ProviderEvent]) -> None:
                    made.observed.extend(events)
                    adapter.observe(events)

                receiver.add_observer(observe)
                try:
                    yield made
                finally:
                    fake.release_hangs.set()
                    await adapter.aclose()


async def test_pairing_qr_refreshed_qr_scan_ready_heartbeats_and_logout(stack: Stack) -> None:
    fake, adapter, clock = stack.fake, stack.adapter, stack.clock
    fake.add_instance(INSTANCE, token=TOKEN, webhook_url=stack.hook_url)

    first = await run_on_clock(clock, adapter.request_pairing())
    assert first.qr_code == fake.instances[INSTANCE].qr
    # The gateway also announces it as a ``qr`` event (what refreshes the dialog later).
    await eventually(lambda: any(isinstance(e, QrEvent) for e in stack.stored))
    assert stack.stored == [QrEvent(ACCOUNT_ID, qr_code=first.qr_code)]

    answer = await fake.show_qr(INSTANCE)  # the QR expired: a new one
    assert answer is not None and answer.status_code == 200
    refreshed = fake.instances[INSTANCE].qr
    assert refreshed != first.qr_code
    assert stack.stored[-1] == QrEvent(ACCOUNT_ID, qr_code=refreshed)
    assert not adapter.ready_to_send()

    answers = await fake.scan(INSTANCE, phone="5511988887777")
    assert [a.status_code for a in answers] == [200, 200]
    assert stack.stored[-2:] == [
        ConnectionEvent(ACCOUNT_ID, ConnectionState.CONNECTING, reason="authenticated"),
        ConnectionEvent(ACCOUNT_ID, ConnectionState.CONNECTED, phone="5511988887777"),
    ]
    t_ready = clock.now()
    assert not adapter.ready_to_send()
    clock.set(t_ready + 2.999)
    assert not adapter.ready_to_send()
    clock.set(t_ready + OPEN_SETTLE_S)
    assert adapter.ready_to_send()
    assert adapter.phone == "5511988887777"

    clock.set(t_ready + 30)
    assert (await fake.heartbeat(INSTANCE)).status_code == 200
    assert stack.stored[-1] == ConnectionEvent(
        ACCOUNT_ID, ConnectionState.CONNECTED, reason=HEARTBEAT_REASON
    )
    clock.set(t_ready + 105)
    assert adapter.ready_to_send()
    clock.set(t_ready + 105.001)
    assert not adapter.ready_to_send()
    await fake.heartbeat(INSTANCE)
    assert adapter.ready_to_send()

    await fake.drop(INSTANCE, "LOGOUT", keep_session=False)
    last = stack.stored[-1]
    assert isinstance(last, ConnectionEvent)
    assert (last.state, last.needs_repair) == (ConnectionState.NEEDS_REPAIR, True)
    assert not adapter.ready_to_send()
    assert "LOGOUT" in adapter.needs_repair_reason
    assert not adapter.reconnecting
    assert stack.observed == stack.stored


async def test_a_transient_drop_is_reconnected_and_the_session_restored(stack: Stack) -> None:
    fake, adapter, clock = stack.fake, stack.adapter, stack.clock
    fake.add_instance(
        INSTANCE, token=TOKEN, state="connected", phone="5511988887777", webhook_url=stack.hook_url
    )
    await adapter.start(lambda events: _store(stack, events))
    clock.advance(OPEN_SETTLE_S)
    assert adapter.ready_to_send()

    await fake.drop(INSTANCE, {"reason": "Connection Closed", "statusCode": 428})
    assert not adapter.ready_to_send()
    assert adapter.reconnecting
    # The backoff elapses; the adapter asks the gateway to connect; the saved session comes
    # back by itself (authenticated, ready) through the receiver.
    await eventually(lambda: clock.pending > 0)
    clock.set(clock.next_deadline or 0)
    await eventually(lambda: adapter.phone != "" and not adapter.reconnecting)
    assert fake.connects[INSTANCE] == 1
    assert isinstance(stack.stored[-1], ConnectionEvent)
    assert stack.stored[-1].state is ConnectionState.CONNECTED
    clock.advance(OPEN_SETTLE_S)
    assert adapter.ready_to_send()


async def _store(stack: Stack, events: Sequence[ProviderEvent]) -> None:
    stack.stored.extend(events)


async def test_a_master_only_number_learns_its_instance_token_when_it_creates_it(
    stack: Stack,
) -> None:
    fake, clock = stack.fake, stack.clock
    master_only = dataclasses.replace(stack.account, instance_token=Secret(""))
    stack.directory.replace([master_only])
    async with httpx.AsyncClient(timeout=2.0) as http:
        adapter = GatewayAdapter(
            master_only, http, clock=clock.now, sleep=clock.sleep, webhook_url=stack.hook_url
        )
        qr = await run_on_clock(clock, adapter.request_pairing())
        assert qr.qr_code
        assert fake.instances[INSTANCE].webhook_url == stack.hook_url
        issued = adapter.issued_instance_token
        assert issued is not None
        # The caller keeps the issued token with the number (keyring) and tells the receiver:
        # from then on the gateway's calls, which carry it, are accepted.
        stack.directory.replace([dataclasses.replace(master_only, instance_token=issued)])
        await fake.show_qr(INSTANCE)
        assert stack.stored[-1] == QrEvent(ACCOUNT_ID, qr_code=fake.instances[INSTANCE].qr)
        await adapter.aclose()


async def test_a_message_reaches_the_sink(stack: Stack) -> None:
    stack.fake.add_instance(INSTANCE, token=TOKEN, webhook_url=stack.hook_url)
    data = {
        "from": "5511999990001@c.us",
        "message": "Oi!",
        "messageId": "3EB0AB",
        "pushName": "Ana",
    }
    answer = await stack.fake.emit(INSTANCE, "message", data)
    assert answer.status_code == 200
    (event,) = stack.stored
    assert isinstance(event, MessageEvent)
    assert (event.chat_key, event.text, event.sender_name) == ("5511999990001", "Oi!", "Ana")


@pytest.mark.parametrize(
    ("token", "instance_field", "status"),
    [
        ("wrong", None, 401),
        ("", None, 401),
        ("other-instance-token", None, 403),
        (None, "oficina", 403),  # the right token, a body for another instance
    ],
)
async def test_refused_calls_store_nothing_and_change_nothing(
    stack: Stack, token: str | None, instance_field: str | None, status: int
) -> None:
    fake, adapter = stack.fake, stack.adapter
    fake.add_instance(INSTANCE, token=TOKEN, webhook_url=stack.hook_url)
    other = fake.add_instance("oficina", token="other-instance-token")
    stack.directory.replace(
        [
            stack.account,
            dataclasses.replace(
                stack.account,
                account_id=99,
                name="Oficina",
                instance="oficina",
                instance_token=Secret(other.token),
            ),
        ]
    )
    for event, data in (
        ("ready", {"wid": "5511988887777@c.us"}),
        ("message", {"from": "5511999990001@c.us", "message": "x", "messageId": "3EB0"}),
    ):
        answer = await fake.emit(INSTANCE, event, data, token=token, instance_field=instance_field)
        assert answer.status_code == status
        assert set(answer.json()) == {"error"}
    assert stack.stored == [] and stack.observed == []
    stack.clock.advance(10)
    assert not adapter.ready_to_send()
