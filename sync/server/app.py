"""``caixa-server``'s one ASGI app: webhook ingress, sync API, pokes, dispatcher, in one process.

Routes::

    /hooks/...          the webhook receiver (``receiver.py``), the same app solo users run
    /health             liveness (and, here, whether Postgres answers)
    /api/v1/...         the sync API (``sync_api.py``): login, pull, push, events (SSE)

The lifespan opens the pool, starts the poke hub (LISTEN on Postgres) and the outbox dispatcher,
and keeps the receiver's list of numbers in step with the database (numbers added with
``caixa-server accounts add`` while it runs are served within seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from sync.server.config import ServerConfig
from sync.server.credentials import ServerKey
from sync.store.team.database import ServerDatabase

if TYPE_CHECKING:
    import httpx

    from sync.providers.directory import StaticDirectory

log = logging.getLogger("caixa.server")

# How often the receiver's numbers are re-read (one cheap query; secrets only when they changed).
DIRECTORY_REFRESH_SECONDS: Final = 5.0


def libpq_dsn(url: str) -> str:
    """The libpq form (``postgresql://``) of a SQLAlchemy URL, for psycopg's own connections."""
    from sqlalchemy.engine import make_url

    from sync.store.team.database import normalize_url

    parsed = make_url(normalize_url(url)).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def build_app(
    config: ServerConfig,
    *,
    http: httpx.AsyncClient | None = None,
    dispatch: bool = True,
) -> Starlette:
    """The server app for ``config``; ``http`` is the client adapters use (tests hand one in)."""
    from sync.engine.ingest_queue import IngestQueue
    from sync.ingress.receiver import WebhookReceiver
    from sync.providers.directory import StaticDirectory
    from sync.server.dispatcher import TeamDispatcher
    from sync.server.pokes import PokeHub
    from sync.server.sync_api import sync_routes
    from sync.store.team.store import TeamStore

    config.require("database_url", "secret_key")
    key = ServerKey(config.secret_key)
    db = ServerDatabase(config.database_url.reveal())
    directory = StaticDirectory()

    queue = IngestQueue(TeamStore(db))

    receiver = WebhookReceiver(directory, queue.submit)

    async def health(request: Request) -> JSONResponse:
        try:
            await asyncio.to_thread(_ping, db)
        except Exception:
            log.warning("health: the database does not answer", exc_info=True)
            return JSONResponse({"status": "degraded", "database": False}, status_code=503)
        return JSONResponse({"status": "ok", "database": True})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import httpx

        own_http = http is None
        client = http or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        app.state.db = db
        app.state.config = config
        app.state.dispatcher = None
        pokes = PokeHub()
        app.state.pokes = pokes
        await pokes.start(libpq_dsn(config.database_url.reveal()))
        refresher = asyncio.create_task(_refresh_directory(db, key, directory))
        dispatcher = None
        unobserve = None
        try:
            await asyncio.to_thread(_load_directory, db, key, directory)
            if dispatch:
                dispatcher = TeamDispatcher(
                    db, key, client, ingest=queue.submit, public_url=config.public_url
                )
                await dispatcher.start()
                app.state.dispatcher = dispatcher
                # Webhooks tell the adapters their numbers' connection state and heartbeats
                # (without it a QR-linked number never becomes ready to send), and wake the
                # dispatcher when a receipt or a connection may free a send.
                unobserve = receiver.add_observer(dispatcher.observe)
            yield
        finally:
            if unobserve is not None:
                unobserve()
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await queue.aclose()
            if dispatcher is not None:
                await dispatcher.aclose()
            await pokes.aclose()
            if own_http:
                await client.aclose()
            db.dispose()

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Mount("/api/v1", routes=sync_routes(token_ttl=config.token_ttl)),
            Mount("/", app=receiver.app),
        ],
        lifespan=lifespan,
    )


def _ping(db: ServerDatabase) -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _load_directory(db: ServerDatabase, key: ServerKey, directory: StaticDirectory) -> None:
    from sync.server.admin import load_provider_accounts

    with db.system() as conn:
        directory.replace(load_provider_accounts(conn, key))


async def _refresh_directory(
    db: ServerDatabase, key: ServerKey, directory: StaticDirectory
) -> None:
    while True:
        await asyncio.sleep(DIRECTORY_REFRESH_SECONDS)
        try:
            await asyncio.to_thread(_load_directory, db, key, directory)
        except Exception:
            log.exception("could not re-read the numbers")
