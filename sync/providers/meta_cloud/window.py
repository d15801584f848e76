"""The 24-hour customer-service window: when a free-form reply may still go out."""

from __future__ import annotations

import math
from typing import Final, NamedTuple

CUSTOMER_SERVICE_WINDOW: Final = 24 * 60 * 60.0
"""Seconds a business may answer free-form after the customer's last message.

Meta: "customer service windows ... 24 hours ... when a WhatsApp user messages you"; outside it
only approved templates may be sent (error 131047).
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-messages#customer-service-windows
"""


class ServiceWindow(NamedTuple):
    """Whether free-form messages may be sent now, and when that stops (epoch seconds)."""

    is_open: bool
    closes_at: float | None


def service_window(last_inbound_at: float | None, now: float) -> ServiceWindow:
    """The customer-service window of a conversation whose customer last wrote at
    ``last_inbound_at`` (epoch seconds, ``None`` if never), seen at ``now``.

    Open for 24 hours after each message from the customer; closed when it never wrote. At
    exactly 24 hours it is closed (Meta counts 24 hours "since the recipient last replied").
    """
    if last_inbound_at is None or not math.isfinite(last_inbound_at):
        return ServiceWindow(False, None)
    closes_at = float(last_inbound_at) + CUSTOMER_SERVICE_WINDOW
    return ServiceWindow(now < closes_at, closes_at)
