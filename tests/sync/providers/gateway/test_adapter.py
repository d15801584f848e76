"""The gateway adapter against the fake gateway over real HTTP: every call and its token, every
send error, pairing, status, logout and delete."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from sync.domain.events import ConnectionEvent, ProviderEvent, QrEvent
from sync.domain.messages import MediaRef, OutgoingMessage
from sync.domain.models import ConnectionState, MessageType
from sync.providers.base import (
    AuthError,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    RateLimited,
)
from sync.providers.gateway import (
    DEFAULT_RETRY_AFTER_S,
    MAX_TEXT_LENGTH,
    OPEN_SETTLE_S,
    QR_POLL_EVERY_S,
    QR_POLL_TRIES,
    GatewayAdapter,
)
from tests.fakes.clock import FakeClock
from tests.sync.providers.gateway.harness import (
    ACCOUNT_ID,
    INSTANCE,
    MASTER,
    TOKEN,
    GatewaySetup,
    dead_port,
    gateway_account,
    gateway_setup,
    harness,
    run_on_clock,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def setup() -> AsyncIterator[GatewaySetup]:
    async with gateway_setup() as made:
        yield made


# --- the fake's token rules (the API the adapter is written against) -----------------------------


async def test_the_fake_gateway_enforces_the_token_rules(setup: GatewaySetup) -> None:
    fake = setup.fake
    fake.add_instance(INSTANCE, token=TOKEN, state="connected")
    fake.add_instance("outra", token="other-token", state="connected")
    base = setup.base_url

    async def call(method: str, path: str, token: str | None, **kw: object) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        response = await setup.http.request(method, base + path, headers=headers, **kw)  # type: ignore[arg-type]
        if response.status_code >= 400:
            assert response.json()["success"] is False
            assert isinstance(response.json()["error"], str)
        return response.status_code

    own = f"/api/instance/{INSTANCE}"
    assert await call("GET", "/health", None) == 200
    # Listing, creating, deleting: the master token only.
    assert await call("GET", "/api/instances", MASTER) == 200
    assert await call("GET", "/api/instances", TOKEN) == 403
    assert await call("GET", "/api/instances", None) == 401
    assert await call("GET", "/api/instances", "nope") == 401
    assert await call("POST", "/api/instances", TOKEN, json={"instanceId": "x"}) == 403
    assert await call("DELETE", "/api/instance/outra", TOKEN) == 403
    # Its own instance: the instance token is enough; another instance's token is not.
    for method, path in (
        ("GET", "/status"),
        ("GET", "/qrcode"),
        ("POST", "/connect"),
        ("POST", "/disconnect"),
    ):
        assert await call(method, own + path, "other-token") == 403
        assert await call(method, own + path, None) == 401
        assert await call(method, own + path, "nope") == 401
        assert await call(method, own + path, TOKEN) == 200
        assert await call(method, own + path, MASTER) == 200
    fake.instances[INSTANCE].state = "connected"
    send = {"to": "5511999990001", "message": "oi"}
    assert await call("POST", own + "/send", "other-token", json=send) == 403
    assert await call("POST", own + "/send", TOKEN, json=send) == 200
    # ``phone`` is an alias of ``to``.
    assert (
        await call("POST", own + "/send", TOKEN, json={"phone": "5511999990001", "message": "x"})
        == 200
    )
    assert [a["to"] for a in fake.accepted] == ["5511999990001@s.whatsapp.net"] * 2
    assert await call("GET", "/api/instance/nada/status", MASTER) == 404


# --- pairing -------------------------------------------------------------------------------------


async def test_pairing_with_the_master_token_creates_the_instance_and_returns_its_qr(
    setup: GatewaySetup,
) -> None:
    adapter = setup.adapter(token="", webhook_url="https://caixa.example/hooks/gateway/x")
    qr = await run_on_clock(setup.clock, adapter.request_pairing())

    instance = setup.fake.instances[INSTANCE]
    assert isinstance(qr, QrEvent) and qr.account_id == ACCOUNT_ID
    assert qr.qr_code == instance.qr and qr.qr_code.startswith("2@")
    assert instance.webhook_url == "https://caixa.example/hooks/gateway/x"
    routes = [(route, who) for route, _, who in setup.fake.calls]
    assert routes == [
        ("list", "master"),
        ("create", "master"),
        ("connect", "instance"),  # the token the gateway just issued, the narrower one
        ("qrcode", "instance"),
    ]
    issued = adapter.issued_instance_token
    assert issued is not None and issued.reveal() == instance.token
    assert instance.token not in repr(adapter)


async def test_pairing_reuses_an_existing_instance_and_uses_the_instance_token(
    setup: GatewaySetup,
) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN)
    qr = await run_on_clock(setup.clock, setup.adapter().request_pairing())
    assert qr.qr_code == setup.fake.instances[INSTANCE].qr
    routes = [(route, who) for route, _, who in setup.fake.calls]
    assert routes == [("list", "master"), ("connect", "instance"), ("qrcode", "instance")]


async def test_pairing_with_only_the_instance_token_skips_listing_and_creating(
    setup: GatewaySetup,
) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN)
    await run_on_clock(setup.clock, setup.adapter(master="").request_pairing())
    assert [route for route, _, _ in setup.fake.calls] == ["connect", "qrcode"]


async def test_pairing_keeps_asking_for_the_qr_until_the_gateway_has_one(
    setup: GatewaySetup,
) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN).qr_after_polls = 2
    qr = await run_on_clock(setup.clock, setup.adapter().request_pairing())
    assert qr.qr_code == setup.fake.instances[INSTANCE].qr
    assert len(setup.fake.calls_to("qrcode")) == 3
    assert setup.clock.sleeps == [QR_POLL_EVERY_S, QR_POLL_EVERY_S]


async def test_pairing_gives_up_when_no_qr_ever_comes(setup: GatewaySetup) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN).qr_after_polls = 1000
    with pytest.raises(NotSent, match="no QR"):
        await run_on_clock(setup.clock, setup.adapter().request_pairing())
    assert len(setup.fake.calls_to("qrcode")) == QR_POLL_TRIES


async def test_pairing_an_instance_already_linked_returns_an_empty_qr(setup: GatewaySetup) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN, state="connected", phone="5511988887777")
    adapter = setup.adapter()
    qr = await run_on_clock(setup.clock, adapter.request_pairing())
    assert qr == QrEvent(ACCOUNT_ID)
    setup.clock.advance(OPEN_SETTLE_S)
    assert adapter.ready_to_send()


async def test_pairing_passes_a_pairing_code_through(setup: GatewaySetup) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN)
    setup.fake.respond_next(
        "qrcode", 200, {"success": True, "qr": "2@abc,def", "pairingCode": "ABCD1234"}
    )
    qr = await run_on_clock(setup.clock, setup.adapter().request_pairing(phone="+55 11 98888-7777"))
    assert (qr.qr_code, qr.pairing_code) == ("2@abc,def", "ABCD1234")


async def test_pairing_reuses_an_instance_created_meanwhile(setup: GatewaySetup) -> None:
    setup.fake.respond_next("list", 200, {"success": True, "instances": []})
    setup.fake.add_instance(INSTANCE, token=TOKEN)  # exists, but the listing did not show it
    qr = await run_on_clock(setup.clock, setup.adapter().request_pairing())
    assert qr.qr_code
    assert [r for r, _, _ in setup.fake.calls] == ["list", "create", "connect", "qrcode"]


@pytest.mark.parametrize(
    "listing",
    [
        ["loja-centro"],
        {"instances": {"loja-centro": {"status": "qr"}}},
        {"data": [{"id": "loja-centro"}]},
        [{"name": "loja-centro"}],
    ],
    ids=["names", "mapping", "data-ids", "names-in-objects"],
)
async def test_pairing_reads_every_listing_shape(setup: GatewaySetup, listing: object) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN)
    setup.fake.respond_next("list", 200, listing)
    await run_on_clock(setup.clock, setup.adapter().request_pairing())
    assert not setup.fake.calls_to("create")


async def test_pairing_with_a_refused_master_token_is_an_auth_error(setup: GatewaySetup) -> None:
    adapter = setup.adapter(master="wrong-master", token="")
    with pytest.raises(AuthError) as raised:
        await adapter.request_pairing()
    assert "wrong-master" not in str(raised.value)
    assert [r for r, _, _ in setup.fake.calls] == ["list"]


# --- status, logout, delete ----------------------------------------------------------------------


async def test_check_reads_health_and_status(setup: GatewaySetup) -> None:
    setup.fake.add_instance(
        INSTANCE, token=TOKEN, state="connected", phone="5511988887777", name="Loja Centro"
    )
    adapter = setup.adapter()
    info = await adapter.check()
    assert (info.phone, info.display_name, info.state) == (
        "5511988887777",
        "Loja Centro",
        ConnectionState.CONNECTED,
    )
    assert [(r, who) for r, _, who in setup.fake.calls] == [("health", "-"), ("status", "instance")]
    # A status saying connected opens the socket: ready once it has stayed open 3 s.
    assert not adapter.ready_to_send()
    setup.clock.advance(OPEN_SETTLE_S)
    assert adapter.ready_to_send()


@pytest.mark.parametrize(
    ("answer", "state", "phone"),
    [
        ({"status": "qr"}, ConnectionState.WAITING_FOR_QR, ""),
        (
            {"state": "open", "user": {"id": "5511977776666:4@s.whatsapp.net"}},
            ConnectionState.CONNECTED,
            "5511977776666",
        ),
        (
            {"connected": True, "wid": "5511977776666@c.us"},
            ConnectionState.CONNECTED,
            "5511977776666",
        ),
        ({"data": {"connection": "close"}}, ConnectionState.OFFLINE, ""),
        (
            {"instance": {"status": "CONNECTED", "wid": {"user": "12345", "server": "lid"}}},
            ConnectionState.CONNECTED,
            "",
        ),
        ({"status": "TOS_BLOCK"}, ConnectionState.BLOCKED, ""),
        ({"status": "connecting"}, ConnectionState.CONNECTING, ""),
    ],
)
async def test_check_reads_every_status_shape(
    setup: GatewaySetup, answer: dict[str, object], state: ConnectionState, phone: str
) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN)
    setup.fake.respond_next("status", 200, answer)
    info = await setup.adapter().check()
    assert (info.state, info.phone) == (state, phone)


async def test_check_with_a_refused_token_is_an_auth_error(setup: GatewaySetup) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN)
    with pytest.raises(AuthError):
        await setup.adapter(master="", token="not-the-token").check()


async def test_check_tolerates_a_gateway_without_health(setup: GatewaySetup) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN, state="connected")
    setup.fake.respond_next("health", 404, {"error": "Not Found"})
    assert (await setup.adapter().check()).state is ConnectionState.CONNECTED


async def test_check_of_an_unreachable_gateway_is_not_sent() -> None:
    with dead_port() as port:
        async with httpx.AsyncClient(timeout=1.0) as http:
            account = gateway_account(f"http://127.0.0.1:{port}", instance_token=TOKEN)
            with pytest.raises(NotSent, match="unreachable"):
                await GatewayAdapter(account, http).check()


async def test_logout_disconnects_with_the_instance_token_and_stops_sending(
    setup: GatewaySetup,
) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN, state="connected")
    adapter = setup.adapter()
    await adapter.check()
    setup.clock.advance(OPEN_SETTLE_S)
    assert adapter.ready_to_send()
    await adapter.logout()
    assert setup.fake.calls[-1] == ("disconnect", INSTANCE, "instance")
    assert setup.fake.instances[INSTANCE].state == "disconnected"
    assert not adapter.ready_to_send()


async def test_delete_needs_and_uses_the_master_token(setup: GatewaySetup) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN)
    with pytest.raises(AuthError, match="master token"):
        await setup.adapter(master="").delete()
    assert setup.fake.calls == []  # refused before any call
    await setup.adapter().delete()
    assert setup.fake.calls == [("delete", INSTANCE, "master")]
    assert INSTANCE not in setup.fake.instances


# --- sends ---------------------------------------------------------------------------------------


async def test_a_send_posts_to_and_message_with_the_instance_token() -> None:
    async with harness() as h:
        result = await h.adapter.send(h.outgoing("Seu pedido saiu"))
        assert h.fake.calls_to("send") == [("send", INSTANCE, "instance")]
        assert h.fake.accepted == [
            {
                "instance": INSTANCE,
                "to": "5511999990001@s.whatsapp.net",
                "message": "Seu pedido saiu",
                "id": result.provider_message_id,
            }
        ]


async def test_a_group_or_lid_chat_is_addressed_by_its_jid() -> None:
    async with harness() as h:
        group = OutgoingMessage(
            "c1", ACCOUNT_ID, "", "120363043211234567@g.us", MessageType.TEXT, "oi grupo"
        )
        lid = OutgoingMessage("c2", ACCOUNT_ID, "", "98765432109876@lid", MessageType.TEXT, "oi")
        await h.adapter.send(group)
        await h.adapter.send(lid)
        assert [a["to"] for a in h.fake.accepted] == [
            "120363043211234567@g.us",
            "98765432109876@lid",
        ]


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            OutgoingMessage(
                "c",
                ACCOUNT_ID,
                "5511999990001",
                "5511999990001",
                MessageType.IMAGE,
                "legenda",
                media=MediaRef(link="https://x/y.jpg"),
            ),
            "text only",
        ),
        (
            OutgoingMessage(
                "c", ACCOUNT_ID, "5511999990001", "5511999990001", MessageType.TEXT, "  "
            ),
            "empty",
        ),
        (
            OutgoingMessage(
                "c",
                ACCOUNT_ID,
                "5511999990001",
                "5511999990001",
                MessageType.TEXT,
                "x" * (MAX_TEXT_LENGTH + 1),
            ),
            "longer than",
        ),
        (OutgoingMessage("c", ACCOUNT_ID, "12", "12", MessageType.TEXT, "oi"), "invalid recipient"),
        (OutgoingMessage("c", ACCOUNT_ID, "", "", MessageType.TEXT, "oi"), "invalid recipient"),
        (
            OutgoingMessage("c", ACCOUNT_ID, "", "status@broadcast", MessageType.TEXT, "oi"),
            "invalid recipient",
        ),
    ],
    ids=["media", "empty", "too-long", "short-number", "no-recipient", "broadcast"],
)
async def test_what_the_gateway_cannot_send_is_refused_before_any_call(
    message: OutgoingMessage, reason: str
) -> None:
    async with harness() as h:
        with pytest.raises(PermanentSendError, match=reason):
            await h.adapter.send(message)
        assert h.fake.calls_to("send") == []


async def test_a_text_of_exactly_the_limit_goes_out() -> None:
    async with harness() as h:
        await h.adapter.send(h.outgoing("x" * MAX_TEXT_LENGTH))
        assert h.accepted() == 1


@pytest.mark.parametrize(
    ("failure", "error", "match"),
    [
        ("not_connected", NotSent, "409"),
        ("not_connected_400", NotSent, "not connected"),
        ("unavailable", NotSent, "503"),
        ("server_error", DeliveryUnknown, "500"),
        ("invalid_recipient", PermanentSendError, "invalid recipient"),
        ("unauthorized", AuthError, "401"),
    ],
)
async def test_each_gateway_answer_maps_to_its_error(
    failure: str, error: type[Exception], match: str
) -> None:
    async with harness() as h:
        h.arrange(failure)
        with pytest.raises(error, match=match):
            await h.adapter.send(h.outgoing())
        assert h.accepted() == 0


@pytest.mark.parametrize("status", [409, 425, 503])
async def test_not_connected_answers_close_the_socket_until_it_is_back(status: int) -> None:
    async with harness() as h:
        h.fake.respond_next("send", status, {"success": False, "error": "Instance not connected"})
        with pytest.raises(NotSent):
            await h.adapter.send(h.outgoing())
        assert not h.adapter.ready_to_send()
        assert h.adapter.reconnecting  # and it helps the socket come back
        calls = len(h.fake.calls)
        with pytest.raises(NotSent, match="not open"):
            await h.adapter.send(h.outgoing())
        assert len(h.fake.calls) == calls


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (403, {"success": False, "error": "Token not allowed"}, AuthError),
        (404, {"success": False, "error": "Instance not found"}, PermanentSendError),
        (422, {"success": False, "error": "message is required"}, PermanentSendError),
        (502, "Bad Gateway", DeliveryUnknown),
        (504, {"error": "timeout"}, DeliveryUnknown),
        (200, {"success": True}, DeliveryUnknown),  # taken, but not named: never resend
        (200, {"success": False, "error": "Number not on WhatsApp"}, PermanentSendError),
        (200, {"success": False, "error": "Socket not connected"}, NotSent),
    ],
)
async def test_other_answers(status: int, body: object, error: type[Exception]) -> None:
    async with harness() as h:
        h.fake.respond_next("send", status, body)
        with pytest.raises(error):
            await h.adapter.send(h.outgoing())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"success": True, "messageId": "3EB0AA"}, "3EB0AA"),
        ({"key": {"remoteJid": "x@s.whatsapp.net", "fromMe": True, "id": "BAE5F0"}}, "BAE5F0"),
        ({"success": True, "data": {"messageId": "3EB0BB"}}, "3EB0BB"),
        ({"id": {"fromMe": True, "id": "3EB0CC", "_serialized": "true_x@c.us_3EB0CC"}}, "3EB0CC"),
        ({"success": True, "message": {"key": {"id": "3EB0DD"}}}, "3EB0DD"),
    ],
    ids=["messageId", "baileys-key", "data", "wwebjs-id", "nested-key"],
)
async def test_the_message_id_is_read_from_every_answer_shape(body: object, expected: str) -> None:
    async with harness() as h:
        h.fake.respond_next("send", 200, body)
        assert (await h.adapter.send(h.outgoing())).provider_message_id == expected


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Retry-After": "12"}, {"error": "slow down"}, 12.0),
        ({}, {"error": "slow down", "retryAfter": 4}, 4.0),
        ({}, {"error": "slow down"}, DEFAULT_RETRY_AFTER_S),
        ({"Retry-After": "soon"}, {"error": "slow down"}, DEFAULT_RETRY_AFTER_S),
    ],
)
async def test_retry_after(headers: dict[str, str], body: object, expected: float) -> None:
    async with harness() as h:
        h.fake.respond_next("send", 429, body, headers)
        with pytest.raises(RateLimited) as raised:
            await h.adapter.send(h.outgoing())
        assert raised.value.retry_after == expected


async def test_retry_after_as_an_http_date() -> None:
    async with harness() as h:
        when = datetime.now(UTC) + timedelta(seconds=90)
        h.fake.respond_next(
            "send", 429, {"error": "x"}, {"Retry-After": format_datetime(when, usegmt=True)}
        )
        with pytest.raises(RateLimited) as raised:
            await h.adapter.send(h.outgoing())
        assert 80 <= raised.value.retry_after <= 90


async def test_a_gateway_echoing_a_token_does_not_leak_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with harness() as h:
        echoed = f"bad token {h.secrets[1]} for master {h.secrets[0]}"
        h.fake.respond_next("send", 400, {"success": False, "error": echoed})
        with pytest.raises(PermanentSendError) as raised:
            await h.adapter.send(h.outgoing())
        for secret in h.secrets:
            assert secret not in str(raised.value)
            assert secret not in repr(raised.value)
            assert all(secret not in r.getMessage() for r in caplog.records)


async def test_mark_read_is_a_no_op_without_any_call() -> None:
    async with harness() as h:
        calls = len(h.fake.calls)
        await h.adapter.mark_read("5511999990001", ["3EB0AA"])
        assert len(h.fake.calls) == calls


async def test_repr_shows_kind_id_and_name_only() -> None:
    async with harness() as h:
        assert repr(h.adapter) == (
            "GatewayAdapter(kind='gateway', account_id=7, name='Loja Centro (gateway)')"
        )
        for secret in h.secrets:
            assert secret not in repr(h.adapter)


# --- start ---------------------------------------------------------------------------------------


async def test_start_reports_the_link_as_the_gateway_sees_it() -> None:
    async with harness() as h:
        assert h.events == [
            ConnectionEvent(ACCOUNT_ID, ConnectionState.CONNECTED, phone="5511988887777")
        ]


async def test_start_on_a_dropped_instance_reports_offline_and_reconnects() -> None:
    async with harness(connected=False) as h:
        assert [(e.state, e.needs_repair) for e in h.events if isinstance(e, ConnectionEvent)] == [
            (ConnectionState.OFFLINE, False)
        ]
        assert h.adapter.reconnecting
        assert not h.adapter.ready_to_send()


async def test_start_with_a_refused_token_asks_for_new_credentials(setup: GatewaySetup) -> None:
    setup.fake.add_instance(INSTANCE, token=TOKEN)
    adapter = setup.adapter(master="", token="revoked")
    await adapter.start(setup.sink)
    (event,) = setup.events
    assert isinstance(event, ConnectionEvent)
    assert event.needs_repair and "refused the token" in event.reason
    assert "revoked" not in event.reason
    assert not adapter.reconnecting
    await adapter.aclose()


async def test_start_on_an_unreachable_gateway_reports_offline_and_retries() -> None:
    with dead_port() as port:
        async with httpx.AsyncClient(timeout=1.0) as http:
            clock = FakeClock()
            account = gateway_account(f"http://127.0.0.1:{port}", instance_token=TOKEN)
            adapter = GatewayAdapter(account, http, clock=clock.now, sleep=clock.sleep)
            events: list[ProviderEvent] = []

            async def sink(batch: Sequence[ProviderEvent]) -> None:
                events.extend(batch)

            await adapter.start(sink)
            (event,) = events
            assert isinstance(event, ConnectionEvent)
            assert event.state is ConnectionState.OFFLINE and not event.needs_repair
            assert adapter.reconnecting
            await adapter.aclose()
            assert not adapter.reconnecting
