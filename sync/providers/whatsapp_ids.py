"""WhatsApp's identifiers as the providers write them: JIDs, LIDs, phone numbers, message ids.

A JID is Baileys' ``user[_agent][:device]@server`` (``src/WABinary/jid-utils.ts``,
``jidDecode``): users are digits (phone numbers and LIDs), groups ``<digits>`` or the old
``<phone>-<time>`` form, ``status@broadcast`` the status feed. Phone numbers live on
``s.whatsapp.net`` (``c.us`` in whatsapp-web.js, ``hosted`` for Cloud API numbers); LIDs, the
privacy ids WhatsApp shows instead of a number, on ``lid`` and ``hosted.lid``. A LID's digits
are NOT a phone number and are never used as one.
https://github.com/WhiskeySockets/Baileys/blob/master/src/WABinary/jid-utils.ts
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

PHONE_SERVERS: Final = frozenset({"s.whatsapp.net", "c.us", "hosted"})
LID_SERVERS: Final = frozenset({"lid", "hosted.lid"})
GROUP_SERVER: Final = "g.us"
# Status updates, broadcast lists and channels: not conversations.
NOT_CHAT_SERVERS: Final = frozenset({"broadcast", "newsletter"})

# A JID of one of WhatsApp's servers, well formed (what ``parse_jid`` accepts).
_KNOWN_JID = re.compile(
    r"(?P<user>[0-9]{1,40}(?:-[0-9]{1,20})?|status)(?:_(?P<agent>[0-9]{1,4}))?"
    r"(?::(?P<device>[0-9]{1,5}))?"
    r"@(?P<server>s\.whatsapp\.net|c\.us|g\.us|lid|hosted|hosted\.lid|broadcast|newsletter|bot)"
)
# A phone number written as text: digits, maybe a "+", spaces, brackets, dots and dashes.
_PHONE_TEXT = re.compile(r"\+?[0-9][0-9 ().\-]{3,40}")
# E.164 allows 15 digits with the country code; ids of up to 20 are kept as phones, as
# WhatsApp's own are; fewer than 5 is a short code, not a number anyone chats with.
_PHONE_LENGTHS: Final = range(5, 21)
# WhatsApp's message ids are 16-40 characters; a longer one is not WhatsApp's.
MAX_MESSAGE_ID: Final = 256


@dataclass(frozen=True, slots=True)
class Jid:
    """A decoded JID: its user (agent and device dropped), its server, and the text it was."""

    user: str
    server: str
    raw: str

    @property
    def normalized(self) -> str:
        """Without agent or device, as Baileys' ``jidNormalizedUser`` (c.us kept as it came)."""
        return f"{self.user}@{self.server}"

    @property
    def is_phone(self) -> bool:
        """Whether the user is a phone number (on a phone-number server)."""
        return self.server in PHONE_SERVERS and self.user.isascii() and self.user.isdigit()

    @property
    def phone(self) -> str:
        """The phone number's digits; "" for a LID, a group or a malformed user."""
        return self.user if self.is_phone and len(self.user) in _PHONE_LENGTHS else ""

    @property
    def is_lid(self) -> bool:
        """Whether the user is a LID (whose digits are never a phone number)."""
        return self.server in LID_SERVERS and bool(self.user)

    @property
    def is_group(self) -> bool:
        """Whether the JID is a group's."""
        return self.server == GROUP_SERVER

    @property
    def ignored(self) -> bool:
        """Status updates, broadcast lists and channels are not conversations."""
        return self.server in NOT_CHAT_SERVERS


def decode_jid(value: str) -> Jid | None:
    """``value`` split as Baileys' ``jidDecode`` does (any user, any server); None without "@"."""
    text = value.strip()
    user, at, server = text.partition("@")
    if not at:
        return None
    return Jid(user.split(":", 1)[0].split("_", 1)[0], server.lower(), text)


def parse_jid(value: str) -> Jid | None:
    """``value`` as a well-formed JID of one of WhatsApp's servers; None when it is not one
    (what a chat id from an unchecked source must be)."""
    text = value.strip()
    match = _KNOWN_JID.fullmatch(text.lower())
    return Jid(match["user"], match["server"], text) if match is not None else None


def phone_jid(value: str) -> Jid | None:
    """A phone number written as text (``+55 11 99999-0000``) as its JID; None if it is not one."""
    text = value.strip()
    digits = phone_digits(text)
    return Jid(digits, "s.whatsapp.net", text) if digits else None


def phone_digits(text: str) -> str:
    """The digits of a phone number written as text (``+1 650-555-1234``); "" when ``text`` is
    not one (a user id, a username, a short code)."""
    if not _PHONE_TEXT.fullmatch(text):
        return ""
    digits = ascii_digits(text)
    return digits if len(digits) in _PHONE_LENGTHS else ""


def ascii_digits(text: str) -> str:
    """The ASCII digits of ``text`` (``str.isdigit`` would take other scripts' digits too)."""
    return "".join(ch for ch in text if "0" <= ch <= "9")


def phone_of_jid(jid: str) -> str:
    """Digits of a phone-number JID; "" for a LID, a group or anything else."""
    decoded = decode_jid(jid)
    return decoded.phone if decoded is not None else ""


def lid_of_jid(jid: str) -> str:
    """The LID (device dropped) of a LID JID; "" otherwise."""
    decoded = decode_jid(jid)
    return decoded.normalized if decoded is not None and decoded.is_lid else ""


def jid_user(jid: str) -> str:
    """The user part of a JID (a phone's or a LID's digits), or ""."""
    decoded = decode_jid(jid)
    return decoded.user if decoded is not None else ""


def is_group_jid(jid: str) -> bool:
    """Whether ``jid`` is a group's."""
    decoded = decode_jid(jid)
    return decoded is not None and decoded.is_group


def is_ignored_chat(jid: str) -> bool:
    """Whether ``jid`` is not a conversation (the status feed, a broadcast list, a channel)."""
    decoded = decode_jid(jid)
    return decoded is not None and decoded.ignored


def jid_for_chat(chat_key: str) -> str:
    """The JID to address a chat by: its key when that is a JID, else the key's phone JID."""
    if "@" in chat_key:
        return chat_key
    return f"{ascii_digits(chat_key)}@s.whatsapp.net"


def message_id_of(value: object) -> str:
    """A WhatsApp message id (stripped), or "" when absent, empty or longer than any is."""
    text = value.strip() if isinstance(value, str) else ""
    return text if len(text) <= MAX_MESSAGE_ID else ""
