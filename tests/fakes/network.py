"""A desktop's internet connection that a test can cut: real HTTP until ``offline`` is set."""

from __future__ import annotations

import httpx


class Switch(httpx.AsyncBaseTransport):
    """A real transport that can be cut: while ``offline``, every request fails to connect."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.offline = False
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.offline:
            raise httpx.ConnectError("offline (test)", request=request)
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
