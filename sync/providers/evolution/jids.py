"""WhatsApp JIDs as Baileys writes them (``src/WABinary/jid-utils.ts``).

``user[_agent][:device]@server``; phone-number servers are s.whatsapp.net, c.us and hosted;
LIDs live on lid and hosted.lid. A LID's digits are NOT a phone number and are never used as one.
"""

from __future__ import annotations

from typing import Final

PN_SERVERS: Final = frozenset({"s.whatsapp.net", "c.us", "hosted"})
LID_SERVERS: Final = frozenset({"lid", "hosted.lid"})


def split_jid(jid: str) -> tuple[str, str]:
    """``(user, server)`` of a JID, agent and device dropped; empty without ``@``."""
    user, at, server = jid.partition("@")
    if not at:
        return "", ""
    return user.split(":", 1)[0].split("_", 1)[0], server.lower()


def jid_user(jid: str) -> str:
    """The user part of a JID (digits of a phone or a LID), or ""."""
    return split_jid(jid)[0]


def phone_of(jid: str) -> str:
    """Digits of a phone-number JID; "" for a LID, a group or anything else."""
    user, server = split_jid(jid)
    if server in PN_SERVERS and user.isdigit() and user.isascii() and 5 <= len(user) <= 20:
        return user
    return ""


def lid_of(jid: str) -> str:
    """The LID JID (device stripped) of a LID; "" otherwise."""
    user, server = split_jid(jid)
    return f"{user}@{server}" if server in LID_SERVERS and user else ""


def is_group(jid: str) -> bool:
    """Whether the JID is a group's."""
    return jid.endswith("@g.us")


def ignored_chat(jid: str) -> bool:
    """Whether the JID is not a chat Caixa keeps (status, broadcast list, channel)."""
    # status@broadcast (statuses), broadcast lists and newsletters (channels) are not chats.
    return jid.endswith("@broadcast") or jid.endswith("@newsletter")
