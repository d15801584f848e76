"""``caixa-server``: the team backend's command line.

    caixa-server keygen                       print a new CAIXA_SECRET_KEY
    caixa-server db upgrade                   create or upgrade the schema (as its owner)
    caixa-server users add NAME --role agent|supervisor [--accounts A,B] [--password-stdin]
    caixa-server users list | disable NAME | set-accounts NAME --accounts A,B
    caixa-server accounts add --from-json FILE
    caixa-server accounts list
    caixa-server serve [--listen HOST:PORT] [--no-dispatch]

Settings come from the environment or ``--config FILE`` (see ``sync/server/config.py``). Exit
codes: 0 done, 1 refused or failed (the reason on stderr, never a traceback for a user error),
2 bad command line (argparse).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sync.server.config import DEFAULT_LISTEN, ConfigError, ServerConfig, load_config

if TYPE_CHECKING:
    from sync.store.team.database import ServerDatabase


def build_parser() -> argparse.ArgumentParser:
    """The whole ``caixa-server`` command line."""
    parser = argparse.ArgumentParser(
        prog="caixa-server", description="Caixa team server: webhooks, sync API, dispatcher."
    )
    parser.add_argument("--config", help="TOML settings file (the environment overrides it)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("keygen", help="print a new random CAIXA_SECRET_KEY")

    db = sub.add_parser("db", help="the database schema").add_subparsers(
        dest="action", required=True
    )
    db.add_parser("upgrade", help="create or upgrade the schema (uses CAIXA_DATABASE_OWNER_URL)")
    prune = db.add_parser(
        "prune",
        help="remove old tombstones (desktops that have not synced since then copy the team again)",
    )
    prune.add_argument(
        "--older-than-days",
        type=float,
        default=90.0,
        help="remove tombstones older than this (default 90)",
    )

    users = sub.add_parser("users", help="agents and supervisors").add_subparsers(
        dest="action", required=True
    )
    add = users.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("username")
    add.add_argument("--role", choices=("agent", "supervisor"), default="agent")
    add.add_argument("--accounts", default="", help="numbers an agent may see: NAME,NAME")
    add.add_argument("--display-name", default="")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    users.add_parser("list", help="list users and the numbers they may see")
    disable = users.add_parser("disable", help="disable a user and end their sessions now")
    disable.add_argument("username")
    grant = users.add_parser("set-accounts", help="replace the numbers an agent may see")
    grant.add_argument("username")
    grant.add_argument("--accounts", required=True, help="NAME,NAME (empty: none)")

    accounts = sub.add_parser("accounts", help="WhatsApp numbers").add_subparsers(
        dest="action", required=True
    )
    acc_add = accounts.add_parser("add", help="add a number from a JSON file")
    acc_add.add_argument("--from-json", required=True, metavar="FILE")
    accounts.add_parser("list", help="list numbers and their connection state")

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--listen", help="HOST:PORT (default CAIXA_LISTEN or 127.0.0.1:8788)")
    serve.add_argument(
        "--no-dispatch",
        action="store_true",
        help="serve the API and webhooks only; other processes send the outbox",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``caixa-server``."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
        return _run(args, config)
    except ConfigError as exc:
        print(f"caixa-server: {exc}", file=sys.stderr)
        return 1


def _split(names: str) -> list[str]:
    return [n.strip() for n in names.split(",") if n.strip()]


def _run(args: argparse.Namespace, config: ServerConfig) -> int:
    from sqlalchemy.exc import OperationalError

    from sync.server.admin import AdminError
    from sync.server.credentials import ServerKeyError, generate_key
    from sync.store.team.database import DatabaseConfigError

    if args.command == "keygen":
        print(generate_key())
        return 0
    try:
        if args.command == "db":
            return _db_prune(args, config) if args.action == "prune" else _db_upgrade(config)
        if args.command == "users":
            return _users(args, config)
        if args.command == "accounts":
            return _accounts(args, config)
        return _serve(args, config)
    except (AdminError, DatabaseConfigError, ServerKeyError, ValueError) as exc:
        print(f"caixa-server: {exc}", file=sys.stderr)
        return 1
    except OperationalError as exc:
        # The driver's message names host and reason, never the password.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        print(f"caixa-server: cannot reach the database: {reason}", file=sys.stderr)
        return 1


def _database(config: ServerConfig) -> ServerDatabase:
    from sync.store.team.database import ServerDatabase

    config.require("database_url")
    return ServerDatabase(config.database_url.reveal(), pool_size=1)


def _db_upgrade(config: ServerConfig) -> int:
    from sync.store.team.database import role_of, upgrade

    config.require("database_url")
    owner = config.database_owner_url.reveal() or config.database_url.reveal()
    app_role = role_of(config.database_url.reveal())
    revision = upgrade(owner, app_role)
    print(f"schema at revision {revision}; role {app_role} may read and write data")
    return 0


def _db_prune(args: argparse.Namespace, config: ServerConfig) -> int:
    from datetime import timedelta

    from sync.server.admin import prune_tombstones

    db = _database(config)
    try:
        report = prune_tombstones(db, timedelta(days=args.older_than_days))
    finally:
        db.dispose()
    counts = ", ".join(f"{n} {table.replace('_', ' ')}" for table, n in report.removed.items())
    print(f"removed tombstones: {counts}")
    if report.resync_before:
        print(f"desktops with a cursor before xid {report.resync_before} will copy the team again")
    return 0


def _users(args: argparse.Namespace, config: ServerConfig) -> int:
    from sync.server import admin

    db = _database(config)
    try:
        if args.action == "add":
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
            else:
                password = getpass.getpass(f"Password for {args.username}: ")
                if getpass.getpass("Again: ") != password:
                    print("caixa-server: the passwords differ", file=sys.stderr)
                    return 1
            user_id = admin.add_user(
                db,
                args.username,
                password,
                role=args.role,
                accounts=_split(args.accounts),
                display_name=args.display_name,
            )
            print(f"user {args.username} added (id {user_id}, {args.role})")
        elif args.action == "list":
            for user in admin.list_users(db):
                seen = "all numbers" if user.role == "supervisor" else ", ".join(user.accounts)
                flag = " (disabled)" if user.disabled else ""
                print(f"{user.id}\t{user.username}\t{user.role}{flag}\t{seen or '-'}")
        elif args.action == "disable":
            ended = admin.disable_user(db, args.username)
            print(f"user {args.username} disabled; {ended} session(s) ended")
        else:
            admin.set_user_accounts(db, args.username, _split(args.accounts))
            print(f"user {args.username} now sees: {args.accounts or 'no number'}")
    finally:
        db.dispose()
    return 0


def _accounts(args: argparse.Namespace, config: ServerConfig) -> int:
    from sync.providers.accounts import AccountConfigError, account_from_json
    from sync.server import admin
    from sync.server.credentials import ServerKey

    db = _database(config)
    try:
        if args.action == "add":
            config.require("secret_key")
            key = ServerKey(config.secret_key)
            try:
                data = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
                account = account_from_json(data)
            except OSError as exc:
                print(
                    f"caixa-server: cannot read {args.from_json}: {exc.strerror}", file=sys.stderr
                )
                return 1
            except (json.JSONDecodeError, AccountConfigError) as exc:
                print(f"caixa-server: {args.from_json}: {exc}", file=sys.stderr)
                return 1
            account_id = admin.add_account(db, key, account)
            print(f"number {account.name} added (id {account_id}, {account.provider})")
        else:
            for row in admin.list_accounts(db):
                reason = f" ({row.state_reason})" if row.state_reason else ""
                print(
                    f"{row.id}\t{row.name}\t{row.provider}\t{row.phone or '-'}\t{row.state}{reason}"
                )
    finally:
        db.dispose()
    return 0


def _serve(args: argparse.Namespace, config: ServerConfig) -> int:
    from sync.ingress.listen import parse_listen
    from sync.ingress.serve import make_server
    from sync.server.app import build_app

    config.require("database_url", "secret_key")
    host, port = parse_listen(args.listen or config.listen, example=DEFAULT_LISTEN)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = build_app(config, dispatch=not args.no_dispatch)
    server = make_server(
        app,
        host,
        port,
        handle_signals=True,
        lifespan=True,
        ssl_certfile=config.tls_cert or None,
        ssl_keyfile=config.tls_key or None,
    )
    scheme = "https" if config.tls_cert else "http"
    logging.getLogger("caixa.server").info(
        "serving on %s://%s:%d%s",
        scheme,
        host,
        port,
        " (API and webhooks only)" if args.no_dispatch else "",
    )
    asyncio.run(server.serve())
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
