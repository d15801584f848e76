"""The Evolution adapter against the fake Evolution server, over real HTTP on loopback: every
call, every send kind and every error class."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.domain.events import ConnectionEvent, MessageEvent, ProviderEvent, QrEvent, StatusEvent
from sync.domain.messages import MediaRef, OutgoingMessage, TemplateRef
from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.providers.base import (
    AuthError,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    ProviderError,
    RateLimited,
)
from sync.providers.evolution import (
    WEBHOOK_EVENTS,
    WEBHOOK_TOKEN_HEADER,
    EvolutionAdapter,
    ReconnectPolicy,
    error_for,
    parse_webhook,
)
from sync.providers.http import RETRY_AFTER_MIN
from sync.providers.registry import hook_url
from tests.fakes.evolution_server import FakeEvolution
from tests.polling import eventually
from tests.sync.providers.evolution.harness import (
    API_KEY,
    CUSTOMER,
    INSTANCE,
    INSTANCE_TOKEN,
    OWN_PHONE,
    WEBHOOK_SECRET,
    EvolutionHarness,
    body,
    evolution_account,
    fake_evolution,
    harness,
    request,
)

HOOK = "https://caixa.example/hooks/evolution/caixa-loja"


class Env:
    """A fake Evolution on loopback and an adapter for it (the instance may not exist yet)."""

    def __init__(self, fake: FakeEvolution, adapter: EvolutionAdapter, slept: list[float]) -> None:
        self.fake = fake
        self.adapter = adapter
        self.slept = slept
        self.events: list[ProviderEvent] = []

    async def sink(self, events: Sequence[ProviderEvent]) -> None:
        self.events.extend(events)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeEvolution, str]]:
    """One fake Evolution for the module (reset by every test): starting one costs ~0.2 s."""
    with fake_evolution() as running:
        yield running


@contextlib.asynccontextmanager
async def env(
    server: tuple[FakeEvolution, str],
    *,
    api_key: str = API_KEY,
    instance_token: str = INSTANCE_TOKEN,
    **options: Any,
) -> AsyncIterator[Env]:
    fake, base_url = server
    fake.reset(api_key=API_KEY)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    async with httpx.AsyncClient(timeout=2.0) as http:
        account = evolution_account(base_url, api_key=api_key, instance_token=instance_token)
        options.setdefault("webhook_url", HOOK)
        adapter = EvolutionAdapter(account, http, sleep=sleep, **options)
        e = Env(fake, adapter, slept)
        e.adapter._sink = e.sink
        try:
            yield e
        finally:
            await adapter.aclose()
            fake.release()


def out(h: EvolutionHarness, type_: MessageType, text: str = "", **fields: Any) -> OutgoingMessage:
    return OutgoingMessage(
        client_id=str(uuid.uuid4()),
        account_id=h.adapter.account_id,
        to_phone=fields.pop("to_phone", CUSTOMER),
        chat_key=fields.pop("chat_key", CUSTOMER),
        type=type_,
        text=text,
        **fields,
    )


def last_sent(h: EvolutionHarness) -> dict[str, Any]:
    return h.fake.sent[-1]


# --- pairing and the instance lifecycle ----------------------------------------------------------


@pytest.mark.anyio
async def test_pairing_creates_the_instance_with_caixas_webhook(
    server: tuple[FakeEvolution, str],
) -> None:
    async with env(server) as e:
        qr = await e.adapter.request_pairing()
        assert qr.qr_code.startswith("2@") and qr.pairing_code == ""
        assert e.adapter.state is ConnectionState.WAITING_FOR_QR
        instance = e.fake.instances[INSTANCE]
        assert instance.token == INSTANCE_TOKEN and instance.integration == "WHATSAPP-BAILEYS"
        assert instance.webhook is not None
        assert instance.webhook["url"] == HOOK
        assert instance.webhook["headers"] == {WEBHOOK_TOKEN_HEADER: WEBHOOK_SECRET}
        assert set(instance.webhook["events"]) == set(WEBHOOK_EVENTS)
        assert not instance.webhook["byEvents"]
        create = next(b for r, _, b in e.fake.requests if r == "POST /instance/create")
        assert create["qrcode"] is True and create["integration"] == "WHATSAPP-BAILEYS"


@pytest.mark.anyio
async def test_pairing_code_for_a_new_instance(server: tuple[FakeEvolution, str]) -> None:
    async with env(server) as e:
        qr = await e.adapter.request_pairing(phone="+55 (11) 98888-7777")
        assert len(qr.pairing_code) == 8 and qr.qr_code
        assert e.fake.instances[INSTANCE].number == OWN_PHONE
    with pytest.raises(PermanentSendError):
        async with env(server) as e:
            await e.adapter.request_pairing(phone="12")


@pytest.mark.anyio
async def test_pairing_reuses_an_existing_instance_and_fixes_its_webhook(
    server: tuple[FakeEvolution, str],
) -> None:
    async with env(server) as e:
        e.fake.add_instance(INSTANCE, token=INSTANCE_TOKEN, state="close", phone="")
        qr = await e.adapter.request_pairing(phone=OWN_PHONE)
        assert e.fake.calls["POST /instance/create"] == 0
        assert e.fake.calls["POST /webhook/set"] == 1
        assert e.fake.instances[INSTANCE].webhook["headers"] == {  # type: ignore[index]
            WEBHOOK_TOKEN_HEADER: WEBHOOK_SECRET
        }
        assert qr.qr_code and len(qr.pairing_code) == 8
        assert ("GET /instance/connect", f"/instance/connect/{INSTANCE}", None) in e.fake.requests


@pytest.mark.anyio
async def test_pairing_code_for_an_unlinked_instance_waiting_for_a_qr(
    server: tuple[FakeEvolution, str],
) -> None:
    async with env(server) as e:
        e.fake.add_instance(INSTANCE, token=INSTANCE_TOKEN, state="connecting", phone="")
        qr = await e.adapter.request_pairing(phone=OWN_PHONE)
        # connect ignores ?number= while a socket is up: the adapter closed it first.
        assert e.fake.calls["DELETE /instance/logout"] == 1
        assert len(qr.pairing_code) == 8


@pytest.mark.anyio
async def test_pairing_an_open_instance_needs_no_qr(server: tuple[FakeEvolution, str]) -> None:
    async with env(server) as e:
        e.fake.add_instance(INSTANCE, token=INSTANCE_TOKEN, state="open")
        qr = await e.adapter.request_pairing()
        assert qr == QrEvent(7)
        assert e.adapter.ready_to_send()
        assert e.events[-1] == ConnectionEvent(7, ConnectionState.CONNECTED, phone=OWN_PHONE)


@pytest.mark.anyio
async def test_create_race_reuses_the_instance(server: tuple[FakeEvolution, str]) -> None:
    async with env(server) as e:
        e.fake.add_instance(INSTANCE, token=INSTANCE_TOKEN, state="close", phone="")
        real = e.adapter._find_instance
        calls = 0

        async def first_missing() -> dict[str, Any] | None:
            nonlocal calls
            calls += 1
            return None if calls == 1 else await real()

        e.adapter._find_instance = first_missing  # type: ignore[method-assign]
        qr = await e.adapter.request_pairing()
        assert e.fake.calls["POST /instance/create"] == 1  # answered 403 "already in use"
        assert e.fake.calls["POST /webhook/set"] == 1 and qr.qr_code


@pytest.mark.anyio
async def test_creating_needs_the_global_key(server: tuple[FakeEvolution, str]) -> None:
    async with env(server, api_key="") as e:
        with pytest.raises(AuthError):
            await e.adapter.request_pairing()
        assert e.fake.calls["POST /instance/create"] == 0


@pytest.mark.anyio
async def test_webhooks_set_by_the_adapter_authenticate_with_parse_webhook(
    server: tuple[FakeEvolution, str],
) -> None:
    async with env(server) as e:
        await e.adapter.request_pairing()
        prepared = e.fake.prepare_webhook(INSTANCE, "qrcode.updated", {"qrcode": {"code": "2@x"}})
        assert prepared is not None
        url, headers, payload = prepared
        assert url == HOOK
        req = request(payload, token=headers[WEBHOOK_TOKEN_HEADER])
        assert parse_webhook(req, [e.adapter._account]).events == (QrEvent(7, qr_code="2@x"),)


@pytest.mark.anyio
async def test_check_reports_the_profile(server: tuple[FakeEvolution, str]) -> None:
    async with env(server) as e:
        e.fake.add_instance(INSTANCE, token=INSTANCE_TOKEN, state="open", profile_name="Loja X")
        info = await e.adapter.check()
        assert (info.phone, info.display_name, info.state) == (
            OWN_PHONE,
            "Loja X",
            ConnectionState.CONNECTED,
        )
        e.fake.instances[INSTANCE].state = "connecting"
        assert (await e.adapter.check()).state is ConnectionState.CONNECTING
        e.fake.instances[INSTANCE].owner_jid = ""  # never linked: "connecting" is a QR waiting
        assert (await e.adapter.check()).state is ConnectionState.WAITING_FOR_QR
        e.fake.instances[INSTANCE].owner_jid = f"{OWN_PHONE}@s.whatsapp.net"
        e.fake.instances[INSTANCE].state = "close"
        assert (await e.adapter.check()).state is ConnectionState.OFFLINE
        e.fake.instances[INSTANCE].disconnection_code = 401
        assert (await e.adapter.check()).state is ConnectionState.NEEDS_REPAIR
        e.fake.instances[INSTANCE].disconnection_code = 403
        assert (await e.adapter.check()).state is ConnectionState.BLOCKED


@pytest.mark.anyio
async def test_check_without_instance_or_with_a_bad_key(server: tuple[FakeEvolution, str]) -> None:
    async with env(server) as e:
        assert (await e.adapter.check()).state is ConnectionState.NEEDS_REPAIR
    async with env(server, api_key="", instance_token="wrong-token") as e:
        e.fake.add_instance(INSTANCE, token=INSTANCE_TOKEN)
        with pytest.raises(AuthError):
            await e.adapter.check()


@pytest.mark.anyio
async def test_an_instance_token_alone_is_enough_for_its_instance(
    server: tuple[FakeEvolution, str],
) -> None:
    async with env(server, api_key="") as e:
        e.fake.add_instance(INSTANCE, token=INSTANCE_TOKEN, state="open")
        assert (await e.adapter.check()).state is ConnectionState.CONNECTED
        await e.adapter.ensure_webhook()
        assert await e.adapter.connection_state() == "open"


@pytest.mark.anyio
async def test_logout_delete_restart(server: tuple[FakeEvolution, str]) -> None:
    async with env(server) as e:
        e.fake.add_instance(INSTANCE, token=INSTANCE_TOKEN, state="open")
        await e.adapter.restart()
        await e.adapter.logout()
        assert e.fake.instances[INSTANCE].state == "close"
        assert e.adapter.needs_repair and not e.adapter.ready_to_send()
        await e.adapter.logout()  # already closed: 400 "not connected" counts as done
        with pytest.raises(ProviderError):
            await e.adapter.restart()  # Evolution answers 200 {error: true} on a closed one
        await e.adapter.delete()
        assert INSTANCE not in e.fake.instances
        await e.adapter.delete()  # gone already: done
        # what Evolution posts on its own afterwards: the logout, then the removal
        queued = [event for _, event, _ in e.fake.pending]
        assert "logout.instance" in queued and queued[-1] == "remove.instance"


@pytest.mark.anyio
async def test_connect_answers(server: tuple[FakeEvolution, str]) -> None:
    async with env(server) as e:
        e.fake.add_instance(INSTANCE, token=INSTANCE_TOKEN, state="open")
        assert await e.adapter.connect() is None
        e.fake.instances[INSTANCE].state = "close"
        e.fake.instances[INSTANCE].session = False
        qr = await e.adapter.connect(phone=OWN_PHONE)
        assert qr is not None and qr.qr_code and len(qr.pairing_code) == 8


# --- sends -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_text_with_reply_and_preview(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        customer = h.fake.record(INSTANCE, text="quanto custa?", msg_id="3A0QUESTION")
        result = await h.adapter.send(
            out(
                h,
                MessageType.TEXT,
                "R$ 20 https://loja.example",
                reply_to="3A0QUESTION",
                preview_url=True,
            )
        )
        sent = last_sent(h)
        assert sent["route"] == "sendText"
        assert sent["body"] == {
            "number": CUSTOMER,
            "text": "R$ 20 https://loja.example",
            "linkPreview": True,
            "quoted": {"key": {"id": "3A0QUESTION"}},
        }
        assert sent["answer"]["contextInfo"]["stanzaId"] == customer["key"]["id"]
        assert result.provider_message_id == sent["answer"]["key"]["id"]
        await h.adapter.send(out(h, MessageType.TEXT, "sem prévia"))
        assert last_sent(h)["body"]["linkPreview"] is False


@pytest.mark.anyio
async def test_sends_to_groups_and_lid_chats(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        group = "120363025246125486@g.us"
        await h.adapter.send(out(h, MessageType.TEXT, "oi grupo", to_phone="", chat_key=group))
        assert last_sent(h)["body"]["number"] == group
        lid = "219876543210987@lid"
        await h.adapter.send(out(h, MessageType.TEXT, "oi", to_phone="", chat_key=lid))
        assert last_sent(h)["body"]["number"] == lid
        with pytest.raises(PermanentSendError):
            await h.adapter.send(out(h, MessageType.TEXT, "oi", to_phone="", chat_key=""))


@pytest.mark.anyio
async def test_media_by_link(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        link = "https://cdn.example/fotos/bolo.png"
        await h.adapter.send(
            out(h, MessageType.IMAGE, "bolo de hoje", media=MediaRef(link=link), reply_to="3A1")
        )
        assert last_sent(h)["body"] == {
            "number": CUSTOMER,
            "mediatype": "image",
            "media": link,
            "fileName": "bolo.png",
            "caption": "bolo de hoje",
            "mimetype": "image/png",
            "quoted": {"key": {"id": "3A1"}},
        }
        await h.adapter.send(out(h, MessageType.VIDEO, "", media=MediaRef(link=link + "?v=1")))
        assert last_sent(h)["body"]["mediatype"] == "video"


@pytest.mark.anyio
async def test_document_from_a_local_file(
    server: tuple[FakeEvolution, str], tmp_path: Path
) -> None:
    pdf = tmp_path / "pedido 42.pdf"
    pdf.write_bytes(b"%PDF-1.4 fake")
    async with harness(server=server) as h:
        media = MediaRef(path=str(pdf), filename="Pedido-42.pdf", mime_type="application/pdf")
        await h.adapter.send(out(h, MessageType.DOCUMENT, "segue o pedido", media=media))
        sent = last_sent(h)["body"]
        assert sent["mediatype"] == "document" and sent["fileName"] == "Pedido-42.pdf"
        assert base64.b64decode(sent["media"]) == b"%PDF-1.4 fake"
        assert sent["mimetype"] == "application/pdf"
        # without a filename the file's own name is sent (a base64 document needs one)
        await h.adapter.send(out(h, MessageType.DOCUMENT, "", media=MediaRef(path=str(pdf))))
        assert last_sent(h)["body"]["fileName"] == "pedido 42.pdf"


@pytest.mark.anyio
async def test_voice_note_and_sticker(server: tuple[FakeEvolution, str], tmp_path: Path) -> None:
    voice = tmp_path / "voz.ogg"
    voice.write_bytes(b"OggS fake")
    async with harness(server=server) as h:
        await h.adapter.send(out(h, MessageType.AUDIO, "", media=MediaRef(path=str(voice))))
        sent = last_sent(h)
        assert sent["route"] == "sendWhatsAppAudio"
        assert sent["body"] == {
            "number": CUSTOMER,
            "audio": base64.b64encode(b"OggS fake").decode(),
        }
        assert sent["answer"]["message"]["audioMessage"]["ptt"] is True
        link = "https://cdn.example/s.webp"
        await h.adapter.send(out(h, MessageType.STICKER, "", media=MediaRef(link=link)))
        assert last_sent(h)["route"] == "sendSticker"
        assert last_sent(h)["body"] == {"number": CUSTOMER, "sticker": link}


@pytest.mark.anyio
async def test_reaction_uses_the_stored_key(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        mine = await h.adapter.send(h.outgoing("pedido confirmado"))
        await h.adapter.send(
            out(h, MessageType.REACTION, "", reply_to=mine.provider_message_id, reaction="👍")
        )
        body_ = last_sent(h)["body"]
        assert body_ == {
            "key": {
                "id": mine.provider_message_id,
                "remoteJid": f"{CUSTOMER}@s.whatsapp.net",
                "fromMe": True,
            },
            "reaction": "👍",
        }
        lid = "219876543210987@lid"
        h.fake.record(INSTANCE, remote_jid=lid, msg_id="3A0FROMLID")
        await h.adapter.send(out(h, MessageType.REACTION, "", reply_to="3A0FROMLID", reaction=""))
        assert last_sent(h)["body"]["key"] == {
            "id": "3A0FROMLID",
            "remoteJid": lid,
            "fromMe": False,
        }
        # unknown to Evolution: the customer's message in this chat
        await h.adapter.send(out(h, MessageType.REACTION, "", reply_to="3A0GONE", reaction="❤️"))
        assert last_sent(h)["body"]["key"]["fromMe"] is False


@pytest.mark.anyio
async def test_local_checks_make_no_call(server: tuple[FakeEvolution, str], tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    with big.open("wb") as f:
        f.truncate(17 * 1024 * 1024)  # sparse: the size is what counts
    link = MediaRef(link="https://cdn.example/a.jpg")
    async with harness(server=server) as h:
        before = sum(h.fake.calls.values())
        bad = [
            out(h, MessageType.TEXT, "   "),
            out(h, MessageType.TEXT, "x" * 65_537),
            out(h, MessageType.IMAGE, "x" * 65_537, media=link),
            out(h, MessageType.IMAGE, "sem mídia"),
            out(h, MessageType.IMAGE, "", media=MediaRef(link="ftp://x/a.jpg")),
            out(h, MessageType.AUDIO, "legenda", media=link),
            out(h, MessageType.STICKER, "legenda", media=link),
            out(h, MessageType.VIDEO, "", media=MediaRef(path=str(big))),
            out(h, MessageType.DOCUMENT, "", media=MediaRef(path=str(tmp_path / "missing.pdf"))),
            out(h, MessageType.DOCUMENT, "", media=MediaRef(path=str(tmp_path))),
            out(h, MessageType.TEMPLATE, "", template=TemplateRef("promo", "pt_BR")),
            out(h, MessageType.INTERACTIVE, "", interactive={"type": "button", "body": "?"}),
            out(h, MessageType.LOCATION, ""),
            out(h, MessageType.REACTION, "", reaction="👍"),
            out(h, MessageType.REACTION, "", reply_to="3A", reaction="👍" * 20),
        ]
        for message in bad:
            with pytest.raises(PermanentSendError) as info:
                await h.adapter.send(message)
            assert info.value.detail
        assert sum(h.fake.calls.values()) == before and h.accepted() == 0


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_closed_whatsapp_socket_is_not_sent(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        h.fake.instances[INSTANCE].state = "close"
        with pytest.raises(NotSent):
            await h.adapter.send(h.outgoing())
        h.arrange("connection_closed")
        h.fake.instances[INSTANCE].state = "open"
        with pytest.raises(NotSent):
            await h.adapter.send(h.outgoing())


@pytest.mark.anyio
async def test_number_not_on_whatsapp_is_permanent(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        h.fake.unregistered.add(CUSTOMER)
        with pytest.raises(PermanentSendError, match="not on WhatsApp"):
            await h.adapter.send(h.outgoing())


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("failure", "error"),
    [
        ("server_error", DeliveryUnknown),  # a 502 from a proxy: Evolution may have sent it
        ("bad_request", DeliveryUnknown),  # an unexpected 400 inside sendMessageWithTyping
        ("not_json", DeliveryUnknown),
        ("unauthorized", AuthError),
    ],
)
async def test_error_classes(
    server: tuple[FakeEvolution, str], failure: str, error: type[Exception]
) -> None:
    async with harness(server=server) as h:
        h.arrange(failure)
        with pytest.raises(error):
            await h.adapter.send(h.outgoing())


@pytest.mark.anyio
async def test_validation_and_missing_instance_are_permanent(
    server: tuple[FakeEvolution, str],
) -> None:
    async with harness(server=server) as h:
        with pytest.raises(PermanentSendError, match="Text is required"):
            await h.adapter._send("sendText", {"number": CUSTOMER, "text": " "})
        del h.fake.instances[INSTANCE]
        with pytest.raises(PermanentSendError, match="does not exist"):
            await h.adapter.send(h.outgoing())


def test_whatsapp_rate_overlimit_and_retry_after_dates() -> None:
    response = httpx.Response(
        400,
        json={
            "status": 400,
            "error": "Bad Request",
            "response": {"message": ["Error: rate-overlimit"]},
        },
    )
    error = error_for(response, sending=True)
    assert isinstance(error, RateLimited) and error.retry_after == 60
    dated = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    late = error_for(dated, sending=True)
    # A date already past: try again soon, never at once (sync.providers.http bounds it).
    assert isinstance(late, RateLimited) and late.retry_after == RETRY_AFTER_MIN
    plain = error_for(httpx.Response(429), sending=True)
    assert isinstance(plain, RateLimited) and plain.retry_after == 30


@pytest.mark.anyio
async def test_lookup_failure_before_a_reaction_is_not_sent(
    server: tuple[FakeEvolution, str],
) -> None:
    async with harness(server=server) as h:
        h.fake.arrange("accept_then_hang", prefix="/chat/findMessages")
        with pytest.raises(NotSent):
            await h.adapter.send(out(h, MessageType.REACTION, "", reply_to="3A", reaction="👍"))
        assert h.accepted() == 1  # the fake counts the held request; no send was made
        assert all(s.get("route") != "sendReaction" for s in h.fake.sent)


# --- chat calls ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_mark_read(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        await h.adapter.mark_read(CUSTOMER, ["3A1", "3A2"])
        await h.adapter.mark_read("120363025246125486@g.us", ["3A3"])
        await h.adapter.mark_read(CUSTOMER, [])
        assert h.fake.reads == [
            {"remoteJid": f"{CUSTOMER}@s.whatsapp.net", "fromMe": False, "id": "3A1"},
            {"remoteJid": f"{CUSTOMER}@s.whatsapp.net", "fromMe": False, "id": "3A2"},
            {"remoteJid": "120363025246125486@g.us", "fromMe": False, "id": "3A3"},
        ]


@pytest.mark.anyio
async def test_check_numbers(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        h.fake.unregistered.add("5511900000000")
        h.fake.names[f"{CUSTOMER}@s.whatsapp.net"] = "Ana"
        checks = await h.adapter.check_numbers([f"+{CUSTOMER}", "5511900000000", CUSTOMER, ""])
        assert [(c.number, c.exists, c.name) for c in checks] == [
            (CUSTOMER, True, "Ana"),
            ("5511900000000", False, ""),
        ]
        assert checks[0].jid == f"{CUSTOMER}@s.whatsapp.net"
        assert await h.adapter.check_numbers([]) == []


# --- backfill ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_backfill_pages_and_matches_webhook_ids(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        base = 1_717_000_000
        records = [
            h.fake.record(INSTANCE, text=f"m{i}", msg_id=f"3A{i:04d}", timestamp=base + i)
            for i in range(120)
        ]
        events = await h.adapter.backfill(limit=100, page_size=40, push=False)
        assert h.fake.calls["POST /chat/findMessages"] == 3
        messages = [e for e in events if isinstance(e, MessageEvent)]
        assert len(messages) == 100
        assert [m.provider_message_id for m in messages] == [f"3A{i:04d}" for i in range(20, 120)]
        # the same record through the webhook normalizes identically: they dedupe as one
        hooked = parse_webhook(
            request(body("messages.upsert", records[57])), [h.adapter._account]
        ).events
        assert list(hooked) == [messages[37]]


@pytest.mark.anyio
async def test_backfill_since_and_push(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        for i in range(30):
            h.fake.record(INSTANCE, text=f"m{i}", msg_id=f"3B{i:04d}", timestamp=1_000_000 + i)
        h.events.clear()
        events = await h.adapter.backfill(since=1_000_025, page_size=10)
        assert h.fake.calls["POST /chat/findMessages"] == 1
        assert [e.provider_message_id for e in events if isinstance(e, MessageEvent)] == [
            f"3B{i:04d}" for i in range(25, 30)
        ]
        assert h.events == events


@pytest.mark.anyio
async def test_backfill_outgoing_receipts_and_lid_chats(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        h.fake.record(INSTANCE, from_me=True, msg_id="3EB0MINE", push_name=None)
        await h.fake.ack(INSTANCE, "3EB0MINE", "DELIVERY_ACK")
        await h.fake.ack(INSTANCE, "3EB0MINE", "READ")
        h.fake.record(
            INSTANCE,
            remote_jid="219876543210987@lid",
            remote_jid_alt=f"{CUSTOMER}@s.whatsapp.net",
            msg_id="3A0LID",
        )
        events = await h.adapter.backfill(push=False)
        mine = next(
            e for e in events if isinstance(e, MessageEvent) and e.direction is Direction.OUT
        )
        assert mine.provider_message_id == "3EB0MINE" and mine.sender_name == ""
        assert StatusEvent(7, "3EB0MINE", DeliveryStatus.READ, 0.0) in events
        lid = next(
            e for e in events if isinstance(e, MessageEvent) and e.provider_message_id == "3A0LID"
        )
        assert (lid.chat_key, lid.chat_jid) == (CUSTOMER, "219876543210987@lid")


@pytest.mark.anyio
async def test_a_new_link_backfills_its_recent_history(server: tuple[FakeEvolution, str]) -> None:
    async with env(server) as e:
        await e.adapter.request_pairing()
        e.fake.record(INSTANCE, text="histórico", msg_id="3AHIST", timestamp=1_716_000_000)
        e.adapter.observe([ConnectionEvent(7, ConnectionState.CONNECTED, phone=OWN_PHONE)])
        assert e.adapter.ready_to_send()
        await eventually(lambda: any(isinstance(x, MessageEvent) for x in e.events))
        assert 20.0 in e.slept  # waited for the phone's history to reach Evolution
        assert [x.provider_message_id for x in e.events if isinstance(x, MessageEvent)] == [
            "3AHIST"
        ]


# --- start ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_start_sets_the_webhook_and_reports_the_state(
    server: tuple[FakeEvolution, str],
) -> None:
    async with env(server) as e:
        e.fake.add_instance(INSTANCE, token=INSTANCE_TOKEN, state="open")
        await e.adapter.start(e.sink)
        assert e.fake.calls["POST /webhook/set"] == 1
        assert e.events == [ConnectionEvent(7, ConnectionState.CONNECTED, phone=OWN_PHONE)]


@pytest.mark.anyio
async def test_start_never_raises_for_provider_trouble() -> None:
    async with httpx.AsyncClient(timeout=0.5) as http:
        account = evolution_account("http://127.0.0.1:9")  # nothing listens there
        gate = asyncio.Event()

        async def sleep(_: float) -> None:
            await gate.wait()

        adapter = EvolutionAdapter(account, http, webhook_url=HOOK, sleep=sleep)
        seen: list[ProviderEvent] = []

        async def sink(events: Sequence[ProviderEvent]) -> None:
            seen.extend(events)

        await adapter.start(sink)
        assert not adapter.ready_to_send()
        event = seen[-1]
        assert isinstance(event, ConnectionEvent) and event.state is ConnectionState.OFFLINE
        assert "reach" in event.reason
        assert adapter._link.reconnect_task is not None  # and it will keep trying, gently
        await adapter.aclose()


def test_the_webhook_address_is_the_receivers_route_for_the_instance() -> None:
    account = evolution_account("https://evo.example", instance="loja.1")
    assert hook_url("https://caixa.example/", account) == (
        "https://caixa.example/hooks/evolution/loja.1"
    )


def test_policy_defaults_are_gentle() -> None:
    policy = ReconnectPolicy()
    assert policy.cap >= 60 and policy.base >= 1 and policy.max_attempts >= 5
