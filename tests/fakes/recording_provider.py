"""A scriptable provider adapter that records every message handed to it.

Used by the engine tests (tell it to raise any provider error, an arbitrary exception, or hang)
and by the crash tests' child process in *durable log* mode: each message it accepts is appended
to a log file and fsynced before ``send`` returns, which is the moment the "provider" has it.
On start-up it replays the log as delivery receipts carrying our own id (``client_ref``), the way
real status webhooks settle a send whose answer was lost.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

from sync import faults
from sync.domain.events import ConnectionEvent, ProviderEvent, StatusEvent
from sync.domain.messages import OutgoingMessage
from sync.domain.models import ConnectionState, DeliveryStatus
from sync.providers.base import Capabilities, EventSink, SendResult

HANG: Literal["hang"] = "hang"
"""Script step: ``send`` blocks until ``release()`` (or until cancelled)."""

Step = BaseException | Literal["hang"] | None
"""What one ``send`` does: raise this exception, hang, or (None) succeed."""

FAULT_AFTER_LOG = "provider.after_log"
"""Fault point hit in durable log mode after the message is on disk, before ``send`` returns."""


def provider_id_for(client_id: str) -> str:
    """The provider id this fake gives a message: derived from ours, so receipts can be rebuilt."""
    return f"rec.{client_id}"


def read_log(path: Path) -> list[str]:
    """The client ids in a durable log, in the order the provider received them."""
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


class RecordingProvider:
    """A ``ProviderAdapter`` that records sends and follows a script of outcomes.

    ``calls`` holds every message ``send`` was called with (whatever the outcome); ``accepted``
    those it took. ``script`` is consumed one step per call; once empty, sends succeed.
    """

    kind: ClassVar[str] = "recording"
    capabilities: ClassVar[Capabilities] = Capabilities(
        templates=False,
        max_text_length=4096,
        sends_per_second=100.0,
        needs_qr_link=False,
        media=False,
        echoes_client_ref=True,
    )

    def __init__(
        self,
        account_id: int,
        *,
        ready: bool = True,
        log_path: Path | None = None,
        receipt_status: DeliveryStatus = DeliveryStatus.DELIVERED,
    ) -> None:
        self.account_id = account_id
        self.calls: list[OutgoingMessage] = []
        self.accepted: list[OutgoingMessage] = []
        self.script: deque[Step] = deque()
        self.started = False
        self.closed = False
        self.ready_checks = 0  # how often the engine asked ready_to_send() (its polling rate)
        self.hanging = asyncio.Event()  # set while a send hangs
        self._ready = ready
        self._log_path = log_path
        self._receipt_status = receipt_status
        self._sink: EventSink | None = None
        self._release = asyncio.Event()

    def __repr__(self) -> str:
        return f"RecordingProvider(account_id={self.account_id})"

    def then(self, *steps: Step) -> RecordingProvider:
        """Append outcomes for the next sends (an exception, ``HANG``, or None for success)."""
        self.script.extend(steps)
        return self

    def release(self) -> None:
        """Let a hanging send succeed."""
        self._release.set()

    async def start(self, sink: EventSink) -> None:
        """Remember the sink; announce the connection; replay the durable log as receipts."""
        self._sink = sink
        self.started = True
        events: list[ProviderEvent] = []
        if self._ready:
            events.append(ConnectionEvent(self.account_id, ConnectionState.CONNECTED))
        if self._log_path is not None:
            now = time.time()
            events.extend(
                StatusEvent(
                    self.account_id,
                    provider_id_for(client_id),
                    self._receipt_status,
                    now,
                    client_ref=client_id,
                )
                for client_id in read_log(self._log_path)
            )
        if events:
            await sink(events)

    def ready_to_send(self) -> bool:
        """Whether the test said this number is connected."""
        self.ready_checks += 1
        return self._ready and self.started and not self.closed

    async def set_ready(self, ready: bool) -> None:
        """Connect or disconnect the number, telling the engine as a real adapter would."""
        self._ready = ready
        if self._sink is not None:
            state = ConnectionState.CONNECTED if ready else ConnectionState.OFFLINE
            await self._sink([ConnectionEvent(self.account_id, state)])

    async def push(self, events: Sequence[ProviderEvent]) -> None:
        """Deliver events as if a webhook had arrived."""
        assert self._sink is not None, "start() first"
        await self._sink(events)

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Record the call, then follow the script."""
        self.calls.append(message)
        step = self.script.popleft() if self.script else None
        if isinstance(step, BaseException):
            raise step
        if step == HANG:
            self.hanging.set()
            try:
                await self._release.wait()
            finally:
                self.hanging.clear()
            self._release.clear()
        if self._log_path is not None:
            self._append_durably(message.client_id)
            faults.point(FAULT_AFTER_LOG)
        self.accepted.append(message)
        return SendResult(provider_id_for(message.client_id))

    def _append_durably(self, client_id: str) -> None:
        assert self._log_path is not None
        fd = os.open(self._log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{client_id}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    async def mark_read(self, chat_key: str, provider_message_ids: Sequence[str]) -> None:
        """Nothing to tell."""

    async def aclose(self) -> None:
        """Stop being ready."""
        self.closed = True
