"""Which dispatchers are alive on the team's Postgres: a session advisory lock.

Every live dispatcher holds the lock shared on a connection of its own for its lifetime; one that
wants to know it is alone (to recover the sends a crashed one left "sending") takes it
exclusive, which succeeds only when no other session holds it. A crashed process's session
ends with it, and so does its share. Matches the engine's ``Presence`` protocol
(``sync/engine/dispatcher.py``) structurally.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from sqlalchemy import Connection, text

from sync.store.team.database import ServerDatabase

T = TypeVar("T")

# The lock's key ("Caix").
ADVISORY_KEY: Final = 0x43616978


class AdvisoryPresence:
    """A dispatcher's presence on ``db`` (one object per dispatcher)."""

    def __init__(self, db: ServerDatabase) -> None:
        self._db = db
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the connection

    def __repr__(self) -> str:
        return f"AdvisoryPresence(entered={self._conn is not None})"

    async def enter(self) -> None:
        """Hold the lock shared on a connection of our own until ``leave``."""
        if self._conn is not None:
            return
        self._conn = await asyncio.to_thread(self._connect)

    def _connect(self) -> Connection:
        conn = self._db.engine.connect()
        try:
            conn.execute(text("SELECT pg_advisory_lock_shared(:k)"), {"k": ADVISORY_KEY})
            conn.commit()
        except BaseException:
            conn.close()
            raise
        return conn

    async def exclusively(self, work: Callable[[], Awaitable[T]], *, wait_s: float) -> T | None:
        """Run ``work`` while holding the lock exclusive, if no other dispatcher holds it within
        ``wait_s`` seconds; None otherwise. A session may take a lock it shares itself."""
        conn = self._conn
        if conn is None:
            raise RuntimeError("enter() first")
        async with self._lock:
            if not await asyncio.to_thread(self._try_exclusive, conn, wait_s):
                return None
            try:
                return await work()
            finally:
                await asyncio.to_thread(self._release, conn)

    @staticmethod
    def _try_exclusive(conn: Connection, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        while True:
            alone = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            )
            conn.commit()
            if alone or time.monotonic() >= deadline:
                return alone
            time.sleep(0.02)

    @staticmethod
    def _release(conn: Connection) -> None:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        conn.commit()

    async def leave(self) -> None:
        """Give up the lock: the connection is closed for real, not returned to the pool (a
        pooled connection still holding our share would make the next dispatcher on this pool
        believe another one is running)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.to_thread(_drop, conn)


def _drop(conn: Connection) -> None:
    conn.invalidate()
    conn.close()
