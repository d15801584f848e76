"""Building a ``WebhookRequest`` from what arrived, the same way for the receiver and the CLI.

``caixa webhook parse`` must see exactly what the receiver would see for the same call, so both
build their ``WebhookRequest`` here:

- header names are matched without regard to case (RFC 9110 §5.1) and stored lower case; a
  header given several times is combined into one value joined by ", " (RFC 9110 §5.3), so a
  duplicated signature or token never verifies;
- header values are the raw field value without surrounding spaces or tabs (RFC 9110 §5.5);
  bytes are read as ISO-8859-1, which maps every byte to one character (nothing is lost);
- query parameters are percent-decoded as UTF-8 (a parameter given twice keeps the first value).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

from sync.providers.base import WebhookRequest


def combine_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header ``(name, value)`` pairs as one lower-case mapping (repeats joined by ", ")."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.strip().lower()
        value = value.strip(" \t")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def raw_headers(pairs: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Headers as an ASGI server hands them over (bytes), as ``combine_headers`` gives them."""
    return combine_headers((n.decode("latin-1"), v.decode("latin-1")) for n, v in pairs)


def parse_query(query_string: str) -> dict[str, str]:
    """A URL query string as a mapping (first value of each name wins)."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        query.setdefault(name, value)
    return query


def build_request(
    *,
    method: str,
    headers: dict[str, str],
    body: bytes,
    query: dict[str, str] | None = None,
    instance: str = "",
    event: str = "",
) -> WebhookRequest:
    """The ``WebhookRequest`` for one call (method upper case)."""
    return WebhookRequest(
        method=method.upper(),
        headers=headers,
        body=body,
        query=query or {},
        instance=instance,
        event=event,
    )
