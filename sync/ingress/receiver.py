"""The webhook receiver: one small ASGI app where Meta, Evolution and the gateway call us.

Its routes are the ones each provider declares (``ProviderSpec.webhook_routes``; the desktop's
listener, ``caixa receive`` and the team server all serve this app), today::

    GET|POST /hooks/meta                          Meta Cloud API (GET: the subscription handshake)
    POST     /hooks/evolution/{instance}          Evolution API
    POST     /hooks/evolution/{instance}/{event}  ... with webhookByEvents (``/messages-upsert``)
    POST     /hooks/gateway/{instance}            the VPS gateway
    GET      /health                              liveness, for monitors and load balancers

Each call is read whole (up to ``max_body_bytes``), handed to the provider's pure
``parse_webhook`` with that provider's numbers, and its events to the sink, which returns only
once they are committed (``IngestQueue``). Only then is the answer 200: a provider that got a 200
forgets the call, so what it sent must already survive a crash.

Answers, chosen so that providers retry exactly what is worth retrying (all of them retry a 5xx,
so bad input never gets one):

- 200: stored (or nothing in it for us: an unknown phone number id, a status@broadcast);
  a batch whose envelope is right is stored even when some of its items are broken: the
  parser skips and logs each of those (a provider retries or drops a refused call whole, so
  one bad item would cost every good one beside it); Meta's GET handshake answers its
  ``hub.challenge`` as ``text/plain``;
- 401/403: bad or missing signature or token (``WebhookAuthError``); 400 (or the 4xx the parser
  chose): a body that is not what the provider sends; 413: a body over the limit (refused from
  ``Content-Length`` alone, or as soon as the stream passes it); 422: events the cache cannot
  hold (a value past its limits); 404/405: no such route/method. All carry a short JSON
  ``{"error": reason}`` and store nothing;
- 503: the cache could not take the write (disk full, database closed): the provider retries.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sync.domain.events import ProviderEvent, UnstorableEvents
from sync.ingress.webhook_request import build_request, parse_query, raw_headers
from sync.providers import registry
from sync.providers.base import WebhookParser, WebhookRejected
from sync.providers.directory import AccountDirectory

log = logging.getLogger(__name__)

# Meta batches up to 1,000 updates per POST (its docs); Evolution's messages.set history syncs
# are the largest bodies seen in practice, a few MB. 16 MiB leaves room for both and still stops
# a client from filling memory.
MAX_BODY_BYTES: Final = 16 * 1024 * 1024

EventSink = Callable[[Sequence[ProviderEvent]], Awaitable[object]]
Observer = Callable[[Sequence[ProviderEvent]], None]


class WebhookReceiver:
    """The receiver's routes over an account directory and a durable sink; ``app`` serves them.

    ``observers`` see each call's events after they are committed (in the desktop and the team
    server, the adapters' ``observe``, so they learn about connection changes and heartbeats).
    """

    def __init__(
        self,
        directory: AccountDirectory,
        sink: EventSink,
        *,
        observers: Sequence[Observer] = (),
        parsers: Mapping[str, WebhookParser] | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.directory = directory
        self._sink = sink
        self._observers: list[Observer] = list(observers)
        providers = registry.webhook_providers()
        # Resolved now: a provider module that cannot be imported is a start-up error, never a
        # 5xx at the first call.
        self._parsers: dict[str, WebhookParser] = (
            dict(parsers)
            if parsers is not None
            else {spec.kind: spec.load_webhook_parser() for spec in providers}
        )
        self._max_body_bytes = max_body_bytes
        routes = [
            Route(route.path, self._endpoint(spec.kind), methods=list(route.methods))
            for spec in providers
            for route in spec.webhook_routes
        ]
        routes.append(Route("/health", self._health, methods=["GET"]))
        self.app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})

    def __repr__(self) -> str:
        return f"WebhookReceiver({self.directory!r}, observers={len(self._observers)})"

    def add_observer(self, observer: Observer) -> Callable[[], None]:
        """See every committed call's events from now on; returns an unsubscribe function."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer)

    def _endpoint(self, provider: str) -> Callable[[Request], Awaitable[Response]]:
        """The handler of ``provider``'s routes: a route's ``{instance}`` and ``{event}`` are
        handed to its parser (``WebhookRequest.instance``, ``.event``)."""

        async def endpoint(request: Request) -> Response:
            params = request.path_params
            return await self._handle(
                provider,
                request,
                instance=params.get("instance", ""),
                event=params.get("event", ""),
            )

        return endpoint

    async def _health(self, request: Request) -> Response:
        return JSONResponse(health_payload())

    async def _handle(
        self, provider: str, request: Request, *, instance: str = "", event: str = ""
    ) -> Response:
        body = await self._read_body(request)
        if isinstance(body, Response):
            return body
        webhook = build_request(
            method=request.method,
            headers=raw_headers(request.scope["headers"]),
            body=body,
            query=parse_query(request.scope.get("query_string", b"").decode("latin-1")),
            instance=instance,
            event=event,
        )
        try:
            result = self._parsers[provider](webhook, self.directory.accounts(provider))
        except WebhookRejected as exc:
            log.info("%s webhook refused: %s", provider, exc.reason)
            status = exc.status_code if 400 <= exc.status_code < 500 else 400
            return _error(status, exc.reason)
        except Exception as exc:
            # The parser broke its contract (a bug outside any one item: parsers skip an item
            # whose reading fails and keep the rest). The call is refused as unreadable rather
            # than answered 5xx, which would have the provider retry it forever. Logged by type
            # and place only: the message could quote the body.
            log.error("%s webhook parser failed: %s", provider, _where(exc))
            return _error(400, "unreadable payload")
        if result.events:
            try:
                await self._sink(result.events)
            except UnstorableEvents as exc:
                # Valid to the parser, refused by the store (a 400-digit timestamp): asking
                # the provider to retry would fail the same way forever.
                log.warning("%s webhook not storable: %s", provider, exc)
                return _error(422, "events cannot be stored")
            except Exception as exc:
                log.error("%s webhook not stored (will be retried): %s", provider, _where(exc))
                return _error(503, "storage unavailable, retry later", retry_after=5)
            for observer in list(self._observers):
                try:
                    observer(result.events)
                except Exception as exc:
                    log.error("webhook observer failed: %s", _where(exc))
        if result.response_text:
            return PlainTextResponse(result.response_text)
        return JSONResponse({"status": "ok"})

    async def _read_body(self, request: Request) -> bytes | Response:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body_bytes:
            return _error(413, "body too large")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self._max_body_bytes:
                    return _error(413, "body too large")
                chunks.append(chunk)
        except ClientDisconnect:
            return _error(400, "client disconnected")
        return b"".join(chunks)


def _error(status: int, reason: str, *, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own 404 (no route) and 405 (route, other method, with its Allow header).
    assert isinstance(exc, HTTPException)
    reasons = {404: "no such route", 405: "method not allowed"}
    status = exc.status_code if 400 <= exc.status_code < 500 else 400
    return JSONResponse(
        {"error": reasons.get(status, "bad request")},
        status_code=status,
        headers=dict(exc.headers or {}),
    )


def _where(exc: BaseException) -> str:
    """An exception's type and innermost frame, without its message (which may hold data)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} at {last.filename}:{last.lineno} in {last.name}"


def health_payload() -> dict[str, Any]:
    """What ``GET /health`` answers: nothing about the numbers, only that it is up."""
    return {"status": "ok"}
