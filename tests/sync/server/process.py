"""The real ``caixa`` and ``caixa-server`` CLIs in child processes, and a lean HTTP/1.1 client.

Used by the kill-and-restart test and by the benchmarks (``tests/perf/receiver.py``,
``server_webhooks.py``, ``scale_out.py``).
The client speaks plain HTTP/1.1 with keep-alive over asyncio streams: a load generator must
cost far less CPU than the server it measures (httpx's pool costs a few ms per request under
concurrency on a small machine, more than the receiver itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

# Tests never touch the machine's keyring: in the child, keyring finds no backend, so the
# numbers' credentials go to the encrypted cache (the headless --key-file rule).
CHILD_ENV = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def caixa_command() -> list[str]:
    """How to run the installed ``caixa`` console script (the real entry point)."""
    script = Path(sys.executable).with_name("caixa.exe" if os.name == "nt" else "caixa")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "desktop.main"]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child ``caixa``: no display, no keyring, no inherited Caixa paths."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIXA_")}
    env.update(CHILD_ENV)
    env.update(extra or {})
    return env


def run_caixa(args: Sequence[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``caixa ARGS`` to completion, capturing its output."""
    return subprocess.run(
        [*caixa_command(), *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def add_number(data_dir: Path, key_file: Path, description: dict[str, str]) -> dict[str, object]:
    """``caixa accounts add`` in a child process; returns the number it printed."""
    source = data_dir.parent / f"{description['name'].replace(' ', '-')}.json"
    source.write_text(json.dumps(description), encoding="utf-8")
    done = run_caixa(
        [
            "accounts",
            "add",
            "--from-json",
            str(source),
            "--data-dir",
            str(data_dir),
            "--key-file",
            str(key_file),
        ]
    )
    source.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"caixa accounts add failed: {done.stderr}")
    added: dict[str, object] = json.loads(done.stdout)
    return added


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ReceiverProcess:
    """``caixa receive`` on a loopback port, as a child process."""

    def __init__(self, data_dir: Path, key_file: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.key_file = key_file
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / "receiver.log"

    def start(self, *, timeout: float = 30) -> None:
        """Start it and return once ``/health`` answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *caixa_command(),
                    "receive",
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--data-dir",
                    str(self.data_dir),
                    "--key-file",
                    str(self.key_file),
                ],
                env=child_env(),
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while not _healthy(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"caixa receive exited: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError("caixa receive did not come up")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind runs in the child."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Ask it to stop (SIGTERM/SIGINT) and return its exit code."""
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def caixa_server(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``caixa-server ARGS`` (an admin command) to completion; raise if it fails."""
    return subprocess.run(
        [sys.executable, "-m", "sync.server.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@contextlib.contextmanager
def running_caixa_server(
    env: Mapping[str, str], log: Path, *, timeout: float = 60
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``caixa-server serve`` on a free loopback port while the block runs: (port, process).

    ``env`` holds its settings (``CAIXA_DATABASE_URL``, ``CAIXA_SECRET_KEY``, ...); its output
    goes to ``log`` (a pipe nobody reads would stall it once full). Stopped with SIGINT, as an
    operator would, and killed if it does not stop.
    """
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sync.server.cli", "serve", "--listen", f"127.0.0.1:{port}"],
            env={**os.environ, **env},
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"caixa-server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield port, process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _healthy(port: int) -> bool:
    """Whether a server on ``port`` answers ``GET /health`` with 200."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; ``request`` returns (status, body)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1") -> HttpConnection:
        """Connect to ``host:port``."""
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        """Send one request and read its whole answer; ``ConnectionError`` if the peer left."""
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await self._writer.drain()
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self._reader.readline()
            if not line:
                raise ConnectionError("the server closed the connection")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self._writer.wait_closed()
