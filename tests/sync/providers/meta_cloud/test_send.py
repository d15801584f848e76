"""The Meta Cloud API adapter's sends, through real HTTP against the fake Graph API on loopback.

Covers every send kind, every published limit (checked before any HTTP call), every error class
(by Meta's code and details, not by HTTP status), transport failures, ``check`` and ``mark_read``,
and a local copy of the contract table every provider passes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync.domain.events import AccountRemovedEvent, ConnectionEvent, StatusEvent
from sync.domain.messages import MediaRef, OutgoingMessage, TemplateRef
from sync.domain.models import ConnectionState, DeliveryStatus, MessageType
from sync.providers import registry
from sync.providers.base import (
    AuthError,
    CheckedAdapter,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    ProviderAdapter,
    RateLimited,
    SendResult,
    WebhookRequest,
)
from sync.providers.meta_cloud import (
    AccountBlocked,
    AccountNotReady,
    InvalidMessage,
    InvalidParameter,
    InvalidRecipient,
    MediaRejected,
    MetaCloudAdapter,
    NumberNotRegistered,
    TemplateRejected,
    Undeliverable,
    WindowClosed,
    parse_webhook,
)
from tests.fakes.loopback import serve
from tests.fakes.meta_server import FakeMeta, signed_webhook
from tests.sync.providers.meta_cloud.harness import (
    ACCESS_TOKEN,
    APP_SECRET,
    CUSTOMER,
    PHONE_NUMBER_ID,
    WABA_ID,
    MetaHarness,
    RefusingTransport,
    harness,
    make_account,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeMeta, str]]:
    """One fake Graph API for the module (reset before each test)."""
    fake = FakeMeta(access_token=ACCESS_TOKEN, phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID)
    with serve(fake.app) as base_url:
        yield fake, base_url
        fake.close()


@pytest.fixture
async def meta(served: tuple[FakeMeta, str]) -> AsyncIterator[MetaHarness]:
    """A started adapter on the shared fake, over real HTTP (0.5 s timeout)."""
    fake, base_url = served
    fake.reset()
    transport = RefusingTransport()
    async with httpx.AsyncClient(transport=transport, timeout=0.5) as http:
        adapter = MetaCloudAdapter(make_account(base_url), http)
        h = MetaHarness(adapter=adapter, fake=fake, transport=transport, http=http)
        await adapter.start(lambda events: asyncio.sleep(0))
        yield h
        await adapter.aclose()
        fake.reset()


def _sent(h: MetaHarness) -> dict[str, Any]:
    assert len(h.fake.accepted) == 1
    return h.fake.accepted[0]


# --- the adapter as data -----------------------------------------------------------------------


async def test_is_registered_and_implements_the_checked_protocol(meta: MetaHarness) -> None:
    assert registry.adapter_class("meta") is MetaCloudAdapter
    assert isinstance(meta.adapter, ProviderAdapter)
    assert isinstance(meta.adapter, CheckedAdapter)
    caps = MetaCloudAdapter.capabilities
    assert (caps.templates, caps.max_text_length, caps.sends_per_second) == (True, 4096, 80.0)
    assert (caps.needs_qr_link, caps.media, caps.echoes_client_ref) == (False, True, True)
    assert MetaCloudAdapter.kind == "meta"
    assert meta.adapter.ready_to_send()


async def test_repr_shows_kind_id_and_name_only(meta: MetaHarness) -> None:
    text = repr(meta.adapter)
    assert text == "MetaCloudAdapter(kind='meta', account_id=7, name='Loja Centro')"
    for secret in meta.secrets:
        assert secret not in text


# --- every send kind ---------------------------------------------------------------------------


async def test_text_with_link_preview_carries_our_id_for_the_statuses(meta: MetaHarness) -> None:
    message = meta.outgoing("see https://example.com/promo", preview_url=True)
    result = await meta.adapter.send(message)
    assert result == SendResult(meta.fake.accepted_ids[0])
    assert result.provider_message_id.startswith("wamid.")
    assert _sent(meta) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "text",
        "text": {"body": "see https://example.com/promo", "preview_url": True},
        "biz_opaque_callback_data": message.client_id,
    }


async def test_reply_quotes_the_message_with_context(meta: MetaHarness) -> None:
    await meta.adapter.send(meta.outgoing("sim, temos", reply_to="wamid.ORIGINAL"))
    assert _sent(meta)["context"] == {"message_id": "wamid.ORIGINAL"}


async def test_recipient_given_with_plus_and_spaces_is_sent_as_digits(meta: MetaHarness) -> None:
    await meta.adapter.send(meta.outgoing(to_phone="+55 (11) 98765-4321"))
    assert _sent(meta)["to"] == "5511987654321"


async def test_group_chat_is_sent_to_the_group_id(meta: MetaHarness) -> None:
    group = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD"
    await meta.adapter.send(meta.outgoing(to_phone="", chat_key=group))
    sent = _sent(meta)
    assert (sent["recipient_type"], sent["to"]) == ("group", group)


async def test_template_with_header_and_body_parameters(meta: MetaHarness) -> None:
    template = TemplateRef(
        "order_update", "pt_BR", body_parameters=("Ana", "#123"), header_parameters=("Pedido",)
    )
    await meta.adapter.send(meta.outgoing("", type=MessageType.TEMPLATE, template=template))
    assert _sent(meta)["template"] == {
        "name": "order_update",
        "language": {"code": "pt_BR"},
        "components": [
            {"type": "header", "parameters": [{"type": "text", "text": "Pedido"}]},
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "#123"}],
            },
        ],
    }


async def test_template_without_parameters_and_with_raw_components(meta: MetaHarness) -> None:
    await meta.adapter.send(
        meta.outgoing("", type=MessageType.TEMPLATE, template=TemplateRef("hello_world", "en_US"))
    )
    assert meta.fake.accepted[0]["template"] == {
        "name": "hello_world",
        "language": {"code": "en_US"},
    }
    components = (
        {"type": "header", "parameters": [{"type": "text", "text": "X"}]},
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        },
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": []},
    )
    raw = TemplateRef("order_update", "pt_BR", body_parameters=("ignored",), components=components)
    await meta.adapter.send(meta.outgoing("", type=MessageType.TEMPLATE, template=raw))
    assert meta.fake.accepted[1]["template"]["components"] == list(components)


async def test_reply_buttons(meta: MetaHarness) -> None:
    spec = {
        "type": "button",
        "header": "Entrega",
        "body": "Quer confirmar o pedido?",
        "footer": "Loja Centro",
        "buttons": [{"id": "yes", "title": "Sim"}, {"id": "no", "title": "Não"}],
    }
    await meta.adapter.send(meta.outgoing("", type=MessageType.INTERACTIVE, interactive=spec))
    assert _sent(meta)["interactive"] == {
        "type": "button",
        "header": {"type": "text", "text": "Entrega"},
        "body": {"text": "Quer confirmar o pedido?"},
        "footer": {"text": "Loja Centro"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "yes", "title": "Sim"}},
                {"type": "reply", "reply": {"id": "no", "title": "Não"}},
            ]
        },
    }


def _list_spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "list",
        "body": "Escolha o frete",
        "button": "Opções",
        "sections": [
            {
                "title": "Rápido",
                "rows": [
                    {"id": "express", "title": "Expresso", "description": "1 dia"},
                    {"id": "sameday", "title": "No mesmo dia"},
                ],
            },
            {"title": "Econômico", "rows": [{"id": "normal", "title": "Normal"}]},
        ],
    }
    spec.update(changes)
    return spec


async def test_list_message(meta: MetaHarness) -> None:
    await meta.adapter.send(
        meta.outgoing("", type=MessageType.INTERACTIVE, interactive=_list_spec())
    )
    interactive = _sent(meta)["interactive"]
    assert interactive["type"] == "list"
    assert interactive["body"] == {"text": "Escolha o frete"}
    assert interactive["action"] == {
        "button": "Opções",
        "sections": [
            {
                "title": "Rápido",
                "rows": [
                    {"id": "express", "title": "Expresso", "description": "1 dia"},
                    {"id": "sameday", "title": "No mesmo dia"},
                ],
            },
            {"title": "Econômico", "rows": [{"id": "normal", "title": "Normal"}]},
        ],
    }


@pytest.mark.parametrize(
    ("kind", "mime"),
    [
        (MessageType.IMAGE, "image/jpeg"),
        (MessageType.VIDEO, "video/mp4"),
        (MessageType.DOCUMENT, "application/pdf"),
        (MessageType.AUDIO, "audio/mpeg"),
        (MessageType.STICKER, "image/webp"),
    ],
)
async def test_media_by_link(meta: MetaHarness, kind: MessageType, mime: str) -> None:
    caption = "" if kind in (MessageType.AUDIO, MessageType.STICKER) else "legenda"
    media = MediaRef(link="https://cdn.example.com/file", mime_type=mime, filename="nota.pdf")
    await meta.adapter.send(meta.outgoing(caption, type=kind, media=media))
    sent = _sent(meta)
    assert sent["type"] == kind.value
    expected: dict[str, Any] = {"link": "https://cdn.example.com/file"}
    if caption:
        expected["caption"] = caption
    if kind is MessageType.DOCUMENT:
        expected["filename"] = "nota.pdf"
    assert sent[kind.value] == expected


@pytest.mark.parametrize(
    ("kind", "name", "mime"),
    [
        (MessageType.IMAGE, "foto.png", "image/png"),
        (MessageType.DOCUMENT, "orcamento.pdf", "application/pdf"),
        (MessageType.AUDIO, "voz.ogg", "audio/ogg"),
        (MessageType.VIDEO, "clip.mp4", "video/mp4"),
        (MessageType.STICKER, "s.webp", "image/webp"),
    ],
)
async def test_media_by_upload_then_by_id(
    meta: MetaHarness, tmp_path: Path, kind: MessageType, name: str, mime: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x89media-bytes" * 10)
    caption = "veja" if kind in (MessageType.IMAGE, MessageType.DOCUMENT, MessageType.VIDEO) else ""
    await meta.adapter.send(meta.outgoing(caption, type=kind, media=MediaRef(path=str(path))))
    sent = _sent(meta)
    media_id = sent[kind.value]["id"]
    upload = meta.fake.uploads[media_id]
    assert (upload.data, upload.mime_type, upload.filename) == (path.read_bytes(), mime, name)
    assert "link" not in sent[kind.value]
    if caption:
        assert sent[kind.value]["caption"] == "veja"
    if kind is MessageType.DOCUMENT:
        assert sent[kind.value]["filename"] == name


async def test_reaction_and_its_removal(meta: MetaHarness) -> None:
    await meta.adapter.send(
        meta.outgoing("", type=MessageType.REACTION, reaction="👍", reply_to="wamid.THEIRS")
    )
    await meta.adapter.send(
        meta.outgoing("", type=MessageType.REACTION, reaction="", reply_to="wamid.THEIRS")
    )
    first, second = meta.fake.accepted
    assert first["reaction"] == {"message_id": "wamid.THEIRS", "emoji": "👍"}
    assert "context" not in first
    assert second["reaction"] == {"message_id": "wamid.THEIRS", "emoji": ""}


async def test_mark_read_sends_one_receipt_for_the_newest(meta: MetaHarness) -> None:
    await meta.adapter.mark_read(CUSTOMER, ["wamid.A", "wamid.B", "wamid.C"])
    assert meta.fake.read_receipts == ["wamid.C"]
    assert meta.fake.accepted == []
    await meta.adapter.mark_read(CUSTOMER, [])
    assert meta.fake.read_receipts == ["wamid.C"]


async def test_mark_read_with_a_refused_token_is_an_auth_error(
    served: tuple[FakeMeta, str],
) -> None:
    _, base_url = served
    async with httpx.AsyncClient(timeout=0.5) as http:
        adapter = MetaCloudAdapter(make_account(base_url, access_token=_secret("wrong")), http)
        with pytest.raises(AuthError):
            await adapter.mark_read(CUSTOMER, ["wamid.A"])


# --- limits: checked locally, nothing reaches Meta ---------------------------------------------


def _buttons(n: int, title: str = "B") -> list[dict[str, str]]:
    return [{"id": f"id{i}", "title": f"{title}{i}"} for i in range(n)]


def _sections(rows_per_section: list[int]) -> list[dict[str, Any]]:
    counter = iter(range(1000))
    return [
        {
            "title": f"S{s}",
            "rows": [{"id": f"r{next(counter)}", "title": "Row"} for _ in range(n)],
        }
        for s, n in enumerate(rows_per_section)
    ]


INTERACTIVE_LIMITS: list[tuple[str, dict[str, Any]]] = [
    ("4 buttons", {"type": "button", "body": "b", "buttons": _buttons(4)}),
    ("no buttons", {"type": "button", "body": "b", "buttons": []}),
    ("title 21", {"type": "button", "body": "b", "buttons": [{"id": "a", "title": "x" * 21}]}),
    ("empty title", {"type": "button", "body": "b", "buttons": [{"id": "a", "title": " "}]}),
    ("id 257", {"type": "button", "body": "b", "buttons": [{"id": "i" * 257, "title": "t"}]}),
    ("id spaces", {"type": "button", "body": "b", "buttons": [{"id": " a", "title": "t"}]}),
    (
        "duplicate titles",
        {
            "type": "button",
            "body": "b",
            "buttons": [{"id": "a", "title": "t"}, {"id": "b", "title": "t"}],
        },
    ),
    ("body 1025", {"type": "button", "body": "x" * 1025, "buttons": _buttons(1)}),
    ("empty body", {"type": "button", "body": "", "buttons": _buttons(1)}),
    ("header 61", {"type": "button", "body": "b", "header": "h" * 61, "buttons": _buttons(1)}),
    ("footer 61", {"type": "button", "body": "b", "footer": "f" * 61, "buttons": _buttons(1)}),
    ("button not a dict", {"type": "button", "body": "b", "buttons": ["yes"]}),
    ("list button 21", _list_spec(button="x" * 21)),
    ("list button empty", _list_spec(button="")),
    ("11 sections", _list_spec(sections=_sections([1] * 11))),
    ("11 rows in all", _list_spec(sections=_sections([6, 5]))),
    ("no sections", _list_spec(sections=[])),
    ("empty section", _list_spec(sections=[{"title": "S", "rows": []}])),
    (
        "section title 25",
        _list_spec(sections=[{"title": "t" * 25, "rows": [{"id": "a", "title": "A"}]}]),
    ),
    (
        "untitled section among two",
        _list_spec(
            sections=[
                {"title": "", "rows": [{"id": "a", "title": "A"}]},
                {"title": "S", "rows": [{"id": "b", "title": "B"}]},
            ]
        ),
    ),
    (
        "row title 25",
        _list_spec(sections=[{"title": "S", "rows": [{"id": "a", "title": "t" * 25}]}]),
    ),
    (
        "row description 73",
        _list_spec(
            sections=[{"title": "S", "rows": [{"id": "a", "title": "A", "description": "d" * 73}]}]
        ),
    ),
    (
        "row id 201",
        _list_spec(sections=[{"title": "S", "rows": [{"id": "i" * 201, "title": "A"}]}]),
    ),
    (
        "duplicate row ids",
        _list_spec(
            sections=[
                {"title": "S", "rows": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}
            ]
        ),
    ),
    ("list body 1025", _list_spec(body="x" * 1025)),
    ("unknown interactive type", {"type": "carousel", "body": "b"}),
    ("body not text", {"type": "button", "body": 5, "buttons": _buttons(1)}),
]


async def test_interactive_limits_refused_before_any_request(meta: MetaHarness) -> None:
    for case, spec in INTERACTIVE_LIMITS:
        message = meta.outgoing("", type=MessageType.INTERACTIVE, interactive=spec)
        with pytest.raises(InvalidMessage) as raised:
            await meta.adapter.send(message)
        assert raised.value.code == "invalid_message", case
    assert meta.fake.requests == []


async def test_interactive_at_the_limits_is_sent(meta: MetaHarness) -> None:
    buttons = {
        "type": "button",
        "body": "x" * 1024,
        "header": "h" * 60,
        "footer": "f" * 60,
        "buttons": [{"id": "i" * 256, "title": "t" * 20}, *_buttons(2)],
    }
    await meta.adapter.send(meta.outgoing("", type=MessageType.INTERACTIVE, interactive=buttons))
    rows = [{"id": "i" * 200, "title": "t" * 24, "description": "d" * 72}]
    listed = _list_spec(
        button="b" * 20, sections=[{"title": "s" * 24, "rows": rows}, *_sections([9] * 1)]
    )
    listed["sections"][1]["title"] = "Outra"
    await meta.adapter.send(meta.outgoing("", type=MessageType.INTERACTIVE, interactive=listed))
    one_per_section = _list_spec(sections=_sections([1] * 10))
    await meta.adapter.send(
        meta.outgoing("", type=MessageType.INTERACTIVE, interactive=one_per_section)
    )
    assert len(meta.fake.accepted) == 3


async def test_text_limits(meta: MetaHarness) -> None:
    await meta.adapter.send(meta.outgoing("x" * 4096))
    for text in ("x" * 4097, "", "   \n"):
        with pytest.raises(InvalidMessage):
            await meta.adapter.send(meta.outgoing(text))
    assert len(meta.fake.requests) == 1


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
        handle.seek(0)
        handle.write(b"x")
    return path


async def test_media_limits_refused_before_any_request(meta: MetaHarness, tmp_path: Path) -> None:
    link = "https://cdn.example.com/f"
    cases: list[OutgoingMessage] = [
        meta.outgoing("c" * 1025, type=MessageType.IMAGE, media=MediaRef(link=link)),
        meta.outgoing("caption", type=MessageType.AUDIO, media=MediaRef(link=link)),
        meta.outgoing("caption", type=MessageType.STICKER, media=MediaRef(link=link)),
        meta.outgoing("", type=MessageType.IMAGE, media=MediaRef(link=link, mime_type="image/gif")),
        meta.outgoing("", type=MessageType.IMAGE, media=MediaRef(link="ftp://x/y.jpg")),
        meta.outgoing("", type=MessageType.IMAGE, media=None),
        meta.outgoing("", type=MessageType.IMAGE, media=MediaRef(link=link, path="/tmp/x.jpg")),
        meta.outgoing(
            "", type=MessageType.IMAGE, media=MediaRef(path=str(tmp_path / "missing.jpg"))
        ),
        meta.outgoing(
            "",
            type=MessageType.IMAGE,
            media=MediaRef(path=str(_sparse(tmp_path / "big.jpg", 5 * 1024 * 1024 + 1))),
        ),
        meta.outgoing(
            "",
            type=MessageType.STICKER,
            media=MediaRef(path=str(_sparse(tmp_path / "s.webp", 500 * 1024 + 1))),
        ),
        meta.outgoing(
            "",
            type=MessageType.VIDEO,
            media=MediaRef(path=str(_sparse(tmp_path / "v.mp4", 16 * 1024 * 1024 + 1))),
        ),
        meta.outgoing(
            "", type=MessageType.DOCUMENT, media=MediaRef(path=str(_sparse(tmp_path / "a.zip", 10)))
        ),
        meta.outgoing("", type=MessageType.IMAGE, media=MediaRef(path=str(tmp_path))),
    ]
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    cases.append(meta.outgoing("", type=MessageType.IMAGE, media=MediaRef(path=str(empty))))
    for message in cases:
        with pytest.raises(InvalidMessage):
            await meta.adapter.send(message)
    assert meta.fake.requests == []
    image = _sparse(tmp_path / "ok.jpg", 5 * 1024 * 1024)
    await meta.adapter.send(
        meta.outgoing("c" * 1024, type=MessageType.IMAGE, media=MediaRef(path=str(image)))
    )
    assert len(meta.fake.accepted) == 1


async def test_template_limits(meta: MetaHarness) -> None:
    bad = [
        TemplateRef("Hello World", "en_US"),
        TemplateRef("hello_world", ""),
        TemplateRef("hello_world", "english please"),
        TemplateRef(
            "order_update", "pt_BR", header_parameters=("h" * 61,), body_parameters=("a", "b")
        ),
        TemplateRef("order_update", "pt_BR", body_parameters=("linha 1\nlinha 2", "b")),
        TemplateRef("order_update", "pt_BR", body_parameters=("tab\there", "b")),
        TemplateRef("order_update", "pt_BR", body_parameters=("five     spaces", "b")),
        TemplateRef("order_update", "pt_BR", body_parameters=("", "b")),
        TemplateRef("order_update", "pt_BR", components=({"parameters": []},)),
        TemplateRef("order_update", "pt_BR", components=({"type": "body", "x": object()},)),
        TemplateRef("order_update", "pt_BR", components=({"type": "body", "x": float("nan")},)),
    ]
    for template in bad:
        with pytest.raises(InvalidMessage):
            await meta.adapter.send(meta.outgoing("", type=MessageType.TEMPLATE, template=template))
    with pytest.raises(InvalidMessage):
        await meta.adapter.send(meta.outgoing("", type=MessageType.TEMPLATE, template=None))
    assert meta.fake.requests == []


async def test_other_local_refusals(meta: MetaHarness) -> None:
    cases = [
        meta.outgoing("", type=MessageType.REACTION, reaction="👍"),  # no target
        meta.outgoing("", type=MessageType.REACTION, reaction="not an emoji", reply_to="wamid.X"),
        meta.outgoing("", type=MessageType.LOCATION),
        meta.outgoing("", type=MessageType.UNKNOWN),
        meta.outgoing("hi", client_id="c" * 513),
    ]
    for message in cases:
        with pytest.raises(InvalidMessage):
            await meta.adapter.send(message)
    for to_phone, chat_key in (("abc", CUSTOMER), ("12", "12"), ("", ""), ("+55 11 ٩٨٧٦٥", "")):
        with pytest.raises(InvalidRecipient) as raised:
            await meta.adapter.send(meta.outgoing(to_phone=to_phone, chat_key=chat_key))
        assert raised.value.code == "invalid_recipient"
    assert meta.fake.requests == []


# --- errors: by Meta's code and details ---------------------------------------------------------

ERROR_TABLE: list[tuple[int, type[Exception], str]] = [
    (0, AuthError, "auth"),
    (10, AuthError, "auth"),
    (190, AuthError, "auth"),
    (200, AuthError, "auth"),
    (4, RateLimited, "rate_limited"),
    (80007, RateLimited, "rate_limited"),
    (130429, RateLimited, "rate_limited"),
    (131048, RateLimited, "rate_limited"),
    (131056, RateLimited, "rate_limited"),
    (131047, WindowClosed, "window_closed"),
    (131026, Undeliverable, "undeliverable"),
    (131049, Undeliverable, "undeliverable"),
    (131050, Undeliverable, "undeliverable"),
    (130472, Undeliverable, "undeliverable"),
    (131021, InvalidRecipient, "invalid_recipient"),
    (131030, InvalidRecipient, "invalid_recipient"),
    (100, InvalidParameter, "invalid_parameter"),
    (131008, InvalidParameter, "invalid_parameter"),
    (131009, InvalidParameter, "invalid_parameter"),
    (131051, InvalidParameter, "invalid_parameter"),
    (131052, MediaRejected, "media_rejected"),
    (131053, MediaRejected, "media_rejected"),
    (132000, TemplateRejected, "template_error"),
    (132001, TemplateRejected, "template_error"),
    (132005, TemplateRejected, "template_error"),
    (132007, TemplateRejected, "template_error"),
    (132012, TemplateRejected, "template_error"),
    (132015, TemplateRejected, "template_error"),
    (132016, TemplateRejected, "template_error"),
    (368, AccountBlocked, "account_blocked"),
    (130497, AccountBlocked, "account_blocked"),
    (131031, AccountBlocked, "account_blocked"),
    (133010, NumberNotRegistered, "not_registered"),
    (33, NumberNotRegistered, "not_registered"),
    (131037, AccountNotReady, "account_not_ready"),
    (131042, AccountNotReady, "account_not_ready"),
    (131000, DeliveryUnknown, "unknown"),
    (1, DeliveryUnknown, "unknown"),
    (2, DeliveryUnknown, "unknown"),
    (131016, DeliveryUnknown, "unknown"),
    (131057, NotSent, "not_sent"),
    (987654, PermanentSendError, "rejected"),
]


async def test_meta_error_codes_are_classified(meta: MetaHarness) -> None:
    for code, cls, reason in ERROR_TABLE:
        meta.fake.fail_next(code)
        with pytest.raises(cls) as raised:
            await meta.adapter.send(meta.outgoing())
        error = raised.value
        assert type(error) is cls, code
        assert error.code == reason, code  # type: ignore[attr-defined]
        assert error.meta_code == code  # type: ignore[attr-defined]
        assert f"#{code}" in str(error)
    assert meta.fake.accepted == []


async def test_classification_ignores_the_http_status(meta: MetaHarness) -> None:
    meta.fake.fail_next(131047, status=500)  # window closed, whatever the status says
    with pytest.raises(WindowClosed):
        await meta.adapter.send(meta.outgoing())
    meta.fake.fail_next(130429, status=400)  # a throughput limit answered 400
    with pytest.raises(RateLimited):
        await meta.adapter.send(meta.outgoing())
    meta.fake.fail_next(190, status=400)
    with pytest.raises(AuthError):
        await meta.adapter.send(meta.outgoing())
    meta.fake.fail_next(987654, status=503)  # an unknown code as a server error: maybe taken
    with pytest.raises(DeliveryUnknown):
        await meta.adapter.send(meta.outgoing())


@pytest.mark.parametrize(
    ("code", "details", "cls"),
    [
        (131009, "Template name does not exist in the translation", TemplateRejected),
        (100, "Param template['language']['code'] is required", TemplateRejected),
        (100, "Message failed to send because more than 24 hours have passed", WindowClosed),
        (131009, "Invalid media link", MediaRejected),
        (131009, "Recipient phone number is not a valid WhatsApp ID", InvalidRecipient),
        (131008, "The parameter to is required.", InvalidRecipient),
        (100, 'Unexpected key "foo" on param "text"', InvalidParameter),
    ],
)
async def test_generic_parameter_errors_are_refined_by_details(
    meta: MetaHarness, code: int, details: str, cls: type[Exception]
) -> None:
    meta.fake.fail_next(code, details=details)
    with pytest.raises(cls) as raised:
        await meta.adapter.send(meta.outgoing())
    assert details in str(raised.value)


async def test_wrong_phone_number_id_is_an_auth_error(meta: MetaHarness) -> None:
    meta.fake.fail_next(
        100, subcode=33, message="Unsupported post request. Object with ID '1' does not exist"
    )
    with pytest.raises(AuthError):
        await meta.adapter.send(meta.outgoing())


async def test_window_closed_by_the_fake_and_a_template_still_goes(meta: MetaHarness) -> None:
    meta.fake.closed_windows.add(CUSTOMER)
    with pytest.raises(WindowClosed) as raised:
        await meta.adapter.send(meta.outgoing("oi de novo"))
    assert raised.value.code == "window_closed"
    assert isinstance(raised.value, PermanentSendError)
    template = TemplateRef("hello_world", "en_US")
    await meta.adapter.send(meta.outgoing("", type=MessageType.TEMPLATE, template=template))
    assert len(meta.fake.accepted) == 1


async def test_fake_template_errors_reach_the_adapter(meta: MetaHarness) -> None:
    with pytest.raises(TemplateRejected):
        await meta.adapter.send(
            meta.outgoing("", type=MessageType.TEMPLATE, template=TemplateRef("nope", "en"))
        )
    with pytest.raises(TemplateRejected):
        await meta.adapter.send(
            meta.outgoing(
                "",
                type=MessageType.TEMPLATE,
                template=TemplateRef("order_update", "pt_BR", ("one",)),
            )
        )


async def test_rate_limit_waits(meta: MetaHarness) -> None:
    meta.fake.fail_next(130429)
    with pytest.raises(RateLimited) as throughput:
        await meta.adapter.send(meta.outgoing())
    meta.fake.fail_next(131056)
    with pytest.raises(RateLimited) as pair:
        await meta.adapter.send(meta.outgoing())
    usage = '{"201234567890123":[{"type":"whatsapp","estimated_time_to_regain_access":3}]}'
    meta.fake.fail_next(80007, headers={"x-business-use-case-usage": usage})
    with pytest.raises(RateLimited) as business:
        await meta.adapter.send(meta.outgoing())
    meta.fake.fail_next(4, headers={"retry-after": "17"})
    with pytest.raises(RateLimited) as header:
        await meta.adapter.send(meta.outgoing())
    assert throughput.value.retry_after == 2.0
    assert pair.value.retry_after == 6.0
    assert business.value.retry_after == 180.0
    assert header.value.retry_after == 17.0
    # Only the pair rate limit is about one customer; the others hold the number.
    assert pair.value.per_recipient
    assert not any(e.value.per_recipient for e in (throughput, business, header))


async def test_answers_without_a_graph_error_use_the_http_status(meta: MetaHarness) -> None:
    meta.fake.fail_next_raw(401, b"Unauthorized")
    with pytest.raises(AuthError):
        await meta.adapter.send(meta.outgoing())
    meta.fake.fail_next_raw(429, b"slow down")
    with pytest.raises(RateLimited) as limited:
        await meta.adapter.send(meta.outgoing())
    assert limited.value.retry_after >= 1
    meta.fake.fail_next_raw(502, b"<html>Bad Gateway</html>")
    with pytest.raises(DeliveryUnknown):
        await meta.adapter.send(meta.outgoing())
    meta.fake.fail_next_raw(400, b"<html>Bad Request</html>")
    with pytest.raises(PermanentSendError):
        await meta.adapter.send(meta.outgoing())
    assert meta.fake.accepted == []


async def test_an_answer_without_a_message_id_is_unknown(meta: MetaHarness) -> None:
    meta.fake.fail_next_raw(200, b'{"messaging_product":"whatsapp"}', "application/json")
    with pytest.raises(DeliveryUnknown):
        await meta.adapter.send(meta.outgoing())


async def test_auth_error_stops_readiness_until_a_good_check(meta: MetaHarness) -> None:
    meta.arrange("unauthorized")
    with pytest.raises(AuthError):
        await meta.adapter.send(meta.outgoing())
    assert not meta.adapter.ready_to_send()
    await meta.adapter.check()
    assert meta.adapter.ready_to_send()


# --- transport failures ------------------------------------------------------------------------


async def test_upload_whose_answer_is_lost_means_the_message_was_not_sent(
    meta: MetaHarness, tmp_path: Path
) -> None:
    path = tmp_path / "foto.jpg"
    path.write_bytes(b"jpeg")
    meta.fake.fail_next_upload(hang=True)
    with pytest.raises(NotSent):
        await meta.adapter.send(
            meta.outgoing("", type=MessageType.IMAGE, media=MediaRef(path=str(path)))
        )
    meta.fake.fail_next_upload(131053)
    with pytest.raises(MediaRejected):
        await meta.adapter.send(
            meta.outgoing("", type=MessageType.IMAGE, media=MediaRef(path=str(path)))
        )
    meta.arrange("refused")
    with pytest.raises(NotSent):
        await meta.adapter.send(
            meta.outgoing("", type=MessageType.IMAGE, media=MediaRef(path=str(path)))
        )
    assert meta.fake.accepted == []


def _read_request(conn: socket.socket) -> bool:
    """Read one whole HTTP/1.1 request (headers and Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


class _DroppingServer:
    """A loopback server that reads the request, then closes the connection without answering."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                if _read_request(conn):
                    self.received += 1

    def close(self) -> None:
        self.sock.close()


async def test_connection_dropped_after_the_request_is_unknown() -> None:
    server = _DroppingServer()
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            adapter = MetaCloudAdapter(make_account(f"http://127.0.0.1:{server.port}"), http)
            message = OutgoingMessage("c1", 7, CUSTOMER, CUSTOMER, MessageType.TEXT, "oi")
            with pytest.raises(DeliveryUnknown):
                await adapter.send(message)
            assert server.received == 1
            # A read (check) that fails the same way is safe to repeat: NotSent.
            with pytest.raises(NotSent):
                await adapter.check()
    finally:
        server.close()


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ConnectError("refused"), NotSent),
        (httpx.ConnectTimeout("connect"), NotSent),
        (httpx.PoolTimeout("pool"), NotSent),
        (httpx.WriteError("write"), NotSent),
        (httpx.WriteTimeout("write"), NotSent),
        (httpx.ReadTimeout("read"), DeliveryUnknown),
        (httpx.ReadError("read"), DeliveryUnknown),
        (httpx.RemoteProtocolError("closed"), DeliveryUnknown),
    ],
)
async def test_transport_errors_map_to_whether_meta_could_have_the_message(
    exc: Exception, cls: type[Exception]
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exc

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as http:
        adapter = MetaCloudAdapter(make_account("https://graph.facebook.com"), http)
        message = OutgoingMessage("c1", 7, CUSTOMER, CUSTOMER, MessageType.TEXT, "oi")
        with pytest.raises(cls):
            await adapter.send(message)


# --- check -----------------------------------------------------------------------------------


async def test_check_reads_the_number_and_its_name(meta: MetaHarness) -> None:
    info = await meta.adapter.check()
    assert (info.phone, info.display_name) == ("551140000000", "Loja Teste")
    assert meta.fake.requests == [("GET", f"/v23.0/{PHONE_NUMBER_ID}")]


async def test_check_with_a_bad_token_or_a_wrong_id_is_an_auth_error(
    served: tuple[FakeMeta, str],
) -> None:
    fake, base_url = served
    fake.reset()
    async with httpx.AsyncClient(timeout=0.5) as http:
        for account in (
            make_account(base_url, access_token=_secret("EAAG-other")),
            make_account(base_url, phone_number_id="999999999"),
        ):
            adapter = MetaCloudAdapter(account, http)
            await adapter.start(lambda events: asyncio.sleep(0))
            with pytest.raises(AuthError) as raised:
                await adapter.check()
            assert ACCESS_TOKEN not in str(raised.value)
            assert not adapter.ready_to_send()


async def test_check_when_meta_cannot_be_reached(meta: MetaHarness) -> None:
    meta.arrange("refused")
    with pytest.raises(NotSent):
        await meta.adapter.check()


# --- the contract table (a local copy of the lead's) -------------------------------------------


@pytest.mark.parametrize(
    ("failure", "expected", "accepted"),
    [
        ("unauthorized", AuthError, 0),
        ("rate_limited", RateLimited, 0),
        ("accept_then_hang", DeliveryUnknown, 1),
        ("refused", NotSent, 0),
        ("invalid_recipient", PermanentSendError, 0),
        (None, SendResult, 1),
    ],
)
async def test_contract_table(
    caplog: pytest.LogCaptureFixture, failure: str | None, expected: type, accepted: int
) -> None:
    caplog.set_level(logging.DEBUG)
    async with harness() as h:
        assert h.adapter.ready_to_send()
        if failure is not None:
            h.arrange(failure, retry_after=30)
        outcome: object
        try:
            outcome = await h.adapter.send(h.outgoing())
        except Exception as exc:
            outcome = exc
        assert isinstance(outcome, expected), outcome
        if isinstance(outcome, RateLimited):
            assert outcome.retry_after >= 30
        if isinstance(outcome, SendResult):
            assert outcome.provider_message_id
        assert h.accepted() == accepted
        texts = [repr(h.adapter), str(outcome), repr(outcome)]
        texts += [record.getMessage() for record in caplog.records]
        texts += [str(record.args) for record in caplog.records]
        for secret in h.secrets:
            for text in texts:
                assert secret not in text


def _secret(value: str) -> Any:
    from sync.providers.accounts import Secret

    return Secret(value)


# --- lifecycle and the round trip through the status webhook ----------------------------------


async def test_observe_follows_this_numbers_account_events(meta: MetaHarness) -> None:
    adapter = meta.adapter
    adapter.observe([ConnectionEvent(8, ConnectionState.BLOCKED, needs_repair=True)])
    assert adapter.ready_to_send()  # another number's news
    adapter.observe([ConnectionEvent(7, ConnectionState.BLOCKED, needs_repair=True)])
    assert not adapter.ready_to_send()
    adapter.observe([ConnectionEvent(7, ConnectionState.CONNECTED)])
    assert adapter.ready_to_send()
    adapter.observe([AccountRemovedEvent(7, reason="deleted")])
    assert not adapter.ready_to_send()
    adapter.observe([object(), None])  # type: ignore[list-item]  # never raises


async def test_ready_only_between_start_and_close(served: tuple[FakeMeta, str]) -> None:
    _, base_url = served
    async with httpx.AsyncClient(timeout=0.5) as http:
        adapter = MetaCloudAdapter(make_account(base_url), http)
        assert not adapter.ready_to_send()
        await adapter.start(lambda events: asyncio.sleep(0))
        assert adapter.ready_to_send()
        await adapter.aclose()
        assert not adapter.ready_to_send()
        assert not http.is_closed  # the client is the caller's


async def test_status_webhook_of_a_send_settles_it_by_our_id(meta: MetaHarness) -> None:
    message = meta.outgoing("chegou?")
    result = await meta.adapter.send(message)
    body = meta.fake.status_webhook(result.provider_message_id, "delivered", timestamp=1760000000)
    raw, headers = signed_webhook(APP_SECRET, body)
    (event,) = parse_webhook(
        WebhookRequest("POST", headers, raw), [make_account("https://graph.facebook.com")]
    ).events
    assert isinstance(event, StatusEvent)
    assert (event.provider_message_id, event.client_ref) == (
        result.provider_message_id,
        message.client_id,
    )
    assert (event.status, event.chat_phone) == (DeliveryStatus.DELIVERED, CUSTOMER)
