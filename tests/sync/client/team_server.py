"""A small team server for sync tests: seeded workspace, the sync API on loopback, pokes live.

The lead's ``sync/server/app.py`` assembles the real app; these tests build only what the sync
protocol needs (``app.state.db``, ``.pokes``, ``.dispatcher = None``) so they exercise the API
without the dispatcher or the webhook ingress.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.routing import Mount

from sync.domain.ids import uuid7
from sync.server.auth import DEFAULT_TOKEN_TTL, Principal, hash_password
from sync.server.pokes import PokeHub
from sync.server.sync_api import sync_routes
from sync.store.team.database import ServerDatabase
from tests.fakes.loopback import serve
from tests.sync.server import seeding

PASSWORD = "correct horse battery"
_HASH: str | None = None


def _password_hash() -> str:
    global _HASH
    if _HASH is None:
        _HASH = hash_password(PASSWORD)
    return _HASH


@dataclass
class Team:
    """Ids of the seeded workspace: ana sees shop, bia sees workshop, sup sees both."""

    ws: int
    ana: int
    bia: int
    sup: int
    shop: int
    workshop: int
    shop_chat: int
    workshop_chat: int

    def principal(self, name: str) -> Principal:
        role = "supervisor" if name == "sup" else "agent"
        return Principal(self.ws, getattr(self, name), role, name)


def seed(db: ServerDatabase) -> Team:
    """A workspace with two numbers, a conversation on each, two agents and a supervisor."""
    ids: dict[str, int] = {}
    with db.system() as conn:
        ws = ids["ws"] = seeding.workspace(conn)
        for name, role in (("ana", "agent"), ("bia", "agent"), ("sup", "supervisor")):
            ids[name] = seeding.user(
                conn,
                ws,
                name,
                role=role,
                display_name=name.title(),
                password_hash=_password_hash(),
            )
        for name, phone in (("shop", "5511900000001"), ("workshop", "5511900000002")):
            ids[name] = seeding.number(conn, ws, name)
            ids[f"{name}_chat"] = seeding.conversation(
                conn,
                ws,
                ids[name],
                phone,
                customer_phone=phone,
                customer_name=f"Customer of {name}",
            )
        seeding.grant(conn, ws, ids["ana"], ids["shop"])
        seeding.grant(conn, ws, ids["bia"], ids["workshop"])
    return Team(**ids)


def add_messages(
    db: ServerDatabase, team: Team, account: str, count: int, *, body: str = "hello"
) -> list[str]:
    """``count`` inbound messages on ``account``'s conversation, in one transaction."""
    ids = [uuid7() for _ in range(count)]
    with db.system() as conn:
        conn.execute(
            text(
                "INSERT INTO messages (id, workspace_id, account_id, conversation_id, direction,"
                " ts, type, body, status)"
                " SELECT u::uuid, :ws, :a, :c, 'in', 1700000000000 + n, 'text',"
                " :b || ' ' || n, 'received'"
                " FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS t(u, n)"
            ),
            {
                "ws": team.ws,
                "a": getattr(team, account),
                "c": getattr(team, f"{account}_chat"),
                "b": body,
                "ids": ids,
            },
        )
    return ids


def build_app(
    db: ServerDatabase, dsn: str | None = None, *, token_ttl: timedelta = DEFAULT_TOKEN_TTL
) -> Starlette:
    """The sync API under ``/api/v1``; with ``dsn``, a poke hub listening (via lifespan)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hub = PokeHub()
        app.state.pokes = hub
        if dsn is not None:
            await hub.start(dsn)
        try:
            yield
        finally:
            await hub.aclose()

    app = Starlette(
        routes=[Mount("/api/v1", routes=sync_routes(token_ttl=token_ttl))], lifespan=lifespan
    )
    app.state.db = db
    app.state.dispatcher = None
    return app


@contextlib.contextmanager
def running_server(
    db: ServerDatabase, dsn: str | None = None, *, token_ttl: timedelta = DEFAULT_TOKEN_TTL
) -> Iterator[str]:
    """The app on loopback; yields its base URL."""
    with serve(build_app(db, dsn, token_ttl=token_ttl), lifespan=True) as base_url:
        yield base_url


def new_id() -> str:
    """A command id."""
    return uuid7()


def random_uuid() -> str:
    """A UUID that names nothing."""
    return str(uuid.uuid4())
