"""The receiver judges and reads the bytes a provider sent, not a re-serialisation of them.

Meta signs the exact bytes it sends (``X-Hub-Signature-256`` is the HMAC-SHA256 of the raw
body), and those bytes are seldom compact Python JSON: pretty-printed, ``\\u``-escaped (an
emoji as an escaped surrogate pair), ``\\/``, keys in its own order. A receiver that parsed and
re-serialised the body before checking the signature would refuse every such call while the
compact bodies of the other tests still passed. So each call here is authentic for bytes that
no re-serialisation reproduces (``payloads.encodings``), and goes over real HTTP on loopback
to the receiver as ``caixa receive`` and the desktop serve it (over the local cache), and to
``caixa-server``'s app (over Postgres). The text must be stored exactly as sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.local.local_cache import LocalCache
from sync.store.local.store import LocalStore
from sync.store.team.database import ServerDatabase
from tests.fakes.loopback import serve
from tests.sync.server.conftest import add_numbers
from tests.sync.server.payloads import (
    AWKWARD_TEXT,
    EVOLUTION_INSTANCE,
    GATEWAY_INSTANCE,
    encodings,
    evolution_account,
    evolution_headers,
    evolution_text_message,
    gateway_account,
    gateway_headers,
    gateway_text_message,
    meta_account,
    meta_headers,
    meta_text_message,
    one_more_space,
    reserialisations,
)

pytestmark = pytest.mark.anyio

VARIANTS = list(encodings({}))

_ROWS_SQL = (
    "SELECT a.provider, m.body FROM messages m JOIN accounts a ON a.id = m.account_id"
    " WHERE m.provider_message_id = {id}"
)


@dataclass
class Target:
    """A receiver on loopback and what it stored."""

    base_url: str
    rows: Callable[[str], list[tuple[str, str]]]  # (provider, body) of one provider message id
    messages: Callable[[], int]

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            return await http.post(path, content=body, headers=headers)


@pytest.fixture(scope="module", params=["caixa receive", "caixa-server"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The receiver over the local cache, then inside the team server's app.

    One of each for the module (a team server per test would cost a database and a start-up
    each time): every test sends its own message ids and compares counts, not totals.
    """
    if request.param == "caixa receive":
        folder = request.getfixturevalue("tmp_path_factory").mktemp("receive")
        yield from _local_receiver(folder)
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        name = cluster.create_database(template=request.getfixturevalue("_pg_template"))
        try:
            yield from _team_server(cluster.url(name, app=True))
        finally:
            cluster.drop_database(name)


def _local_receiver(folder: Path) -> Iterator[Target]:
    db = Database(folder / "caixa-cache.db", CacheKey.generate())
    db.open_sync()
    numbers = db.run_sync(add_numbers)
    # Wired as sync/commands/receive.py wires it: the group-commit queue is the sink.
    receiver = WebhookReceiver(StaticDirectory(numbers.all()), IngestQueue(LocalStore(db)).submit)

    def rows(provider_id: str) -> list[tuple[str, str]]:
        return db.run_sync(_local_rows, provider_id)

    def messages() -> int:
        return db.run_sync(_local_count)

    try:
        with serve(receiver.app) as base_url:
            yield Target(base_url, rows, messages)
    finally:
        db.close_sync()


def _local_rows(cache: LocalCache, provider_id: str) -> list[tuple[str, str]]:
    found = cache.conn.exec_driver_sql(_ROWS_SQL.format(id="?"), (provider_id,)).all()
    return [(r[0], r[1]) for r in found]


def _local_count(cache: LocalCache) -> int:
    return int(cache.conn.exec_driver_sql("SELECT COUNT(*) FROM messages").scalar_one())


def _team_server(url: str) -> Iterator[Target]:
    config = ServerConfig(database_url=Secret(url), secret_key=Secret(generate_key()))
    db = ServerDatabase(url)
    key = ServerKey(config.secret_key)
    for account in (meta_account(), evolution_account(), gateway_account()):
        admin.add_account(db, key, account)

    def rows(provider_id: str) -> list[tuple[str, str]]:
        with db.system() as conn:
            found = conn.execute(text(_ROWS_SQL.format(id=":id")), {"id": provider_id}).all()
        return [(r[0], r[1]) for r in found]

    def messages() -> int:
        with db.system() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM messages")).scalar_one())

    try:
        # No dispatcher: it only sends, and would call the test numbers' unreachable servers.
        with serve(build_app(config, dispatch=False), lifespan=True) as base_url:
            yield Target(base_url, rows, messages)
    finally:
        db.dispose()


# --- the variants themselves ---------------------------------------------------------------------

DOCUMENTS: dict[str, dict[str, Any]] = {
    "meta": meta_text_message("wamid.HBgLNTUxMTk5OTk5MDAwMRUCABIYFjNFQjBDMEEA", AWKWARD_TEXT),
    "evolution": evolution_text_message("3EB0C0A1B2C3D4E5F6", AWKWARD_TEXT),
    "gateway": gateway_text_message("3EB0GATEWAY01", AWKWARD_TEXT),
}


@pytest.mark.parametrize("provider", list(DOCUMENTS))
def test_each_variant_is_the_same_json_in_bytes_no_reserialisation_gives(provider: str) -> None:
    # What makes the tests below worth having: a receiver that re-serialised what it got would
    # check and read other bytes than these, whichever way it re-serialised them.
    document = DOCUMENTS[provider]
    for name, body in encodings(document).items():
        assert json.loads(body) == document, name
        assert body not in reserialisations(body), name
        assert json.loads(one_more_space(body)) == document, name


# --- stored as sent ------------------------------------------------------------------------------


def _id(prefix: str, variant: str) -> str:
    """A message id of this test alone (the receivers are shared by the module)."""
    return f"{prefix}{VARIANTS.index(variant)}"


@pytest.mark.parametrize("variant", VARIANTS)
async def test_a_signed_meta_call_is_stored_as_sent(target: Target, variant: str) -> None:
    wamid = _id("wamid.HBgLNTUxMTk5OTk5MDAwMRUCABIYFjNFQjBDMEE.", variant)
    body = encodings(meta_text_message(wamid, AWKWARD_TEXT))[variant]

    response = await target.post("/hooks/meta", body, meta_headers(body))

    assert response.status_code == 200, response.text
    assert target.rows(wamid) == [("meta", AWKWARD_TEXT)]


@pytest.mark.parametrize("variant", VARIANTS)
async def test_a_meta_body_one_space_off_its_signature_is_refused(
    target: Target, variant: str
) -> None:
    # The same JSON with one more byte of whitespace: only a signature over the raw bytes
    # tells the two apart.
    wamid = _id("wamid.HBgLNTUxMTk5OTk5MDAwMRUCABIYFjNFQjBDREFUU0VE.", variant)
    body = encodings(meta_text_message(wamid, AWKWARD_TEXT))[variant]
    before = target.messages()

    refused = await target.post("/hooks/meta", one_more_space(body), meta_headers(body))

    assert refused.status_code == 401, refused.text
    assert target.messages() == before
    # The space alone made the difference: the bytes that were signed are taken.
    taken = await target.post("/hooks/meta", body, meta_headers(body))
    assert taken.status_code == 200, taken.text
    assert target.rows(wamid) == [("meta", AWKWARD_TEXT)]


@pytest.mark.parametrize("variant", VARIANTS)
async def test_an_evolution_call_with_its_token_is_stored_as_sent(
    target: Target, variant: str
) -> None:
    message_id = _id("3EB0C0A1B2C3D4E5F6", variant)
    body = encodings(evolution_text_message(message_id, AWKWARD_TEXT))[variant]

    response = await target.post(
        f"/hooks/evolution/{EVOLUTION_INSTANCE}", body, evolution_headers()
    )

    assert response.status_code == 200, response.text
    assert target.rows(message_id) == [("evolution", AWKWARD_TEXT)]


@pytest.mark.parametrize("variant", VARIANTS)
async def test_a_gateway_call_with_its_token_is_stored_as_sent(
    target: Target, variant: str
) -> None:
    message_id = _id("3EB0GATEWAY0", variant)
    body = encodings(gateway_text_message(message_id, AWKWARD_TEXT))[variant]

    response = await target.post(f"/hooks/gateway/{GATEWAY_INSTANCE}", body, gateway_headers())

    assert response.status_code == 200, response.text
    assert target.rows(message_id) == [("gateway", AWKWARD_TEXT)]
