"""The built-in demo provider: fictitious customers who write, answer and read, with no network.

It is also the model for a new adapter: one class implementing ``ProviderAdapter``, with the
``Capabilities`` its package declares (``provider.py``), pushing events into the sink.
Timings come from ``DemoTiming`` so tests can run the same behaviour a hundred times faster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sync.domain.events import ConnectionEvent, MessageEvent, StatusEvent
from sync.domain.ids import chat_key_for_phone
from sync.domain.messages import OutgoingMessage
from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.providers.base import Capabilities, EventSink, PermanentSendError, SendResult
from sync.providers.demo.provider import PROVIDER

if TYPE_CHECKING:
    from sync.providers.demo.corpus import DemoCustomer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoTiming:
    """Delays of the simulation, in seconds, each drawn uniformly from its range."""

    first_inbound: tuple[float, float] = (3.0, 12.0)
    inbound_every: tuple[float, float] = (15.0, 45.0)
    send_latency: tuple[float, float] = (0.05, 0.3)
    delivered_after: tuple[float, float] = (0.5, 1.5)
    read_after: tuple[float, float] = (1.0, 4.0)
    reply_after: tuple[float, float] = (3.0, 8.0)

    def scaled(self, factor: float) -> DemoTiming:
        """The same simulation ``1/factor`` times faster or slower."""
        return DemoTiming(
            *(
                (lo * factor, hi * factor)
                for lo, hi in (
                    self.first_inbound,
                    self.inbound_every,
                    self.send_latency,
                    self.delivered_after,
                    self.read_after,
                    self.reply_after,
                )
            )
        )


class DemoProvider:
    """A demo number: customers from ``corpus`` talking to the agent."""

    kind: ClassVar[str] = PROVIDER.kind
    capabilities: ClassVar[Capabilities] = PROVIDER.capabilities

    def __init__(
        self,
        account_id: int,
        *,
        profile_index: int,
        customers: Sequence[DemoCustomer],
        seed: int = 0,
        timing: DemoTiming | None = None,
        live: bool = True,
    ) -> None:
        self.account_id = account_id
        self._rng = random.Random(f"demo-live:{seed}:{account_id}")
        from sync.providers.demo.corpus import LiveCustomers  # a large module: load on use

        self._live = LiveCustomers(profile_index, customers, self._rng)
        self._customers = {chat_key_for_phone(c.phone): c for c in customers}
        self._timing = timing or DemoTiming()
        self._run_live = live
        self._sink: EventSink | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connected = False

    def __repr__(self) -> str:
        return f"DemoProvider(account_id={self.account_id})"

    async def start(self, sink: EventSink) -> None:
        """Go online at once and, when live, let customers start writing."""
        self._sink = sink
        self._connected = True
        await sink([ConnectionEvent(self.account_id, ConnectionState.CONNECTED)])
        if self._run_live:
            self._spawn(self._customers_write())

    def ready_to_send(self) -> bool:
        """The demo is always ready once started."""
        return self._connected

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Take the message, then deliver, read and maybe answer it a little later."""
        if not message.text.strip():
            raise PermanentSendError("empty message")
        if len(message.text) > self.capabilities.max_text_length:
            raise PermanentSendError("message too long")
        await asyncio.sleep(self._draw(self._timing.send_latency))
        provider_id = f"demo.out.{uuid.uuid4().hex}"
        self._spawn(self._receipts(message, provider_id))
        return SendResult(provider_id)

    async def mark_read(self, chat_key: str, provider_message_ids: Sequence[str]) -> None:
        """Nothing to tell: demo customers do not see read receipts."""

    async def aclose(self) -> None:
        """Stop every pending simulation step."""
        self._connected = False
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _draw(self, bounds: tuple[float, float]) -> float:
        return self._rng.uniform(*bounds)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("demo simulation step failed", exc_info=task.exception())

    async def _emit(self, events: Sequence[Any]) -> None:
        if self._sink is not None and self._connected:
            await self._sink(events)

    async def _receipts(self, message: OutgoingMessage, provider_id: str) -> None:
        for status, delay in (
            (DeliveryStatus.DELIVERED, self._timing.delivered_after),
            (DeliveryStatus.READ, self._timing.read_after),
        ):
            await asyncio.sleep(self._draw(delay))
            await self._emit(
                [
                    StatusEvent(
                        self.account_id,
                        provider_id,
                        status,
                        time.time(),
                        client_ref=message.client_id,
                    )
                ]
            )
        customer = self._customers.get(message.chat_key)
        if customer is None:
            return
        answer = self._live.reply_to_agent(customer, message.text)
        if answer:
            await asyncio.sleep(self._draw(self._timing.reply_after))
            await self._emit([self._inbound(customer, MessageType.TEXT, answer, None)])

    async def _customers_write(self) -> None:
        await asyncio.sleep(self._draw(self._timing.first_inbound))
        while True:
            customer, type_, text, media = self._live.next_inbound()
            self._customers.setdefault(chat_key_for_phone(customer.phone), customer)
            await self._emit([self._inbound(customer, type_, text, media)])
            await asyncio.sleep(self._draw(self._timing.inbound_every))

    def _inbound(
        self, customer: DemoCustomer, type_: MessageType, text: str, media: dict[str, Any] | None
    ) -> MessageEvent:
        return MessageEvent(
            account_id=self.account_id,
            provider_message_id=f"demo.in.{uuid.uuid4().hex}",
            chat_key=chat_key_for_phone(customer.phone),
            chat_phone=customer.phone,
            direction=Direction.IN,
            timestamp=time.time(),
            type=type_,
            text=text,
            sender_name=customer.name,
            sender_phone=customer.phone,
            media=media,
        )
