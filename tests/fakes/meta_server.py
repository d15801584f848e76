"""A fake of Meta's Graph API for the WhatsApp Cloud API, plus signed webhook bodies.

Written from Meta's public sources, not from our adapter:

- ``facebook/openapi`` ``business-messaging-api_v23.0.yaml``: ``POST /{Version}/{Phone-Number-ID}/
  messages`` (request shapes, the ``{"messaging_product", "contacts": [{"input", "wa_id"}],
  "messages": [{"id"}]}`` answer, ``message_status`` for templates, ``{"success": true}`` for
  read receipts), ``POST .../media`` (multipart ``file``/``type``/``messaging_product`` →
  ``{"id"}``), ``GET /{Phone-Number-ID}`` (``fields``), ``GET /{Media-ID}`` (``url``,
  ``mime_type``, ``sha256``, ``file_size``, ``id``; "The URL is only valid for 5 minutes"),
  ``GraphAPIError`` and the ``/whatsapp/webhooks`` examples;
- the Cloud API error codes page (codes, titles, HTTP statuses, the ``error_data.details``
  shape): https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
- webhook signatures: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the payload>``, the
  payload being Meta's escaped-unicode JSON
  (https://developers.facebook.com/docs/graph-api/webhooks/getting-started).

``FakeMeta(...).app`` is a Starlette app; serve it with ``tests.fakes.loopback.serve``. Its state
(accepted messages, uploads, read receipts) is read from the test thread under a lock.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# code: (HTTP status, title) from the error codes page.
META_ERRORS: dict[int, tuple[int, str]] = {
    0: (401, "AuthException"),
    1: (400, "API Unknown"),
    2: (503, "API Service"),
    3: (500, "API Method"),
    4: (400, "API Too Many Calls"),
    10: (403, "Permission Denied"),
    33: (400, "Parameter value is not valid"),
    100: (400, "Invalid parameter"),
    104: (401, "An access token is required to request this resource"),
    190: (401, "Access token has expired"),
    200: (403, "API Permission"),
    368: (403, "Temporarily blocked for policies violations"),
    80007: (400, "Rate limit issues"),
    130429: (400, "Rate limit hit"),
    130472: (400, "User's number is part of an experiment"),
    130497: (403, "Business account is restricted from messaging users in this country"),
    131000: (500, "Something went wrong"),
    131005: (403, "Access denied"),
    131008: (400, "Required parameter is missing"),
    131009: (400, "Parameter value is not valid"),
    131016: (500, "Service unavailable"),
    131021: (400, "Recipient cannot be sender"),
    131026: (400, "Message undeliverable"),
    131030: (400, "Recipient phone number not in allowed list"),
    131031: (403, "Account has been locked"),
    131037: (
        400,
        "WhatsApp provided number needs display name approval before message can be sent",
    ),
    131042: (400, "Business eligibility payment issue"),
    131045: (500, "Incorrect certificate"),
    131047: (400, "Re-engagement message"),
    131048: (400, "Spam rate limit hit"),
    131049: (400, "Meta chose not to deliver"),
    131050: (400, "User has stopped receipt of marketing messages"),
    131051: (400, "Unsupported message type"),
    131052: (400, "Media download error"),
    131053: (400, "Media upload error"),
    131056: (400, "(Business Account, Consumer Account) pair rate limit hit"),
    131057: (500, "Account in maintenance mode"),
    132000: (400, "Number of parameters does not match the expected number of params"),
    132001: (404, "Template name does not exist in the translation"),
    132005: (400, "Translated text too long"),
    132007: (400, "Template Format Character Policy Violated"),
    132012: (400, "Parameter format does not match format in the created template"),
    132015: (500, "Template is Paused"),
    132016: (500, "Template is Disabled"),
    133010: (400, "Phone number Not Registered"),
}

# Details the error codes page gives for the codes the fake raises on its own.
META_DETAILS: dict[int, str] = {
    131026: "Unable to deliver message. Reasons can include: The recipient phone number is not a "
    "WhatsApp phone number.",
    131047: "Message failed to send because more than 24 hours have passed since the customer "
    "last replied to this number.",
    130429: "Cloud API message throughput has been reached.",
    80007: "The WhatsApp Business Account has reached its rate limit.",
    131056: "Too many messages sent from the sender phone number to the same recipient phone "
    "number in a short period of time.",
}

_MEDIA_LIMITS: dict[str, tuple[frozenset[str], int]] = {
    "audio": (
        frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
        16 * 1024 * 1024,
    ),
    "document": (
        frozenset(
            {
                "text/plain",
                "application/pdf",
                "application/msword",
                "application/vnd.ms-excel",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            }
        ),
        100 * 1024 * 1024,
    ),
    "image": (frozenset({"image/jpeg", "image/png"}), 5 * 1024 * 1024),
    "sticker": (frozenset({"image/webp"}), 500 * 1024),
    "video": (frozenset({"video/mp4", "video/3gpp", "video/3gp"}), 16 * 1024 * 1024),
}
_ALL_MIMES = frozenset().union(*(mimes for mimes, _ in _MEDIA_LIMITS.values()))
_SENDABLE = frozenset(
    {"text", "image", "audio", "video", "document", "sticker", "location", "contacts"}
    | {"template", "interactive", "reaction"}
)


def make_wamid() -> str:
    """A WhatsApp message id in Meta's shape (``wamid.`` + base64)."""
    return (
        "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(18)).decode()
    )


def graph_error(
    code: int,
    *,
    message: str | None = None,
    details: str | None = None,
    subcode: int | None = None,
    error_type: str = "OAuthException",
) -> dict[str, Any]:
    """Meta's error body: ``{"error": {message, type, code, error_subcode, error_data, ...}}``."""
    title = META_ERRORS.get(code, (400, "Error"))[1]
    error: dict[str, Any] = {
        "message": message if message is not None else f"(#{code}) {title}",
        "type": error_type,
        "code": code,
    }
    if details is None:
        details = META_DETAILS.get(code)
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    return {"error": error}


@dataclass
class _Failure:
    kind: str
    status: int = 400
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Upload:
    """A media file the fake holds (uploaded by a business, or sent by a customer)."""

    data: bytes
    mime_type: str
    filename: str = ""


@dataclass
class _IssuedUrl:
    media_id: str
    issued_at: float
    expired: bool = False


class FakeMeta:
    """One WhatsApp Business number on a fake Graph API.

    ``accepted`` lists every message the fake took (request bodies), ``read_receipts`` the
    message ids marked read, ``uploads`` the media. Tests script failures with ``arrange`` /
    ``fail_next`` and count requests with ``requests``.
    """

    def __init__(
        self,
        *,
        access_token: str,
        phone_number_id: str = "109876543210987",
        waba_id: str = "201234567890123",
        display_phone_number: str = "+55 11 4000-0000",
        verified_name: str = "Loja Teste",
        clock: Callable[[], float] = time.monotonic,
        media_url_ttl: float = 300.0,
        media_url_base: str = "",
        templates: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.waba_id = waba_id
        self.display_phone_number = display_phone_number
        self.verified_name = verified_name
        self._clock = clock
        self.media_url_ttl = media_url_ttl
        self.media_url_base = media_url_base  # "" = this server (like lookaside.fbsbx.com)
        # name -> (header text parameters, body text parameters) of approved templates.
        self.templates: dict[str, tuple[int, int]] = dict(
            templates or {"hello_world": (0, 0), "order_update": (1, 2)}
        )
        self.closed_windows: set[str] = set()
        self._lock = threading.Lock()
        self._failures: deque[_Failure] = deque()
        self._accepted: list[dict[str, Any]] = []
        self._ids: list[str] = []
        self.read_receipts: list[str] = []
        self.uploads: dict[str, Upload] = {}
        self._urls: dict[str, _IssuedUrl] = {}
        self.requests: list[tuple[str, str]] = []
        self.resolves: dict[str, int] = {}
        self.downloads = 0
        self._corrupt: set[str] = set()
        self._upload_failures: deque[_Failure] = deque()
        self._stop = threading.Event()
        self._generation = 0
        self.app = Starlette(
            routes=[
                Route("/whatsapp_business/attachments/", self._download, methods=["GET"]),
                Route("/{version}/{node}/messages", self._messages, methods=["POST"]),
                Route("/{version}/{node}/media", self._upload, methods=["POST"]),
                Route(
                    "/{version}/{node}/message_templates",
                    self._message_templates,
                    methods=["GET"],
                ),
                Route("/{version}/{node}", self._node, methods=["GET"]),
            ]
        )

    # -- scripting --------------------------------------------------------------------------

    def arrange(self, failure: str, *, retry_after: int | None = None) -> None:
        """Make the next send fail as ``failure`` (see the contract harness's names)."""
        if failure == "unauthorized":
            body = graph_error(
                190,
                message="Error validating access token: Session has expired on Friday, "
                "24-Jan-25 00:00:00 PST.",
                subcode=463,
            )
            self._push(_Failure("error", 401, body))
        elif failure == "rate_limited":
            headers = {}
            if retry_after is not None:
                # Graph's own hint: minutes until the business regains access.
                minutes = max(1, math.ceil(retry_after / 60))
                usage = {
                    self.waba_id: [
                        {
                            "type": "whatsapp",
                            "call_count": 100,
                            "total_cputime": 1,
                            "total_time": 1,
                            "estimated_time_to_regain_access": minutes,
                        }
                    ]
                }
                headers["x-business-use-case-usage"] = json.dumps(usage)
            self._push(_Failure("error", 429, graph_error(80007), headers))
        elif failure == "accept_then_hang":
            self._push(_Failure("hang"))
        elif failure == "invalid_recipient":
            self._push(_Failure("error", 400, graph_error(131026)))
        elif failure == "refused":
            raise ValueError("'refused' is arranged on the client side (nothing listens)")
        else:
            raise ValueError(f"unknown failure {failure!r}")

    def fail_next(
        self,
        code: int,
        *,
        status: int | None = None,
        details: str | None = None,
        message: str | None = None,
        subcode: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Make the next send answer Meta's error ``code`` (with its documented HTTP status)."""
        http_status = status if status is not None else META_ERRORS.get(code, (400, ""))[0]
        body = graph_error(code, message=message, details=details, subcode=subcode)
        self._push(_Failure("error", http_status, body, dict(headers or {})))

    def fail_next_raw(
        self, status: int, body: bytes = b"", content_type: str = "text/html"
    ) -> None:
        """Make the next send answer like a proxy in front of Graph (no Graph error object)."""
        self._push(_Failure("raw", status, {"raw": body.decode("latin-1"), "ct": content_type}))

    def fail_next_upload(self, code: int | None = None, *, hang: bool = False) -> None:
        """Make the next media upload answer Meta's error ``code``, or take it and hang."""
        if hang:
            failure = _Failure("hang")
        else:
            assert code is not None
            failure = _Failure("error", META_ERRORS.get(code, (400, ""))[0], graph_error(code))
        with self._lock:
            self._upload_failures.append(failure)

    def _push(self, failure: _Failure) -> None:
        with self._lock:
            self._failures.append(failure)

    def add_media(self, data: bytes, mime_type: str, filename: str = "") -> str:
        """Media a customer sent: returns its id (as a webhook would carry it)."""
        media_id = str(secrets.randbelow(10**15) + 10**15)
        with self._lock:
            self.uploads[media_id] = Upload(data, mime_type, filename)
        return media_id

    def corrupt_media(self, media_id: str) -> None:
        """Serve other bytes than announced for ``media_id`` (integrity checks)."""
        with self._lock:
            self._corrupt.add(media_id)

    def expire_media_urls(self) -> None:
        """Every media URL given so far stops working."""
        with self._lock:
            for issued in self._urls.values():
                issued.expired = True

    def close(self) -> None:
        """Release hanging requests."""
        self._stop.set()

    def reset(self) -> None:
        """Forget everything (for a fake shared by several tests); hanging requests end."""
        with self._lock:
            self._generation += 1
            self._failures.clear()
            self._upload_failures.clear()
            self._accepted.clear()
            self._ids.clear()
            self.read_receipts.clear()
            self.uploads.clear()
            self._urls.clear()
            self.requests.clear()
            self.resolves.clear()
            self.downloads = 0
            self._corrupt.clear()
            self.closed_windows.clear()

    async def _hang(self) -> Response:
        generation = self._generation
        deadline = time.monotonic() + 30
        while (
            not self._stop.is_set()
            and generation == self._generation
            and time.monotonic() < deadline
        ):
            await _sleep(0.02)
        return JSONResponse({"error": "hung"}, status_code=504)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """The message bodies the fake took, oldest first."""
        with self._lock:
            return list(self._accepted)

    @property
    def accepted_ids(self) -> list[str]:
        """The ids the fake gave the accepted messages."""
        with self._lock:
            return list(self._ids)

    def status_webhook(
        self, wamid: str, status: str, *, timestamp: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        """A status webhook body for an accepted message (recipient and opaque data filled in)."""
        with self._lock:
            sent = self._accepted[self._ids.index(wamid)]
        item = status_item(
            wamid,
            status,
            recipient_id=str(sent.get("to", "")),
            timestamp=timestamp,
            biz_opaque_callback_data=sent.get("biz_opaque_callback_data"),
            **extra,
        )
        return webhook_body(
            self.waba_id,
            [change(statuses_value(self.phone_number_id, [item], self.display_phone_number))],
        )

    # -- routes -----------------------------------------------------------------------------

    def _check_token(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header:
            return JSONResponse(graph_error(104), status_code=401)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.access_token.encode()
        ):
            body = graph_error(
                190, message="Invalid OAuth access token - Cannot parse access token"
            )
            return JSONResponse(body, status_code=401)
        return None

    def _unknown_node(self, node: str) -> Response:
        body = graph_error(
            100,
            message=f"Unsupported get request. Object with ID '{node}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            subcode=33,
            error_type="GraphMethodException",
        )
        return JSONResponse(body, status_code=400)

    def template_rows(self) -> list[dict[str, Any]]:
        """The WABA's templates as ``GET /{waba}/message_templates`` lists them: the approved
        ones of ``templates`` (texts made from their parameter counts), plus a rejected one and
        one with an image header, which a composer must not offer."""
        rows: list[dict[str, Any]] = []
        for name, (header, body) in sorted(self.templates.items()):
            components: list[dict[str, Any]] = []
            if header:
                components.append({"type": "HEADER", "format": "TEXT", "text": "Pedido {{1}}"})
            placeholders = " ".join(f"{{{{{i}}}}}" for i in range(1, body + 1))
            components.append({"type": "BODY", "text": f"Olá! Atualização: {placeholders}".strip()})
            components.append({"type": "FOOTER", "text": "Loja Teste"})
            rows.append(
                {
                    "name": name,
                    "language": "pt_BR",
                    "status": "APPROVED",
                    "category": "UTILITY",
                    "components": components,
                    "id": str(abs(hash(name)) % 10**15),
                }
            )
        rows.append(
            {
                "name": "old_promo",
                "language": "pt_BR",
                "status": "REJECTED",
                "category": "MARKETING",
                "components": [{"type": "BODY", "text": "Promoção!"}],
                "id": "1",
            }
        )
        rows.append(
            {
                "name": "photo_offer",
                "language": "pt_BR",
                "status": "APPROVED",
                "category": "MARKETING",
                "components": [
                    {"type": "HEADER", "format": "IMAGE"},
                    {"type": "BODY", "text": "Veja a oferta"},
                ],
                "id": "2",
            }
        )
        return rows

    async def _message_templates(self, request: Request) -> Response:
        # [OAS] GET /{Version}/{WABA-ID}/message_templates: {"data": [...], "paging": {"cursors":
        # {"before", "after"}, "next"}}; ``limit`` per page, ``after`` the cursor.
        with self._lock:
            self.requests.append(("GET", request.url.path))
        if (denied := self._check_token(request)) is not None:
            return denied
        if request.path_params["node"] != self.waba_id:
            return self._unknown_node(request.path_params["node"])
        rows = self.template_rows()
        try:
            limit = max(1, int(request.query_params.get("limit", "25")))
            start = int(request.query_params.get("after", "0") or 0)
        except ValueError:
            return JSONResponse(graph_error(100, message="(#100) Invalid parameter"), 400)
        page = rows[start : start + limit]
        body: dict[str, Any] = {"data": page, "paging": {"cursors": {"before": str(start)}}}
        if start + limit < len(rows):
            body["paging"]["cursors"]["after"] = str(start + limit)
            query = f"limit={limit}&after={start + limit}"
            body["paging"]["next"] = f"{str(request.url).split('?')[0]}?{query}"
        return JSONResponse(body)

    async def _node(self, request: Request) -> Response:
        node = request.path_params["node"]
        with self._lock:
            self.requests.append(("GET", request.url.path))
        if (denied := self._check_token(request)) is not None:
            return denied
        if node == self.phone_number_id:
            info = {
                "id": self.phone_number_id,
                "display_phone_number": self.display_phone_number,
                "verified_name": self.verified_name,
                "quality_rating": "GREEN",
                "name_status": "APPROVED",
                "code_verification_status": "VERIFIED",
            }
            wanted = request.query_params.get("fields")
            if wanted:
                names = [f.strip() for f in wanted.split(",") if f.strip()]
                unknown = [n for n in names if n not in info]
                if unknown:
                    return JSONResponse(
                        graph_error(
                            100, message=f"(#100) Tried accessing nonexisting field ({unknown[0]})"
                        ),
                        status_code=400,
                    )
                info = {k: v for k, v in info.items() if k in names or k == "id"}
            return JSONResponse(info)
        with self._lock:
            upload = self.uploads.get(node)
        if upload is None:
            return self._unknown_node(node)
        owner = request.query_params.get("phone_number_id")
        if owner is not None and owner != self.phone_number_id:
            return self._unknown_node(node)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._urls[token] = _IssuedUrl(node, self._clock())
            self.resolves[node] = self.resolves.get(node, 0) + 1
        base = self.media_url_base or str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{base}/whatsapp_business/attachments/?mid={node}&ext={int(time.time())}"
                f"&hash={token}",
                "mime_type": upload.mime_type,
                "sha256": hashlib.sha256(upload.data).hexdigest(),
                "file_size": str(len(upload.data)),
                "id": node,
            }
        )

    async def _download(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(("GET", request.url.path))
        if (denied := self._check_token(request)) is not None:
            return denied
        token = request.query_params.get("hash", "")
        with self._lock:
            issued = self._urls.get(token)
            valid = (
                issued is not None
                and not issued.expired
                and self._clock() - issued.issued_at < self.media_url_ttl
            )
            upload = self.uploads.get(issued.media_id) if issued is not None else None
            corrupt = issued is not None and issued.media_id in self._corrupt
            self.downloads += 1
        if not valid or upload is None:
            return Response(b"URL signature expired", status_code=404, media_type="text/plain")
        data = upload.data[::-1] + b"x" if corrupt else upload.data
        return Response(data, media_type=upload.mime_type)

    async def _upload(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(("POST", request.url.path))
        if (denied := self._check_token(request)) is not None:
            return denied
        if request.path_params["node"] != self.phone_number_id:
            return self._unknown_node(request.path_params["node"])
        with self._lock:
            failure = self._upload_failures.popleft() if self._upload_failures else None
        if failure is not None and failure.kind == "hang":
            await request.body()
            return await self._hang()
        if failure is not None:
            return JSONResponse(failure.body, failure.status)
        parts = _multipart(request.headers.get("content-type", ""), await request.body())
        if parts is None:
            return JSONResponse(graph_error(100, details="Expected multipart/form-data"), 400)
        fields = {name: value for name, (value, _, _) in parts.items() if isinstance(value, str)}
        if fields.get("messaging_product") != "whatsapp":
            return JSONResponse(
                graph_error(100, message="(#100) The parameter messaging_product is required."), 400
            )
        file = parts.get("file")
        if file is None or not isinstance(file[0], bytes):
            return JSONResponse(
                graph_error(100, message="(#100) The parameter file is required."), 400
            )
        data, content_type, filename = file
        mime = (fields.get("type") or content_type or "").split(";")[0].strip()
        if mime not in _ALL_MIMES:
            return JSONResponse(
                graph_error(131053, details=f"Unsupported file type {mime}"), status_code=400
            )
        limit = max(size for mimes, size in _MEDIA_LIMITS.values() if mime in mimes)
        if len(data) > limit:
            return JSONResponse(graph_error(131053, details="File too large"), status_code=400)
        media_id = str(secrets.randbelow(10**15) + 10**15)
        with self._lock:
            self.uploads[media_id] = Upload(data, mime, filename)
        return JSONResponse({"id": media_id})

    async def _messages(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(("POST", request.url.path))
        if (denied := self._check_token(request)) is not None:
            return denied
        if request.path_params["node"] != self.phone_number_id:
            return self._unknown_node(request.path_params["node"])
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return JSONResponse(graph_error(100, details="Invalid JSON in request body"), 400)
        if not isinstance(payload, dict):
            return JSONResponse(graph_error(100, details="Invalid JSON in request body"), 400)
        if payload.get("messaging_product") != "whatsapp":
            return JSONResponse(
                graph_error(100, message="(#100) The parameter messaging_product is required."), 400
            )
        if payload.get("status") == "read":
            message_id = payload.get("message_id")
            if not isinstance(message_id, str) or not message_id:
                return JSONResponse(
                    graph_error(100, message="(#100) The parameter message_id is required."), 400
                )
            with self._lock:
                self.read_receipts.append(message_id)
            return JSONResponse({"success": True})
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None and failure.kind == "error":
            return JSONResponse(failure.body, failure.status, headers=failure.headers)
        if failure is not None and failure.kind == "raw":
            assert failure.body is not None
            return Response(
                failure.body["raw"].encode("latin-1"), failure.status, media_type=failure.body["ct"]
            )
        problem = self._validate(payload)
        if problem is not None:
            return problem
        wamid = make_wamid()
        with self._lock:
            self._accepted.append(payload)
            self._ids.append(wamid)
        if failure is not None and failure.kind == "hang":
            return await self._hang()
        to = str(payload.get("to", ""))
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": re.sub(r"\D", "", to) or to}],
            "messages": [{"id": wamid}],
        }
        if payload.get("type") == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return JSONResponse(answer)

    def _validate(self, payload: dict[str, Any]) -> Response | None:
        """Meta's checks on a send, answered with its error codes (a subset that matters)."""

        def invalid(details: str, code: int = 131009) -> Response:
            return JSONResponse(graph_error(code, details=details), META_ERRORS[code][0])

        to = payload.get("to")
        if not isinstance(to, str) or not to:
            return invalid("The parameter to is required.", 100)
        kind = payload.get("type", "text")
        if kind not in _SENDABLE:
            return invalid(f"Unsupported message type {kind}", 131051)
        body = payload.get(kind)
        if not isinstance(body, dict) and kind != "contacts":
            return invalid(f"Param {kind} is required", 100)
        if payload.get("recipient_type", "individual") == "individual":
            digits = re.sub(r"\D", "", to)
            closed = to in self.closed_windows or digits in self.closed_windows
            if closed and kind != "template":
                return JSONResponse(graph_error(131047), 400)
        opaque = payload.get("biz_opaque_callback_data")
        if opaque is not None and (not isinstance(opaque, str) or len(opaque) > 512):
            return invalid("biz_opaque_callback_data must be a string of at most 512 characters")
        if kind == "text":
            text = body.get("body")
            if not isinstance(text, str) or not text:
                return invalid("Param text['body'] is required", 100)
            if len(text) > 4096:
                return invalid("Param text['body'] must be at most 4096 characters long.", 100)
        elif kind in _MEDIA_LIMITS:
            if ("id" in body) == ("link" in body):
                return invalid(f"Param {kind} must have either id or link")
            if "id" in body:
                with self._lock:
                    upload = self.uploads.get(str(body["id"]))
                if upload is None:
                    return invalid("Invalid media id", 131009)
                if upload.mime_type not in _MEDIA_LIMITS[kind][0]:
                    return invalid(f"{upload.mime_type} is not a supported {kind} type", 131053)
            caption = body.get("caption")
            if caption is not None:
                if kind in ("audio", "sticker"):
                    return invalid(f"Param {kind}['caption'] is not supported", 100)
                if not isinstance(caption, str) or len(caption) > 1024:
                    return invalid(f"Param {kind}['caption'] must be at most 1024 characters", 100)
        elif kind == "template":
            return self._validate_template(body, invalid)
        elif kind == "interactive":
            return _validate_interactive(body, invalid)
        elif kind == "reaction" and not (
            isinstance(body.get("message_id"), str) and body["message_id"]
        ):
            return invalid("Param reaction['message_id'] is required", 100)
        return None

    def _validate_template(
        self, body: dict[str, Any], invalid: Callable[[str, int], Response]
    ) -> Response | None:
        name = body.get("name")
        language = body.get("language")
        if not isinstance(name, str) or not isinstance(language, dict) or not language.get("code"):
            return invalid(
                "Param template['name'] and template['language']['code'] are required", 100
            )
        if name not in self.templates:
            return JSONResponse(
                graph_error(132001, details=f"template name ({name}) does not exist"), 404
            )
        want_header, want_body = self.templates[name]
        counts = {"header": 0, "body": 0}
        for component in body.get("components") or []:
            if isinstance(component, dict) and component.get("type") in counts:
                counts[component["type"]] = len(component.get("parameters") or [])
        if (counts["header"], counts["body"]) != (want_header, want_body):
            return JSONResponse(
                graph_error(
                    132000,
                    details=f"body: number of localizable_params ({counts['body']}) does not match "
                    f"the expected number of params ({want_body})",
                ),
                400,
            )
        return None


def _validate_interactive(
    body: dict[str, Any], invalid: Callable[[str, int], Response]
) -> Response | None:
    """The OpenAPI description's limits on ``InteractiveObject``."""
    text = (body.get("body") or {}).get("text") if isinstance(body.get("body"), dict) else None
    if not isinstance(text, str) or not text or len(text) > 1024:
        return invalid("Param interactive['body']['text'] is required (at most 1024)", 131009)
    action = body.get("action")
    if not isinstance(action, dict):
        return invalid("Param interactive['action'] is required", 100)
    if body.get("type") == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return invalid("Param interactive['action']['buttons'] must have 1 to 3 items", 131009)
        for button in buttons:
            reply = button.get("reply") if isinstance(button, dict) else None
            if not isinstance(reply, dict) or len(str(reply.get("title", ""))) > 20:
                return invalid(
                    "Button title length invalid. Should be at most 20 characters", 131009
                )
    elif body.get("type") == "list":
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
            return invalid(
                "Param interactive['action']['sections'] must have 1 to 10 items", 131009
            )
        rows = [r for s in sections if isinstance(s, dict) for r in (s.get("rows") or [])]
        if not 1 <= len(rows) <= 10:
            return invalid("Total row count exceeded. Should be at most 10", 131009)
    else:
        return invalid("Unsupported interactive type", 131009)
    return None


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[bytes | str, str, str]] | None:
    """``{name: (value, content type, filename)}`` of a multipart/form-data body (RFC 7578)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    out: dict[str, tuple[bytes | str, str, str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        payload = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            out[name] = (payload.decode("utf-8", "replace"), "", "")
        else:
            out[name] = (payload, part.get_content_type(), filename)
    return out


# --- webhook bodies ------------------------------------------------------------------------------


def signed_webhook(
    app_secret: str, body: Mapping[str, Any] | bytes
) -> tuple[bytes, dict[str, str]]:
    """The raw bytes and headers of a webhook POST as Meta makes it.

    Meta signs "an escaped unicode version of the payload" (``\\u00e1``, not UTF-8 bytes); the
    signature is ``sha256=`` and the lower-case hex HMAC-SHA256 of those bytes keyed with the
    app secret.
    """
    raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    signature = hmac.new(app_secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/json",
        "x-hub-signature-256": f"sha256={signature}",
        "user-agent": "facebookexternalua",
    }
    return raw, headers


def webhook_body(waba_id: str, changes: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``{"object": "whatsapp_business_account", "entry": [{"id", "changes"}]}``."""
    return {"object": "whatsapp_business_account", "entry": [entry(waba_id, changes)]}


def entry(waba_id: str, changes: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One ``entry`` (a WhatsApp Business Account) with its changes."""
    return {"id": waba_id, "changes": list(changes)}


def change(value: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    """One ``change`` of an entry."""
    return {"value": value, "field": field}


def messages_value(
    phone_number_id: str,
    messages: Iterable[dict[str, Any]],
    *,
    contacts: Iterable[tuple[str, str]] = (),
    display_phone_number: str = "551140000000",
) -> dict[str, Any]:
    """The ``value`` of a ``messages`` change with inbound messages and sender profiles."""
    return {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_phone_number,
            "phone_number_id": phone_number_id,
        },
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id} for wa_id, name in contacts],
        "messages": list(messages),
    }


def statuses_value(
    phone_number_id: str,
    statuses: Iterable[dict[str, Any]],
    display_phone_number: str = "551140000000",
) -> dict[str, Any]:
    """The ``value`` of a ``messages`` change with statuses."""
    return {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": display_phone_number,
            "phone_number_id": phone_number_id,
        },
        "statuses": list(statuses),
    }


def message_item(
    kind: str,
    content: Any,
    *,
    sender: str = "5511987654321",
    wamid: str | None = None,
    timestamp: int = 1749416383,
    context_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One inbound message: ``{"from", "id", "timestamp", "type", <type>: content}``."""
    item: dict[str, Any] = {
        "from": sender,
        "id": wamid or make_wamid(),
        "timestamp": str(timestamp),
        "type": kind,
    }
    if content is not None:
        item[kind] = content
    if context_id is not None:
        item["context"] = {"from": "551140000000", "id": context_id}
    item.update(extra)
    return item


def text_item(body: str, **kwargs: Any) -> dict[str, Any]:
    """An inbound text message."""
    return message_item("text", {"body": body}, **kwargs)


def status_item(
    wamid: str,
    status: str,
    *,
    recipient_id: str = "5511987654321",
    timestamp: int | None = None,
    errors: list[dict[str, Any]] | None = None,
    biz_opaque_callback_data: str | None = None,
    pricing: bool = True,
) -> dict[str, Any]:
    """One ``statuses`` item (the status webhook reference's shape)."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "recipient_id": recipient_id,
    }
    if biz_opaque_callback_data is not None:
        item["biz_opaque_callback_data"] = biz_opaque_callback_data
    if status in ("sent", "delivered", "read") and pricing:
        item["pricing"] = {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "service",
        }
    if errors is not None:
        item["errors"] = errors
    return item


def status_error(code: int, details: str | None = None) -> dict[str, Any]:
    """One ``errors[]`` item of a failed status: ``{code, title, message, error_data, href}``."""
    title = META_ERRORS.get(code, (400, "Error"))[1]
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {
            "details": details if details is not None else META_DETAILS.get(code, title)
        },
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }


def text_webhook(
    phone_number_id: str,
    body: str,
    *,
    waba_id: str = "201234567890123",
    sender: str = "5511987654321",
    name: str = "Maria Souza",
    wamid: str | None = None,
    timestamp: int = 1749416383,
) -> dict[str, Any]:
    """A whole webhook body with one inbound text message."""
    item = text_item(body, sender=sender, wamid=wamid, timestamp=timestamp)
    value = messages_value(phone_number_id, [item], contacts=[(sender, name)])
    return webhook_body(waba_id, [change(value)])


def status_webhook(
    phone_number_id: str,
    wamid: str,
    status: str,
    *,
    waba_id: str = "201234567890123",
    **kwargs: Any,
) -> dict[str, Any]:
    """A whole webhook body with one status."""
    value = statuses_value(phone_number_id, [status_item(wamid, status, **kwargs)])
    return webhook_body(waba_id, [change(value)])
