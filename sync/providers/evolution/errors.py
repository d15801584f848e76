"""Evolution's error answers, and the adapter error each one means.

Error bodies: ``src/main.ts`` (``{status, error, response: {message}}``) and
``src/exceptions/*.exception.ts``; which failures come before or after the hand-off to WhatsApp:
``src/api/integrations/channel/whatsapp/whatsapp.baileys.service.ts``.
"""

from __future__ import annotations

import json
from typing import Any, Final

import httpx

from sync.providers.base import (
    AuthError,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    ProviderError,
    RateLimited,
)
from sync.providers.evolution.account import EvolutionAccount
from sync.providers.http import json_object, json_value, retry_after
from sync.providers.json_fields import dict_of


def error_for(
    response: httpx.Response, *, sending: bool, account: EvolutionAccount | None = None
) -> ProviderError:
    """The adapter error an Evolution error answer means (``src/main.ts``: ``{status, error,
    response: {message}}``); ``sending`` when the call may have handed a message over.

    The account's secrets are masked out of the text (Evolution quotes headers in some errors).
    """
    status = response.status_code
    messages = error_messages(response)
    text = scrub("; ".join(message_text(m) for m in messages)[:300], account)
    if status == 429:
        return RateLimited(text or "rate limited", retry_after=retry_after(response, 30.0))
    if status in (401, 403):
        return AuthError(text or "Evolution refused the API key")
    if any(isinstance(m, dict) and m.get("exists") is False for m in messages):
        # sendMessageWithTyping: BadRequestException(isWA) for a number not on WhatsApp.
        return PermanentSendError("the number is not on WhatsApp")
    lowered = text.lower()
    if "rate-overlimit" in lowered:
        # WORKAROUND(evolution): WhatsApp's rate limit reaches us as a 400 "rate-overlimit"
        # (Baileys' Boom wrapped by sendMessageWithTyping's BadRequestException).
        # https://github.com/EvolutionAPI/evolution-api/blob/2.3.6/src/api/integrations/channel/whatsapp/whatsapp.baileys.service.ts
        return RateLimited("WhatsApp rate limit (rate-overlimit)", retry_after=60.0)
    if "connection closed" in lowered or "connection terminated" in lowered:
        # WORKAROUND(evolution): a closed socket shows up as 400 "Error: Connection Closed",
        # or 500 when whatsappNumber fails before the send; Baileys throws it before
        # writing (src/Socket/socket.ts, sendRawMessage: ``if (!ws.isOpen)``).
        # https://github.com/WhiskeySockets/Baileys/blob/master/src/Socket/socket.ts
        return NotSent("the WhatsApp connection is closed")
    if status in (400, 404, 413, 422):
        if sending and status == 400 and not is_validation(lowered):
            # sendMessageWithTyping wraps everything after the hand-off to WhatsApp in the
            # same try (database writes, webhooks): an unexpected 400 may follow a send.
            return DeliveryUnknown(text or "Evolution answered 400")
        return PermanentSendError(text or f"Evolution answered {status}")
    if status == 500 and evolution_shaped(response) and sending:
        # Evolution's own 500s on send routes come before the hand-off: whatsappNumber runs
        # outside sendMessageWithTyping's try, media preparation throws
        # InternalServerErrorException (whatsapp.baileys.service.ts).
        if any(p in lowered for p in BAD_MEDIA):
            return PermanentSendError(text)
        return NotSent(text or "Evolution failed before sending")
    if status == 503:
        return NotSent(text or "Evolution is unavailable")
    if sending:
        return DeliveryUnknown(text or f"Evolution answered {status}")
    return ProviderError(text or f"Evolution answered {status}")


# Media preparation failures that no retry can fix (sharp / ffmpeg / the source URL).
BAD_MEDIA: Final = (
    "unsupported image format",
    "failed to convert audio",
    "invalid media",
    "request failed with status code 404",
    "owned media must be a url or base64",
)
VALIDATION: Final = (
    "is not of a type",
    "requires property",
    "cannot be empty",
    "is required",
    "is not one of enum",
    "does not match pattern",
    "invalid",
    "not compatible",
    "not found",
    "does not exist",
    "is not connected",
)


def is_validation(lowered: str) -> bool:
    """Whether an error text is one of Evolution's request validation messages."""
    return any(marker in lowered for marker in VALIDATION)


def error_messages(response: httpx.Response) -> list[Any]:
    """The ``message`` (or list of them) of an Evolution error answer."""
    body = json_value(response)
    if body is None:
        return [response.text[:200]] if response.text else []
    record = dict_of(body) or {}
    inner = dict_of(record.get("response"))
    value = inner.get("message") if inner is not None else record.get("message")
    if value is None:
        value = record.get("error")
    if isinstance(value, list):
        return value[:20]
    return [value] if value is not None else []


def message_text(message: Any) -> str:
    """One error message as text (Evolution nests some in objects)."""
    if isinstance(message, str):
        return message
    if isinstance(message, dict):
        inner = message.get("message")
        if isinstance(inner, str):
            return inner
        if isinstance(message.get("number"), str) and message.get("exists") is False:
            return f"{message['number']} is not on WhatsApp"
    try:
        return json.dumps(message)[:200]
    except (TypeError, ValueError):
        return ""


def evolution_shaped(response: httpx.Response) -> bool:
    """Whether the answer is Evolution's own error body (not a proxy's page)."""
    body = json_object(response)
    return body is not None and "status" in body and "response" in body


def scrub(text: str, account: EvolutionAccount | None = None) -> str:
    """``text`` with the account's secrets masked (``***``)."""
    if account is not None:
        for secret in (account.api_key, account.instance_token, account.webhook_secret):
            if secret and secret.reveal() in text:
                text = text.replace(secret.reveal(), "***")
    return text


def why(exc: ProviderError) -> str:
    """What to show as the reason for ``exc``."""
    return exc.detail or exc.code
