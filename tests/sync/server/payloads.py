"""Webhook calls as the three providers make them, for the receiver's tests and benchmark.

Shapes, from the providers' public sources:

- Meta: the ``whatsapp_business_account`` notification (``object``, ``entry[].changes[].value``
  with ``metadata.phone_number_id``, ``contacts``, ``messages``), signed with
  ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body under the app secret>``
  (developers.facebook.com/docs/graph-api/webhooks/getting-started, "Validating payloads";
  facebook/openapi business-messaging-api webhook schemas).
- Evolution API v2: ``{event, instance, data, destination, date_time, sender, server_url,
  apikey}`` (EvolutionAPI/evolution-api, src/api/integrations/event/webhook), with the
  ``x-caixa-webhook-token`` header Caixa sets through the instance's webhook headers.
- The VPS gateway: ``{event, instanceId, data, timestamp}`` with ``Authorization: Bearer
  <instance token>`` (the design's ``forwardToEngines``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from sync.providers.accounts import Secret
from sync.providers.evolution import EvolutionAccount
from sync.providers.gateway import GatewayAccount
from sync.providers.meta_cloud import MetaAccount

META_APP_SECRET = "meta-app-secret-for-tests"
META_VERIFY_TOKEN = "meta-verify-token-for-tests"
META_PHONE_NUMBER_ID = "106540352242922"
META_WABA_ID = "102290129340398"
EVOLUTION_WEBHOOK_SECRET = "evolution-webhook-secret-for-tests"
EVOLUTION_INSTANCE = "loja-centro"
GATEWAY_INSTANCE_TOKEN = "gateway-instance-token-for-tests"
GATEWAY_INSTANCE = "oficina"
CUSTOMER = "5511999990001"


def meta_account_json(name: str = "Loja Meta") -> dict[str, str]:
    """The description ``caixa accounts add`` takes for the test Meta number."""
    return {
        "provider": "meta",
        "name": name,
        "phone_number_id": META_PHONE_NUMBER_ID,
        "waba_id": META_WABA_ID,
        "access_token": "EAAG-test-access-token",
        "app_secret": META_APP_SECRET,
        "verify_token": META_VERIFY_TOKEN,
    }


def evolution_account_json(name: str = "Loja Evolution") -> dict[str, str]:
    """The test Evolution number."""
    return {
        "provider": "evolution",
        "name": name,
        "instance": EVOLUTION_INSTANCE,
        "base_url": "http://127.0.0.1:9",
        "api_key": "evolution-api-key-for-tests",
        "instance_token": "",
        "webhook_secret": EVOLUTION_WEBHOOK_SECRET,
    }


def gateway_account_json(name: str = "Oficina Gateway") -> dict[str, str]:
    """The test gateway number."""
    return {
        "provider": "gateway",
        "name": name,
        "instance": GATEWAY_INSTANCE,
        "base_url": "http://127.0.0.1:9",
        "master_token": "",
        "instance_token": GATEWAY_INSTANCE_TOKEN,
    }


def meta_account(account_id: int = 1) -> MetaAccount:
    """The test Meta number as the receiver's directory holds it."""
    return MetaAccount(
        account_id=account_id,
        name="Loja Meta",
        phone_number_id=META_PHONE_NUMBER_ID,
        waba_id=META_WABA_ID,
        access_token=Secret("EAAG-test-access-token"),
        app_secret=Secret(META_APP_SECRET),
        verify_token=Secret(META_VERIFY_TOKEN),
    )


def evolution_account(account_id: int = 2) -> EvolutionAccount:
    """The test Evolution number."""
    return EvolutionAccount(
        account_id=account_id,
        name="Loja Evolution",
        instance=EVOLUTION_INSTANCE,
        base_url="http://127.0.0.1:9",
        api_key=Secret("evolution-api-key-for-tests"),
        instance_token=Secret(""),
        webhook_secret=Secret(EVOLUTION_WEBHOOK_SECRET),
    )


def gateway_account(account_id: int = 3) -> GatewayAccount:
    """The test gateway number."""
    return GatewayAccount(
        account_id=account_id,
        name="Oficina Gateway",
        instance=GATEWAY_INSTANCE,
        base_url="http://127.0.0.1:9",
        master_token=Secret(""),
        instance_token=Secret(GATEWAY_INSTANCE_TOKEN),
    )


def dumps(document: Any) -> bytes:
    """JSON bytes as providers send them (UTF-8, compact)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- Meta ---------------------------------------------------------------------------------------


def meta_text_message(
    wamid: str,
    text: str = "Oi, vocês abrem amanhã?",
    *,
    customer: str = CUSTOMER,
    timestamp: int = 1_700_000_000,
    phone_number_id: str = META_PHONE_NUMBER_ID,
) -> dict[str, Any]:
    """A notification carrying one inbound text message."""
    return meta_notification(
        [
            {
                "from": customer,
                "id": wamid,
                "timestamp": str(timestamp),
                "type": "text",
                "text": {"body": text},
            }
        ],
        customer=customer,
        phone_number_id=phone_number_id,
    )


def meta_notification(
    messages: list[dict[str, Any]],
    *,
    customer: str = CUSTOMER,
    phone_number_id: str = META_PHONE_NUMBER_ID,
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``whatsapp_business_account`` notification with one entry and one change."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Ana Souza"}, "wa_id": customer}]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": META_WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


def meta_signature(body: bytes, secret: str = META_APP_SECRET) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def meta_headers(body: bytes, secret: str = META_APP_SECRET) -> dict[str, str]:
    """Headers of a signed Meta POST."""
    return {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(body, secret)}


# --- Evolution ----------------------------------------------------------------------------------


def evolution_text_message(
    message_id: str,
    text: str = "Bom dia! Tem bolo hoje?",
    *,
    instance: str = EVOLUTION_INSTANCE,
    customer: str = CUSTOMER,
    timestamp: int = 1_700_000_000,
) -> dict[str, Any]:
    """A ``messages.upsert`` call carrying one inbound text."""
    return {
        "event": "messages.upsert",
        "instance": instance,
        "data": {
            "key": {
                "remoteJid": f"{customer}@s.whatsapp.net",
                "fromMe": False,
                "id": message_id,
            },
            "pushName": "Ana Souza",
            "status": "DELIVERY_ACK",
            "message": {"conversation": text},
            "messageType": "conversation",
            "messageTimestamp": timestamp,
            "instanceId": "7f1c6e0a-3b1d-4d7e-9f51-2c1b5f0e7a11",
            "source": "android",
        },
        "destination": "http://127.0.0.1/hooks/evolution/" + instance,
        "date_time": "2023-11-14T19:13:20.000Z",
        "sender": "5511988887777@s.whatsapp.net",
        "server_url": "http://127.0.0.1:8080",
        "apikey": "evolution-api-key-for-tests",
    }


def evolution_headers(secret: str = EVOLUTION_WEBHOOK_SECRET) -> dict[str, str]:
    """Headers of an Evolution POST carrying Caixa's per-number token."""
    return {"Content-Type": "application/json", "x-caixa-webhook-token": secret}


# --- the gateway --------------------------------------------------------------------------------


def gateway_text_message(
    message_id: str,
    text: str = "Meu carro fica pronto hoje?",
    *,
    instance: str = GATEWAY_INSTANCE,
    customer: str = CUSTOMER,
    timestamp: int = 1_700_000_000,
) -> dict[str, Any]:
    """A ``message`` call from the gateway."""
    return {
        "event": "message",
        "instanceId": instance,
        "data": {
            "from": f"{customer}@s.whatsapp.net",
            "message": text,
            "messageId": message_id,
            "pushName": "Ana Souza",
        },
        "timestamp": timestamp,
    }


def gateway_headers(token: str = GATEWAY_INSTANCE_TOKEN) -> dict[str, str]:
    """Headers of a gateway POST."""
    return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}


# --- the same document as different bytes ------------------------------------------------------

# A message that exercises every way one text can be written in JSON: accents (one or two
# UTF-8 bytes, or a \u escape), emoji past the BMP (four UTF-8 bytes, or an escaped surrogate
# pair), a flag (two of them), "/", "<", "%" and "@" (which Meta escapes), quotes, a backslash,
# line breaks and tabs inside the string, and trailing spaces a sloppy parser would trim.
AWKWARD_TEXT = 'Olá! Café às 9h/10h? 50% <3 @ana 😀🇧🇷 "bolo de coco" \\ ok\nlinha 2\r\n\tfim  '

# How Meta writes the bodies it signs: "the raw escaped unicode version of the payload, with
# lower case hex digits [...] also escapes / to \/, < to \u003C, % to \u0025 and @ to \u0040"
# (developers.facebook.com/docs/messenger-platform/webhook/#security, as quoted in
# github.com/Charca/bootbot/issues/174).
_META_ESCAPES = {"/": "\\/", "<": "\\u003C", "%": "\\u0025", "@": "\\u0040"}


def encodings(document: Any) -> dict[str, bytes]:
    """``document`` as bytes the way different senders write it, by the variant's name.

    Every variant parses back to ``document`` and differs from what a receiver would get by
    re-serialising it (``reserialisations``): a signature over these bytes verifies only if
    the receiver checks the bytes it was sent, which is what Meta's is over (``meta_signature``)
    and what Meta sends is not compact Python JSON (``_META_ESCAPES``).
    """
    # Only indentation holds a raw line break (one inside a string is written \n).
    variants = {
        "pretty, indent 2, LF, raw UTF-8": json.dumps(document, indent=2, ensure_ascii=False),
        "pretty, indent 4, CRLF, \\u-escaped": json.dumps(document, indent=4).replace("\n", "\r\n"),
        "spaced around colons, \\u-escaped": json.dumps(document, separators=(", ", " : ")),
        "Meta's escaping: \\u, \\/, \\u003C, \\u0025, \\u0040": write_json(document, "meta"),
        "every string character \\u-escaped, upper-case hex": write_json(document, "every char"),
        "emoji escaped, accents raw UTF-8": write_json(document, "emoji"),
        "keys reversed, tabs and spaces": write_json(
            document, "raw", reverse_keys=True, item_sep=" ,\t", key_sep="\t: "
        ),
        "whitespace around the document": " \r\n\t" + dumps(document).decode("utf-8") + "\r\n",
    }
    return {name: text.encode("utf-8") for name, text in variants.items()}


def reserialisations(body: bytes) -> set[bytes]:
    """What a receiver that re-serialised ``body`` before checking it would check instead."""
    document = json.loads(body)
    return {
        json.dumps(document, separators=sep, ensure_ascii=ascii_only, sort_keys=sort).encode()
        for sep in ((",", ":"), (", ", ": "))
        for ascii_only in (True, False)
        for sort in (True, False)
    }


def one_more_space(body: bytes) -> bytes:
    """``body`` with a space after its opening brace: the same JSON, other bytes."""
    at = body.index(b"{") + 1
    return body[:at] + b" " + body[at:]


def _raw(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _escaped(text: str) -> str:
    return json.dumps(text)  # \u with lower-case hex, an escaped surrogate pair past the BMP


def _meta_escaped(text: str) -> str:
    # None of these characters is part of JSON's syntax, so they occur only inside strings,
    # where each escape stands for the character itself.
    return json.dumps(text).translate({ord(c): escape for c, escape in _META_ESCAPES.items()})


def _every_char_escaped(text: str) -> str:
    units = text.encode("utf-16-be")
    escaped = (f"\\u{units[i]:02X}{units[i + 1]:02X}" for i in range(0, len(units), 2))
    return '"' + "".join(escaped) + '"'


def _emoji_escaped(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).translate(
        {ord(c): json.dumps(c)[1:-1] for c in set(text) if ord(c) > 0xFFFF}
    )


# Ways to write a JSON string, by name: all of them read back as the same text.
STRING_STYLES: dict[str, Callable[[str], str]] = {
    "raw": _raw,
    "escaped": _escaped,
    "meta": _meta_escaped,
    "every char": _every_char_escaped,
    "emoji": _emoji_escaped,
}


def write_json(
    value: Any,
    strings: str = "raw",
    *,
    reverse_keys: bool = False,
    item_sep: str = ",",
    key_sep: str = ":",
    pad: str = "",
) -> str:
    """``value`` as JSON text, its strings written in ``STRING_STYLES[strings]``.

    ``json.dumps`` cannot choose its escapes; this can. ``item_sep`` and ``key_sep`` are the
    separators with any whitespace around them, ``pad`` goes inside every bracket.
    """
    string = STRING_STYLES[strings]

    def write(node: Any) -> str:
        if isinstance(node, str):
            return string(node)
        if isinstance(node, dict):
            items = list(node.items())[:: -1 if reverse_keys else 1]
            inner = item_sep.join(string(k) + key_sep + write(v) for k, v in items)
            return "{" + pad + inner + pad + "}"
        if isinstance(node, list):
            return "[" + pad + item_sep.join(write(v) for v in node) + pad + "]"
        return json.dumps(node)

    return write(value)
