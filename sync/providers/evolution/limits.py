"""What Evolution and WhatsApp let one message hold, checked before anything is sent."""

from __future__ import annotations

from typing import Final

# WhatsApp's own limit on a text message; Evolution and Baileys publish none of their own.
MAX_TEXT: Final = 65_536
# src/main.ts: express.json({limit: '136mb'}) bounds a base64 body; base64 adds a third, so a
# local file above ~100 MB could never arrive. WhatsApp itself caps photos, videos, voice notes
# and stickers at 16 MB.
MAX_DOCUMENT_BYTES: Final = 100 * 1024 * 1024
MAX_MEDIA_BYTES: Final = 16 * 1024 * 1024
MAX_ID = 256  # longest message id accepted from a webhook (WhatsApp's are 16-40 characters)
