"""WhatsApp JIDs as Baileys decodes them (``src/WABinary/jid-utils.ts``), and bare phones."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from sync.domain.ids import chat_key_for_phone

# Baileys' jidDecode (src/WABinary/jid-utils.ts): ``user[_agent][:device]@server``. Users are
# digits (phone numbers and LIDs), groups ``<digits>`` or the old ``<phone>-<time>`` form,
# ``status@broadcast`` the status feed.
JID = re.compile(
    r"^(?P<user>[0-9]{1,40}(?:-[0-9]{1,20})?|status)(?:_(?P<agent>[0-9]{1,4}))?"
    r"(?::(?P<device>[0-9]{1,5}))?"
    r"@(?P<server>s\.whatsapp\.net|c\.us|g\.us|lid|hosted|hosted\.lid|broadcast|newsletter|bot)$"
)
# A bare phone number, as a gateway may pass ``from`` (digits, maybe formatted).
BARE_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{3,30}$")
PHONE_SERVERS: Final = frozenset({"s.whatsapp.net", "c.us", "hosted"})
LID_SERVERS: Final = frozenset({"lid", "hosted.lid"})


@dataclass(frozen=True, slots=True)
class Jid:
    """A decoded JID: its user (digits), its server, and the text it came as."""

    user: str
    server: str
    raw: str

    @property
    def normalized(self) -> str:
        """Without agent or device, as Baileys' ``jidNormalizedUser`` (c.us kept as it came)."""
        return f"{self.user}@{self.server}"

    @property
    def is_phone(self) -> bool:
        """Whether the user is a phone number."""
        return self.server in PHONE_SERVERS and "-" not in self.user and self.user != "status"

    @property
    def is_lid(self) -> bool:
        """Whether the user is a LID (whose digits are never a phone number)."""
        return self.server in LID_SERVERS

    @property
    def is_group(self) -> bool:
        """Whether the JID is a group's."""
        return self.server == "g.us"

    @property
    def ignored(self) -> bool:
        """Status updates, broadcast lists and channels are not conversations."""
        return self.server in ("broadcast", "newsletter")


def parse_jid(value: str) -> Jid | None:
    """A JID (or a bare phone number, as a gateway may pass it) decoded; None if neither."""
    text = value.strip()
    if "@" not in text:
        if BARE_PHONE.match(text):
            digits = chat_key_for_phone(text)
            if 5 <= len(digits) <= 20:
                return Jid(digits, "s.whatsapp.net", text)
        return None
    match = JID.match(text.lower())
    if match is None:
        return None
    return Jid(match["user"], match["server"], text)
