"""Meta's errors: the Graph API's error object, and the adapter error each code means ([ERR])."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

import httpx

from sync.providers.base import (
    AuthError,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    ProviderError,
    RateLimited,
)
from sync.providers.http import json_object, retry_after
from sync.providers.meta_cloud.values import clean, clip, int_or_none, is_number


class MetaSendMixin:
    """Carries Meta's numeric error code (``None`` for our own local checks)."""

    meta_code: int | None = None


class InvalidMessage(MetaSendMixin, PermanentSendError):
    """The message breaks one of Meta's published limits; refused locally, never sent."""

    code = "invalid_message"


class WindowClosed(MetaSendMixin, PermanentSendError):
    """More than 24 hours since the customer last wrote: only a template may be sent (131047)."""

    code = "window_closed"


class Undeliverable(MetaSendMixin, PermanentSendError):
    """Meta will not deliver to this recipient (not on WhatsApp, opted out, experiment...)."""

    code = "undeliverable"


class InvalidRecipient(MetaSendMixin, PermanentSendError):
    """The recipient cannot be messaged from this number (malformed, self, not allowed)."""

    code = "invalid_recipient"


class InvalidParameter(MetaSendMixin, PermanentSendError):
    """Meta refused a parameter of the request (100, 131008, 131009, unsupported type)."""

    code = "invalid_parameter"


class MediaRejected(MetaSendMixin, PermanentSendError):
    """Meta could not download or process the media (131052, 131053)."""

    code = "media_rejected"


class TemplateRejected(MetaSendMixin, PermanentSendError):
    """The template is missing, paused, disabled or its parameters do not fit (1320xx)."""

    code = "template_error"


class AccountBlocked(MetaSendMixin, PermanentSendError):
    """The business account is restricted or locked for a policy violation (368, 131031)."""

    code = "account_blocked"


class NumberNotRegistered(MetaSendMixin, PermanentSendError):
    """The business number is not registered on Cloud API, or was deleted (133010, 33)."""

    code = "not_registered"


class AccountNotReady(MetaSendMixin, PermanentSendError):
    """The account cannot send yet: payment, display name approval, certificate (131042...)."""

    code = "account_not_ready"


class MediaUnavailable(ProviderError):
    """The media id is unknown or expired (webhook media ids live 7 days, uploads 30)."""

    code = "media_unavailable"


class MediaCorrupt(ProviderError):
    """The downloaded media does not match the size or SHA-256 Meta announced."""

    code = "media_corrupt"


# [ERR] Codes by class. Ambiguous server-side failures (the request reached Meta, which may
# or may not have taken the message) are DeliveryUnknown: never resent blindly, settled by the
# status webhook through biz_opaque_callback_data.
# 190 comes with subcodes (463 expired, 460 password changed, 467 invalid session...): all mean
# a new token is needed, so the subcode only shows in the detail.
_AUTH_CODES: Final = frozenset({0, 3, 10, 102, 104, 190})
_AUTH_RANGE: Final = range(200, 300)  # 200-299 "API Permission"
# 1 "API Unknown", 2 "API Service" (downtime/overload), 131000 "Something went wrong", 131016
# "Service unavailable"; 131001/131002 are not on the page but sit in the same family.
_UNKNOWN_CODES: Final = frozenset({1, 2, 131000, 131001, 131002, 131016})
_NOT_SENT_CODES: Final = frozenset({131057})  # account in maintenance mode: nothing sent yet
# Meta's pair rate limit: too many messages to one customer; the number's others may go.
_PAIR_RATE_LIMIT = 131056
# Default waits (seconds) when Meta gives no hint. 131056: "1 message every 6 seconds" to the same
# user; 130429: Cloud API throughput (80 mps by default), a short pause; 80007/4: business/app
# rate limits, reset over the hour; 131048: quality-based spam limit, a long pause.
_RATE_LIMITS: Final[dict[int, float]] = {
    4: 60.0,
    17: 60.0,
    32: 60.0,
    613: 60.0,
    80007: 60.0,
    130429: 2.0,
    131048: 900.0,
    131056: 6.0,
}
_WINDOW_CODES: Final = frozenset({131047})
_UNDELIVERABLE_CODES: Final = frozenset({131026, 131049, 131050, 130472})
_RECIPIENT_CODES: Final = frozenset({131021, 131030})
_PARAMETER_CODES: Final = frozenset({100, 131008, 131009, 131051, 135000})
_MEDIA_CODES: Final = frozenset({131052, 131053})
_TEMPLATE_CODES: Final = frozenset(range(132000, 132100))
_BLOCKED_CODES: Final = frozenset({368, 130497, 131031})
_NOT_REGISTERED_CODES: Final = frozenset({33, 133010})
_NOT_READY_CODES: Final = frozenset({131005, 131037, 131042, 131045})


@dataclass(frozen=True, slots=True)
class GraphError:
    """The ``error`` object of a Graph API answer ([OAS] ``GraphAPIError``)."""

    code: int | None
    subcode: int | None
    message: str
    details: str
    http_status: int

    def describe(self) -> str:
        """One line for people: Meta's message (it starts with "(#code)") and its details."""
        text = self.message or (f"(#{self.code})" if self.code is not None else "")
        if self.details and self.details not in text:
            text = f"{text}: {self.details}" if text else self.details
        return clip(text or f"HTTP {self.http_status}", 400)


def graph_error(response: httpx.Response) -> GraphError:
    """The Graph API ``error`` object of an answer (empty fields when there is none)."""
    code: int | None = None
    subcode: int | None = None
    message = details = ""
    data = json_object(response)
    error = data.get("error") if data is not None else None
    if isinstance(error, dict):
        code = int_or_none(error.get("code"))
        subcode = int_or_none(error.get("error_subcode"))
        message = clean(error.get("message"))
        error_data = error.get("error_data")
        if isinstance(error_data, dict):
            details = clean(error_data.get("details"))
        elif isinstance(error_data, str):
            details = clean(error_data)
    return GraphError(code, subcode, message, details, response.status_code)


def _retry_after(response: httpx.Response, default: float) -> float:
    """Seconds to wait: ``Retry-After`` when given, else Meta's usage header, else ``default``
    (``sync.providers.http.retry_after`` reads the header and bounds the result)."""
    return retry_after(response, _usage_wait(response, default))


def _usage_wait(response: httpx.Response, default: float) -> float:
    """The wait Meta's usage header announces, when it is longer than ``default``.

    ``x-business-use-case-usage`` carries ``estimated_time_to_regain_access`` in minutes per
    business id ([OAS] component header ``x-business-use-case-usage``; Graph API rate limiting
    docs: https://developers.facebook.com/docs/graph-api/overview/rate-limiting).
    """
    minutes = 0.0
    usage = response.headers.get("x-business-use-case-usage", "")
    if usage:
        try:
            parsed = json.loads(usage)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict):
            for entries in parsed.values():
                for item in entries if isinstance(entries, list) else ():
                    if isinstance(item, dict):
                        value = item.get("estimated_time_to_regain_access")
                        if is_number(value):
                            minutes = max(minutes, float(value))
    return max(minutes * 60.0, default) if minutes > 0 else default


def raise_for_error(response: httpx.Response) -> None:
    """Turn a non-2xx Graph answer into the adapter error it means, by code then HTTP status."""
    error = graph_error(response)
    exc = classify_error(error, response)
    raise exc


def classify_error(error: GraphError, response: httpx.Response | None = None) -> ProviderError:
    """The adapter error for one Graph API error ([ERR]: by ``code``, not by HTTP status)."""
    code = error.code
    detail = error.describe()
    exc: ProviderError
    if code is not None:
        if code in _AUTH_CODES or code in _AUTH_RANGE:
            exc = AuthError(detail)
        elif code == 100 and error.subcode == 33:
            # "Object with ID ... does not exist, cannot be loaded due to missing permissions":
            # the phone number id is wrong or this token may not use it.
            exc = AuthError(detail)
        elif code in _RATE_LIMITS:
            default = _RATE_LIMITS[code]
            exc = RateLimited(
                detail,
                retry_after=_retry_after(response, default) if response else default,
                per_recipient=code == _PAIR_RATE_LIMIT,
            )
        elif code in _UNKNOWN_CODES:
            exc = DeliveryUnknown(detail)
        elif code in _NOT_SENT_CODES:
            exc = NotSent(detail)
        elif error.http_status >= 500 and not _is_known(code):
            # A code this table does not know, answered as a server error: the message may
            # have been taken, so it is not marked failed (the status webhook will tell).
            exc = DeliveryUnknown(detail)
        else:
            exc = _permanent_for(code, f"{error.message} {error.details}", detail)
        _set_code(exc, code)
        return exc
    status = error.http_status
    if status == 401:
        return AuthError(detail)
    if status == 429:
        return RateLimited(detail, retry_after=_retry_after(response, 30.0) if response else 30.0)
    if status >= 500:
        # No Graph error object: a proxy or load balancer answered; the request may have been
        # taken behind it.
        return DeliveryUnknown(detail)
    return PermanentSendError(detail)


_KNOWN_PERMANENT: Final = (
    _WINDOW_CODES
    | _UNDELIVERABLE_CODES
    | _RECIPIENT_CODES
    | _PARAMETER_CODES
    | _MEDIA_CODES
    | _TEMPLATE_CODES
    | _BLOCKED_CODES
    | _NOT_REGISTERED_CODES
    | _NOT_READY_CODES
)

# [ERR] "build your error handling around code and details": the generic parameter codes
# (100, 131008, 131009) say what was wrong only in their details.
_DETAIL_HINTS: Final[tuple[tuple[re.Pattern[str], type[PermanentSendError]], ...]] = (
    (re.compile(r"24 hours|re-?engagement|customer service window", re.I), WindowClosed),
    (re.compile(r"template", re.I), TemplateRejected),
    (re.compile(r"\bmedia\b|\blink\b|\bupload|\bdownload", re.I), MediaRejected),
    (re.compile(r"recipient|\bwa_?id\b|param(eter)? to\b|'to'", re.I), InvalidRecipient),
)


def _is_known(code: int) -> bool:
    return (
        code in _KNOWN_PERMANENT
        or code in _AUTH_CODES
        or code in _AUTH_RANGE
        or code in _RATE_LIMITS
        or code in _UNKNOWN_CODES
        or code in _NOT_SENT_CODES
    )


def _permanent_for(code: int, text: str, detail: str) -> PermanentSendError:
    """The permanent refusal for ``code``; ``text`` (message and details) refines 100/131008/9."""
    cls: type[PermanentSendError]
    if code in _WINDOW_CODES:
        cls = WindowClosed
    elif code in _UNDELIVERABLE_CODES:
        cls = Undeliverable
    elif code in _RECIPIENT_CODES:
        cls = InvalidRecipient
    elif code in _PARAMETER_CODES:
        cls = InvalidParameter
    elif code in _MEDIA_CODES:
        cls = MediaRejected
    elif code in _TEMPLATE_CODES:
        cls = TemplateRejected
    elif code in _BLOCKED_CODES:
        cls = AccountBlocked
    elif code in _NOT_REGISTERED_CODES:
        cls = NumberNotRegistered
    elif code in _NOT_READY_CODES:
        cls = AccountNotReady
    else:
        cls = PermanentSendError
    if cls is InvalidParameter and code != 131051:
        for pattern, hinted in _DETAIL_HINTS:
            if pattern.search(text):
                cls = hinted
                break
    return cls(detail)


def _set_code(exc: ProviderError, code: int) -> None:
    # Every adapter error can say which Meta code it came from (the UI may show it).
    exc.meta_code = code  # type: ignore[attr-defined]
