"""A solo workspace's real numbers, live: stored numbers come back as adapters, the receiver
serves on loopback and stores what Meta posts, adapters and listeners see committed events,
and a number added while running can send at once."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sync.backend.workspace import Workspace
from sync.domain.events import MessageEvent, ProviderEvent
from sync.engine.service import Engine
from sync.providers.accounts import Secret
from sync.providers.evolution import EvolutionAccount
from sync.providers.meta_cloud import MetaAccount, MetaCloudAdapter
from sync.providers.registry import build_adapter, hook_url
from sync.store.local import queries
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.secrets import AccountSecrets
from tests.fakes.loopback import serve
from tests.fakes.meta_server import (
    FakeMeta,
    change,
    message_item,
    messages_value,
    signed_webhook,
    webhook_body,
)

pytestmark = pytest.mark.anyio

TOKEN = "EAAG-workspace-test-token"
APP_SECRET = "workspace-app-secret"
PHONE_NUMBER_ID = "109876543210987"
WABA = "201234567890123"


def meta_account(base_url: str, name: str = "Loja") -> MetaAccount:
    return MetaAccount(
        name=name,
        phone_number_id=PHONE_NUMBER_ID,
        waba_id=WABA,
        access_token=Secret(TOKEN),
        app_secret=Secret(APP_SECRET),
        verify_token=Secret("verify"),
        base_url=base_url,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(tmp_path / "caixa-cache.db", CacheKey.generate())
    await db.open()
    yield db
    await db.aclose()


def secrets_for(db: Database, tmp_path: Path) -> AccountSecrets:
    # No keyring on the test machine: with a key file, secrets live in the encrypted cache.
    return AccountSecrets(db.path, key_file=tmp_path / "key.json")


def test_hook_urls_follow_the_receiver_routes() -> None:
    evolution = EvolutionAccount(
        name="E",
        instance="loja-1",
        base_url="http://evo",
        api_key=Secret("k"),
        instance_token=Secret(""),
        webhook_secret=Secret("s"),
    )
    assert hook_url("https://shop.example/", evolution) == (
        "https://shop.example/hooks/evolution/loja-1"
    )
    assert hook_url("https://shop.example", meta_account("http://x")) == (
        "https://shop.example/hooks/meta"
    )
    assert hook_url("", evolution) == ""


async def test_a_number_added_is_stored_comes_back_and_receives(
    db: Database, tmp_path: Path
) -> None:
    fake = FakeMeta(access_token=TOKEN, phone_number_id=PHONE_NUMBER_ID, waba_id=WABA)
    with serve(fake.app) as graph:
        engine = Engine(db, {})
        workspace = Workspace(db, engine, secrets_for(db, tmp_path))
        await engine.start()
        try:
            added = await workspace.add_number(meta_account(graph))
            assert isinstance(workspace.adapters[added.account_id], MetaCloudAdapter)
            assert engine.adapter(added.account_id) is workspace.adapters[added.account_id]

            seen: list[ProviderEvent] = []
            workspace.subscribe(lambda events: seen.extend(events))
            port = free_port()
            assert await workspace.start_receiver("127.0.0.1", port)
            hello = message_item("text", {"body": "Tem pão de queijo?"}, wamid="wamid.A1")
            body = webhook_body(
                WABA,
                [
                    change(
                        messages_value(
                            PHONE_NUMBER_ID,
                            [hello],
                            contacts=[("5511987654321", "Ana")],
                        )
                    )
                ],
            )
            raw, headers = signed_webhook(APP_SECRET, body)
            async with httpx.AsyncClient() as http:
                url = f"http://127.0.0.1:{port}/hooks/meta"
                assert (await http.post(url, content=raw, headers=headers)).status_code == 200
                assert (await http.post(url, content=raw, headers=headers)).status_code == 200
                bad = {**headers, "x-hub-signature-256": "sha256=" + "0" * 64}
                assert (await http.post(url, content=raw, headers=bad)).status_code == 401
            [conversation] = await db.run(queries.latest_conversations, None, limit=10)
            assert conversation.customer_name == "Ana"
            assert conversation.last_preview == "Tem pão de queijo?"
            assert [e.provider_message_id for e in seen if isinstance(e, MessageEvent)] == [
                "wamid.A1",
                "wamid.A1",  # the redelivery is seen, and stored once (one conversation row)
            ]
        finally:
            await workspace.aclose()
            await engine.aclose()

        # A restart finds the number again, with its secrets, as an adapter.
        engine = Engine(db, {})
        again = Workspace(db, engine, secrets_for(db, tmp_path))
        adapters = await again.load()
        assert list(adapters) == [added.account_id]
        assert again.directory.accounts("meta")[0].access_token == Secret(TOKEN)
        await again.aclose()


async def test_the_receiver_reports_an_address_in_use(db: Database, tmp_path: Path) -> None:
    engine = Engine(db, {})
    workspace = Workspace(db, engine, secrets_for(db, tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert not await workspace.start_receiver("127.0.0.1", taken.getsockname()[1])
    assert not workspace.receiving
    await workspace.aclose()


def test_build_adapter_uses_the_registry() -> None:
    async def check() -> None:
        async with httpx.AsyncClient() as http:
            adapter = build_adapter(meta_account("http://x"), http)
            assert adapter.kind == "meta"

    import anyio

    anyio.run(check)
