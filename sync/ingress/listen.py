"""Listen addresses (``HOST:PORT``) as the receiver's servers take them, checked without uvicorn."""

from __future__ import annotations


def parse_listen(value: str, *, example: str = "127.0.0.1:8787") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as a pair; ``ValueError`` with a clear message."""
    host, sep, port_text = value.rpartition(":")
    # ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() then refuses.
    if (
        not sep
        or not host
        or not (port_text.isascii() and port_text.isdigit())
        or not 0 <= int(port_text) <= 65535
    ):
        raise ValueError(f"--listen must look like HOST:PORT, e.g. {example}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)
