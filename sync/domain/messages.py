"""Messages: as stored in the cache, and as handed to a provider to send.

Apart from ``sync.domain.models`` so that the desktop's first paint, which shows numbers and
conversations only, does not pay for defining these classes (a frozen dataclass costs most of a
millisecond to make, on the way to the first paint).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sync.domain.models import DeliveryStatus, Direction, MessageType
from sync.domain.text import clean_text


@dataclass(frozen=True, slots=True)
class Message:
    """One message as stored in the cache. ``timestamp_ms`` is epoch milliseconds, UTC."""

    seq: int
    id: str
    account_id: int
    conversation_id: int
    provider_message_id: str | None
    direction: Direction
    timestamp_ms: int
    type: MessageType
    text: str
    sender_name: str
    reply_to: str | None
    status: DeliveryStatus
    error: str | None
    media: dict[str, Any] | None = None
    edited: bool = False  # the sender changed the text
    revoked: bool = False  # the sender deleted it for everyone (the text is gone)
    reactions: str = ""  # the emoji reactions on it, one per sender, in no particular order


@dataclass(frozen=True, slots=True)
class MediaRef:
    """Media to send, by a public ``link`` the provider fetches or a local ``path`` to upload."""

    link: str = ""
    path: str = ""
    mime_type: str = ""
    filename: str = ""


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """An approved message template (what Meta requires once the 24-hour window has closed).

    ``body_parameters`` fill ``{{1}}``, ``{{2}}``... of the body, ``header_parameters`` those of a
    text header; ``components``, when given, is sent as is (Meta's own shape) and wins.
    """

    name: str
    language: str
    body_parameters: tuple[str, ...] = ()
    header_parameters: tuple[str, ...] = ()
    components: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """What the outbox hands to a provider adapter: one message, identified by our own id.

    ``type`` says which of the optional parts is used:

    - TEXT: ``text`` (``preview_url`` asks for a link preview);
    - IMAGE / DOCUMENT / AUDIO / VIDEO / STICKER: ``media``, with ``text`` as the caption;
    - TEMPLATE: ``template``;
    - INTERACTIVE: ``interactive``, provider-neutral: ``{"type": "button", "body": str,
      "header"?: str, "footer"?: str, "buttons": [{"id", "title"}]}`` or ``{"type": "list",
      "body": str, "header"?, "footer"?, "button": str, "sections": [{"title", "rows": [{"id",
      "title", "description"?}]}]}``;
    - REACTION: ``reaction`` (an emoji; empty removes ours) to the message ``reply_to``.

    ``reply_to`` (a provider message id) quotes that message for every other type.
    """

    client_id: str
    account_id: int
    to_phone: str
    chat_key: str
    type: MessageType
    text: str
    reply_to: str | None = None
    preview_url: bool = False
    media: MediaRef | None = None
    template: TemplateRef | None = None
    interactive: dict[str, Any] | None = None
    reaction: str | None = None


def template_spec(template: TemplateRef) -> dict[str, Any]:
    """A template as JSON keeps it: in a queued message's ``media``, and in a team's command.

    Its parameters are texts the agent typed: cleaned (``clean_text``) like every stored text.
    """
    return {
        "name": template.name,
        "language": template.language,
        "body_parameters": [clean_text(p) for p in template.body_parameters],
        "header_parameters": [clean_text(p) for p in template.header_parameters],
    }


def template_media(template: TemplateRef) -> str:
    """The ``media`` JSON of a queued template message (read back by ``template_of``)."""
    return json.dumps({"template": template_spec(template)}, ensure_ascii=False)


def template_of(media: str | None) -> TemplateRef | None:
    """The template a queued template message carries (``enqueue_template``), if any."""
    if not media:
        return None
    try:
        spec = json.loads(media).get("template")
        return TemplateRef(
            name=str(spec["name"]),
            language=str(spec["language"]),
            body_parameters=tuple(str(p) for p in spec.get("body_parameters", ())),
            header_parameters=tuple(str(p) for p in spec.get("header_parameters", ())),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
