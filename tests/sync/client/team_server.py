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
from sync.server.database import ServerDatabase
from sync.server.pokes import PokeHub
from sync.server.sync_api import sync_routes
from tests.fakes.loopback import serve

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
        ws = conn.execute(text("INSERT INTO workspaces (name) VALUES ('w') RETURNING id"))
        ids["ws"] = ws.scalar_one()
        for name, role in (("ana", "agent"), ("bia", "agent"), ("sup", "supervisor")):
            ids[name] = conn.execute(
                text(
                    "INSERT INTO users (workspace_id, username, display_name, password_hash, role)"
                    " VALUES (:ws, :n, :d, :h, :r) RETURNING id"
                ),
                {"ws": ids["ws"], "n": name, "d": name.title(), "h": _password_hash(), "r": role},
            ).scalar_one()
        for name, phone in (("shop", "5511900000001"), ("workshop", "5511900000002")):
            ids[name] = conn.execute(
                text(
                    "INSERT INTO accounts (workspace_id, name, provider)"
                    " VALUES (:ws, :n, 'demo') RETURNING id"
                ),
                {"ws": ids["ws"], "n": name},
            ).scalar_one()
            ids[f"{name}_chat"] = conn.execute(
                text(
                    "INSERT INTO conversations (workspace_id, account_id, chat_key,"
                    " customer_phone, customer_name) VALUES (:ws, :a, :k, :k, :n) RETURNING id"
                ),
                {"ws": ids["ws"], "a": ids[name], "k": phone, "n": f"Customer of {name}"},
            ).scalar_one()
        for user, account in (("ana", "shop"), ("bia", "workshop")):
            conn.execute(
                text("INSERT INTO user_accounts VALUES (:ws, :u, :a)"),
                {"ws": ids["ws"], "u": ids[user], "a": ids[account]},
            )
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
