"""NUL and lone surrogates, through the real receivers, into both stores.

JSON lets a provider send ``"\\u0000"`` and half an emoji (``"\\ud83d"`` alone). Postgres refuses
both and SQLite cannot encode the second; a call refused for them would be redelivered for days.
Each is cleaned before it is stored (NUL removed, U+FFFD for the lone surrogate), and the call
is answered 200: over the local cache (the app ``caixa receive`` serves) and over Postgres (the
team server).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import text

from sync.engine.ingest_queue import IngestQueue
from sync.ingress.receiver import WebhookReceiver
from sync.providers.accounts import Secret
from sync.providers.directory import StaticDirectory
from sync.server import admin
from sync.server.app import build_app
from sync.server.config import ServerConfig
from sync.server.credentials import ServerKey, generate_key
from sync.store.local.database import Database
from sync.store.local.search import search_messages
from sync.store.local.store import LocalStore
from sync.store.team.database import ServerDatabase
from tests.fakes.loopback import serve
from tests.sync.helpers import scalar
from tests.sync.server.conftest import Numbers
from tests.sync.server.payloads import (
    EVOLUTION_INSTANCE,
    GATEWAY_INSTANCE,
    evolution_account,
    evolution_headers,
    evolution_text_message,
    gateway_account,
    gateway_headers,
    gateway_text_message,
    meta_account,
    meta_headers,
    meta_text_message,
)

if TYPE_CHECKING:
    from tests.conftest import PgDatabase

pytestmark = pytest.mark.anyio

SENT_TEXT = "bolo\u0000 de chocolate \ud83d"  # a NUL, and an emoji cut in half at the end
STORED_TEXT = "bolo de chocolate \ufffd"
SENT_NAME = "Ana\u0000 \udc00Souza"
STORED_NAME = "Ana \ufffdSouza"
MESSAGE_ID = "3EB0C0FFEE\u0000"  # ids are texts too: the NUL goes, the id stays stable
STORED_ID = "3EB0C0FFEE"


def _call(provider: str) -> tuple[str, bytes, dict[str, str]]:
    """The route, body and headers of a call carrying ``SENT_TEXT`` from ``SENT_NAME``."""
    document: dict[str, Any]
    if provider == "meta":
        document = meta_text_message(MESSAGE_ID, SENT_TEXT)
        value = document["entry"][0]["changes"][0]["value"]
        value["contacts"][0]["profile"]["name"] = SENT_NAME
    elif provider == "evolution":
        document = evolution_text_message(MESSAGE_ID, SENT_TEXT)
        document["data"]["pushName"] = SENT_NAME
    else:
        document = gateway_text_message(MESSAGE_ID, SENT_TEXT)
        document["data"]["pushName"] = SENT_NAME
    # ASCII-escaped, as senders do: "\u0000" and "\ud83d" are valid JSON; UTF-8 cannot carry them.
    body = json.dumps(document).encode("ascii")
    assert b"\\u0000" in body and b"\\ud83d" in body
    if provider == "meta":
        return "/hooks/meta", body, meta_headers(body)
    if provider == "evolution":
        return f"/hooks/evolution/{EVOLUTION_INSTANCE}", body, evolution_headers()
    return f"/hooks/gateway/{GATEWAY_INSTANCE}", body, gateway_headers()


PROVIDERS = ["meta", "evolution", "gateway"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_the_local_cache_stores_the_message_cleaned(
    db: Database, numbers: Numbers, provider: str
) -> None:
    route, body, headers = _call(provider)
    # What ``caixa receive`` serves: the receiver over the cache's group-commit queue.
    queue = IngestQueue(LocalStore(db))
    receiver = WebhookReceiver(StaticDirectory(numbers.all()), queue.submit)
    try:
        with serve(receiver.app) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                response = await http.post(route, content=body, headers=headers)
                again = await http.post(route, content=body, headers=headers)  # redelivered
    finally:
        await queue.aclose()

    assert (response.status_code, again.status_code) == (200, 200), response.text
    rows = db.run_sync(
        lambda cache: cache.conn.exec_driver_sql(
            "SELECT provider_message_id, body FROM messages"
        ).all()
    )
    assert [tuple(r) for r in rows] == [(STORED_ID, STORED_TEXT)]
    assert db.run_sync(scalar, "SELECT customer_name FROM conversations") == STORED_NAME
    # Searchable like any text (the full-text index got the cleaned text, not a NUL).
    hits = db.run_sync(lambda cache: search_messages(cache, "chocolate"))
    assert [hit.text for hit in hits] == [STORED_TEXT]


@contextlib.contextmanager
def _team_server(pg: PgDatabase) -> Iterator[tuple[str, ServerDatabase]]:
    """The team server (``caixa-server``'s app) with the three test numbers, on loopback."""
    config = ServerConfig(database_url=Secret(pg.app_url), secret_key=Secret(generate_key()))
    db = ServerDatabase(pg.app_url)
    key = ServerKey(config.secret_key)
    for account in (meta_account(), evolution_account(), gateway_account()):
        admin.add_account(db, key, account)
    try:
        with serve(build_app(config, dispatch=False), lifespan=True) as url:
            yield url, db
    finally:
        db.dispose()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_postgres_stores_the_message_cleaned(pg_database: PgDatabase, provider: str) -> None:
    route, body, headers = _call(provider)
    with _team_server(pg_database) as (url, db):
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            response = await http.post(route, content=body, headers=headers)
            again = await http.post(route, content=body, headers=headers)  # redelivered

        assert (response.status_code, again.status_code) == (200, 200), response.text
        with db.system() as conn:
            rows = conn.execute(text("SELECT provider_message_id, body FROM messages")).all()
            name = conn.execute(text("SELECT customer_name FROM conversations")).scalar_one()
    assert [tuple(r) for r in rows] == [(STORED_ID, STORED_TEXT)]
    assert name == STORED_NAME
