"""Contract harness for the Evolution adapter: the fake Evolution server on loopback, an
instance linked and open, and the adapter started and ready to send.

    async with harness() as h:
        h.arrange("rate_limited", retry_after=7)
        await h.adapter.send(h.outgoing())

``arrange("refused")`` sends the next message to a port where nothing listens (a real
connection refused, before anything is written); every other failure is played by the fake.
"""

from __future__ import annotations

import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from sync.domain.events import ProviderEvent
from sync.domain.messages import OutgoingMessage
from sync.domain.models import MessageType
from sync.providers.accounts import Secret
from sync.providers.base import WebhookRequest
from sync.providers.evolution import EvolutionAccount, EvolutionAdapter
from tests.fakes.evolution_server import FakeEvolution

API_KEY = "evo-global-key-5f1c2a"
INSTANCE_TOKEN = "INSTANCE-TOKEN-8D2E-41B7"
WEBHOOK_SECRET = "caixa-webhook-secret-9a7b3c"
INSTANCE = "caixa-loja"
OWN_PHONE = "5511988887777"
CUSTOMER = "5511977776666"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class RefusingTransport(httpx.AsyncBaseTransport):
    """Real HTTP; when armed, the next send goes to a closed port (connection refused)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.refuse_next = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.refuse_next and request.url.path.startswith("/message/"):
            self.refuse_next = False
            request.url = request.url.copy_with(host="127.0.0.1", port=closed_port())
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def evolution_account(
    base_url: str,
    *,
    account_id: int = 7,
    instance: str = INSTANCE,
    api_key: str = API_KEY,
    instance_token: str = INSTANCE_TOKEN,
    webhook_secret: str = WEBHOOK_SECRET,
) -> EvolutionAccount:
    """The account the harness and the tests use."""
    return EvolutionAccount(
        account_id=account_id,
        name="Loja Centro",
        instance=instance,
        base_url=base_url,
        api_key=Secret(api_key),
        instance_token=Secret(instance_token),
        webhook_secret=Secret(webhook_secret),
    )


@dataclass
class EvolutionHarness:
    """What ``tests/sync/providers/test_contract.py`` drives (see the shared brief)."""

    adapter: EvolutionAdapter
    fake: FakeEvolution
    transport: RefusingTransport
    secrets: list[str] = field(default_factory=lambda: [API_KEY, INSTANCE_TOKEN, WEBHOOK_SECRET])
    events: list[ProviderEvent] = field(default_factory=list)

    def accepted(self) -> int:
        """How many messages the fake Evolution took."""
        return self.fake.accepted()

    def arrange(self, failure: str, *, retry_after: int | None = None) -> None:
        """The next send fails as ``failure`` (see the module docstring)."""
        if failure == "refused":
            self.transport.refuse_next = True
        else:
            self.fake.arrange(failure, retry_after=retry_after)

    def outgoing(self, text: str = "oi") -> OutgoingMessage:
        """A valid text message to a customer who is on WhatsApp."""
        return OutgoingMessage(
            client_id=str(uuid.uuid4()),
            account_id=self.adapter.account_id,
            to_phone=CUSTOMER,
            chat_key=CUSTOMER,
            type=MessageType.TEXT,
            text=text,
        )


@contextlib.contextmanager
def fake_evolution() -> Iterator[tuple[FakeEvolution, str]]:
    """A fake Evolution on loopback (tests may share one and ``reset`` it)."""
    fake = FakeEvolution(api_key=API_KEY)
    with fake.running() as base_url:
        yield fake, base_url


@contextlib.asynccontextmanager
async def harness(
    *,
    timeout: float = 0.5,
    webhook_url: str | None = None,
    server: tuple[FakeEvolution, str] | None = None,
    **adapter_options: Any,
) -> AsyncIterator[EvolutionHarness]:
    """The fake server up, an open instance, the adapter started and ready to send.

    ``server`` reuses a running fake (reset first); without it one is started for this use.
    """
    with contextlib.ExitStack() as stack:
        if server is None:
            server = stack.enter_context(fake_evolution())
        fake, base_url = server
        fake.reset(api_key=API_KEY)
        fake.add_instance(INSTANCE, token=INSTANCE_TOKEN, state="open", phone=OWN_PHONE)
        transport = RefusingTransport()
        async with httpx.AsyncClient(timeout=timeout, transport=transport) as http:
            adapter = EvolutionAdapter(
                evolution_account(base_url), http, webhook_url=webhook_url, **adapter_options
            )
            h = EvolutionHarness(adapter=adapter, fake=fake, transport=transport)

            async def sink(events: Sequence[ProviderEvent]) -> None:
                h.events.extend(events)

            await adapter.start(sink)
            assert adapter.ready_to_send()
            try:
                yield h
            finally:
                await adapter.aclose()
                fake.release()


# --- webhook bodies as Evolution API 2.3.x posts them ---------------------------------------------
#
# ``message_record`` mirrors ``prepareMessage`` (whatsapp.baileys.service.ts): the Baileys key as
# it came (``remoteJidAlt``/``participantAlt``/``addressingMode``), ``extendedTextMessage`` folded
# into ``conversation`` with its ``contextInfo`` moved to the top, ``messageTimestamp`` in
# seconds. ``body`` mirrors webhook.controller.ts (webhookData).

TS = 1_717_171_717  # messageTimestamp used throughout
OWN_JID = f"{OWN_PHONE}@s.whatsapp.net"
PHONE = "5511977776666"
PN = f"{PHONE}@s.whatsapp.net"
LID = "219876543210987@lid"
GROUP = "120363025246125486@g.us"


def message_record(
    message: dict[str, Any] | None = None,
    *,
    remote: str = PN,
    alt: str | None = None,
    from_me: bool = False,
    msg_id: str = "3A5F1C2B9D8E7F6A5B4C",
    push_name: str | None = "Ana Souza",
    ts: Any = TS,
    participant: str | None = None,
    participant_alt: str | None = None,
    context: dict[str, Any] | None = None,
    message_type: str | None = None,
    **key_extra: Any,
) -> dict[str, Any]:
    """One messages.upsert / send.message ``data``."""
    content = {"conversation": "Oi, tudo bem?"} if message is None else message
    key: dict[str, Any] = {"remoteJid": remote, "fromMe": from_me, "id": msg_id}
    if alt is not None:
        key["remoteJidAlt"] = alt
    if participant is not None:
        key["participant"] = participant
        key["participantAlt"] = participant_alt
    key["addressingMode"] = "lid" if (participant or remote).endswith("@lid") else "pn"
    key.update(key_extra)
    kind = message_type or next(
        (k for k in content if k == "conversation" or "Message" in k), "unknown"
    )
    return {
        "key": key,
        "pushName": push_name,
        "status": "DELIVERY_ACK" if not from_me else "SERVER_ACK",
        "message": content,
        "contextInfo": context,
        "messageType": kind,
        "messageTimestamp": ts,
        "instanceId": "1c9f4e54-7d0a-4c6f-b6c8-8f3c2b1d0e9a",
        "source": "android",
    }


def body(
    event: str,
    data: Any,
    *,
    instance: str = INSTANCE,
    sender: str | None = OWN_JID,
    date_time: str = "2024-06-01T10:00:00.000Z",
) -> dict[str, Any]:
    """The webhook body (webhook.controller.ts: webhookData)."""
    return {
        "event": event,
        "instance": instance,
        "data": data,
        "destination": f"https://caixa.example/hooks/evolution/{INSTANCE}",
        "date_time": date_time,
        "sender": sender,
        "server_url": "https://evolution.example",
        "apikey": "INSTANCE-TOKEN-EXPOSED",
    }


def request(
    payload: Any,
    *,
    token: str | None = WEBHOOK_SECRET,
    instance: str = INSTANCE,
    event: str = "",
    method: str = "POST",
    raw: bytes | None = None,
) -> WebhookRequest:
    """A WebhookRequest as the receiver hands it to ``parse_webhook``."""
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["x-caixa-webhook-token"] = token
    data = raw if raw is not None else json.dumps(payload).encode()
    return WebhookRequest(method=method, headers=headers, body=data, instance=instance, event=event)
