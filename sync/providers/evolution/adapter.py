"""The adapter of one QR-linked number on an Evolution API server (one Evolution "instance").

It creates (or reuses) the instance, points its webhook at Caixa's receiver with a per-account
secret header (or, with no webhook address, follows its events over Socket.IO: ``socket.py``),
shows the QR or pairing code, sends text, media and reactions, marks messages read, checks
numbers, and backfills recent history. Routes: ``src/api/routes/{instance,sendMessage,chat}
.router.ts`` and ``src/api/integrations/event/webhook/webhook.router.ts``; auth:
``src/api/guards/auth.guard.ts`` (header ``apikey``: the global key works everywhere, an
instance's token only on routes naming that instance and on ``fetchInstances``; ``create``
needs the global key) and ``src/api/guards/instance.guard.ts`` (404 for an unknown instance,
403 when ``create`` names one in use).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import mimetypes
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final
from urllib.parse import quote, urlsplit

import httpx

from sync.domain.events import AccountRemovedEvent, ConnectionEvent, ProviderEvent, QrEvent
from sync.domain.messages import OutgoingMessage
from sync.domain.models import ConnectionState, MessageType
from sync.providers.accounts import Secret
from sync.providers.baileys import message_timestamp
from sync.providers.base import (
    AccountInfo,
    AuthError,
    Capabilities,
    DeliveryUnknown,
    EventObserver,
    EventSink,
    NotSent,
    PermanentSendError,
    ProviderError,
    SendResult,
    WebhookRejected,
)
from sync.providers.evolution.account import EvolutionAccount
from sync.providers.evolution.connection import (
    REASON_NOT_LINKED,
    REPAIR_REASONS,
    EvolutionLink,
    ReconnectPolicy,
)
from sync.providers.evolution.errors import error_for, scrub, why
from sync.providers.evolution.limits import MAX_DOCUMENT_BYTES, MAX_MEDIA_BYTES, MAX_TEXT
from sync.providers.evolution.provider import PROVIDER
from sync.providers.evolution.socket import EventSocket
from sync.providers.evolution.webhook import (
    WEBHOOK_EVENTS,
    WEBHOOK_TOKEN_HEADER,
    event_name,
    normalize_event,
    normalize_records,
)
from sync.providers.json_fields import dict_of, long_of, num_of, str_of
from sync.providers.whatsapp_ids import jid_for_chat, jid_user, message_id_of, phone_of_jid

log = logging.getLogger(__name__)

INTEGRATION: Final = "WHATSAPP-BAILEYS"  # src/api/types/wa.types.ts: Integration.WHATSAPP_BAILEYS


@dataclass(frozen=True, slots=True)
class NumberCheck:
    """What ``/chat/whatsappNumbers`` says of one number."""

    number: str
    exists: bool
    jid: str = ""
    name: str = ""
    lid: str = ""


class EvolutionAdapter:
    """One QR-linked number on an Evolution API server (``QrLinkAdapter``)."""

    kind: ClassVar[str] = PROVIDER.kind
    capabilities: ClassVar[Capabilities] = PROVIDER.capabilities

    def __init__(
        self,
        account: EvolutionAccount,
        http: httpx.AsyncClient,
        *,
        webhook_url: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        reconnect: ReconnectPolicy | None = None,
        backfill_after_link: float = 20.0,
        backfill_limit: int = 500,
        socket_events: bool = True,
        observer: EventObserver | None = None,
    ) -> None:
        self.account_id = account.account_id
        self._account = account
        self._http = http
        self._webhook_url = webhook_url
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._policy = reconnect or ReconnectPolicy()
        self._backfill_delay = backfill_after_link
        self._backfill_limit = backfill_limit
        self._base = account.base_url.rstrip("/")
        self._sink: EventSink | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._link = EvolutionLink(
            account.account_id,
            account.instance,
            policy=self._policy,
            clock=clock,
            sleep=sleep,
            rng=rng,
            poll=self.connection_state,
            reopen=lambda: self._call("GET", f"/instance/connect/{self._path}"),
            push=self._push,
            spawn=self._spawn,
            on_linked=self._backfill_after_link,
        )
        # Without a webhook address, events come over Evolution's Socket.IO (see socket.py).
        self._use_socket = socket_events and not webhook_url
        self._observer = observer
        self._socket = EventSocket(
            account,
            policy=self._policy,
            sleep=sleep,
            rng=rng,
            subscribe=self.ensure_websocket,
            deliver=self._on_socket_event,
        )
        self._socket_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return (
            f"EvolutionAdapter(kind={self.kind!r}, account_id={self.account_id}, "
            f"name={self._account.name!r})"
        )

    # --- state ------------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        """The link's state as last seen (webhooks, polls, the reconnect loop)."""
        return self._link.state

    @property
    def reason(self) -> str:
        """Why the link is not connected, in English ("" when connected)."""
        return self._link.reason

    @property
    def needs_repair(self) -> bool:
        """Only a new pairing can bring this number back (logged out, banned, session gone)."""
        return self._link.needs_repair

    @property
    def socket_connected(self) -> bool:
        """Whether the event socket is connected (only without a webhook address)."""
        return self._socket.connected

    def ready_to_send(self) -> bool:
        """True only while the WhatsApp connection is open."""
        return self._link.state is ConnectionState.CONNECTED and not self._closed

    def reconnect_now(self) -> None:
        """Start reconnecting again from the shortest delay (after the adapter gave up)."""
        self._link.reconnect_now()

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        """Learn the link's state (never raises for provider trouble) and fix the webhook."""
        self._sink = sink
        if self._webhook_url:
            try:
                await self.ensure_webhook()
            except ProviderError as exc:  # check() below says what it means for the number
                log.warning("evolution %s: could not set the webhook: %s", self._path, exc)
        elif self._use_socket and self._socket_task is None:
            self._socket_task = self._spawn(self._socket.run())
        try:
            info = await self.check()
        except ProviderError as exc:
            self._link.apply(
                ConnectionEvent(self.account_id, ConnectionState.OFFLINE, reason=why(exc))
            )
        else:
            if info.state is ConnectionState.CONNECTED:
                self._link.apply(
                    ConnectionEvent(self.account_id, ConnectionState.CONNECTED, phone=info.phone)
                )
            elif info.state in (ConnectionState.NEEDS_REPAIR, ConnectionState.BLOCKED):
                self._link.apply(
                    ConnectionEvent(
                        self.account_id, info.state, needs_repair=True, reason=self._link.reason
                    )
                )
            elif info.state is ConnectionState.OFFLINE:
                self._link.apply(
                    ConnectionEvent(
                        self.account_id, ConnectionState.OFFLINE, reason="the connection was closed"
                    )
                )
            else:
                self._link.apply(ConnectionEvent(self.account_id, info.state))
        await self._push([self._link.snapshot()])

    async def aclose(self) -> None:
        """Stop the reconnect loop, the event socket and any pending backfill."""
        self._closed = True
        self._link.close()
        self._socket.closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def observe(self, events: Sequence[ProviderEvent]) -> None:
        """Follow this number's events from the receiver: readiness, reconnects, re-pairing."""
        for event in events:
            if getattr(event, "account_id", None) != self.account_id:
                continue
            if isinstance(event, ConnectionEvent | QrEvent | AccountRemovedEvent):
                self._link.apply(event)

    # --- pairing -----------------------------------------------------------------------------

    async def request_pairing(self, *, phone: str = "") -> QrEvent:
        """Create (or reuse) the instance with Caixa's webhook and return the first QR.

        With ``phone`` Evolution also makes the 8-character pairing code
        (instance.controller.ts: ``create`` with ``number``; ``connect?number=`` for an instance
        that is closed). Later QRs and the link itself arrive as webhook events.
        """
        digits = "".join(ch for ch in phone if ch.isdigit())
        if phone and not 8 <= len(digits) <= 20:
            raise PermanentSendError("the pairing phone must be digits with the country code")
        row = await self._find_instance()
        self._link.begin_pairing()
        created = False
        if row is None:
            answer = await self._create(digits)
            if answer is not None:
                created = True
                qr = _qr_from(self.account_id, dict_of(answer.get("qrcode")) or {})
                if qr.qr_code or qr.pairing_code:
                    self._link.enter(ConnectionState.WAITING_FOR_QR, "", repair=False)
                    self._kick_socket()
                    return qr
            row = {} if created else await self._find_instance() or {}
        elif self._webhook_url:
            await self.ensure_webhook()
        if digits and not created:
            linked = bool(str_of(row.get("ownerJid")))
            if not linked and await self.connection_state() == "connecting":
                # connect ignores ?number= while a socket is up (instance.controller.ts,
                # connectToWhatsapp): close the unlinked socket so the code can be made.
                with contextlib.suppress(PermanentSendError):
                    await self._call("DELETE", f"/instance/logout/{self._path}")
        # A created instance already has its number (create's ``number``).
        result = await self.connect(phone="" if created else digits)
        if result is None:  # already open: nothing to scan
            self._link.end_pairing()
            own = phone_of_jid(str_of(row.get("ownerJid")))
            self._link.apply(ConnectionEvent(self.account_id, ConnectionState.CONNECTED, phone=own))
            await self._push([self._link.snapshot()])
            return QrEvent(self.account_id)
        self._link.enter(ConnectionState.WAITING_FOR_QR, "", repair=False)
        self._kick_socket()
        return result

    def _kick_socket(self) -> None:
        """Subscribe again now (the instance may have just been created): no backoff wait."""
        if not self._use_socket or self._closed:
            return
        if self._socket_task is not None and not self._socket_task.done():
            if self.socket_connected:
                return
            self._socket_task.cancel()
        self._socket_task = self._spawn(self._socket.run())

    async def connect(self, *, phone: str = "") -> QrEvent | None:
        """``GET /instance/connect``: the current QR (and pairing code), or None when open."""
        params = {"number": phone} if phone else None
        answer = await self._call("GET", f"/instance/connect/{self._path}", params=params)
        record = dict_of(answer) or {}
        if record.get("error") is True:  # connectToWhatsapp answers 200 {error, message}
            raise ProviderError(scrub(f"Evolution could not connect: {record.get('message')}"))
        instance = dict_of(record.get("instance"))
        if instance is not None and str_of(instance.get("state")) == "open":
            return None
        return _qr_from(self.account_id, record)

    async def logout(self) -> None:
        """Unlink the phone; the instance stays, ready to pair again."""
        try:
            await self._call("DELETE", f"/instance/logout/{self._path}")
        except PermanentSendError as exc:
            if "not connected" not in exc.detail:  # 400 when already closed: nothing to do
                raise
        self._link.enter(ConnectionState.NEEDS_REPAIR, "logged out from Caixa", repair=True)

    async def delete(self) -> None:
        """Delete the instance on the Evolution server (an unknown instance counts as done)."""
        try:
            await self._call("DELETE", f"/instance/delete/{self._path}")
        except PermanentSendError as exc:
            if "does not exist" not in exc.detail:
                raise
        self._link.enter(ConnectionState.NEEDS_REPAIR, "the instance was deleted", repair=True)

    async def restart(self) -> None:
        """``POST /instance/restart``: reopen the socket (Evolution answers 200 even on error)."""
        answer = dict_of(await self._call("POST", f"/instance/restart/{self._path}")) or {}
        if answer.get("error") is True:
            raise ProviderError("Evolution could not restart the instance (is it closed?)")

    async def connection_state(self) -> str:
        """``open``, ``connecting`` or ``close`` (``GET /instance/connectionState``)."""
        answer = dict_of(await self._call("GET", f"/instance/connectionState/{self._path}")) or {}
        return str_of((dict_of(answer.get("instance")) or {}).get("state")) or "close"

    async def ensure_webhook(self) -> None:
        """Point the instance's webhook at Caixa, with the secret header (``/webhook/set``)."""
        if not self._webhook_url:
            raise PermanentSendError("no webhook address is configured for this number")
        await self._call("POST", f"/webhook/set/{self._path}", json={"webhook": self._webhook()})

    async def ensure_websocket(self) -> bool:
        """Subscribe this instance's events on Evolution's Socket.IO (``/websocket/set``).

        False when the server has Socket.IO turned off (``WEBSOCKET_ENABLED=false``: Evolution
        then answers 201 with an empty body and stores nothing).
        """
        body = {"websocket": {"enabled": True, "events": list(WEBHOOK_EVENTS)}}
        answer = await self._call("POST", f"/websocket/set/{self._path}", json=body)
        return bool(dict_of(answer))

    async def _on_socket_event(self, body: Any) -> None:
        """One Socket.IO event: the same body a webhook POST carries (already authenticated)."""
        record = dict_of(body)
        if record is None or record.get("instance") != self._account.instance:
            return  # the namespace is the instance's own; anything else is not for us
        try:
            name = event_name(record.get("event"), "")
            own = jid_user(str_of(record.get("sender")))
            found = normalize_event(self.account_id, name, record.get("data"), own)
        except WebhookRejected as exc:
            log.info("evolution %s: event ignored: %s", self._account.instance, exc)
            return
        if not found:
            return
        await self._push(found)
        # Webhooks reach adapters through the receiver's observers, after the commit; socket
        # events do the same here (the workspace's observer also tells the pairing dialog).
        if self._observer is not None:
            self._observer(found)
        else:
            self.observe(found)

    def _webhook(self) -> dict[str, Any]:
        # webhook.schema.ts: {enabled, url, headers, byEvents, base64, events}. The headers come
        # back on every POST (webhook.controller.ts: axios.create({headers: webhookHeaders})).
        return {
            "enabled": True,
            "url": self._webhook_url,
            "headers": {WEBHOOK_TOKEN_HEADER: self._account.webhook_secret.reveal()},
            "byEvents": False,
            "base64": False,
            "events": list(WEBHOOK_EVENTS),
        }

    async def _create(self, phone: str) -> dict[str, Any] | None:
        if not self._account.api_key:
            raise AuthError("creating an Evolution instance needs the server's global API key")
        body: dict[str, Any] = {
            "instanceName": self._account.instance,
            "integration": INTEGRATION,
            "qrcode": True,
        }
        if phone:
            body["number"] = phone
        if self._account.instance_token:
            body["token"] = self._account.instance_token.reveal()
        if self._webhook_url:
            body["webhook"] = self._webhook()
        try:
            answer = await self._call(
                "POST", "/instance/create", json=body, key=self._account.api_key
            )
        except AuthError as exc:
            if "already in use" in exc.detail:  # created meanwhile: reuse it
                if self._webhook_url:
                    await self.ensure_webhook()
                return None
            raise
        return dict_of(answer) or {}

    async def _find_instance(self) -> dict[str, Any] | None:
        # The global key first: with an instance token, fetchInstances answers 401 both for a
        # wrong token and for a missing instance (instance.controller.ts, fetchInstances); the
        # global key tells them apart (404 "Instance ... not found").
        key = self._account.api_key or self._account.instance_token
        try:
            answer = await self._call(
                "GET",
                "/instance/fetchInstances",
                params={"instanceName": self._account.instance},
                key=key,
            )
        except PermanentSendError as exc:  # 404 "Instance ... not found"
            if "not found" in exc.detail:
                return None
            raise
        for row in answer if isinstance(answer, list) else []:
            if isinstance(row, dict) and row.get("name") == self._account.instance:
                return row
        return None

    async def check(self) -> AccountInfo:
        """Who this number is: profile name and phone (``fetchInstances``) and the live state."""
        row = await self._find_instance()
        if row is None:
            self._link.reason = REASON_NOT_LINKED
            return AccountInfo(state=ConnectionState.NEEDS_REPAIR)
        phone = phone_of_jid(str_of(row.get("ownerJid")))
        if phone:
            self._link.phone = phone
        state = await self.connection_state()
        code = long_of(row.get("disconnectionReasonCode"))
        if state == "open":
            conn = ConnectionState.CONNECTED
        elif state == "connecting":
            # Evolution says "connecting" both while it reconnects a session and while a QR
            # waits to be scanned: with no session (never linked, logged out, or pairing now)
            # it is the QR.
            ended = code is not None and int(code) in REPAIR_REASONS
            waiting = self._link.pairing or not phone or ended
            conn = ConnectionState.WAITING_FOR_QR if waiting else ConnectionState.CONNECTING
        elif code is not None and int(code) in REPAIR_REASONS:
            conn, self._link.reason = REPAIR_REASONS[int(code)]
        elif not phone:
            conn, self._link.reason = ConnectionState.NEEDS_REPAIR, REASON_NOT_LINKED
        else:
            conn = ConnectionState.OFFLINE
        return AccountInfo(phone=phone, display_name=str_of(row.get("profileName")), state=conn)

    # --- sending ------------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send text, media or a reaction (``/message/send*``); raise the errors of ``base``."""
        number = _target(message)
        quoted = {"quoted": {"key": {"id": message.reply_to}}} if message.reply_to else {}
        if message.type is MessageType.TEXT:
            if not message.text.strip():
                raise PermanentSendError("the message is empty")
            if len(message.text) > MAX_TEXT:
                raise PermanentSendError(f"the text is longer than {MAX_TEXT} characters")
            # sendMessageWithTyping: previews are on unless linkPreview is false.
            body = {"number": number, "text": message.text, "linkPreview": message.preview_url}
            answer = await self._send("sendText", {**body, **quoted})
        elif message.type in _SEND_MEDIA:
            answer = await self._send_media(message, number, quoted)
        elif message.type is MessageType.REACTION:
            answer = await self._send_reaction(message, number)
        else:
            raise PermanentSendError(
                f"{message.type.value} messages cannot be sent through Evolution (QR-linked)"
            )
        key = dict_of((dict_of(answer) or {}).get("key")) or {}
        provider_id = message_id_of(key.get("id"))
        if not provider_id:
            raise DeliveryUnknown("Evolution took the message but named no id")
        return SendResult(provider_id)

    async def _send(self, route: str, body: dict[str, Any]) -> Any:
        return await self._call("POST", f"/message/{route}/{self._path}", json=body, sending=True)

    async def _send_media(
        self, message: OutgoingMessage, number: str, quoted: dict[str, Any]
    ) -> Any:
        media = message.media
        if media is None or not (media.link or media.path):
            raise PermanentSendError("a media message needs a link or a file")
        if len(message.text) > MAX_TEXT:
            raise PermanentSendError(f"the caption is longer than {MAX_TEXT} characters")
        kind = message.type
        if kind in (MessageType.AUDIO, MessageType.STICKER) and message.text.strip():
            raise PermanentSendError(f"WhatsApp shows no caption on a {kind.value}")
        source = await _media_source(media.link, media.path, kind)
        if kind is MessageType.AUDIO:
            # sendWhatsAppAudio: converted to Opus and sent as a voice note (ptt), as WhatsApp's
            # own app records them (whatsapp.baileys.service.ts, audioWhatsapp).
            audio = {"number": number, "audio": source, **quoted}
            return await self._send("sendWhatsAppAudio", audio)
        if kind is MessageType.STICKER:
            return await self._send("sendSticker", {"number": number, "sticker": source, **quoted})
        filename = media.filename or _filename(media.link, media.path, kind)
        body: dict[str, Any] = {
            "number": number,
            "mediatype": kind.value,  # image | document | video (mediaMessageSchema)
            "media": source,
            "fileName": filename,
            "caption": message.text,
        }
        mime = media.mime_type or mimetypes.guess_type(filename)[0] or ""
        if mime:
            body["mimetype"] = mime
        return await self._send("sendMedia", {**body, **quoted})

    async def _send_reaction(self, message: OutgoingMessage, number: str) -> Any:
        if not message.reply_to:
            raise PermanentSendError("a reaction needs the message it answers")
        emoji = message.reaction or ""
        if len(emoji) > 16:
            raise PermanentSendError("a reaction is one emoji")
        # reactionMessageSchema needs the whole key (id, remoteJid, fromMe); Baileys attaches the
        # reaction only with the right fromMe. Evolution's stored key is the truth.
        try:
            found = await self._find_messages({"key": {"id": message.reply_to}}, page=1, size=1)
        except DeliveryUnknown as exc:  # a lookup: nothing was sent yet
            raise NotSent(exc.detail) from None
        records = _records(found)
        key = dict_of(records[0].get("key")) if records else None
        if key is None or message_id_of(key.get("id")) != message.reply_to:
            key = {"id": message.reply_to, "remoteJid": jid_for_chat(number), "fromMe": False}
        target = {
            "id": message.reply_to,
            "remoteJid": str_of(key.get("remoteJid")) or jid_for_chat(number),
            "fromMe": key.get("fromMe") is True,
        }
        participant = str_of(key.get("participant"))
        if participant:
            target["participant"] = participant
        return await self._send("sendReaction", {"key": target, "reaction": emoji})

    async def mark_read(self, chat_key: str, provider_message_ids: Sequence[str]) -> None:
        """``POST /chat/markMessageAsRead`` for these inbound messages of one chat."""
        if not provider_message_ids:
            return
        jid = jid_for_chat(chat_key)
        # WORKAROUND(evolution): markMessageAsRead keeps only group and phone JIDs (isPnUser),
        # so a LID chat whose phone is unknown cannot be marked read.
        # https://github.com/EvolutionAPI/evolution-api/blob/2.3.6/src/api/integrations/channel/whatsapp/whatsapp.baileys.service.ts
        reads = [{"remoteJid": jid, "fromMe": False, "id": i} for i in provider_message_ids]
        await self._call(
            "POST", f"/chat/markMessageAsRead/{self._path}", json={"readMessages": reads}
        )

    async def check_numbers(self, phones: Sequence[str]) -> list[NumberCheck]:
        """Which of ``phones`` are on WhatsApp (``POST /chat/whatsappNumbers``)."""
        numbers = ["".join(ch for ch in p if ch.isdigit()) for p in phones]
        numbers = [n for n in dict.fromkeys(numbers) if n]
        if not numbers:
            return []
        answer = await self._call(
            "POST", f"/chat/whatsappNumbers/{self._path}", json={"numbers": numbers}
        )
        out = []
        for row in answer if isinstance(answer, list) else []:
            if isinstance(row, dict):
                out.append(
                    NumberCheck(
                        number=str_of(row.get("number")),
                        exists=row.get("exists") is True,
                        jid=str_of(row.get("jid")),
                        name=str_of(row.get("name")),
                        lid=str_of(row.get("lid")),
                    )
                )
        return out

    async def backfill(
        self,
        *,
        since: float | None = None,
        limit: int | None = None,
        page_size: int = 50,
        push: bool = True,
    ) -> list[ProviderEvent]:
        """Recent history from ``POST /chat/findMessages`` (newest first, paged), as events.

        Normalized exactly like webhook messages (same ids, so redelivery dedupes). Stops at
        ``limit`` messages or at the first page older than ``since`` (epoch seconds). With
        ``push`` the events also go to the sink, oldest first.
        """
        limit = self._backfill_limit if limit is None else limit
        records: list[dict[str, Any]] = []
        page = 1
        while len(records) < limit:
            found = await self._find_messages({}, page=page, size=page_size)
            batch = _records(found)
            records.extend(batch)
            pages = (
                num_of((dict_of((dict_of(found) or {}).get("messages")) or {}).get("pages")) or 0
            )
            oldest = min(
                (t for t in (message_timestamp(r.get("messageTimestamp")) for r in batch) if t),
                default=None,
            )
            if not batch or page >= pages or (since is not None and oldest and oldest < since):
                break
            page += 1
        records = records[:limit]
        if since is not None:
            records = [
                r for r in records if (message_timestamp(r.get("messageTimestamp")) or 0) >= since
            ]
        records.reverse()  # oldest first: previews end on the newest message
        events = normalize_records(self.account_id, records, own_phone=self._link.phone)
        if push and events:
            await self._push(events)
        return events

    async def _find_messages(self, where: dict[str, Any], *, page: int, size: int) -> Any:
        # chat.router.ts findMessages -> fetchMessages: {where, page, offset}; ordered by
        # messageTimestamp desc; answers {messages: {total, pages, currentPage, records}}.
        body = {"where": where, "page": page, "offset": size}
        return await self._call("POST", f"/chat/findMessages/{self._path}", json=body)

    async def _backfill_after_link(self) -> None:
        # The phone's history reaches Evolution some seconds after the link (messaging-history
        # .set): wait, then read what arrived.
        await self._sleep(self._backfill_delay)
        try:
            await self.backfill()
        except ProviderError as exc:
            log.warning("evolution %s: backfill failed: %s", self._account.instance, exc)

    # --- HTTP ---------------------------------------------------------------------------------

    @property
    def _path(self) -> str:
        return quote(self._account.instance, safe="")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        key: Secret | None = None,
        sending: bool = False,
    ) -> Any:
        secret = key or self._account.instance_token or self._account.api_key
        headers = {"apikey": secret.reveal()}
        try:
            response = await self._http.request(
                method, self._base + path, json=json, params=params, headers=headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(f"could not reach Evolution ({type(exc).__name__})") from None
        except (httpx.WriteError, httpx.WriteTimeout, httpx.UnsupportedProtocol) as exc:
            # The request was never fully written: Evolution cannot have acted on it.
            raise NotSent(f"the request did not reach Evolution ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            # Read timeout, dropped connection: the request may have been acted on.
            raise DeliveryUnknown(f"no answer from Evolution ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise error_for(response, sending=sending, account=self._account)
        try:
            return response.json() if response.content else None
        except ValueError:
            if sending:
                raise DeliveryUnknown("Evolution's answer was not JSON") from None
            raise ProviderError("Evolution's answer was not JSON") from None

    # --- helpers -------------------------------------------------------------------------------

    async def _push(self, events: Sequence[ProviderEvent]) -> None:
        if self._sink is not None and events and not self._closed:
            await self._sink(events)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return None
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("evolution background task failed", exc_info=task.exception())


# --- send helpers --------------------------------------------------------------------------------

_SEND_MEDIA: Final = frozenset(
    {
        MessageType.IMAGE,
        MessageType.DOCUMENT,
        MessageType.AUDIO,
        MessageType.VIDEO,
        MessageType.STICKER,
    }
)


# Media preparation failures that no retry can fix (sharp / ffmpeg / the source URL).
def _target(message: OutgoingMessage) -> str:
    phone = "".join(ch for ch in message.to_phone if ch.isdigit())
    if phone:
        return phone
    if message.chat_key.endswith(("@g.us", "@lid")):
        return message.chat_key
    digits = "".join(ch for ch in message.chat_key if ch.isdigit())
    if digits and digits == message.chat_key:
        return digits
    raise PermanentSendError("the message has no recipient")


def _filename(link: str, path: str, kind: MessageType) -> str:
    # prepareMediaMessage needs a fileName for a base64 document (it regex-matches the media
    # string otherwise, and fails).
    if path:
        return Path(path).name
    name = Path(urlsplit(link).path).name
    if name:
        return name
    return {MessageType.IMAGE: "image.jpg", MessageType.VIDEO: "video.mp4"}.get(kind, "document")


async def _media_source(link: str, path: str, kind: MessageType) -> str:
    """A URL Evolution fetches, or the local file's bytes in base64 (``media`` is either)."""
    if link:
        scheme = urlsplit(link).scheme
        if scheme not in ("http", "https"):
            raise PermanentSendError("a media link must be an http(s) address")
        return link
    file = Path(path)
    limit = MAX_DOCUMENT_BYTES if kind is MessageType.DOCUMENT else MAX_MEDIA_BYTES
    try:
        size = file.stat().st_size
    except OSError:
        raise PermanentSendError(f"the file {file.name!r} cannot be read") from None
    if not file.is_file():
        raise PermanentSendError(f"{file.name!r} is not a file")
    if size > limit:
        raise PermanentSendError(
            f"the file is larger than WhatsApp's {limit // (1024 * 1024)} MB limit"
        )
    try:
        data = await asyncio.to_thread(file.read_bytes)
    except OSError:
        raise PermanentSendError(f"the file {file.name!r} cannot be read") from None
    return base64.b64encode(data).decode("ascii")


def _records(found: Any) -> list[dict[str, Any]]:
    records = (dict_of((dict_of(found) or {}).get("messages")) or {}).get("records")
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def _qr_from(account_id: int, record: Mapping[str, Any]) -> QrEvent:
    # wa.QrCode: {pairingCode, code, base64, count}
    return QrEvent(
        account_id,
        qr_code=str_of(record.get("code")),
        pairing_code=str_of(record.get("pairingCode")),
    )
