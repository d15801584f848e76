"""``caixa receive --listen HOST:PORT``: the webhook receiver, headless, over the local cache.

For the shop's always-on PC (or a small VPS): it opens the local cache with its key (keyring,
or ``--key-file`` / ``CAIXA_KEY_FILE`` as every command does), serves the receiver's routes
(``sync/ingress/receiver.py``) with uvicorn, and stores every event it is sent, each call
acknowledged only once committed. Numbers added meanwhile with ``caixa accounts add`` are picked
up within a few seconds. SIGINT (Ctrl+C) and SIGTERM stop it cleanly: calls under way finish,
the cache is closed. Exit codes: 0 stopped, 1 could not start (reason on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from sync.commands.common import add_common_arguments
from sync.ingress.listen import parse_listen

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from sync.providers.directory import StaticDirectory
    from sync.store.local.database import Database
    from sync.store.secrets import AccountSecrets

log = logging.getLogger("caixa.receive")

DEFAULT_LISTEN = "127.0.0.1:8787"
# How often the numbers are re-read from the cache (cheap: one query; the secrets are read only
# for a number that is new or changed).
REFRESH_SECONDS = 5.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``caixa receive``."""
    receive = subparsers.add_parser("receive", help="receive provider webhooks (headless)")
    add_common_arguments(receive, subcommand=True)
    receive.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"address to listen on (default {DEFAULT_LISTEN}; [::1]:8787 for IPv6)",
    )


def run(args: argparse.Namespace, *, keyring_backend: KeyringBackend | None = None) -> int:
    """Carry out ``caixa receive``; returns the exit code when stopped."""
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        print(f"caixa: {exc}", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(_serve(args, host, port, keyring_backend))


async def _serve(
    args: argparse.Namespace, host: str, port: int, backend: KeyringBackend | None
) -> int:
    from sync.engine.ingest_queue import IngestQueue
    from sync.ingress.receiver import WebhookReceiver
    from sync.ingress.serve import make_server
    from sync.providers.directory import StaticDirectory
    from sync.settings import resolve_paths
    from sync.store.local.cache_errors import CacheOpenError
    from sync.store.local.cache_key import CacheKeyError, resolve_cache_key
    from sync.store.local.database import Database
    from sync.store.local.store import LocalStore
    from sync.store.secrets import AccountSecrets

    paths = resolve_paths(args.data_dir, args.key_file)
    cache_path = paths.cache_path(demo=args.demo)
    if not cache_path.exists():
        print(
            f"caixa: there is no local cache at {cache_path}; "
            "add a number first with: caixa accounts add --from-json FILE",
            file=sys.stderr,
        )
        return 1
    try:
        key = resolve_cache_key(
            cache_path,
            key_file=paths.key_file,
            passcode=os.environ.get("CAIXA_PASSCODE"),
            keyring_backend=backend,
            create=False,
        )
        db = Database(cache_path, key)
        await db.open()
    except (CacheKeyError, CacheOpenError) as exc:
        print(f"caixa: {exc}", file=sys.stderr)
        return 1
    secrets = AccountSecrets(cache_path, key_file=paths.key_file, keyring_backend=backend)
    directory = StaticDirectory()
    refresher = _DirectoryRefresher(db, secrets, directory)
    # No listener: nothing in this process shows the cache (the app reads it when it opens).
    queue = IngestQueue(LocalStore(db))
    try:
        await refresher.refresh()
        receiver = WebhookReceiver(directory, queue.submit)
        server = make_server(receiver.app, host, port, handle_signals=True)
        counts = ", ".join(
            f"{len(directory.accounts(kind))} {kind}" for kind in ("meta", "evolution", "gateway")
        )
        shown_host = f"[{host}]" if ":" in host else host
        log.info("receiving webhooks on http://%s:%d (numbers: %s)", shown_host, port, counts)
        log.info("routes: /hooks/meta, /hooks/evolution/{instance}, /hooks/gateway/{instance}")
        refresh_task = asyncio.create_task(refresher.run_forever())
        try:
            await server.serve()
        finally:
            refresh_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresh_task
        if not server.started:
            print(f"caixa: could not listen on {args.listen}", file=sys.stderr)
            return 1
        log.info("stopping: %d batches committed", queue.commits)
        return 0
    finally:
        await queue.aclose()
        await db.aclose()


class _DirectoryRefresher:
    """Keeps the receiver's numbers in step with the cache (numbers added while it runs)."""

    def __init__(self, db: Database, secrets: AccountSecrets, directory: StaticDirectory) -> None:
        self._db = db
        self._secrets = secrets
        self._directory = directory
        self._seen: tuple[tuple[Any, ...], ...] | None = None

    async def refresh(self) -> None:
        """Re-read the numbers when the accounts table changed."""
        from sync.store.local.accounts import load_provider_accounts

        rows = await self._db.run(_account_fingerprint)
        if rows == self._seen:
            return
        accounts = await self._db.run(load_provider_accounts, self._secrets)
        self._directory.replace(accounts)
        if self._seen is not None:
            log.info("numbers changed: now serving %d", len(accounts))
        self._seen = rows

    async def run_forever(self) -> None:
        """Refresh every few seconds until cancelled."""
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.refresh()
            except Exception:
                log.exception("could not re-read the numbers")


def _account_fingerprint(cache: Any) -> tuple[tuple[Any, ...], ...]:
    rows = cache.conn.exec_driver_sql("SELECT id, name, provider, config FROM accounts ORDER BY id")
    return tuple(tuple(r) for r in rows)
