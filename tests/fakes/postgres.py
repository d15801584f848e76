"""A real, throwaway Postgres cluster for tests and benchmarks (initdb + pg_ctl, no Docker).

One cluster per test session (``postgres_cluster`` fixture in ``tests/conftest.py``); each test that
needs a database gets a fresh one copied from a migrated template, which takes ~50 ms instead of
running the migrations again. Postgres refuses to run as root, so as root the cluster runs as the
``postgres`` user (``runuser``); its data and socket live in a temporary folder that user owns.
The cluster listens on loopback TCP (a free port) and on a Unix socket; tests use TCP because that
is what the server uses in production.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

SUPERUSER = "caixa_test_admin"
# The server's login role in tests: not the owner of the tables, so row-level security applies.
APP_ROLE = "caixa_app"
APP_PASSWORD = "app-password-for-tests"
OWNER_PASSWORD = "owner-password-for-tests"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise RuntimeError(f"{name} not found: install Postgres (bash .ci/run does)")


@dataclass
class PostgresCluster:
    """A running cluster; ``url(db)``/``url(db, app=True)``: SQLAlchemy URLs (owner or app role)."""

    root: Path
    port: int
    run_as: str | None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        cmd = list(argv)
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    @classmethod
    def start(cls, *, durable: bool = False) -> PostgresCluster:
        """initdb a new cluster in a temporary folder and start it.

        ``durable``: Postgres's own defaults (fsync, synchronous commit), for benchmarks whose
        figures must hold on a real server; tests run without them.
        """
        run_as = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="caixa-pg-"))
        if run_as:
            entry = pwd.getpwnam(run_as)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        cluster = cls(root=root, port=_free_port(), run_as=run_as)
        pwfile = root / "pw"
        pwfile.write_text(OWNER_PASSWORD)
        if run_as:
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        cluster._run(
            _pg_binary("initdb"),
            "-D", str(cluster.data_dir),
            "-U", SUPERUSER,
            "--pwfile", str(pwfile),
            "-A", "scram-sha-256",
            "-E", "UTF8",
            "--locale", "C",
            "--no-sync",
        )  # fmt: skip
        options = (
            f"-c port={cluster.port} -c listen_addresses=127.0.0.1"
            f" -c unix_socket_directories={root}"
            " -c max_connections=200 -c shared_buffers=256MB"
        )
        if not durable:
            # Test speed, not durability: a crashed test cluster is thrown away anyway. The fault
            # tests kill the caixa server, never Postgres, so fsync off changes nothing they check.
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        cluster._run(
            _pg_binary("pg_ctl"),
            "-D", str(cluster.data_dir),
            "-l", str(root / "log"),
            "-o", options,
            "-w", "-t", "60",
            "start",
        )  # fmt: skip
        with cluster.connect() as conn:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'")
        return cluster

    def stop(self) -> None:
        """Stop the cluster at once and remove its files."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run(_pg_binary("pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, database: str = "postgres", *, app: bool = False) -> str:
        """A libpq connection string (psycopg) for the superuser, or for the app role."""
        user, password = (APP_ROLE, APP_PASSWORD) if app else (SUPERUSER, OWNER_PASSWORD)
        return f"host=127.0.0.1 port={self.port} dbname={database} user={user} password={password}"

    def url(self, database: str, *, app: bool = False) -> str:
        """A SQLAlchemy URL (``postgresql+psycopg``) for the owner, or for the app role."""
        user, password = (APP_ROLE, APP_PASSWORD) if app else (SUPERUSER, OWNER_PASSWORD)
        return f"postgresql+psycopg://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit superuser connection."""
        return psycopg.connect(self.dsn(database), autocommit=True)

    def create_database(self, *, template: str | None = None) -> str:
        """Create an empty database (or a copy of ``template``) and return its name."""
        name = "t_" + uuid.uuid4().hex[:16]
        with self.connect() as conn:
            if template:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            else:
                conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def end_open_transactions(self, database: str) -> int:
        """End the sessions on ``database`` that wait inside a transaction (a server's connection
        between two statements, or before its commit), as a restart of Postgres would; return
        how many."""
        with self.connect(database) as conn:
            ended = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s"
                " AND state = 'idle in transaction' AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
        return len(ended)

    def drop_database(self, name: str) -> None:
        """Drop a database, ending whatever sessions still use it."""
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_cluster(*, durable: bool = False) -> Iterator[PostgresCluster]:
    """A cluster for the duration of a ``with`` block (benchmarks use this)."""
    cluster = PostgresCluster.start(durable=durable)
    try:
        yield cluster
    finally:
        cluster.stop()
