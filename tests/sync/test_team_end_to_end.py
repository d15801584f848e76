"""Team mode end to end: the real ``caixa-server`` app on Postgres, a fake Meta, two desktops.

Everything over real HTTP on loopback: Meta's webhook into the server, the sync API to two
desktop team clients (each with its own encrypted cache), and the dispatcher's sends to the fake
Meta. Agent A's reply reaches agent B's cache; B, offline, writes three replies that the customer
gets exactly once each, in order, when B is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import text

from sync.client.team import TeamClient, TeamOffline
from sync.providers.accounts import Secret
from sync.server import admin
from sync.server.app import build_app
from sync.server.config import ServerConfig
from sync.server.credentials import ServerKey, generate_key
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.team.database import ServerDatabase
from tests.fakes.loopback import serve
from tests.fakes.meta_server import FakeMeta, signed_webhook, text_webhook
from tests.fakes.network import Switch
from tests.polling import eventually
from tests.sync.providers.meta_cloud.harness import (
    ACCESS_TOKEN,
    APP_SECRET,
    PHONE_NUMBER_ID,
    make_account,
)

if TYPE_CHECKING:
    from tests.conftest import PgDatabase

pytestmark = pytest.mark.anyio

CUSTOMER = "5511987654321"
PASSWORD = "correct horse battery"
# A real server, Postgres and two desktops on a shared machine: a generous guard against a hang.
TIMEOUT_S = 20.0


@pytest.fixture
def meta() -> Iterator[tuple[FakeMeta, str]]:
    fake = FakeMeta(access_token=ACCESS_TOKEN)
    with serve(fake.app) as url:
        yield fake, url


@pytest.fixture
def server(pg_database: PgDatabase, meta: tuple[FakeMeta, str]) -> Iterator[dict[str, Any]]:
    _, meta_url = meta
    config = ServerConfig(
        database_url=Secret(pg_database.app_url), secret_key=Secret(generate_key())
    )
    db = ServerDatabase(pg_database.app_url)
    key = ServerKey(config.secret_key)
    # Meta's published pace to one recipient is about one message per 6 s; a burst of five lets
    # three quick replies go at once (the pacing itself is tested in test_dispatcher).
    account_id = admin.add_account(db, key, make_account(meta_url, account_id=0))
    with db.system() as conn:
        conn.execute(
            text("UPDATE accounts SET config = config || CAST(:p AS jsonb) WHERE id = :id"),
            {"p": '{"pacing": {"recipient_burst": 5}}', "id": account_id},
        )
    for name in ("ana", "bia"):
        admin.add_user(db, name, PASSWORD, accounts=[make_account(meta_url).name])
    with serve(build_app(config), lifespan=True) as url:
        yield {"url": url, "db": db, "account_id": account_id}
    db.dispose()


@pytest.fixture
async def desktops(
    server: dict[str, Any], tmp_path: Path
) -> AsyncIterator[Callable[[str], tuple[TeamClient, Database, Switch]]]:
    made: list[tuple[httpx.AsyncClient, Database, TeamClient, asyncio.Task[None]]] = []

    async def make(name: str) -> tuple[TeamClient, Database, Switch]:
        db = Database(tmp_path / name / "cache.db", CacheKey.generate())
        await db.open()
        switch = Switch()
        http = httpx.AsyncClient(base_url=server["url"], transport=switch, timeout=30)
        client = TeamClient(http, db, poll_interval=5.0)
        await client.login(name, PASSWORD)
        await client.sync_now()
        task = asyncio.get_running_loop().create_task(client.run())
        made.append((http, db, client, task))
        return client, db, switch

    yield make  # type: ignore[misc]
    for http, db, client, task in made:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.aclose()
        await http.aclose()
        await db.aclose()


async def post_webhook(server: dict[str, Any], body: str, wamid: str) -> None:
    raw, headers = signed_webhook(
        APP_SECRET, text_webhook(PHONE_NUMBER_ID, body, sender=CUSTOMER, wamid=wamid)
    )
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{server['url']}/hooks/meta", content=raw, headers=headers)
    assert answer.status_code == 200, answer.text


async def server_outbox_empty(server: dict[str, Any]) -> bool:
    """Whether the server's outbox is empty (every queued send made and its outcome recorded)."""

    def count() -> int:
        with server["db"].system() as conn:
            return int(conn.execute(text("SELECT count(*) FROM outbox")).scalar_one())

    return await asyncio.to_thread(count) == 0


async def bodies(db: Database, conversation_id: int) -> list[str]:
    def query(cache: Any) -> list[str]:
        rows = cache.conn.exec_driver_sql(
            "SELECT body FROM messages WHERE conversation_id = ? ORDER BY ts, seq",
            (conversation_id,),
        ).all()
        return [r[0] for r in rows]

    return await db.run(query)


async def test_two_agents_one_customer_offline_replies_go_once_in_order(
    server: dict[str, Any], meta: tuple[FakeMeta, str], desktops: Any
) -> None:
    fake, _ = meta
    await post_webhook(server, "Oi, vocês abrem sábado?", "wamid.IN1")
    ana, ana_db, _ = await desktops("ana")
    bia, bia_db, bia_net = await desktops("bia")

    async def conversation_of(db: Database) -> int | None:
        def query(cache: Any) -> int | None:
            row = cache.conn.exec_driver_sql(
                "SELECT id FROM conversations WHERE customer_phone = ?", (CUSTOMER,)
            ).first()
            return None if row is None else int(row[0])

        return await db.run(query)

    await eventually(lambda: conversation_of(ana_db), timeout=TIMEOUT_S)
    await eventually(lambda: conversation_of(bia_db), timeout=TIMEOUT_S)
    conversation = await conversation_of(ana_db)
    assert conversation is not None and conversation == await conversation_of(bia_db)
    assert await bodies(bia_db, conversation) == ["Oi, vocês abrem sábado?"]

    # Agent A answers: the customer gets it, and B sees it in B's own cache.
    await ana.send_text(conversation, "Abrimos sim, das 8h às 12h.")
    await eventually(lambda: len(fake.accepted) == 1, timeout=TIMEOUT_S)
    await eventually(
        lambda: _contains(bia_db, conversation, "Abrimos sim, das 8h às 12h."), timeout=TIMEOUT_S
    )

    # B loses the internet, writes three replies (they wait, queued), then comes back.
    bia_net.offline = True
    await eventually(lambda: not bia.online, timeout=TIMEOUT_S)
    replies = ["Primeira resposta", "Segunda resposta", "Terceira resposta"]
    for reply in replies:
        await bia.send_text(conversation, reply)
    assert await bia.pending_count() == 3
    # Asked to sync now, B cannot: its replies stay in its own outbox...
    with pytest.raises(TeamOffline):
        await bia.sync_now()
    assert await bia.pending_count() == 3
    # ...and the server has nothing left to send: the customer has only A's answer.
    await eventually(
        lambda: server_outbox_empty(server), timeout=TIMEOUT_S, message="empty server outbox"
    )
    assert len(fake.accepted) == 1
    bia_net.offline = False
    bia.wake()
    await eventually(lambda: len(fake.accepted) == 4, timeout=30)

    # Once B has nothing left to push and the server nothing left to send, nothing more can go
    # out: a double send, if there were one, is among what the customer got.
    async def nothing_left() -> bool:
        return await bia.pending_count() == 0 and await server_outbox_empty(server)

    await eventually(nothing_left, timeout=TIMEOUT_S)
    sent = [payload["text"]["body"] for payload in fake.accepted]
    assert sent == ["Abrimos sim, das 8h às 12h.", *replies]
    # And A's cache has B's replies, with their delivery status from the server.
    for reply in replies:
        await eventually(
            lambda reply=reply: _contains(ana_db, conversation, reply), timeout=TIMEOUT_S
        )


async def _contains(db: Database, conversation_id: int, wanted: str) -> bool:
    return wanted in await bodies(db, conversation_id)


async def test_a_team_desktop_sends_an_approved_template_through_the_server(
    server: dict[str, Any], meta: tuple[FakeMeta, str], desktops: Any
) -> None:
    from sync.client.team import TeamError
    from sync.domain.messages import TemplateRef
    from sync.domain.models import MessageType

    fake, _ = meta
    fake.templates["pedido_pronto"] = (1, 2)  # a header parameter, two in the body
    await post_webhook(server, "Meu pedido está pronto?", "wamid.IN9")
    ana, ana_db, _ = await desktops("ana")

    def conversation_id(cache: Any) -> int | None:
        row = cache.conn.exec_driver_sql(
            "SELECT id FROM conversations WHERE customer_phone = ?", (CUSTOMER,)
        ).first()
        return None if row is None else int(row[0])

    await eventually(lambda: ana_db.run(conversation_id), timeout=TIMEOUT_S)
    conversation = await ana_db.run(conversation_id)
    assert conversation is not None

    # The server asks Meta (it holds the credentials): only approved text templates come back.
    found = await ana.list_templates(server["account_id"])
    assert "pedido_pronto" in [t.name for t in found]
    assert "old_promo" not in [t.name for t in found]  # rejected by Meta: never offered
    template = next(t for t in found if t.name == "pedido_pronto")
    assert (template.header_parameters, template.body_parameters) == (1, 2)
    preview = template.render(("123",), ("João", "hoje"))
    message = await ana.send_template(
        conversation,
        TemplateRef(template.name, template.language, ("João", "hoje"), ("123",)),
        preview,
    )
    assert message.type is MessageType.TEMPLATE and message.text == preview
    await eventually(lambda: len(fake.accepted) == 1, timeout=TIMEOUT_S)
    sent = fake.accepted[0]
    assert sent["type"] == "template" and sent["template"]["name"] == "pedido_pronto"
    assert sent["template"]["language"]["code"] == "pt_BR"
    texts = [p["text"] for c in sent["template"]["components"] for p in c.get("parameters", [])]
    assert texts == ["123", "João", "hoje"]  # the header's, then the body's
    assert sent["to"] == CUSTOMER
    # The team sees what the customer read, sent.
    await eventually(lambda: _contains(ana_db, conversation, preview), timeout=TIMEOUT_S)

    # A number the agent may not see, or none at all: refused without saying which.
    with pytest.raises(TeamError):
        await ana.list_templates(server["account_id"] + 1000)
