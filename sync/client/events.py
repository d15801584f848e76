"""Reading the server's Server-Sent Events stream (only what the sync API sends: named events)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


async def sse_events(response: httpx.Response) -> AsyncIterator[str]:
    """The names of the events of an open ``text/event-stream`` response, as they arrive.

    Comments (the server's keepalives) are skipped; an event without a name is ``message``, as
    the SSE specification says.
    """
    name = ""
    data = False
    async for line in response.aiter_lines():
        if not line:
            if name or data:
                yield name or "message"
            name, data = "", False
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = True
