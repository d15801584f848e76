"""Meta's WhatsApp Cloud API: sends through the Graph API, webhooks parsed into normalized events.

Wire formats come from Meta's own sources, cited where each is used:

- [OAS] the OpenAPI description of the WhatsApp Business Platform, ``facebook/openapi``
  ``business-messaging-api_v23.0.yaml`` (paths ``/{Version}/{Phone-Number-ID}/messages``,
  ``/media``, ``/{Phone-Number-ID}``, ``/{Media-ID}``, ``/whatsapp/webhooks``; schemas
  ``InteractiveObject``, ``TemplateObject``, ``WebhookPayload``, ``Statuses``, ``GraphAPIError``);
- [ERR] https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes (codes,
  titles and HTTP statuses; "build your error handling around ``code`` and ``details``, not
  HTTP status or titles");
- [HOOKS] https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/
  reference/messages (per type: text, image, ..., ``status``, ``edit``, ``revoke``, ``group``),
  ``.../reference/smb_message_echoes`` and ``.../reference/account_update``;
- [MEDIA] https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media (supported
  types and sizes, upload form, media URLs valid for 5 minutes);
- [SIG] https://developers.facebook.com/docs/graph-api/webhooks/getting-started (GET
  verification with ``hub.*``; ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body
  keyed with the app secret>``).

The modules: ``provider`` declares the provider (its ``PROVIDER``: account fields, webhook route,
capabilities) and ``account`` its account; ``adapter`` sends (``payloads`` builds and checks the
bodies within ``limits``, ``templates`` reads the approved templates, ``media`` checks
downloads); ``errors`` maps each Graph error code to the adapter error it means; ``webhook``
(pure, no I/O) turns what Meta POSTs to the receiver into events; ``window`` says whether a
free-form reply is still allowed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync.providers.exports import lazy_exports
from sync.providers.meta_cloud.account import MetaAccount
from sync.providers.meta_cloud.provider import PROVIDER

if TYPE_CHECKING:
    from sync.providers.meta_cloud.adapter import MetaCloudAdapter
    from sync.providers.meta_cloud.errors import (
        AccountBlocked,
        AccountNotReady,
        GraphError,
        InvalidMessage,
        InvalidParameter,
        InvalidRecipient,
        MediaCorrupt,
        MediaRejected,
        MediaUnavailable,
        NumberNotRegistered,
        TemplateRejected,
        Undeliverable,
        WindowClosed,
        classify_error,
    )
    from sync.providers.meta_cloud.limits import (
        MEDIA_URL_TTL,
        TEXT_MAX,
    )
    from sync.providers.meta_cloud.media import FetchedMedia
    from sync.providers.meta_cloud.templates import TemplateInfo
    from sync.providers.meta_cloud.webhook import parse_webhook
    from sync.providers.meta_cloud.window import (
        CUSTOMER_SERVICE_WINDOW,
        ServiceWindow,
        service_window,
    )

# The declaration is loaded with the package; the rest on first use (``exports.py``).
__all__ = [
    "CUSTOMER_SERVICE_WINDOW",
    "MEDIA_URL_TTL",
    "PROVIDER",
    "TEXT_MAX",
    "AccountBlocked",
    "AccountNotReady",
    "FetchedMedia",
    "GraphError",
    "InvalidMessage",
    "InvalidParameter",
    "InvalidRecipient",
    "MediaCorrupt",
    "MediaRejected",
    "MediaUnavailable",
    "MetaAccount",
    "MetaCloudAdapter",
    "NumberNotRegistered",
    "ServiceWindow",
    "TemplateInfo",
    "TemplateRejected",
    "Undeliverable",
    "WindowClosed",
    "classify_error",
    "parse_webhook",
    "service_window",
]
__getattr__, __dir__ = lazy_exports(__name__, __all__)
