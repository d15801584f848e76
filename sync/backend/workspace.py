"""A solo workspace's real numbers: their adapters, the webhook receiver, and adding a number.

The desktop (solo mode) hosts the whole engine: it loads each stored number with its secrets,
makes its adapter (one shared ``httpx.AsyncClient``), hands the adapters to the engine, and,
when the user gave a listen address, serves the webhook receiver on the same event loop so the
providers' calls land in the local cache (group-committed by ``IngestQueue``). Every event the
receiver commits is shown to the number's adapter (``observe``: connection state, heartbeats)
and to whoever listens (the pairing dialog waits for the QR and "connected" that way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sync.domain.events import ProviderEvent, QrEvent
from sync.providers.accounts import ProviderAccount, Secret
from sync.providers.base import AccountInfo, ProviderAdapter, QrLinkAdapter
from sync.providers.registry import build_adapter

if TYPE_CHECKING:
    import httpx

    from sync.engine.ingest_queue import IngestQueue
    from sync.engine.service import Engine
    from sync.ingress.receiver import WebhookReceiver
    from sync.ingress.serve import Server
    from sync.providers.directory import StaticDirectory
    from sync.store.local.database import Database
    from sync.store.secrets import AccountSecrets

log = logging.getLogger(__name__)

EventsListener = Callable[[Sequence[ProviderEvent]], None]

# Providers answer within seconds; a send that takes longer is reported as "unknown", never
# retried, so the bound is generous on reading and short on connecting.
HTTP_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0


class Workspace:
    """The real numbers of one local cache, live: adapters, receiver, listeners."""

    def __init__(
        self,
        db: Database,
        engine: Engine,
        secrets: AccountSecrets,
        *,
        public_url: str = "",
        http: httpx.AsyncClient | None = None,
    ) -> None:
        import httpx

        from sync.providers.directory import StaticDirectory

        self._db = db
        self._engine = engine
        self._secrets = secrets
        self.public_url = public_url
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(HTTP_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        )
        self.directory: StaticDirectory = StaticDirectory()
        # The engine's group commit: webhooks and the adapters' own links store alike.
        self.ingest: IngestQueue = engine.ingest_queue
        self.adapters: dict[int, ProviderAdapter] = {}
        self._listeners: list[EventsListener] = []
        self._receiver: WebhookReceiver | None = None
        self._server: Server | None = None
        self._serving: asyncio.Task[None] | None = None
        self._sock: Any = None

    def __repr__(self) -> str:
        return f"Workspace(numbers={sorted(self.adapters)}, receiving={self.receiving})"

    async def load(self) -> dict[int, ProviderAdapter]:
        """Read every stored number and make its adapter (before the engine starts)."""
        from sync.store.local.accounts import load_provider_accounts

        accounts = await self._db.run(load_provider_accounts, self._secrets)
        self.directory.replace(accounts)
        for account in accounts:
            self.adapters[account.account_id] = build_adapter(
                account, self.http, public_url=self.public_url, observer=self._notify
            )
        return dict(self.adapters)

    async def add_number(self, account: ProviderAccount) -> ProviderAccount:
        """Store a new number (secrets where ``sync/store/secrets.py`` says) and bring it online.

        Raises the store's errors (duplicate name, nowhere to keep secrets) with nothing written.
        """
        from sync.store.local.accounts import add_provider_account

        store = self._secrets.store_for_new_account()
        saved = await self._db.run(add_provider_account, account, store)
        adapter = build_adapter(saved, self.http, public_url=self.public_url, observer=self._notify)
        self.adapters[saved.account_id] = adapter
        self.directory.replace([*self.directory.all(), saved])
        await self._engine.add_adapter(adapter)
        from sync.domain.changes import ChangeSet

        self._db.publish(ChangeSet(accounts=frozenset({saved.account_id})))
        return saved

    def is_qr_linked(self, account_id: int) -> bool:
        """Whether the number is linked by QR (and so can be linked again from the app)."""
        return isinstance(self.adapters.get(account_id), QrLinkAdapter)

    def account_name(self, account_id: int) -> str:
        """The number's name ("" when unknown)."""
        found = next((a for a in self.directory.all() if a.account_id == account_id), None)
        return found.name if found is not None else ""

    def pairing(self, account_id: int) -> PairingHandle:
        """What the pairing dialog drives for a QR-linked number (see ``PairingHandle``)."""
        return PairingHandle(self, account_id)

    async def keep_issued_secrets(self, account_id: int) -> None:
        """Keep the secrets a provider issued while the number was being linked.

        A gateway number added with only the master token learns its instance token when its
        instance is made (``GatewayAdapter.issued_secrets``); the gateway signs its webhooks
        with it, so it is stored with the number's other secrets and the receiver is told at
        once.
        """
        import dataclasses

        adapter = self.adapters.get(account_id)
        issued: Mapping[str, Secret] = getattr(adapter, "issued_secrets", None) or {}
        account = next((a for a in self.directory.all() if a.account_id == account_id), None)
        if account is None:
            return
        changed = {k: v for k, v in issued.items() if v and getattr(account, k, None) != v}
        if not changed:
            return
        updated = dataclasses.replace(account, **changed)

        def save(cache: Any) -> None:
            secrets = self._secrets.load(cache, account_id) or {}
            secrets.update(changed)
            self._secrets.update(cache, account_id, secrets)

        await self._db.run(save)
        self.directory.replace(
            [updated if a.account_id == account_id else a for a in self.directory.all()]
        )

    def subscribe(self, listener: EventsListener) -> Callable[[], None]:
        """See every event the receiver commits from now on; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def observe(self, events: Sequence[ProviderEvent]) -> None:
        """Show committed webhook events to the engine (its numbers' adapters) and to the
        listeners."""
        self._engine.observe(events)
        self._notify(events)

    def _notify(self, events: Sequence[ProviderEvent]) -> None:
        """Tell the listeners (an adapter's own link calls this: the engine, which stored its
        events, has shown them to the adapters already)."""
        for listener in list(self._listeners):
            try:
                listener(events)
            except Exception:
                log.exception("an events listener failed")

    @property
    def receiving(self) -> bool:
        """Whether the receiver is serving."""
        return self._server is not None and self._server.started

    @property
    def receiver(self) -> WebhookReceiver:
        """The receiver's ASGI app holder (made on first use; served by ``start_receiver``)."""
        if self._receiver is None:
            from sync.ingress.receiver import WebhookReceiver

            self._receiver = WebhookReceiver(
                self.directory, self.ingest.submit, observers=[self.observe]
            )
        return self._receiver

    async def start_receiver(self, host: str, port: int) -> bool:
        """Serve the receiver on ``host:port`` on this loop; False when it could not listen."""
        import socket

        from sync.ingress.serve import make_server

        await self.stop_receiver()
        # Bound here, not by uvicorn: uvicorn answers a busy port with sys.exit(), which would
        # escape the event loop; an OSError is ours to report.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            log.warning("the webhook receiver cannot listen on %s:%d: %s", host, port, exc)
            return False
        server = make_server(self.receiver.app, host, port, handle_signals=False)
        self._server = server
        self._sock = sock
        self._serving = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        while not server.started and not self._serving.done():
            await asyncio.sleep(0.01)
        if not server.started:
            with contextlib.suppress(Exception):
                await self._serving
            sock.close()
            self._server = self._serving = None
            return False
        return True

    async def stop_receiver(self) -> None:
        """Stop serving (calls under way finish first)."""
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._serving
        if self._sock is not None:
            self._sock.close()
        self._server = self._serving = None
        self._sock = None

    async def aclose(self) -> None:
        """Stop the receiver and close the HTTP client (the engine flushes ingest and closes
        the adapters)."""
        await self.stop_receiver()
        if self._own_http:
            await self.http.aclose()


class PairingHandle:
    """A QR-linked number as the pairing dialog sees it: the adapter's pairing calls, plus
    keeping what the provider issued on the way (a gateway's instance token)."""

    def __init__(self, workspace: Workspace, account_id: int) -> None:
        self._workspace = workspace
        self.account_id = account_id
        adapter = workspace.adapters[account_id]
        if not isinstance(adapter, QrLinkAdapter):
            raise TypeError(f"number {account_id} is not linked by QR")
        self._adapter: QrLinkAdapter = adapter

    def __repr__(self) -> str:
        return f"PairingHandle({self.account_id})"

    async def request_pairing(self, *, phone: str = "") -> QrEvent:
        """Start linking (see ``QrLinkAdapter.request_pairing``)."""
        first = await self._adapter.request_pairing(phone=phone)
        await self._workspace.keep_issued_secrets(self.account_id)
        return first

    async def check(self) -> AccountInfo:
        """The number's state at the provider."""
        return await self._adapter.check()
