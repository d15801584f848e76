"""Templates once the 24-hour window has closed: listing the approved ones (paged), and a queued
template going out through the outbox as Meta's template message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync.domain.messages import TemplateRef
from sync.domain.models import DeliveryStatus, MessageType
from sync.providers.base import AuthError
from sync.providers.meta_cloud import MetaCloudAdapter
from sync.store.local import outbox
from sync.store.local.cache_key import CacheKey
from sync.store.local.local_cache import LocalCache
from sync.store.local.queries import add_account, messages_by_id
from tests.fakes.loopback import serve
from tests.fakes.meta_server import FakeMeta
from tests.sync.providers.meta_cloud.harness import ACCESS_TOKEN, make_account

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> Iterator[tuple[FakeMeta, str]]:
    meta = FakeMeta(
        access_token=ACCESS_TOKEN,
        templates={f"aviso_{i:02d}": (i % 2, i % 3) for i in range(7)},
    )
    with serve(meta.app) as url:
        yield meta, url


async def test_only_approved_text_templates_are_listed_across_pages(
    fake: tuple[FakeMeta, str],
) -> None:
    meta, url = fake
    async with httpx.AsyncClient(timeout=5) as http:
        adapter = MetaCloudAdapter(make_account(url), http)
        found = await adapter.list_templates()
    # 9 rows in all: the rejected one and the one with an image header are left out.
    assert [t.name for t in found] == [f"aviso_{i:02d}" for i in range(7)]
    one = next(t for t in found if t.name == "aviso_05")
    assert (one.header_parameters, one.body_parameters) == (1, 2)
    assert one.render(["123"], ["pronto", "hoje"]) == (
        "Pedido 123\nOlá! Atualização: pronto hoje\nLoja Teste"
    )
    assert one.render([], ["só um"]).endswith("Atualização: só um {{2}}\nLoja Teste")
    assert meta.requests[-1][1].endswith("/message_templates")


async def test_listing_with_a_refused_token_is_an_auth_error(fake: tuple[FakeMeta, str]) -> None:
    _, url = fake
    async with httpx.AsyncClient(timeout=5) as http:
        from sync.providers.accounts import Secret

        adapter = MetaCloudAdapter(make_account(url, access_token=Secret("wrong")), http)
        with pytest.raises(AuthError):
            await adapter.list_templates()


async def test_paging_is_followed(
    fake: tuple[FakeMeta, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    meta, url = fake
    async with httpx.AsyncClient(timeout=5) as http:
        adapter = MetaCloudAdapter(make_account(url), http)
        real_get = adapter._get

        async def small_pages(target: str, *, params: object = None) -> httpx.Response:
            if params is not None:
                params = {**params, "limit": "2"}  # type: ignore[dict-item]
            return await real_get(target, params=params)  # type: ignore[arg-type]

        monkeypatch.setattr(adapter, "_get", small_pages)
        found = await adapter.list_templates()
    assert len(found) == 7
    pages = [p for m, p in meta.requests if p.endswith("/message_templates")]
    assert len(pages) == 5  # 9 rows, 2 per page


async def test_a_queued_template_goes_out_as_a_template(
    fake: tuple[FakeMeta, str], tmp_path: Path
) -> None:
    meta, url = fake
    cache = LocalCache.open(tmp_path / "cache.db", CacheKey.generate())
    try:
        account_id = add_account(cache, name="Loja", provider="meta")
        with cache.transaction() as conn:
            conn.exec_driver_sql(
                "INSERT INTO conversations (id, account_id, chat_key, customer_phone)"
                " VALUES (1, ?, '5511987654321', '5511987654321')",
                (account_id,),
            )
        template = TemplateRef("aviso_05", "pt_BR", ("pronto", "hoje"), ("123",))
        message, _ = outbox.enqueue_template(cache, 1, template, "Pedido 123 …")
        assert message.type is MessageType.TEMPLATE
        claimed = outbox.claim_next(cache)
        assert claimed is not None and claimed.message.template == template
        async with httpx.AsyncClient(timeout=5) as http:
            adapter = MetaCloudAdapter(make_account(url, account_id=account_id), http)
            result = await adapter.send(claimed.message)
        outbox.complete_sent(cache, message.id, result.provider_message_id)
        sent = meta.accepted[-1]
        assert sent["type"] == "template" and sent["template"]["name"] == "aviso_05"
        assert sent["biz_opaque_callback_data"] == message.id
        (stored,) = messages_by_id(cache, [message.id])
        assert stored.status is DeliveryStatus.SENT and stored.text == "Pedido 123 …"
    finally:
        cache.close()
