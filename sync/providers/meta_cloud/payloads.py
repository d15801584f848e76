"""The JSON bodies Caixa sends to Meta ([OAS] ``Message``), built and checked with no I/O."""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from sync.domain.messages import MediaRef, OutgoingMessage, TemplateRef
from sync.domain.models import MessageType
from sync.providers.meta_cloud.errors import InvalidMessage, InvalidRecipient
from sync.providers.meta_cloud.limits import (
    BUTTON_ID_MAX,
    BUTTON_TITLE_MAX,
    BUTTONS_MAX,
    CAPTION_MAX,
    CAPTIONED,
    FOOTER_MAX,
    HEADER_MAX,
    INTERACTIVE_BODY_MAX,
    LIST_BUTTON_MAX,
    MEDIA_RULES,
    OPAQUE_DATA_MAX,
    ROW_DESCRIPTION_MAX,
    ROW_ID_MAX,
    ROW_TITLE_MAX,
    ROWS_MAX,
    SECTION_TITLE_MAX,
    SECTIONS_MAX,
    TEMPLATE_HEADER_PARAM_MAX,
    TEMPLATE_TEXT_PARAM_MAX,
    TEXT_MAX,
)
from sync.providers.meta_cloud.templates import LANGUAGE, TEMPLATE_NAME
from sync.providers.whatsapp_ids import ascii_digits

_PHONE_DIGITS = re.compile(r"[0-9]{6,15}")  # E.164: at most 15 digits
_GROUP_ID = re.compile(r"[A-Za-z0-9_\-=]{8,200}")


def build_payload(
    message: OutgoingMessage,
) -> tuple[dict[str, Any], tuple[MessageType, MediaRef, str] | None]:
    """The JSON body of the send ([OAS] ``Message``) and, for a local file, what to upload.

    Raises ``InvalidMessage``/``InvalidRecipient`` for anything Meta's limits refuse.
    """
    recipient_type, to = recipient(message)
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": recipient_type,
        "to": to,
        "type": message.type.value,
    }
    upload: tuple[MessageType, MediaRef, str] | None = None
    kind = message.type
    if kind is MessageType.TEXT:
        body = required_text(message.text, "text", TEXT_MAX)
        payload["text"] = {"body": body, "preview_url": bool(message.preview_url)}
    elif kind in MEDIA_RULES:
        media_obj, upload_mime = media_object(kind, message)
        payload[kind.value] = media_obj
        if upload_mime is not None:
            assert message.media is not None
            upload = (kind, message.media, upload_mime)
    elif kind is MessageType.TEMPLATE:
        if message.template is None:
            raise InvalidMessage("a template message needs its template")
        payload["template"] = template_object(message.template)
    elif kind is MessageType.INTERACTIVE:
        payload["interactive"] = interactive_object(message.interactive)
    elif kind is MessageType.REACTION:
        if not message.reply_to:
            raise InvalidMessage("a reaction needs the id of the message it reacts to")
        emoji = message.reaction or ""
        if len(emoji) > 16 or any(ch.isspace() for ch in emoji):
            raise InvalidMessage("a reaction is one emoji")
        # [OAS] "Send Reply with Reaction Message"; an empty emoji removes our reaction.
        payload["reaction"] = {"message_id": message.reply_to, "emoji": emoji}
    else:
        raise InvalidMessage(f"Meta messages of type {kind.value!r} are not sent from Caixa")
    if message.reply_to and kind is not MessageType.REACTION:
        payload["context"] = {"message_id": message.reply_to}
    if message.client_id:
        if len(message.client_id) > OPAQUE_DATA_MAX:
            raise InvalidMessage("the message id is longer than Meta echoes back")
        # Echoed in every status webhook of this message, which is how a send whose answer
        # was lost ("unknown") gets settled. [HOOKS] status: biz_opaque_callback_data.
        payload["biz_opaque_callback_data"] = message.client_id
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidMessage("the message holds values that cannot be sent as JSON") from None
    return payload, upload


def recipient(message: OutgoingMessage) -> tuple[str, str]:
    """``(recipient_type, to)``: a phone's digits, or a Groups API group id ([OAS] ``to``)."""
    digits = ascii_digits(message.to_phone)
    if message.to_phone.strip():
        stripped = re.sub(r"[\s()+\-.]", "", message.to_phone)
        if not stripped.isascii() or not stripped.isdigit() or not _PHONE_DIGITS.fullmatch(digits):
            raise InvalidRecipient("the recipient is not a phone number with country code")
        return "individual", digits
    key = message.chat_key.strip()
    if _PHONE_DIGITS.fullmatch(key):
        return "individual", key
    if key and not key.isdigit() and _GROUP_ID.fullmatch(key):
        return "group", key
    raise InvalidRecipient("the message has no recipient")


def required_text(value: object, what: str, limit: int) -> str:
    """``value`` as a non-empty text of at most ``limit`` characters, or ``InvalidMessage``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidMessage(f"the {what} is empty")
    if len(value) > limit:
        raise InvalidMessage(f"the {what} is longer than {limit} characters ({len(value)})")
    return value


def optional_text(value: object, what: str, limit: int) -> str:
    """``value`` as a text of at most ``limit`` characters ("" when absent)."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise InvalidMessage(f"the {what} must be text")
    if len(value) > limit:
        raise InvalidMessage(f"the {what} is longer than {limit} characters ({len(value)})")
    return value


def base_mime(mime: str) -> str:
    """A MIME type without parameters, lower case."""
    return mime.split(";", 1)[0].strip().lower()


def media_object(kind: MessageType, message: OutgoingMessage) -> tuple[dict[str, Any], str | None]:
    """The media object ([OAS] ``MediaObject``) and, for a local file, its MIME type to upload."""
    media = message.media
    if media is None or not (media.link or media.path):
        raise InvalidMessage(f"a {kind.value} message needs a link or a file")
    if media.link and media.path:
        raise InvalidMessage("give the media as a link or as a file, not both")
    mimes, max_size = MEDIA_RULES[kind]
    obj: dict[str, Any] = {}
    caption = message.text or ""
    if caption:
        if kind not in CAPTIONED:
            raise InvalidMessage(f"{kind.value} messages cannot have a caption")
        optional_text(caption, "caption", CAPTION_MAX)
        obj["caption"] = caption
    upload_mime: str | None = None
    if media.link:
        parts = urlsplit(media.link)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidMessage("a media link must be an http(s) address")
        if media.mime_type and base_mime(media.mime_type) not in mimes:
            raise InvalidMessage(f"{media.mime_type} cannot be sent as {kind.value}")
        obj["link"] = media.link
    else:
        path = Path(media.path)
        try:
            size = path.stat().st_size
        except OSError:
            raise InvalidMessage("the file to send does not exist") from None
        if not path.is_file():
            raise InvalidMessage("the file to send is not a regular file")
        mime = media.mime_type or (mimetypes.guess_type(path.name)[0] or "")
        if base_mime(mime) not in mimes:
            raise InvalidMessage(f"{mime or 'this file type'} cannot be sent as {kind.value}")
        if size == 0:
            raise InvalidMessage("the file to send is empty")
        if size > max_size:
            raise InvalidMessage(
                f"{kind.value} files may be at most {max_size // 1024} KB ({size // 1024} KB)"
            )
        upload_mime = mime
    if kind is MessageType.DOCUMENT:
        filename = media.filename or (Path(media.path).name if media.path else "")
        if filename:
            obj["filename"] = filename
    return obj, upload_mime


def template_param_text(value: object, what: str, limit: int) -> str:
    """A template parameter, within Meta's rules for them."""
    text = required_text(value, what, limit)
    # WORKAROUND(meta): template parameters may not hold new lines, tabs or more than 4
    # consecutive spaces (error 132018 "There's an issue with the parameters in your template").
    # https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
    if "\n" in text or "\t" in text or "     " in text:
        raise InvalidMessage(f"the {what} may not hold new lines, tabs or 5 spaces in a row")
    return text


def template_object(template: TemplateRef) -> dict[str, Any]:
    """[OAS] ``TemplateObject``: name, language code, and components (ours, or built)."""
    if not TEMPLATE_NAME.fullmatch(template.name or ""):
        raise InvalidMessage("a template name has lower-case letters, digits and '_'")
    if not LANGUAGE.fullmatch(template.language or ""):
        raise InvalidMessage("a template language is a code such as pt_BR or en")
    obj: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if template.components:
        components: list[dict[str, Any]] = []
        for component in cast("tuple[object, ...]", template.components):
            if not isinstance(component, Mapping) or not isinstance(component.get("type"), str):
                raise InvalidMessage("each template component is an object with a 'type'")
            components.append(dict(component))
        obj["components"] = components
        return obj
    components = []
    if template.header_parameters:
        components.append(
            {
                "type": "header",
                "parameters": [
                    {
                        "type": "text",
                        "text": template_param_text(
                            p, "header parameter", TEMPLATE_HEADER_PARAM_MAX
                        ),
                    }
                    for p in template.header_parameters
                ],
            }
        )
    if template.body_parameters:
        components.append(
            {
                "type": "body",
                "parameters": [
                    {
                        "type": "text",
                        "text": template_param_text(p, "body parameter", TEMPLATE_TEXT_PARAM_MAX),
                    }
                    for p in template.body_parameters
                ],
            }
        )
    if components:
        obj["components"] = components
    return obj


def interactive_object(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    """[OAS] ``InteractiveObject`` from the provider-neutral dict of ``OutgoingMessage``."""
    if not isinstance(spec, Mapping):
        raise InvalidMessage("an interactive message needs its buttons or list")
    kind = spec.get("type")
    obj: dict[str, Any] = {
        "type": kind,
        "body": {"text": required_text(spec.get("body"), "body", INTERACTIVE_BODY_MAX)},
    }
    header = optional_text(spec.get("header"), "header", HEADER_MAX)
    if header:
        obj["header"] = {"type": "text", "text": header}
    footer = optional_text(spec.get("footer"), "footer", FOOTER_MAX)
    if footer:
        obj["footer"] = {"text": footer}
    if kind == "button":
        buttons = spec.get("buttons")
        if not isinstance(buttons, list | tuple) or not buttons:
            raise InvalidMessage("reply buttons need at least one button")
        if len(buttons) > BUTTONS_MAX:
            raise InvalidMessage(f"at most {BUTTONS_MAX} reply buttons ({len(buttons)})")
        out: list[dict[str, Any]] = []
        for button in buttons:
            if not isinstance(button, Mapping):
                raise InvalidMessage("each button has an id and a title")
            button_id = required_text(button.get("id"), "button id", BUTTON_ID_MAX)
            if button_id != button_id.strip():
                raise InvalidMessage("a button id may not start or end with spaces")
            title = required_text(button.get("title"), "button title", BUTTON_TITLE_MAX)
            out.append({"type": "reply", "reply": {"id": button_id, "title": title}})
        ids = [b["reply"]["id"] for b in out]
        titles = [b["reply"]["title"] for b in out]
        if len(set(ids)) != len(ids) or len(set(titles)) != len(titles):
            raise InvalidMessage("button ids and titles must be unique")
        obj["action"] = {"buttons": out}
    elif kind == "list":
        button_text = required_text(spec.get("button"), "list button", LIST_BUTTON_MAX)
        sections = spec.get("sections")
        if not isinstance(sections, list | tuple) or not sections:
            raise InvalidMessage("a list needs at least one section")
        if len(sections) > SECTIONS_MAX:
            raise InvalidMessage(f"at most {SECTIONS_MAX} sections ({len(sections)})")
        out_sections = []
        row_ids: list[str] = []
        for section in sections:
            if not isinstance(section, Mapping):
                raise InvalidMessage("each section has a title and rows")
            title = optional_text(section.get("title"), "section title", SECTION_TITLE_MAX)
            if len(sections) > 1 and not title.strip():
                raise InvalidMessage("each section needs a title when there are several")
            rows = section.get("rows")
            if not isinstance(rows, list | tuple) or not rows:
                raise InvalidMessage("each section needs at least one row")
            out_rows = []
            for row in rows:
                if not isinstance(row, Mapping):
                    raise InvalidMessage("each row has an id and a title")
                row_id = required_text(row.get("id"), "row id", ROW_ID_MAX)
                out_row = {
                    "id": row_id,
                    "title": required_text(row.get("title"), "row title", ROW_TITLE_MAX),
                }
                description = optional_text(
                    row.get("description"), "row description", ROW_DESCRIPTION_MAX
                )
                if description:
                    out_row["description"] = description
                row_ids.append(row_id)
                out_rows.append(out_row)
            out_section: dict[str, Any] = {"rows": out_rows}
            if title:
                out_section["title"] = title
            out_sections.append(out_section)
        if len(row_ids) > ROWS_MAX:
            raise InvalidMessage(f"at most {ROWS_MAX} rows in all sections ({len(row_ids)})")
        if len(set(row_ids)) != len(row_ids):
            raise InvalidMessage("row ids must be unique")
        obj["action"] = {"button": button_text, "sections": out_sections}
    else:
        raise InvalidMessage("an interactive message is of type 'button' or 'list'")
    return obj
