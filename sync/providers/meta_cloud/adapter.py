"""The adapter of one number on Meta's WhatsApp Cloud API: sends, reads, templates and media."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from sync.domain.events import AccountRemovedEvent, ConnectionEvent, ProviderEvent
from sync.domain.messages import MediaRef, OutgoingMessage
from sync.domain.models import ConnectionState
from sync.providers.base import (
    AccountInfo,
    AuthError,
    Capabilities,
    DeliveryUnknown,
    EventObserver,
    EventSink,
    NotSent,
    RateLimited,
    SendResult,
)
from sync.providers.http import json_object
from sync.providers.meta_cloud.account import MetaAccount
from sync.providers.meta_cloud.errors import (
    InvalidMessage,
    MediaCorrupt,
    MediaUnavailable,
    classify_error,
    graph_error,
    raise_for_error,
)
from sync.providers.meta_cloud.limits import MEDIA_DOWNLOAD_MAX, MEDIA_URL_TTL
from sync.providers.meta_cloud.media import ExpiredUrl, FetchedMedia, ResolvedMedia, same_digest
from sync.providers.meta_cloud.payloads import build_payload
from sync.providers.meta_cloud.provider import PROVIDER
from sync.providers.meta_cloud.templates import TemplateInfo, template_info
from sync.providers.meta_cloud.values import clean, int_or_none
from sync.providers.whatsapp_ids import ascii_digits


class MetaCloudAdapter:
    """One number on Meta's WhatsApp Cloud API.

    Sends go to ``{base_url}/{api_version}/{phone_number_id}/messages`` with the account's access
    token as a Bearer token; inbound messages and statuses come by webhook (``parse_webhook``),
    so ``start`` makes no network call. Each send carries our message id in
    ``biz_opaque_callback_data``, which Meta echoes in every status webhook of that message.
    """

    kind: ClassVar[str] = PROVIDER.kind
    capabilities: ClassVar[Capabilities] = PROVIDER.capabilities

    def __init__(
        self,
        account: MetaAccount,
        http: httpx.AsyncClient,
        *,
        webhook_url: str = "",
        observer: EventObserver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Meta's webhook address is set in the app's dashboard, not through the API, and every
        # event reaches Caixa through the receiver: ``webhook_url`` and ``observer`` are unused
        # (see ``AdapterFactory``).
        del webhook_url, observer
        self._account = account
        self._http = http
        self._clock = clock
        self.account_id = account.account_id
        self._root = f"{account.base_url.rstrip('/')}/{account.api_version}"
        self._sink: EventSink | None = None
        self._started = False
        self._closed = False
        self._credentials_refused = False
        self._blocked = False
        self._media_urls: dict[str, ResolvedMedia] = {}

    def __repr__(self) -> str:
        name = self._account.name
        return f"MetaCloudAdapter(kind='meta', account_id={self.account_id}, name={name!r})"

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        """Remember where events go; Meta reaches us by webhook, so nothing to connect."""
        self._sink = sink
        self._started = True
        self._closed = False

    def ready_to_send(self) -> bool:
        """Started, not closed, and not known to be refused (bad token, blocked, removed)."""
        return (
            self._started
            and not self._closed
            and not self._credentials_refused
            and not self._blocked
        )

    async def aclose(self) -> None:
        """Stop; the HTTP client belongs to the caller and stays open."""
        self._closed = True
        self._media_urls.clear()

    def observe(self, events: Sequence[ProviderEvent]) -> None:
        """Follow this number's account-level webhooks: blocked, removed, reconnected."""
        for event in events:
            if getattr(event, "account_id", None) != self.account_id:
                continue
            if isinstance(event, AccountRemovedEvent):
                self._blocked = True
            elif isinstance(event, ConnectionEvent):
                self._blocked = event.state in (
                    ConnectionState.BLOCKED,
                    ConnectionState.NEEDS_REPAIR,
                )

    # -- account check --------------------------------------------------------------------------

    async def check(self) -> AccountInfo:
        """Read the phone number node: its display number and verified name.

        [OAS] ``GET /{Version}/{Phone-Number-ID}`` with ``fields``; a refused token (190...)
        raises ``AuthError``, as does an id this token cannot see (Graph's 100/33 "does not
        exist, cannot be loaded due to missing permissions").
        """
        url = f"{self._root}/{self._account.phone_number_id}"
        params = {"fields": "id,display_phone_number,verified_name,quality_rating,name_status"}
        response = await self._get(url, params=params)
        if response.status_code >= 400:
            exc = classify_error(graph_error(response), response)
            if isinstance(exc, AuthError):
                self._credentials_refused = True
            raise exc
        data = json_object(response)
        if data is None:
            raise DeliveryUnknown("unexpected answer to the phone number check")
        self._credentials_refused = False
        return AccountInfo(
            phone=ascii_digits(clean(data.get("display_phone_number"))),
            display_name=clean(data.get("verified_name")),
            state=ConnectionState.CONNECTED,
        )

    async def list_templates(self, *, max_pages: int = 20) -> list[TemplateInfo]:
        """The number's approved message templates, for the composer once the window closed.

        [OAS] ``GET /{Version}/{WABA-ID}/message_templates`` answers ``{"data": [{"name",
        "language", "status", "category", "components": [{"type": "HEADER", "format": "TEXT",
        "text"}, {"type": "BODY", "text"}, ...]}], "paging": {"next"}}``; pages are followed
        (at most ``max_pages``). Only ``APPROVED`` templates can be sent (131047/132001 else).
        """
        url: str | None = f"{self._root}/{self._account.waba_id}/message_templates"
        params: Mapping[str, str] | None = {
            "fields": "name,language,status,category,components",
            "limit": "100",
        }
        found: list[TemplateInfo] = []
        for _ in range(max_pages):
            if url is None:
                break
            response = await self._get(url, params=params)
            if response.status_code >= 400:
                raise classify_error(graph_error(response), response)
            data = json_object(response)
            if data is None:
                raise DeliveryUnknown("unexpected answer to the template list")
            items = data.get("data")
            for item in items if isinstance(items, list) else ():
                template = template_info(item)
                if template is not None:
                    found.append(template)
            paging = data.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            # The next page's URL carries its own query (cursor, fields): no params of ours.
            url = following if isinstance(following, str) and following.startswith("http") else None
            params = None
        return sorted(found, key=lambda t: (t.name, t.language))

    # -- sending --------------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Send one message; every limit is checked before any HTTP call.

        Media given by ``path`` is uploaded first (``POST /{phone_number_id}/media``); if that
        upload fails the message itself was certainly not sent (``NotSent``).
        """
        payload, upload = build_payload(message)
        if upload is not None:
            kind, media, mime = upload
            media_id = await self._upload(media, mime)
            body = dict(payload[kind.value])
            body["id"] = media_id
            payload[kind.value] = body
        response = await self._post_message(payload)
        data = json_object(response)
        messages = data.get("messages") if data else None
        first = messages[0] if isinstance(messages, list) and messages else None
        provider_id = clean(first.get("id")) if isinstance(first, dict) else ""
        if not provider_id:
            raise DeliveryUnknown("Meta answered without a message id")
        self._credentials_refused = False
        return SendResult(provider_id)

    async def mark_read(self, chat_key: str, provider_message_ids: Sequence[str]) -> None:
        """Mark these inbound messages read (blue ticks for the customer); ids oldest first.

        Meta: "marking a message as read will also mark earlier messages in the thread as
        read", so one call for the last id covers them all ([OAS] "Send typing indicator and
        read receipt": ``{"messaging_product", "status": "read", "message_id"}``).
        """
        ids = [i for i in provider_message_ids if i and i.strip()]
        if not ids:
            return
        payload = {"messaging_product": "whatsapp", "status": "read", "message_id": ids[-1]}
        await self._post_message(payload)

    async def fetch_media(
        self, media_id: str, *, expected_sha256: str = "", max_bytes: int = MEDIA_DOWNLOAD_MAX
    ) -> FetchedMedia:
        """Download inbound media by its id, within the URL's 5-minute lifetime.

        [OAS] ``GET /{Media-ID}`` gives ``url``, ``mime_type``, ``sha256`` and ``file_size``;
        the URL is then fetched with the same Bearer token. A URL older than its lifetime is
        resolved again before use, and a download refused as expired is resolved again once.
        The bytes are checked against the announced size and SHA-256 (and ``expected_sha256``,
        the base64 or hex digest from the webhook, when given).
        """
        if not re.fullmatch(r"[0-9A-Za-z_\-]{1,128}", media_id or ""):
            raise MediaUnavailable("not a Meta media id")
        resolved = self._media_urls.get(media_id)
        if resolved is not None and self._clock() - resolved.resolved_at >= MEDIA_URL_TTL:
            resolved = None
        fresh = resolved is None
        if resolved is None:
            resolved = await self._resolve_media(media_id)
        try:
            data = await self._download(resolved, max_bytes)
        except ExpiredUrl:
            if fresh:
                # Just resolved and already refused: resolving again would not help.
                self._media_urls.pop(media_id, None)
                raise MediaUnavailable("Meta refused a media URL it had just given") from None
            resolved = await self._resolve_media(media_id)
            try:
                data = await self._download(resolved, max_bytes)
            except ExpiredUrl:
                self._media_urls.pop(media_id, None)
                raise MediaUnavailable("the media URL was refused twice") from None
        digest = hashlib.sha256(data).hexdigest()
        for announced in (resolved.sha256, expected_sha256):
            if announced and not same_digest(announced, digest):
                raise MediaCorrupt("the downloaded media does not match its SHA-256")
        if resolved.file_size is not None and resolved.file_size != len(data):
            raise MediaCorrupt("the downloaded media does not have the announced size")
        return FetchedMedia(data=data, mime_type=resolved.mime_type, sha256=digest)

    # -- HTTP -----------------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._account.access_token.reveal()}"}

    async def _post_message(self, payload: dict[str, Any]) -> httpx.Response:
        url = f"{self._root}/{self._account.phone_number_id}/messages"
        content = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {**self._auth(), "Content-Type": "application/json"}
        response = await self._send_request("POST", url, content=content, headers=headers)
        if response.status_code >= 400:
            self._note_refusal(response)
        return response

    def _note_refusal(self, response: httpx.Response) -> None:
        try:
            raise_for_error(response)
        except AuthError:
            self._credentials_refused = True
            raise

    async def _send_request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One call that may hand a message over: transport failures mapped by whether the
        request could have reached Meta (connect/write → ``NotSent``; read → ``DeliveryUnknown``).
        """
        try:
            return await self._http.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(f"could not reach Meta: {type(exc).__name__}") from None
        except (httpx.WriteError, httpx.WriteTimeout) as exc:
            # The body never got to Meta whole; a JSON request cannot be acted on in part.
            raise NotSent(f"the request was not fully sent: {type(exc).__name__}") from None
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.ProxyError) as exc:
            raise NotSent(f"the request could not be made: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            # ReadTimeout, ReadError, RemoteProtocolError...: sent, answer lost.
            raise DeliveryUnknown(f"no answer from Meta: {type(exc).__name__}") from None

    async def _get(self, url: str, *, params: Mapping[str, str] | None = None) -> httpx.Response:
        """A read (check, media): safe to repeat, so every transport failure is ``NotSent``."""
        try:
            return await self._http.get(url, params=params, headers=self._auth())
        except httpx.HTTPError as exc:
            raise NotSent(f"could not reach Meta: {type(exc).__name__}") from None

    async def _upload(self, media: MediaRef, mime: str) -> str:
        """Upload a local file ([OAS] ``POST /{Phone-Number-ID}/media``, multipart with
        ``file``, ``type`` and ``messaging_product``) and return its media id."""
        path = Path(media.path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidMessage(f"the file could not be read: {exc.strerror or 'error'}") from None
        filename = media.filename or path.name
        url = f"{self._root}/{self._account.phone_number_id}/media"
        try:
            response = await self._send_request(
                "POST",
                url,
                data={"messaging_product": "whatsapp", "type": mime},
                files={"file": (filename, data, mime)},
                headers=self._auth(),
            )
        except DeliveryUnknown as exc:
            # An upload whose answer was lost: the message itself was never sent.
            raise NotSent(f"media upload: {exc.detail}") from None
        if response.status_code >= 400:
            try:
                self._note_refusal(response)
            except DeliveryUnknown as exc:
                raise NotSent(f"media upload: {exc.detail}") from None
        data_json = json_object(response)
        media_id = clean(data_json.get("id")) if data_json else ""
        if not media_id:
            raise NotSent("media upload answered without a media id")
        return media_id

    async def _resolve_media(self, media_id: str) -> ResolvedMedia:
        url = f"{self._root}/{media_id}"
        response = await self._get(url, params={"phone_number_id": self._account.phone_number_id})
        if response.status_code >= 400:
            error = graph_error(response)
            if error.code == 100:
                # "Object with ID ... does not exist": unknown, deleted or past its 7 days.
                raise MediaUnavailable(error.describe())
            exc = classify_error(error, response)
            if isinstance(exc, AuthError | RateLimited | NotSent):
                raise exc
            raise MediaUnavailable(error.describe())
        data = json_object(response)
        media_url = clean(data.get("url")) if data else ""
        if data is None or not media_url:
            raise MediaUnavailable("Meta gave no URL for this media")
        size = int_or_none(data.get("file_size"))
        resolved = ResolvedMedia(
            url=media_url,
            mime_type=clean(data.get("mime_type")),
            sha256=clean(data.get("sha256")),
            file_size=size if size is not None and size >= 0 else None,
            resolved_at=self._clock(),
        )
        # Forget URLs that have expired anyway, so the cache stays small.
        stale = [
            k
            for k, v in self._media_urls.items()
            if resolved.resolved_at - v.resolved_at > MEDIA_URL_TTL
        ]
        for key in stale:
            del self._media_urls[key]
        self._media_urls[media_id] = resolved
        return resolved

    async def _download(self, resolved: ResolvedMedia, max_bytes: int) -> bytes:
        if not self._may_send_token_to(resolved.url):
            raise MediaUnavailable("Meta's media URL is not an https address")
        if resolved.file_size is not None and resolved.file_size > max_bytes:
            raise MediaCorrupt(f"the media is larger than {max_bytes} bytes")
        limit = max_bytes if resolved.file_size is None else resolved.file_size
        try:
            async with self._http.stream("GET", resolved.url, headers=self._auth()) as response:
                if response.status_code in (401, 403, 404, 410):
                    # WORKAROUND(meta): an expired media URL is refused like a missing object;
                    # [OAS] Download Media: "Media URLs expire after 5 minutes and must be
                    # re-retrieved if expired".
                    raise ExpiredUrl()
                if response.status_code >= 400:
                    await response.aread()
                    exc = classify_error(graph_error(response), response)
                    if isinstance(exc, AuthError | RateLimited):
                        raise exc
                    raise NotSent(f"media download failed: HTTP {response.status_code}")
                chunks: list[bytes] = []
                total = 0
                async for chunk in response.aiter_bytes():
                    total += len(chunk)
                    if total > limit:
                        raise MediaCorrupt("the media is larger than announced")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise NotSent(f"media download failed: {type(exc).__name__}") from None

    def _may_send_token_to(self, url: str) -> bool:
        """The token goes only over https, or to the configured Graph origin itself."""
        try:
            parts = urlsplit(url)
            base = urlsplit(self._account.base_url)
        except ValueError:
            return False
        if parts.scheme == "https" and parts.netloc:
            return True
        return (parts.scheme, parts.netloc) == (base.scheme, base.netloc)
