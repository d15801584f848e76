"""Contract harness for the Meta Cloud API adapter: the fake Graph API up, the adapter ready.

    async with harness() as h:
        h.arrange("rate_limited", retry_after=30)
        with pytest.raises(RateLimited): await h.adapter.send(h.outgoing())

"refused" is arranged on the client side: the next request is sent, over a real socket, to a
loopback port where nothing listens.
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from sync.domain.events import ProviderEvent
from sync.domain.messages import OutgoingMessage
from sync.domain.models import MessageType
from sync.providers.accounts import Secret
from sync.providers.meta_cloud import MetaAccount, MetaCloudAdapter
from tests.fakes.loopback import serve
from tests.fakes.meta_server import FakeMeta

ACCESS_TOKEN = "EAAG-test-access-token-5f1c2a9d"
APP_SECRET = "app-secret-7b3e1f"
VERIFY_TOKEN = "verify-token-c4d8"
PHONE_NUMBER_ID = "109876543210987"
WABA_ID = "201234567890123"
CUSTOMER = "5511987654321"


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class RefusingTransport(httpx.AsyncBaseTransport):
    """Real HTTP, except that the next request can be aimed at a port where nothing listens."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.refuse_next = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.refuse_next:
            self.refuse_next = False
            request.url = request.url.copy_with(host="127.0.0.1", port=dead_port())
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def make_account(base_url: str, **overrides: Any) -> MetaAccount:
    """The test number, pointed at ``base_url``."""
    values: dict[str, Any] = {
        "account_id": 7,
        "name": "Loja Centro",
        "phone_number_id": PHONE_NUMBER_ID,
        "waba_id": WABA_ID,
        "access_token": Secret(ACCESS_TOKEN),
        "app_secret": Secret(APP_SECRET),
        "verify_token": Secret(VERIFY_TOKEN),
        "base_url": base_url,
    }
    values.update(overrides)
    return MetaAccount(**values)


@dataclass
class MetaHarness:
    """What the contract table drives (see the providers brief)."""

    adapter: MetaCloudAdapter
    fake: FakeMeta
    transport: RefusingTransport
    http: httpx.AsyncClient
    events: list[ProviderEvent] = field(default_factory=list)
    secrets: list[str] = field(default_factory=lambda: [ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN])

    def accepted(self) -> int:
        """How many messages the fake Graph API has taken."""
        return len(self.fake.accepted)

    def arrange(self, failure: str, *, retry_after: int | None = None) -> None:
        """Make the next send fail as ``failure``."""
        if failure == "refused":
            self.transport.refuse_next = True
        else:
            self.fake.arrange(failure, retry_after=retry_after)

    def outgoing(self, text: str = "oi", **changes: Any) -> OutgoingMessage:
        """A valid text message to the test customer."""
        values: dict[str, Any] = {
            "client_id": str(uuid.uuid4()),
            "account_id": self.adapter.account_id,
            "to_phone": CUSTOMER,
            "chat_key": CUSTOMER,
            "type": MessageType.TEXT,
            "text": text,
        }
        values.update(changes)
        return OutgoingMessage(**values)


@contextlib.asynccontextmanager
async def harness(
    *, timeout: float = 0.5, clock: Callable[[], float] | None = None, **fake_options: Any
) -> AsyncIterator[MetaHarness]:
    """The fake Graph API on loopback and a started adapter talking to it over real HTTP.

    ``clock`` (when given) is both the fake's and the adapter's: media URL lifetimes.
    """
    if clock is not None:
        fake_options["clock"] = clock
    fake = FakeMeta(
        access_token=ACCESS_TOKEN, phone_number_id=PHONE_NUMBER_ID, waba_id=WABA_ID, **fake_options
    )
    with serve(fake.app) as base_url:
        transport = RefusingTransport()
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as http:
            adapter = MetaCloudAdapter(make_account(base_url), http, clock=clock or time.monotonic)
            h = MetaHarness(adapter=adapter, fake=fake, transport=transport, http=http)

            async def sink(events: Any) -> None:
                h.events.extend(events)

            await adapter.start(sink)
            try:
                yield h
            finally:
                fake.close()
                await adapter.aclose()
