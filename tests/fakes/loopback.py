"""Serve an ASGI app (a fake provider, the receiver) over real HTTP on 127.0.0.1.

    with serve(app) as base_url:           # "http://127.0.0.1:54321"
        async with httpx.AsyncClient(base_url=base_url) as http: ...

uvicorn runs in a daemon thread with its own event loop, so the test's loop (anyio's, or the
session's qasync loop) talks to it over a real socket exactly as it would to the provider.
``serve`` returns once the port accepts connections and stops the server on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

from tests.polling import wait_until


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process owns its signals
        pass


@contextlib.contextmanager
def serve(
    app: Any, *, port: int = 0, startup_timeout: float = 10.0, lifespan: bool = False
) -> Iterator[str]:
    """Run ``app`` on ``127.0.0.1:port`` (0 = a free port) and yield its base URL.

    ``lifespan`` runs the app's startup and shutdown (the team server needs them).
    """
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket's proto says TCP (base_events._set_nodelay); with proto 0 every response
    # written in two parts (uvicorn: start, then body) waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    host, bound_port = sock.getsockname()
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on" if lifespan else "off",
        timeout_graceful_shutdown=1,
    )
    server = _Server(config)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"loopback-{bound_port}", daemon=True)
    thread.start()

    def started() -> bool:
        if errors or not thread.is_alive():
            sock.close()
            raise RuntimeError(f"loopback server failed to start: {errors!r}")
        return bool(server.started)

    wait_until(
        started, timeout=startup_timeout, interval=0.005, message="the loopback server started"
    )
    try:
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
