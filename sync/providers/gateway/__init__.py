"""The self-hosted VPS gateway: a small Baileys script of the design, one number per instance.

There is no public repository for the gateway itself: its API is the one the design states
(issue 3), its events are named after whatsapp-web.js's client events, and what its socket does
is what Baileys does. The sources this module reads for every wire detail:

- whatsapp-web.js (``pedroslopez/whatsapp-web.js``): ``src/util/Constants.js`` (``Events``:
  ``qr``, ``authenticated``, ``auth_failure``, ``ready``, ``message``, ``disconnected``;
  ``WAState``), ``src/Client.js`` (``disconnected`` carries ``'LOGOUT'`` when the phone unlinks
  the device, a ``WAState`` such as ``CONFLICT``/``UNPAIRED``/``TOS_BLOCK`` when the page state
  leaves the accepted ones, or ``'Max qrcode retries reached'``; ``auth_failure`` carries a
  message; ``ready`` is emitted once ``client.info.wid`` is known), ``src/structures/Message.js``
  (``id``, ``from``, ``to``, ``author``, ``body``, ``type``, ``timestamp`` in seconds, ``fromMe``).
- Baileys (``WhiskeySockets/Baileys``): ``src/Types/index.ts`` (``DisconnectReason``: 401
  loggedOut, 403 forbidden, 408 connectionLost/timedOut, 411 multideviceMismatch, 428
  connectionClosed, 440 connectionReplaced, 500 badSession, 503 unavailableService, 515
  restartRequired), ``src/WABinary/jid-utils.ts`` (JIDs ``user[_agent][:device]@server`` with
  servers ``s.whatsapp.net``/``c.us`` (phone numbers), ``lid``, ``g.us`` (groups),
  ``broadcast`` (``status@broadcast``), ``newsletter``, ``hosted``/``hosted.lid``),
  ``src/Utils/messages.ts`` (``normalizeMessageContent``: the wrappers ephemeral/view-once/
  document-with-caption/edited) and ``WAProto/WAProto.proto`` (message content fields,
  ``ProtocolMessage.Type`` REVOKE = 0, MESSAGE_EDIT = 14).

``provider.py`` declares the provider (``PROVIDER``), ``account.py`` its account. The gateway
API (issue 3) is in ``adapter.py``. The gateway POSTs events to the receiver
(``/hooks/gateway/{instance}``) as ``{event, instanceId, data, timestamp}`` with
``Authorization: Bearer <instance token>``; ``webhook.parse_webhook`` turns them into normalized
events, and ``GatewayAdapter.observe`` hands the connection ones to ``connection.GatewayLink``
(readiness, reconnects).

Where the design is silent this module accepts every reasonable shape (a field's aliases, ids as
strings or whatsapp-web.js objects, timestamps in seconds, milliseconds or ISO 8601) and says why
at each place; where it matters (tokens, which instance a call is for) it is strict.

Decisions the design leaves open, made here:

- Webhook tokens: the instance token, or the same account's master token (which controls every
  instance anyway, and is all a number added with the master token alone knows). The body's
  ``instanceId`` must be the path's (403 otherwise).
- A ``heartbeat`` becomes a ``ConnectionEvent`` (CONNECTED, reason ``HEARTBEAT_REASON``): a sign
  of life with no new event kind. One whose data says the socket is down becomes that state.
- ``disconnected``: a logout, an unlinked device, an exhausted QR, Baileys 401/402/406/500 need a
  re-pair (NEEDS_REPAIR); a ban (``TOS_BLOCK``, Baileys 403) is BLOCKED, also needing the user;
  everything else, ``CONFLICT``/440 included (the session is still valid), is OFFLINE and
  reconnected with backoff.
- One event per call: ``data`` is one object (the design's ``forwardToEngines`` posts each
  message as it comes), so a call whose ``data`` cannot be read is refused whole (400), and a
  parser bug on it too. There is no batch here in which one broken item could be skipped and
  its neighbours kept, as Meta's entries and Evolution's lists are; a ``data`` list is not the
  gateway's format and is refused like any other wrong shape.
- ``request_pairing`` on an instance already linked returns an empty ``QrEvent``.
- An instance the adapter creates with the master token comes back with its own token
  (``issued_instance_token``), for the caller to keep with the number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync.providers.exports import lazy_exports
from sync.providers.gateway.account import GatewayAccount
from sync.providers.gateway.provider import PROVIDER

if TYPE_CHECKING:
    from sync.providers.gateway.adapter import QR_POLL_EVERY_S, QR_POLL_TRIES, GatewayAdapter
    from sync.providers.gateway.connection import (
        HEARTBEAT_MAX_AGE_S,
        HEARTBEAT_REASON,
        LIVENESS_PERIOD_S,
        OPEN_SETTLE_S,
        RECONNECT_BASE_S,
        RECONNECT_CAP_S,
        RECONNECT_WAIT_S,
        STABLE_OPEN_S,
        GatewayLink,
    )
    from sync.providers.gateway.errors import DEFAULT_RETRY_AFTER_S
    from sync.providers.gateway.limits import MAX_TEXT_LENGTH
    from sync.providers.gateway.webhook import parse_webhook

# The declaration is loaded with the package; the rest on first use (``exports.py``).
__all__ = [
    "DEFAULT_RETRY_AFTER_S",
    "HEARTBEAT_MAX_AGE_S",
    "HEARTBEAT_REASON",
    "LIVENESS_PERIOD_S",
    "MAX_TEXT_LENGTH",
    "OPEN_SETTLE_S",
    "PROVIDER",
    "QR_POLL_EVERY_S",
    "QR_POLL_TRIES",
    "RECONNECT_BASE_S",
    "RECONNECT_CAP_S",
    "RECONNECT_WAIT_S",
    "STABLE_OPEN_S",
    "GatewayAccount",
    "GatewayAdapter",
    "GatewayLink",
    "parse_webhook",
]
__getattr__, __dir__ = lazy_exports(__name__, __all__)
