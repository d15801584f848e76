"""Hypothesis strategies for webhook calls: valid provider bodies, then mutated; and calls a
provider really makes, which must be stored.

A call starts from one document of a small corpus of valid bodies per provider (every event
kind the receiver handles), applies a few structural mutations (a field dropped, retyped, made
huge or strange Unicode, a list emptied or duplicated, deep nesting), is encoded (compact,
ASCII-escaped with spaces, or with a BOM), and may then be damaged as bytes (truncated, a byte
flipped, invalid UTF-8, not JSON at all). Its authentication is drawn separately: correct for
the bytes sent (so it reaches the parser), missing, wrong, computed over other bytes (the
classic replay of a signature onto an altered body), or the secret of another number.

A well-formed call (``well_formed_*_calls``) is a valid text message whose text is anything a
customer can type, spelt in any JSON a sender may write (whitespace, escapes, key order:
``json_bytes``), with the authentication right for those bytes: it must be answered 200 and
its texts stored as sent.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from tests.sync.server.payloads import (
    CUSTOMER,
    EVOLUTION_INSTANCE,
    EVOLUTION_WEBHOOK_SECRET,
    GATEWAY_INSTANCE,
    GATEWAY_INSTANCE_TOKEN,
    META_APP_SECRET,
    META_PHONE_NUMBER_ID,
    META_VERIFY_TOKEN,
    META_WABA_ID,
    STRING_STYLES,
    evolution_headers,
    evolution_text_message,
    gateway_headers,
    gateway_text_message,
    meta_headers,
    meta_notification,
    meta_signature,
    meta_text_message,
    write_json,
)

AUTH_GOOD = "good"
AUTH_KINDS = (AUTH_GOOD, AUTH_GOOD, AUTH_GOOD, "missing", "wrong", "other-bytes", "other-number")
_AUTH_KINDS = st.sampled_from(AUTH_KINDS)


@dataclass(frozen=True)
class Call:
    """One generated webhook call."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    authentic: bool  # its signature/token is right for these bytes and this number
    query: dict[str, str] | None = None
    # Authentic and what the provider sends: never refused. ``stores`` is (provider message
    # id, text) of each message it carries.
    well_formed: bool = False
    stores: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:  # hypothesis prints failing examples: keep it readable
        return (
            f"Call({self.method} {self.path} authentic={self.authentic} "
            f"well_formed={self.well_formed} "
            f"headers={sorted(self.headers)} body={self.body[:300]!r}...)"
        )


# --- the corpus of valid bodies -----------------------------------------------------------------


def _meta_corpus() -> list[dict[str, Any]]:
    customer = "5511999990001"
    media = {"id": "1266297304806395", "mime_type": "image/jpeg", "sha256": "abc="}
    return [
        meta_text_message("wamid.fuzz.text"),
        meta_notification(
            [
                {
                    "from": customer,
                    "id": "wamid.fuzz.image",
                    "timestamp": "1700000001",
                    "type": "image",
                    "image": {**media, "caption": "Foto do bolo"},
                },
                {
                    "from": customer,
                    "id": "wamid.fuzz.reply",
                    "timestamp": "1700000002",
                    "type": "text",
                    "text": {"body": "Esse aqui"},
                    "context": {"from": "15550783881", "id": "wamid.fuzz.original"},
                },
                {
                    "from": customer,
                    "id": "wamid.fuzz.reaction",
                    "timestamp": "1700000003",
                    "type": "reaction",
                    "reaction": {"message_id": "wamid.fuzz.original", "emoji": "👍"},
                },
                {
                    "from": customer,
                    "id": "wamid.fuzz.location",
                    "timestamp": "1700000004",
                    "type": "location",
                    "location": {"latitude": -23.56, "longitude": -46.64, "name": "Loja"},
                },
                {
                    "from": customer,
                    "id": "wamid.fuzz.button",
                    "timestamp": "1700000005",
                    "type": "interactive",
                    "interactive": {
                        "type": "button_reply",
                        "button_reply": {"id": "sim", "title": "Sim"},
                    },
                },
                {
                    "from": customer,
                    "id": "wamid.fuzz.unsupported",
                    "timestamp": "1700000006",
                    "type": "unsupported",
                    "errors": [{"code": 131051, "title": "Message type unknown"}],
                },
            ]
        ),
        meta_notification(
            [],
            statuses=[
                {
                    "id": "wamid.fuzz.out",
                    "status": status,
                    "timestamp": "1700000010",
                    "recipient_id": customer,
                }
                for status in ("sent", "delivered", "read")
            ]
            + [
                {
                    "id": "wamid.fuzz.out2",
                    "status": "failed",
                    "timestamp": "1700000011",
                    "recipient_id": customer,
                    "errors": [
                        {
                            "code": 131047,
                            "title": "Re-engagement message",
                            "error_data": {"details": "More than 24 hours have passed"},
                        }
                    ],
                }
            ],
        ),
    ]


def _evolution_corpus() -> list[dict[str, Any]]:
    text = evolution_text_message("3EB0FUZZTEXT")

    def event(name: str, data: Any) -> dict[str, Any]:
        return {**copy.deepcopy(text), "event": name, "data": data}

    key = {"remoteJid": "5511999990001@s.whatsapp.net", "fromMe": False, "id": "3EB0FUZZ2"}
    return [
        text,
        event(
            "MESSAGES_UPSERT",
            {
                "key": {**key, "remoteJid": "123456789012345@lid"},
                "remoteJidAlt": "5511999990001@s.whatsapp.net",
                "pushName": "Ana",
                "message": {
                    "ephemeralMessage": {
                        "message": {"extendedTextMessage": {"text": "Oi", "contextInfo": {}}}
                    }
                },
                "messageType": "ephemeralMessage",
                "messageTimestamp": 1700000100,
            },
        ),
        event(
            "messages.upsert",
            {
                "key": {**key, "id": "3EB0FUZZIMG", "remoteJid": "120363041967849074@g.us"},
                "participant": "5511977776666@s.whatsapp.net",
                "pushName": "Bia",
                "message": {"imageMessage": {"caption": "Olha", "mimetype": "image/jpeg"}},
                "messageType": "imageMessage",
                "messageTimestamp": {"low": 1700000200, "high": 0, "unsigned": True},
            },
        ),
        event(
            "messages.upsert",
            {
                "key": {**key, "id": "3EB0FUZZREACT"},
                "message": {"reactionMessage": {"key": {"id": "3EB0FUZZTEXT"}, "text": "❤️"}},
                "messageType": "reactionMessage",
                "messageTimestamp": 1700000300,
            },
        ),
        event(
            "messages.update",
            {
                "keyId": "3EB0OUT1",
                "remoteJid": "5511999990001@s.whatsapp.net",
                "fromMe": True,
                "status": "READ",
                "instanceId": "7f1c6e0a",
            },
        ),
        event("connection.update", {"instance": EVOLUTION_INSTANCE, "state": "open"}),
        event(
            "qrcode.updated",
            {"qrcode": {"code": "2@abc,def,ghi", "base64": "data:image/png;base64,AAA"}},
        ),
        event("messages.delete", {"id": "3EB0FUZZTEXT", "remoteJid": key["remoteJid"]}),
    ]


def _gateway_corpus() -> list[dict[str, Any]]:
    def event(name: str, data: Any) -> dict[str, Any]:
        return {"event": name, "instanceId": GATEWAY_INSTANCE, "data": data, "timestamp": 1700}

    return [
        gateway_text_message("3EB0GWFUZZ"),
        event("qr", {"qr": "2@abc,def"}),
        event("authenticated", {}),
        event("ready", {"wid": {"user": "5511988887777", "server": "c.us"}}),
        event("auth_failure", {"message": "restore session failed"}),
        event("disconnected", {"reason": "LOGOUT"}),
        event("heartbeat", {"state": "CONNECTED"}),
    ]


def _meta_samples() -> list[dict[str, Any]]:
    """The Meta adapter's documented sample payloads, when present, readdressed to our number."""
    folder = Path(__file__).parents[1] / "providers" / "meta_cloud" / "payloads"
    samples = []
    for path in sorted(folder.glob("*.json")):
        text = path.read_text(encoding="utf-8")
        text = text.replace("109876543210987", META_PHONE_NUMBER_ID)
        samples.append(json.loads(text.replace("201234567890123", META_WABA_ID)))
    return samples


CORPUS: dict[str, list[dict[str, Any]]] = {
    "meta": _meta_corpus() + _meta_samples(),
    "evolution": _evolution_corpus(),
    "gateway": _gateway_corpus(),
}


_CORPUS_JSON = {
    provider: [json.dumps(document) for document in documents]
    for provider, documents in CORPUS.items()
}


# --- structural mutations -----------------------------------------------------------------------

_STRANGE: list[str] = [
    "",
    " ",
    "\x00",
    "\ud800",  # a lone surrogate: valid in JSON text, not in UTF-8
    "\u202e\u200b\ufeff",
    "🍰" * 50,
    "@lid",
    "@g.us",
    "status@broadcast",
    "123456789012345@lid",
    "5511999990001@s.whatsapp.net",
    "-1",
    "1e309",
    "NaN",
    "wamid." + "A" * 500,
]

# Values a field is replaced with, besides the strange strings above and random ones.
_PREBUILT: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    1.5,
    float("nan"),
    float("inf"),
    "",
    [],
    {},
    [None],
    [{}],
    {"": None},
    {"id": 5},
    {"body": ["x"]},
    ["5511999990001"],
]


# Built once: drawing them is then free. Past the receiver's 1 MiB limit too (413).
_HUGE: list[Any] = ["x" * 200_000, "ç" * 600_000, 10**400, [0] * 5000, -(10**30), 1e308]


def _paths(node: Any) -> list[tuple[Any, ...]]:
    """Where a mutation can land: nodes breadth-first, at most 80 of them and the first items
    of a long list (a "deep" or "double" mutation must not make the next one slow)."""
    found: list[tuple[Any, ...]] = []
    queue: list[tuple[tuple[Any, ...], Any]] = [((), node)]
    while queue and len(found) < 80:
        path, value = queue.pop(0)
        found.append(path)
        if isinstance(value, dict):
            queue.extend(((*path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            queue.extend(((*path, i), v) for i, v in enumerate(value[:6]))
    return found


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


_OPERATIONS = st.lists(
    st.sampled_from(["drop", "retype", "huge", "strange", "empty", "double", "deep"]), max_size=4
)
_STYLES = st.sampled_from(["compact", "compact", "spaced", "bom"])
_DAMAGES = st.sampled_from(
    ["none", "none", "none", "truncate", "flip", "invalid-utf8", "garbage", "empty", "deep"]
)
# Strategies are built once, here: building one is far dearer than drawing from it.
_RANDOMS = st.randoms(use_true_random=True)
_CORPUS_INDEX = {provider: st.integers(0, len(docs) - 1) for provider, docs in CORPUS.items()}
_ALPHABET = "aZ09 ._-@:/\\\"'{}[]çã🍰\u0301\x00\n"


def _random_value(rnd: random.Random) -> Any:
    roll = rnd.random()
    if roll < 0.5:
        return copy.deepcopy(rnd.choice(_PREBUILT))
    if roll < 0.7:
        return rnd.randint(-(2**70), 2**70)
    if roll < 0.85:
        return rnd.choice(_STRANGE)
    return "".join(rnd.choice(_ALPHABET) for _ in range(rnd.randint(0, 12)))


@st.composite
def mutated_document(draw: st.DrawFn, provider: str) -> Any:
    """A valid document of ``provider`` with up to four structural mutations.

    Hypothesis draws the choices that matter (which document, which operations); a seeded
    ``random.Random`` it also draws picks the details (where, which value), which keeps the
    number of draws per call small: 5,000 calls per route must take seconds, not minutes.
    """
    document: Any = json.loads(_CORPUS_JSON[provider][draw(_CORPUS_INDEX[provider])])  # a copy
    operations = draw(_OPERATIONS)
    rnd = draw(_RANDOMS)
    for operation in operations:
        paths = _paths(document)
        path = rnd.choice(paths)
        replacement: Any
        if operation == "drop" and path:
            parent = _get(document, path[:-1])
            del parent[path[-1]]
            continue
        target = _get(document, path)
        if operation == "retype" or (operation == "drop" and not path):
            replacement = _random_value(rnd)
        elif operation == "huge":
            replacement = copy.copy(rnd.choice(_HUGE))  # never mutate the shared one
        elif operation == "strange":
            replacement = rnd.choice(_STRANGE)
        elif operation == "empty":
            replacement = type(target)() if isinstance(target, list | dict | str) else None
        elif operation == "double":
            twin = copy.deepcopy(target)  # no aliasing: a later mutation touches one copy
            replacement = [target, twin] if not isinstance(target, list) else target + twin
        else:
            replacement = target
            for _ in range(rnd.randint(10, 200)):
                replacement = [replacement]
        if path:
            _get(document, path[:-1])[path[-1]] = replacement
        else:
            document = replacement
    return document


def _encode(document: Any, style: str) -> bytes:
    if style == "spaced":  # ASCII-escaped, with spaces, as some HTTP libraries send
        return json.dumps(document, separators=(", ", ": ")).encode("ascii")
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    encoded = text.encode("utf-8", "surrogatepass")
    return b"\xef\xbb\xbf" + encoded if style == "bom" else encoded


@st.composite
def body_bytes(draw: st.DrawFn, provider: str) -> bytes:
    """A mutated document encoded, then maybe damaged as bytes."""
    document = draw(mutated_document(provider))
    body = _encode(document, draw(_STYLES))
    damage = draw(_DAMAGES)
    rnd = draw(_RANDOMS)
    if damage == "truncate" and body:
        body = body[: rnd.randrange(len(body))]
    elif damage == "flip" and body:
        at = rnd.randrange(len(body))
        body = body[:at] + bytes([body[at] ^ rnd.randint(1, 255)]) + body[at + 1 :]
    elif damage == "invalid-utf8":
        at = rnd.randint(0, len(body))
        body = body[:at] + rnd.choice([b"\xff", b"\xc3", b"\xed\xa0\x80"]) + body[at:]
    elif damage == "garbage":
        body = rnd.randbytes(rnd.randint(0, 64))
    elif damage == "empty":
        body = b""
    elif damage == "deep":
        depth = rnd.randint(1000, 100_000)
        body = b"[" * depth + b"]" * depth
    return body


# --- whole calls, per route ---------------------------------------------------------------------


def _auth(
    draw: st.DrawFn,
    body: bytes,
    sign: Callable[[bytes, str], dict[str, str]],
    good: str,
    other: str,
) -> tuple[dict[str, str], bool]:
    kind = draw(_AUTH_KINDS)
    if kind == AUTH_GOOD:
        return sign(body, good), True
    if kind == "missing":
        return {}, False
    if kind == "wrong":
        wrong = draw(_WRONG_SECRETS)
        return sign(body, good + "x" if wrong == "+x" else wrong), False
    if kind == "other-bytes":
        # A signature over other bytes is wrong; a token is the same whatever the body.
        headers = sign(body + b" ", good)
        return headers, headers == sign(body, good)
    return sign(body, other), False


_WRONG_SECRETS = st.sampled_from(["", "x", "+x", "SECRET"])


def _meta_sign(body: bytes, secret: str) -> dict[str, str]:
    return {"x-hub-signature-256": meta_signature(body, secret) if secret else "sha256="}


def _token(name: str, prefix: str) -> Callable[[bytes, str], dict[str, str]]:
    return lambda body, secret: {name: prefix + secret}


_META_BODIES = body_bytes("meta")
_EVOLUTION_BODIES = body_bytes("evolution")
_GATEWAY_BODIES = body_bytes("gateway")
_EVOLUTION_INSTANCES = st.sampled_from([EVOLUTION_INSTANCE] * 4 + ["other", "x" * 100])
_EVOLUTION_SUFFIXES = st.sampled_from(["", "", "/messages-upsert", "/connection-update", "/x"])
_GATEWAY_INSTANCES = st.sampled_from([GATEWAY_INSTANCE] * 4 + ["other"])
_HUB_MODES = st.sampled_from(["subscribe", "subscribe", "", "unsubscribe"]) | st.text(max_size=5)
_HUB_TOKENS = st.sampled_from([META_VERIFY_TOKEN, META_VERIFY_TOKEN, "", "x"]) | st.text()
_HUB_CHALLENGES = (
    st.text(max_size=40)
    | st.sampled_from(["1158201444", "x" * 5000])
    | st.integers(0, 2**63).map(str)  # what Meta sends
)
_HUB_DROPPED = st.sets(st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge"]))


@st.composite
def meta_calls(draw: st.DrawFn) -> Call:
    """POSTs to ``/hooks/meta``."""
    body = draw(_META_BODIES)
    headers, authentic = _auth(draw, body, _meta_sign, META_APP_SECRET, EVOLUTION_WEBHOOK_SECRET)
    headers["content-type"] = "application/json"
    return Call("POST", "/hooks/meta", headers, body, authentic)


@st.composite
def meta_handshakes(draw: st.DrawFn) -> Call:
    """GETs to ``/hooks/meta`` with generated query parameters."""
    query = {
        "hub.mode": draw(_HUB_MODES),
        "hub.verify_token": draw(_HUB_TOKENS),
        "hub.challenge": draw(_HUB_CHALLENGES),
    }
    for name in draw(_HUB_DROPPED):
        del query[name]
    authentic = query.get("hub.verify_token") == META_VERIFY_TOKEN
    # Meta's challenge is a number (developers.facebook.com/docs/graph-api/webhooks/
    # getting-started, "Verification Requests": "hub.challenge - An int you must pass back").
    challenge = query.get("hub.challenge", "")
    well_formed = (
        authentic
        and query.get("hub.mode") == "subscribe"
        and challenge.isascii()
        and challenge.isdigit()
    )
    return Call("GET", "/hooks/meta", {}, b"", authentic, query, well_formed)


@st.composite
def evolution_calls(draw: st.DrawFn) -> Call:
    """POSTs to ``/hooks/evolution/{instance}[/{event}]``."""
    body = draw(_EVOLUTION_BODIES)
    headers, authentic = _auth(
        draw,
        body,
        _token("x-caixa-webhook-token", ""),
        EVOLUTION_WEBHOOK_SECRET,
        GATEWAY_INSTANCE_TOKEN,
    )
    instance = draw(_EVOLUTION_INSTANCES)
    authentic = authentic and instance == EVOLUTION_INSTANCE
    suffix = draw(_EVOLUTION_SUFFIXES)
    headers["content-type"] = "application/json"
    return Call("POST", f"/hooks/evolution/{instance}{suffix}", headers, body, authentic)


@st.composite
def gateway_calls(draw: st.DrawFn) -> Call:
    """POSTs to ``/hooks/gateway/{instance}``."""
    body = draw(_GATEWAY_BODIES)
    headers, authentic = _auth(
        draw, body, _token("authorization", "Bearer "), GATEWAY_INSTANCE_TOKEN, META_APP_SECRET
    )
    instance = draw(_GATEWAY_INSTANCES)
    authentic = authentic and instance == GATEWAY_INSTANCE
    headers["content-type"] = "application/json"
    return Call("POST", f"/hooks/gateway/{instance}", headers, body, authentic)


# --- authentic, well-formed calls -----------------------------------------------------------------

# Anything a customer can type, with more than its share of what JSON can spell several ways:
# past the BMP (an escaped surrogate pair), combining marks, what Meta escapes (/ < % @), what
# JSON must escape (" \ line breaks, tabs). Left out: lone surrogates (no one can type half a
# character; the tests of each parser cover them), NUL (the Evolution parser drops it on
# purpose: providers/evolution/test_webhooks.py, test_strings_are_made_storable), and a text of
# whitespace alone (no text to the gateway).
_TEXT_CHARACTERS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_TEXT_CHARACTERS |= st.sampled_from(list('😀🇧🇷👍🏽\u200d\U0010fffd\u2028é\u0301/<%@\\"\r\n\t'))
TEXTS = st.text(_TEXT_CHARACTERS, min_size=1, max_size=40).filter(str.strip)

_JSON_SPACE = st.text(" \t\r\n", max_size=3)  # JSON's four whitespace characters
_STRING_STYLES = st.sampled_from(sorted(STRING_STYLES))
_MESSAGE_IDS = st.uuids().map(lambda u: u.hex.upper())
_EVOLUTION_WELL_FORMED_SUFFIXES = st.sampled_from(["", "/messages-upsert"])


@st.composite
def json_bytes(draw: st.DrawFn, document: Any) -> bytes:
    """``document`` as any sender may write it: whitespace wherever JSON allows it, any of the
    escapes, keys in either order, as UTF-8."""
    text = write_json(
        document,
        draw(_STRING_STYLES),
        reverse_keys=draw(st.booleans()),
        item_sep=draw(_JSON_SPACE) + "," + draw(_JSON_SPACE),
        key_sep=draw(_JSON_SPACE) + ":" + draw(_JSON_SPACE),
        pad=draw(_JSON_SPACE),
    )
    return (draw(_JSON_SPACE) + text + draw(_JSON_SPACE)).encode("utf-8")


@st.composite
def well_formed_meta_calls(draw: st.DrawFn) -> Call:
    """A signed notification of one to three text messages (Meta batches them)."""
    texts = draw(st.lists(TEXTS, min_size=1, max_size=3))
    batch = draw(_MESSAGE_IDS)
    ids = [f"wamid.{batch}{i}" for i in range(len(texts))]
    messages = [
        {
            "from": CUSTOMER,
            "id": wamid,
            "timestamp": "1700000000",
            "type": "text",
            "text": {"body": t},
        }
        for wamid, t in zip(ids, texts, strict=True)
    ]
    body = draw(json_bytes(meta_notification(messages)))
    stores = tuple(zip(ids, texts, strict=True))
    return Call("POST", "/hooks/meta", meta_headers(body), body, True, None, True, stores)


@st.composite
def well_formed_evolution_calls(draw: st.DrawFn) -> Call:
    """A ``messages.upsert`` of one text with the number's token (webhookByEvents or not)."""
    text, message_id = draw(TEXTS), "3EB0" + draw(_MESSAGE_IDS)
    body = draw(json_bytes(evolution_text_message(message_id, text)))
    path = f"/hooks/evolution/{EVOLUTION_INSTANCE}{draw(_EVOLUTION_WELL_FORMED_SUFFIXES)}"
    return Call("POST", path, evolution_headers(), body, True, None, True, ((message_id, text),))


@st.composite
def well_formed_gateway_calls(draw: st.DrawFn) -> Call:
    """A ``message`` of one text with the instance's bearer token."""
    text, message_id = draw(TEXTS), "3EB0" + draw(_MESSAGE_IDS)
    body = draw(json_bytes(gateway_text_message(message_id, text)))
    path = f"/hooks/gateway/{GATEWAY_INSTANCE}"
    return Call("POST", path, gateway_headers(), body, True, None, True, ((message_id, text),))
