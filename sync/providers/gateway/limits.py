"""How long the gateway's texts, ids and fields may be, checked before sending or storing."""

from __future__ import annotations

from typing import Final

# WhatsApp clients cut a text at 65,536 characters; neither Baileys nor the gateway documents a
# lower limit, so longer texts are refused here, before any call.
MAX_TEXT_LENGTH: Final = 65536
MAX_ID = 512
MAX_FIELD_TEXT = 200_000
MAX_QR_IMAGE = 1_000_000
