"""The team server's Postgres: schema upgrades and the two kinds of transaction the server runs.

- ``upgrade(owner_url, app_role)`` runs the Alembic migrations as the owner of the schema and grants
  the server's login role what it needs and no more (data access, no DDL, not the owner: row-level
  security applies to it).
- ``ServerDatabase.agent(scope)`` opens a transaction on behalf of an agent:
  ``caixa.workspace_id`` and ``caixa.user_id`` are set for that transaction only, so the
  row-level security policies show the agent only the numbers they may see, whatever the query
  forgot.
- ``ServerDatabase.system(workspace_id=None)`` opens a transaction for the server's own work
  (webhook ingest, dispatcher, CLI), which spans numbers and, for the dispatcher, workspaces.

Queries still filter by workspace and account explicitly: tenancy is enforced twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).with_name("migrations")
_SYSTEM_SCOPE: Final = text(
    "SELECT set_config('caixa.scope', 'system', true),"
    " set_config('caixa.workspace_id', :ws, true),"
    " set_config('caixa.user_id', '', true)"
)
_AGENT_SCOPE: Final = text(
    "SELECT set_config('caixa.scope', 'agent', true),"
    " set_config('caixa.workspace_id', :ws, true),"
    " set_config('caixa.user_id', :user, true)"
)
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class DatabaseConfigError(ValueError):
    """A database URL or role name that cannot be used (the message says which and why)."""


def normalize_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("postgresql+psycopg://"):
        raise DatabaseConfigError("the database URL must start with postgresql://")
    return url


def role_of(url: str) -> str:
    """The login role named by a database URL (the role the server runs as)."""
    name = make_url(normalize_url(url)).username or ""
    if not _ROLE_NAME.match(name):
        raise DatabaseConfigError("the database URL must name a plain role (letters, digits, _)")
    return name


def create_server_engine(url: str, *, pool_size: int = 10) -> Engine:
    """A SQLAlchemy engine over psycopg 3 with a pool sized for one server process."""
    return create_engine(
        normalize_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        future=True,
    )


def upgrade(owner_url: str, app_role: str | None = None) -> str:
    """Bring the schema to the newest revision and grant ``app_role`` data access; return it.

    Runs as the schema's owner (``owner_url``). Idempotent: a second run changes nothing.
    """
    from alembic import command
    from alembic.config import Config

    if app_role is not None and not _ROLE_NAME.match(app_role):
        raise DatabaseConfigError("the server role must be a plain name (letters, digits, _)")
    engine = create_server_engine(owner_url, pool_size=1)
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            if app_role is not None and app_role != role_of(owner_url):
                conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {app_role}"))
                conn.execute(
                    text(
                        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public"
                        f" TO {app_role}"
                    )
                )
                conn.execute(
                    text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app_role}")
                )
                # Alembic's bookkeeping is the owner's business.
                conn.execute(text(f"REVOKE ALL ON alembic_version FROM {app_role}"))
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()
    return str(revision)


@dataclass(frozen=True)
class AgentScope:
    """Who a request acts for: the workspace and the user (agent or supervisor)."""

    workspace_id: int
    user_id: int


S = TypeVar("S", bound=AgentScope)


class ServerDatabase:
    """The server's connection pool and its scoped transactions (see the module docstring)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.engine = create_server_engine(url, pool_size=pool_size)

    def __repr__(self) -> str:
        # The URL holds the password: show the host and database only.
        u = self.engine.url
        return f"ServerDatabase({u.host}:{u.port}/{u.database})"

    @contextmanager
    def system(self, workspace_id: int | None = None) -> Iterator[Connection]:
        """A transaction for the server's own work; committed when the block ends without error."""
        with self.engine.begin() as conn:
            conn.execute(_SYSTEM_SCOPE, {"ws": "" if workspace_id is None else str(workspace_id)})
            yield conn

    @contextmanager
    def agent(self, scope: AgentScope) -> Iterator[Connection]:
        """A transaction on behalf of one user: row-level security limits it to their numbers."""
        with self.engine.begin() as conn:
            conn.execute(_AGENT_SCOPE, {"ws": str(scope.workspace_id), "user": str(scope.user_id)})
            yield conn

    @contextmanager
    def agent_of(self, identify: Callable[[Connection], S]) -> Iterator[tuple[Connection, S]]:
        """One transaction: ``identify`` finds who asks (a token lookup) under the system scope,
        then the rest runs on that user's behalf, as in ``agent()``.

        A request costs one pooled connection and one transaction instead of two; ``identify``
        raising (an unknown token) ends the transaction before anything is done for anyone.
        """
        with self.engine.begin() as conn:
            conn.execute(_SYSTEM_SCOPE, {"ws": ""})
            scope = identify(conn)
            conn.execute(_AGENT_SCOPE, {"ws": str(scope.workspace_id), "user": str(scope.user_id)})
            yield conn, scope

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
