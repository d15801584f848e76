"""The team server's sending: the engine's dispatcher over Postgres, for every number of every
workspace.

The rules of sending (claim, outcomes, backoff, pacing, recovery, settling) are the engine's
(``sync/engine/dispatcher.py``), the same as in solo mode; the store is the team's Postgres
(``TeamStore``). What this adds is the server's: its numbers are the ``accounts`` rows of every
workspace, loaded with their sealed secrets and reloaded when they change (a number added,
edited or removed through the sync API). Several server processes may share one database: their
claims never collide, and each settles the sends of a stopped one once their leases ran out
(the engine's rule). Events a number's adapter receives on its own link
(a socket, a stream) are group-committed by the server's ``IngestQueue``, as webhooks are.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection

from sync.domain.events import ProviderEvent
from sync.engine.dispatcher import Dispatcher
from sync.engine.ingest_queue import IngestQueue
from sync.engine.pacing import Pacer, pacing_for
from sync.providers.base import ProviderAdapter
from sync.server.credentials import ServerKey, join_account
from sync.store.team.database import ServerDatabase
from sync.store.team.outbox import Actor, account_rows, retry_message
from sync.store.team.store import TeamStore

if TYPE_CHECKING:
    import httpx

    from sync.providers.accounts import ProviderAccount

log = logging.getLogger(__name__)

AdapterFactory = Callable[["ProviderAccount", "httpx.AsyncClient"], ProviderAdapter]
EventsIngest = Callable[[Sequence[ProviderEvent]], Awaitable[Any]]

# How often the numbers are read again (a number added, edited or removed elsewhere).
ACCOUNT_REFRESH_S: Final = 5.0


@dataclass(slots=True)
class _Number:
    fingerprint: str
    adapter: ProviderAdapter


def default_adapter_factory(public_url: str = "") -> AdapterFactory:
    """Adapters as the solo workspace makes them (``build_adapter``), webhooks at ``public_url``."""

    def make(account: ProviderAccount, http: httpx.AsyncClient) -> ProviderAdapter:
        from sync.providers.registry import build_adapter

        return build_adapter(account, http, public_url=public_url)

    return make


class TeamDispatcher:
    """Sends the outbox of every number of every workspace (see the module docstring).

    ``concurrency`` sends may be in flight at once; with 0, ``start`` runs no loop and the caller
    drives ``dispatch_once``. ``ingest`` stores what adapters receive on their own links (the
    server's group commit; one of this dispatcher's own when None). ``clock``, ``sleep`` and
    ``rng`` are injectable for tests; ``rules`` are the engine ``Dispatcher``'s own options
    (backoff, attempts, idle poll, upkeep, lease).
    """

    def __init__(
        self,
        db: ServerDatabase,
        key: ServerKey,
        http: httpx.AsyncClient,
        *,
        ingest: EventsIngest | None = None,
        adapter_factory: AdapterFactory | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        concurrency: int = 4,
        public_url: str = "",
        account_refresh_s: float = ACCOUNT_REFRESH_S,
        **rules: float,
    ) -> None:
        self._db = db
        self._key = key
        self._http = http
        self._factory = adapter_factory or default_adapter_factory(public_url)
        self._clock = clock
        self._sleep = sleep
        self._account_refresh_s = account_refresh_s
        self._own_queue = IngestQueue(TeamStore(db)) if ingest is None else None
        self._ingest: EventsIngest = ingest or self._own_queue.submit  # type: ignore[union-attr]
        self.engine = Dispatcher(
            TeamStore(db),
            clock=clock,
            sleep=sleep,
            rng=rng,
            concurrency=concurrency,
            **rules,  # type: ignore[arg-type]
        )
        self._numbers: dict[int, _Number] = {}
        self._refresh_lock = asyncio.Lock()
        self._refreshed_at: float | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._concurrency = concurrency

    def __repr__(self) -> str:
        return f"TeamDispatcher({self.engine!r})"

    @property
    def recovered(self) -> int:
        """Sends found "sending" after a crash and made "unknown" (``Dispatcher.recovered``)."""
        return self.engine.recovered

    @property
    def pacer(self) -> Pacer:
        """The numbers' send limits."""
        return self.engine.pacer

    def adapter(self, account_id: int) -> ProviderAdapter | None:
        """The adapter of a live number (for what desktops ask of its provider: templates)."""
        return self.engine.adapter(account_id)

    def wake(self) -> None:
        """Look at the outbox now (``Dispatcher.wake``)."""
        self.engine.wake()

    def observe(self, events: Sequence[ProviderEvent]) -> None:
        """Committed events reach their numbers' adapters (``Dispatcher.observe``); the webhook
        receiver calls this as its observer."""
        self.engine.observe(events)

    # -- life -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the numbers, recover what a crash left "sending", start the send loops."""
        await self._refresh_numbers()
        await self.engine.start()
        if self._concurrency > 0:
            self._refresher = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def aclose(self) -> None:
        """Stop: sends in flight get a moment to finish, then are cut short (and "unknown")."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        await self.engine.aclose()
        for account_id, number in list(self._numbers.items()):
            self.engine.remove_number(account_id)
            with contextlib.suppress(Exception):
                await number.adapter.aclose()
        self._numbers.clear()
        if self._own_queue is not None:
            await self._own_queue.aclose()

    async def dispatch_once(self) -> bool:
        """Send the next claimable message, if any (the numbers reloaded when stale)."""
        if self._refreshed_at is None or (
            self._clock() - self._refreshed_at >= self._account_refresh_s
        ):
            await self._refresh_numbers()
        return await self.engine.dispatch_once()

    async def retry(self, conn: Connection, message_id: uuid.UUID, principal: Actor) -> uuid.UUID:
        """A supervisor's "send again" of a failed (or unknown) message: a new queued copy.

        Written in ``conn``'s transaction; call ``wake()`` once it committed. See
        ``retry_message`` for why it is a copy.
        """
        return retry_message(conn, message_id, principal)

    # -- numbers --------------------------------------------------------------------------------

    async def _sink(self, events: Sequence[ProviderEvent]) -> None:
        await self._ingest(events)
        self.observe(events)

    async def _refresh_forever(self) -> None:
        while True:
            await (self._sleep or asyncio.sleep)(self._account_refresh_s)
            try:
                await self._refresh_numbers()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not reload the numbers")

    async def _refresh_numbers(self) -> None:
        """Build adapters for new or changed numbers, close those of removed ones."""
        async with self._refresh_lock:
            rows = await asyncio.to_thread(account_rows, self._db)
            seen: set[int] = set()
            for account_id, name, provider, config, sealed in rows:
                seen.add(account_id)
                fingerprint = hashlib.sha256(
                    json.dumps([name, provider, config], sort_keys=True).encode() + (sealed or b"")
                ).hexdigest()
                current = self._numbers.get(account_id)
                if current is not None and current.fingerprint == fingerprint:
                    continue
                settings = dict(config)
                pacing_settings = settings.pop("pacing", None)
                try:
                    account = join_account(
                        self._key,
                        account_id=account_id,
                        name=name,
                        provider=provider,
                        config=settings,
                        sealed=sealed,
                    )
                    adapter = self._factory(account, self._http)
                    pacing = pacing_for(adapter.capabilities).with_overrides(pacing_settings)
                except Exception as exc:
                    # Errors of accounts and the key name fields, never values.
                    log.warning("number %s cannot send: %s", account_id, _describe(exc))
                    if current is not None:
                        await self._drop(account_id)
                    continue
                if current is not None:
                    await self._drop(account_id)
                self._numbers[account_id] = _Number(fingerprint, adapter)
                self.engine.set_number(adapter, pacing)
                try:
                    await adapter.start(self._sink)
                except Exception as exc:
                    log.warning("number %s did not start: %s", account_id, _describe(exc))
            for gone in set(self._numbers) - seen:
                await self._drop(gone)
            self._refreshed_at = self._clock()

    async def _drop(self, account_id: int) -> None:
        number = self._numbers.pop(account_id)
        self.engine.remove_number(account_id)
        await number.adapter.aclose()


def _describe(exc: BaseException) -> str:
    from sync.engine.pacing import PacingConfigError
    from sync.providers.accounts import AccountConfigError
    from sync.server.credentials import ServerKeyError

    if isinstance(exc, AccountConfigError | ServerKeyError | PacingConfigError):
        return str(exc)
    return type(exc).__name__
