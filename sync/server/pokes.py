"""Live pokes: Postgres ``NOTIFY caixa_changes`` fanned out to desktops as Server-Sent Events.

``PokeHub`` holds one async psycopg connection that ``LISTEN``s (the synced tables' statement
trigger notifies at commit). Each notification sets every subscriber's flag; a subscriber that
has not sent its poke yet gets one poke for many notifications (coalescing), so a burst of
ingest costs one pull per desktop, not one per transaction. A poke carries no data: the desktop
pulls what its user may see, through the usual checks.

If the listening connection drops, the hub reconnects with backoff and pokes everyone once
(changes may have been missed meanwhile; a pull costs little when nothing changed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from sync.wakeup import wait_event

log = logging.getLogger(__name__)

CHANNEL: Final = "caixa_changes"
KEEPALIVE_SECONDS: Final = 15.0


class Subscription:
    """One connected desktop: a flag set by notifications, awaited by its event stream.

    Made on the loop that serves the stream; the hub may listen on another loop (a test runs it
    on its own), so a poke from elsewhere is handed over thread-safely.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def poke(self) -> None:
        """Something changed (called from the hub's loop, whichever it is)."""
        try:
            same = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            same = False
        if same:
            self._event.set()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float) -> bool:
        """True when poked within ``timeout`` seconds (the flag is cleared)."""
        if not await wait_event(self._event, timeout):
            return False
        self._event.clear()
        return True


class PokeHub:
    """Listens to ``caixa_changes`` on its own connection and pokes every subscriber."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def __repr__(self) -> str:
        return f"PokeHub(subscribers={len(self._subscribers)})"

    async def start(self, dsn: str) -> None:
        """Start listening (``dsn``: a libpq connection string or ``postgresql://`` URL)."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._listen(_libpq(dsn)), name="caixa-pokes")
        # Return once LISTEN is in place, so a change committed after start() is never missed.
        waiter = asyncio.ensure_future(self._listening.wait())
        done, _ = await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            waiter.cancel()
            self._task.result()  # raises what went wrong

    async def aclose(self) -> None:
        """Stop listening and wake every subscriber (their streams end)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.poke_all()

    def subscribe(self) -> Subscription:
        """A new subscriber (remember to ``unsubscribe``)."""
        subscription = Subscription()
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscriber (its stream ended)."""
        self._subscribers.discard(subscription)

    def poke_all(self) -> None:
        """Poke every subscriber now."""
        for subscription in list(self._subscribers):
            subscription.poke()

    @property
    def running(self) -> bool:
        """Whether the hub is listening (or reconnecting)."""
        return self._task is not None

    async def _listen(self, dsn: str) -> None:
        import psycopg

        delay = 0.5
        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    delay = 0.5
                    if not first:
                        self.poke_all()
                    first = False
                    async for _ in conn.notifies():
                        self.poke_all()
            except asyncio.CancelledError:
                raise
            except psycopg.OperationalError as exc:
                if first:
                    raise
                log.warning("poke listener lost its connection (%s); reconnecting", type(exc))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 30.0)


def _libpq(dsn: str) -> str:
    """psycopg takes ``postgresql://`` but not SQLAlchemy's ``postgresql+psycopg://``."""
    return dsn.replace("postgresql+psycopg://", "postgresql://", 1)


async def event_stream(
    request: Request,
    still_valid: Callable[[], bool],
    *,
    keepalive: float = KEEPALIVE_SECONDS,
) -> Response:
    """The SSE response for one desktop: ``poke`` events and a comment every ``keepalive`` s.

    At each keepalive the token is checked again, so a revoked session's stream ends within
    ``keepalive`` seconds (its next request is refused at once).
    """
    hub: PokeHub = request.app.state.pokes
    subscription = hub.subscribe()

    async def events() -> AsyncIterator[bytes]:
        try:
            # A first event at once: the desktop knows the stream is live and pulls.
            yield b"retry: 2000\nevent: poke\ndata: {}\n\n"
            while True:
                if await subscription.wait(keepalive):
                    if not hub.running:
                        return
                    yield b"event: poke\ndata: {}\n\n"
                else:
                    if not await run_in_threadpool(still_valid):
                        return
                    yield b": keepalive\n\n"
        finally:
            hub.unsubscribe(subscription)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
