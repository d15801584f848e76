"""Serving an ASGI app over HTTP with uvicorn (``caixa receive``, the desktop's listener, the
team server).

Imported only where a server is started: uvicorn is not needed to build or test the app.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

import uvicorn


class Server(uvicorn.Server):
    """uvicorn's server with a say over signals.

    ``handle_signals=True`` (the headless command): SIGINT/SIGTERM stop it gracefully, and,
    unlike plain uvicorn, the signal is not raised again once it has stopped (that would end
    the process before the caller closes the cache). ``False`` (inside the desktop app, or a
    thread): it leaves signals alone; stop it with ``should_exit = True``.
    """

    def __init__(self, config: uvicorn.Config, *, handle_signals: bool) -> None:
        super().__init__(config)
        self._handle_signals = handle_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Route SIGINT/SIGTERM to a graceful stop while serving (when asked to)."""
        if not self._handle_signals:
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def make_server(
    app: Any,
    host: str,
    port: int,
    *,
    handle_signals: bool,
    lifespan: bool = False,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> Server:
    """A uvicorn server for ``app`` on ``host:port``: no access log, our own logging setup.

    ``lifespan``: run the app's startup and shutdown (the team server's pool, pokes, dispatcher).
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on" if lifespan else "off",
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        access_log=False,
        log_config=None,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    return Server(config, handle_signals=handle_signals)
