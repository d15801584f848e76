"""How times, days and non-text messages read in the inbox (translated, in the user's locale)."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QDate, QDateTime, QLocale

from sync.domain.models import DeliveryStatus, MessageType

if TYPE_CHECKING:
    from sync.domain.messages import Message


def local_day(timestamp_ms: int) -> int:
    """The local calendar day of a timestamp, as an ordinal (cheap to compare and store)."""
    return dt.datetime.fromtimestamp(timestamp_ms / 1000).toordinal()


def today() -> int:
    """Today's local calendar day, as an ordinal."""
    return dt.date.today().toordinal()


def _qdate(ordinal: int) -> QDate:
    day = dt.date.fromordinal(ordinal)
    return QDate(day.year, day.month, day.day)


def day_label(ordinal: int, now: int | None = None) -> str:
    """A chat's day separator: "Today", "Yesterday", or the date in the user's format."""
    now = today() if now is None else now
    if ordinal == now:
        return QCoreApplication.translate("Formatting", "Today")
    if ordinal == now - 1:
        return QCoreApplication.translate("Formatting", "Yesterday")
    return QLocale().toString(_qdate(ordinal), QLocale.FormatType.LongFormat)


def clock(timestamp_ms: int) -> str:
    """The time of day of a message ("14:32" or "2:32 PM", as the locale writes it)."""
    moment = QDateTime.fromMSecsSinceEpoch(timestamp_ms)
    return QLocale().toString(moment.time(), QLocale.FormatType.ShortFormat)


def list_time(timestamp_ms: int, now: int | None = None) -> str:
    """The time shown beside a conversation: a clock today, then "Yesterday", weekday, date."""
    if timestamp_ms <= 0:
        return ""
    now = today() if now is None else now
    day = local_day(timestamp_ms)
    if day == now:
        return clock(timestamp_ms)
    if day == now - 1:
        return QCoreApplication.translate("Formatting", "Yesterday")
    locale = QLocale()
    if now - day < 7:
        return locale.dayName(_qdate(day).dayOfWeek(), QLocale.FormatType.LongFormat)
    return locale.toString(_qdate(day), QLocale.FormatType.ShortFormat)


def full_time(timestamp_ms: int) -> str:
    """Date and time together, for search hits and tooltips."""
    moment = QDateTime.fromMSecsSinceEpoch(timestamp_ms)
    return QLocale().toString(moment, QLocale.FormatType.ShortFormat)


def duration(seconds: float) -> str:
    """A voice note's length: "0:12", "1:05"."""
    total = max(0, round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def _media_value(media: dict[str, Any] | None, *keys: str) -> Any:
    if not media:
        return None
    for key in keys:
        value = media.get(key)
        if value not in (None, ""):
            return value
    return None


def message_body(message: Message) -> str:
    """What a bubble shows: the text, or a placeholder line for media the app doesn't render,
    marked when edited or deleted, with its reactions below."""
    if message.revoked:
        body = "🚫 " + QCoreApplication.translate("Formatting", "This message was deleted")
    else:
        body = body_for(message.type, message.text, message.media)
        if message.edited:
            body += " " + QCoreApplication.translate("Formatting", "(edited)")
    if message.reactions:
        body += "\n" + message.reactions
    return body


def body_for(type_: MessageType, text: str, media: dict[str, Any] | None) -> str:
    """``message_body`` from its parts (the search results use it too)."""
    caption = text.strip()
    if type_ is MessageType.TEXT:
        return text
    if type_ is MessageType.IMAGE:
        head = QCoreApplication.translate("Formatting", "📷 Photo")
    elif type_ is MessageType.VIDEO:
        head = QCoreApplication.translate("Formatting", "🎥 Video")
        seconds = _media_value(media, "duration_s", "seconds", "duration")
        if isinstance(seconds, int | float):
            head += " " + duration(seconds)
    elif type_ is MessageType.STICKER:
        head = QCoreApplication.translate("Formatting", "🏷 Sticker")
    elif type_ is MessageType.DOCUMENT:
        name = _media_value(media, "filename", "file_name", "name", "title")
        head = (
            "📄 " + str(name) if name else QCoreApplication.translate("Formatting", "📄 Document")
        )
        if name and caption == str(name):
            caption = ""
    elif type_ is MessageType.AUDIO:
        seconds = _media_value(media, "duration_s", "seconds", "duration")
        head = QCoreApplication.translate("Formatting", "🎤 Voice message")
        if isinstance(seconds, int | float):
            head += " " + duration(seconds)
    elif type_ is MessageType.LOCATION:
        head = QCoreApplication.translate("Formatting", "📍 Location")
        place = _media_value(media, "name", "address", "label")
        if place and not caption:
            caption = str(place)
    elif type_ is MessageType.CONTACTS:
        head = QCoreApplication.translate("Formatting", "👤 Contact")
        person = _media_value(media, "name", "display_name")
        if person and not caption:
            caption = str(person)
    elif type_ is MessageType.TEMPLATE:
        return caption or QCoreApplication.translate("Formatting", "Template message")
    elif type_ is MessageType.INTERACTIVE:
        return caption or QCoreApplication.translate("Formatting", "Interactive message")
    else:
        head = QCoreApplication.translate("Formatting", "Unsupported message")
    return f"{head}\n{caption}" if caption else head


# The store keeps "[audio]"-style previews for media without a caption
# (``sync.domain.models.preview_of``).
_TYPE_TOKEN = re.compile(r"^\[(\w+)\]$")


def preview_text(preview: str) -> str:
    """The last-message preview as the list shows it ("[audio]" → "🎤 Voice message")."""
    match = _TYPE_TOKEN.match(preview)
    if match is None:
        return preview.replace("\n", " ")
    try:
        type_ = MessageType(match.group(1))
    except ValueError:
        return preview
    return body_for(type_, "", None)


def failure_reason(error: str | None) -> str:
    """Why a message failed, in the user's language where the words are Caixa's own (the
    provider's own words are shown as they came)."""
    from sync.domain.outbox import GAVE_UP, UNCONFIRMED_REASON

    if not error:
        return QCoreApplication.translate("Formatting", "unknown reason")
    if error == UNCONFIRMED_REASON:
        return QCoreApplication.translate(
            "Formatting",
            "the provider never confirmed it, so it was not sent (send it again if needed)",
        )
    found = GAVE_UP.fullmatch(error)
    if found is not None:
        return (
            QCoreApplication.translate("Formatting", "Caixa gave up after {n} attempts ({last})")
            .replace("{n}", found.group(1))
            .replace("{last}", found.group(2))
        )
    return error


def status_tooltip(status: DeliveryStatus, error: str | None) -> str | None:
    """The tooltip of a message whose delivery needs explaining; None when the tick says it all."""
    if status is DeliveryStatus.FAILED:
        return QCoreApplication.translate("Formatting", "Not sent: {reason}").replace(
            "{reason}", failure_reason(error)
        )
    if status is DeliveryStatus.UNKNOWN:
        return QCoreApplication.translate("Formatting", "This message may not have been delivered")
    return None
