"""The fake Evolution server behaves as the source says, and its webhooks, posted over real HTTP
to a receiver-shaped app (``/hooks/evolution/{instance}[/{event}]``), parse end to end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sync.domain.events import ConnectionEvent, MessageEvent, ProviderEvent, QrEvent, StatusEvent
from sync.domain.messages import OutgoingMessage
from sync.domain.models import ConnectionState, Direction, MessageType
from sync.providers.base import WebhookRejected, WebhookRequest
from sync.providers.evolution import EvolutionAdapter, parse_webhook
from tests.fakes.evolution_server import FakeEvolution, create_jid, dotted_event, path_suffix
from tests.fakes.loopback import serve
from tests.sync.providers.evolution.harness import (
    API_KEY,
    INSTANCE,
    INSTANCE_TOKEN,
    OWN_PHONE,
    evolution_account,
    fake_evolution,
)


class Receiver:
    """A minimal receiver: the route shape of the real one, parse_webhook, a 2xx or 4xx."""

    def __init__(self) -> None:
        self.accounts: list[Any] = []
        self.events: list[ProviderEvent] = []
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.app = Starlette(
            routes=[
                Route("/hooks/evolution/{instance}", self.hook, methods=["POST"]),
                Route("/hooks/evolution/{instance}/{event}", self.hook, methods=["POST"]),
            ]
        )

    async def hook(self, request: Request) -> JSONResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.seen.append((request.url.path, headers))
        req = WebhookRequest(
            method=request.method,
            headers=headers,
            body=await request.body(),
            instance=request.path_params["instance"],
            event=request.path_params.get("event", ""),
        )
        try:
            result = parse_webhook(req, self.accounts)
        except WebhookRejected as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status_code)
        self.events.extend(result.events)
        return JSONResponse({"ok": True})


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    recv = Receiver()
    with serve(recv.app) as url:
        yield recv, url


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeEvolution, str]]:
    with fake_evolution() as running:
        yield running


async def paired(
    server: tuple[FakeEvolution, str], receiver: tuple[Receiver, str]
) -> tuple[FakeEvolution, Receiver, EvolutionAdapter, httpx.AsyncClient]:
    fake, base_url = server
    recv, url = receiver
    fake.reset(api_key=API_KEY)
    recv.events.clear()
    recv.seen.clear()
    http = httpx.AsyncClient(timeout=2)
    account = evolution_account(base_url)
    recv.accounts = [account]
    adapter = EvolutionAdapter(account, http, webhook_url=f"{url}/hooks/evolution/{INSTANCE}")
    return fake, recv, adapter, http


@pytest.mark.anyio
async def test_pairing_dialog_flow_over_http(
    server: tuple[FakeEvolution, str], receiver: tuple[Receiver, str]
) -> None:
    fake, recv, adapter, http = await paired(server, receiver)
    async with http:
        first = await adapter.request_pairing()
        refreshed = await fake.emit_qr(INSTANCE)
        await fake.scan(INSTANCE, phone=OWN_PHONE, profile_name="Loja Centro")
        qrs = [e for e in recv.events if isinstance(e, QrEvent)]
        assert qrs == [QrEvent(7, qr_code=refreshed["qrcode"]["code"])]
        assert qrs[0].qr_code != first.qr_code
        assert recv.events[-1] == ConnectionEvent(7, ConnectionState.CONNECTED, phone=OWN_PHONE)
        adapter.observe(recv.events)
        assert adapter.ready_to_send()
        info = await adapter.check()
        assert (info.phone, info.display_name) == (OWN_PHONE, "Loja Centro")
        path, headers = recv.seen[-1]
        assert path == f"/hooks/evolution/{INSTANCE}"
        assert headers["x-caixa-webhook-token"] == "caixa-webhook-secret-9a7b3c"
        await adapter.aclose()


@pytest.mark.anyio
async def test_messages_receipts_and_a_logout_arrive(
    server: tuple[FakeEvolution, str], receiver: tuple[Receiver, str]
) -> None:
    fake, recv, adapter, http = await paired(server, receiver)
    async with http:
        await adapter.request_pairing()
        await fake.scan(INSTANCE)
        adapter.observe(recv.events)
        inbound = await fake.deliver_inbound(
            INSTANCE,
            text="tem pão?",
            remote_jid="219876543210987@lid",
            remote_jid_alt="5511977776666@s.whatsapp.net",
        )
        reply = OutgoingMessage(
            client_id="c1",
            account_id=7,
            to_phone="5511977776666",
            chat_key="5511977776666",
            type=MessageType.TEXT,
            text="tem sim",
        )
        sent = await adapter.send(reply)
        await fake.flush(INSTANCE)  # send.message
        await fake.ack(INSTANCE, sent.provider_message_id, "DELIVERY_ACK")
        await fake.ack(INSTANCE, sent.provider_message_id, "READ")
        messages = [e for e in recv.events if isinstance(e, MessageEvent)]
        assert [(m.provider_message_id, m.direction) for m in messages] == [
            (inbound["key"]["id"], Direction.IN),
            (sent.provider_message_id, Direction.OUT),
        ]
        assert messages[0].chat_key == messages[1].chat_key == "5511977776666"
        statuses = [e.status.value for e in recv.events if isinstance(e, StatusEvent)]
        assert statuses == ["delivered", "read"]
        await fake.logout(INSTANCE)
        adapter.observe(recv.events)
        assert adapter.needs_repair and not adapter.ready_to_send()
        await adapter.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("casing", ["dotted", "upper"])
async def test_by_events_suffixes_and_casings(
    server: tuple[FakeEvolution, str], receiver: tuple[Receiver, str], casing: str
) -> None:
    fake, recv, adapter, http = await paired(server, receiver)
    async with http:
        await adapter.request_pairing()
        response = await fake.emit(
            INSTANCE, "qrcode.updated", {"qrcode": {"code": "2@s"}}, casing=casing, by_events=True
        )
        assert response is not None and response.status_code == 200
        assert recv.seen[-1][0] == f"/hooks/evolution/{INSTANCE}/qrcode-updated"
        assert recv.events == [QrEvent(7, qr_code="2@s")]
        # not subscribed (chats.upsert): Evolution does not post it at all
        assert await fake.emit(INSTANCE, "chats.upsert", [{"id": "x"}]) is None


@pytest.mark.anyio
async def test_forged_posts_are_refused(
    server: tuple[FakeEvolution, str], receiver: tuple[Receiver, str]
) -> None:
    fake, recv, adapter, http = await paired(server, receiver)
    async with http:
        await adapter.request_pairing()
        wrong = await fake.emit(
            INSTANCE,
            "qrcode.updated",
            {"qrcode": {"code": "2@x"}},
            headers={"x-caixa-webhook-token": "guess"},
        )
        assert wrong is not None and wrong.status_code == 401
        other = await fake.emit(
            INSTANCE, "qrcode.updated", {"qrcode": {"code": "2@x"}}, body_instance="someone-else"
        )
        assert other is not None and other.status_code == 403
        assert recv.events == []


# --- the fake's own fidelity to the source --------------------------------------------------


@pytest.mark.anyio
async def test_guards_run_in_evolutions_order(server: tuple[FakeEvolution, str]) -> None:
    fake, base_url = server
    fake.reset(api_key=API_KEY)
    fake.add_instance(INSTANCE, token=INSTANCE_TOKEN)
    async with httpx.AsyncClient(base_url=base_url) as http:
        missing = await http.get("/instance/connectionState/nobody")
        assert missing.status_code == 404  # before any key check
        assert missing.json() == {
            "status": 404,
            "error": "Not Found",
            "response": {"message": ['The "nobody" instance does not exist']},
        }
        nokey = await http.get(f"/instance/connectionState/{INSTANCE}")
        assert nokey.status_code == 401
        assert nokey.json()["response"] == {"message": "Unauthorized"}
        taken = await http.post("/instance/create", json={"instanceName": INSTANCE})
        assert taken.status_code == 403
        token_create = await http.post(
            "/instance/create", json={"instanceName": "new"}, headers={"apikey": INSTANCE_TOKEN}
        )
        assert token_create.status_code == 401  # creating needs the global key
        by_token = await http.get("/instance/fetchInstances", headers={"apikey": INSTANCE_TOKEN})
        assert [row["name"] for row in by_token.json()] == [INSTANCE]
        unknown = await http.get(
            "/instance/fetchInstances", params={"instanceName": "x"}, headers={"apikey": API_KEY}
        )
        assert unknown.status_code == 404


def test_event_spellings_and_jids() -> None:
    assert dotted_event("MESSAGES_UPSERT") == "messages.upsert"
    assert dotted_event("SEND_MESSAGE_UPDATE") == "send.message.update"
    assert dotted_event("GROUP_PARTICIPANTS_UPDATE") == "group-participants.update"
    assert path_suffix("messages.upsert") == "messages-upsert"
    assert create_jid("+55 (11) 97777-6666") == "5511977776666@s.whatsapp.net"
    assert create_jid("5531977776666") == "553177776666@s.whatsapp.net"  # ninth digit dropped
    assert create_jid("219876543210987@lid") == "219876543210987@lid"
