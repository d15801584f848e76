"""``clean_text`` and ``clean_event``: what every text looks like before a store keeps it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.domain.events import (
    AccountRemovedEvent,
    ConnectionEvent,
    ContactEvent,
    EditEvent,
    MessageEvent,
    ProviderEvent,
    QrEvent,
    ReactionEvent,
    RevokeEvent,
    StatusEvent,
    clean_event,
)
from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.domain.text import clean_json, clean_text

_HIGH = st.integers(0xD800, 0xDBFF).map(chr)
_LOW = st.integers(0xDC00, 0xDFFF).map(chr)
# Any code point at all: NUL, lone and paired surrogates, control characters, non-BMP emoji.
_ANYTHING = st.text(st.characters(codec=None, exclude_categories=()), max_size=60) | st.lists(
    st.sampled_from(["\x00", "\ud83d", "\ude00", "\ud83c\udf70", "a", "ç", "🍰"]) | _HIGH | _LOW,
    max_size=20,
).map("".join)
# Text as UTF-8 can carry it (the codec rules surrogates out), without NUL.
_VALID = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60)


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


@given(_ANYTHING)
def test_the_result_has_no_nul_and_no_surrogate_and_encodes_to_utf8(text: str) -> None:
    cleaned = clean_text(text)
    assert "\x00" not in cleaned
    assert not _has_surrogate(cleaned)
    assert cleaned.encode("utf-8").decode("utf-8") == cleaned


@given(_ANYTHING)
def test_cleaning_is_idempotent(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once


@given(_VALID)
def test_valid_text_is_left_as_it_is(text: str) -> None:
    assert clean_text(text) is text


@pytest.mark.parametrize(
    "text",
    [
        "bolo 🍰 de chocolate",
        "👍🏽 ok",  # an emoji with a skin tone modifier: two non-BMP code points
        "👨‍👩‍👧",  # a family: non-BMP code points joined by ZWJ
        "🇧🇷",  # a flag: two regional indicators
        "\U0010ffff",  # the last code point
        "e\u0301",  # a combining accent
        "",
    ],
)
def test_paired_non_bmp_emoji_and_other_valid_text_are_unchanged(text: str) -> None:
    assert clean_text(text) == text


def _reference(text: str) -> str:
    """What ``clean_text`` should give, spelled out: NUL dropped, a high+low pair joined, every
    other surrogate one U+FFFD."""
    units = text.replace("\x00", "")
    out: list[str] = []
    i = 0
    while i < len(units):
        ch = units[i]
        if (
            "\ud800" <= ch <= "\udbff"
            and i + 1 < len(units)
            and "\udc00" <= units[i + 1] <= "\udfff"
        ):
            out.append(chr(0x10000 + ((ord(ch) - 0xD800) << 10) + (ord(units[i + 1]) - 0xDC00)))
            i += 2
            continue
        out.append("\ufffd" if "\ud800" <= ch <= "\udfff" else ch)
        i += 1
    return "".join(out)


@given(_ANYTHING)
def test_each_lone_surrogate_becomes_one_replacement_character(text: str) -> None:
    assert clean_text(text) == _reference(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bolo \ud83d", "bolo \ufffd"),  # half an emoji at the end (a cut message)
        ("\ude00 fim", "\ufffd fim"),  # the other half at the start
        ("a\x00b\x00", "ab"),
        ("\x00", ""),
        ("\ud83d\ude00", "😀"),  # a pair given as two code points is the character it encodes
        ("x\ud83d\x00y", "x\ufffdy"),
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert clean_text(text) == expected


def test_clean_json_cleans_every_string_keys_included_and_keeps_other_values() -> None:
    value = {"caption": ["\udfff", 1, None, True, 2.5], "\ud800": "key", "name": "a\x00b"}
    assert clean_json(value) == {
        "caption": ["\ufffd", 1, None, True, 2.5],
        "\ufffd": "key",
        "name": "ab",
    }
    clean = {"a": ["b", {"c": 1}]}
    assert clean_json(clean) is clean  # nothing to clean: the very same object


BAD = "a\x00b\ud83d"
GOOD = "ab\ufffd"


def _every_event_kind() -> list[ProviderEvent]:
    return [
        MessageEvent(
            account_id=1,
            provider_message_id="wamid." + BAD,
            chat_key="5511" + BAD,
            chat_phone="5511",
            direction=Direction.IN,
            timestamp=1.0,
            type=MessageType.LOCATION,
            text=BAD,
            sender_name=BAD,
            caption=BAD,
            media={"filename": BAD},
            location={"name": BAD, "address": BAD, "latitude": 1.5},
            contacts=[{"name": {"formatted_name": BAD}, "phones": [{"phone": BAD}]}],
            interactive={"type": "button_reply", "title": BAD},
            reply_to=BAD,
        ),
        StatusEvent(1, "wamid.1", DeliveryStatus.FAILED, 1.0, error=BAD, client_ref=BAD),
        ReactionEvent(1, "r", "t", BAD, "5511", "5511", Direction.IN, 1.0, sender_name=BAD),
        EditEvent(1, "t", BAD, "5511", "5511", 1.0),
        RevokeEvent(1, "t" + BAD, "5511", "5511", 1.0),
        ConnectionEvent(1, ConnectionState.BLOCKED, reason=BAD, phone=BAD),
        QrEvent(1, qr_code=BAD, pairing_code=BAD),
        ContactEvent(1, chat_key="5511", name=BAD),
        AccountRemovedEvent(1, reason=BAD),
    ]


def _strings(value: Any) -> list[str]:
    if type(value) is str:
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("event", _every_event_kind(), ids=lambda e: e.kind)
def test_clean_event_cleans_every_text_of_every_kind(event: ProviderEvent) -> None:
    cleaned = clean_event(event)
    assert type(cleaned) is type(event) and cleaned.kind == event.kind
    texts = [s for f in dataclasses.fields(cleaned) for s in _strings(getattr(cleaned, f.name))]
    assert any(GOOD in s for s in texts)
    assert not [s for s in texts if "\x00" in s or _has_surrogate(s)]
    # Enums stay enums, numbers stay numbers.
    for f in dataclasses.fields(event):
        before, after = getattr(event, f.name), getattr(cleaned, f.name)
        if type(before) is not str and not isinstance(before, dict | list):
            assert after == before and type(after) is type(before)


def test_a_clean_event_comes_back_as_it_is() -> None:
    event = MessageEvent(1, "wamid.1", "5511", "5511", Direction.IN, 1.0, MessageType.TEXT, "oi 🍰")
    assert clean_event(event) is event


def test_message_fields_are_cleaned_where_they_are() -> None:
    (message, *_) = _every_event_kind()
    cleaned = clean_event(message)
    assert isinstance(cleaned, MessageEvent)
    assert (cleaned.text, cleaned.caption, cleaned.sender_name) == (GOOD, GOOD, GOOD)
    assert cleaned.location == {"name": GOOD, "address": GOOD, "latitude": 1.5}
    assert cleaned.contacts == [{"name": {"formatted_name": GOOD}, "phones": [{"phone": GOOD}]}]
    assert cleaned.interactive == {"type": "button_reply", "title": GOOD}
    assert cleaned.direction is Direction.IN and cleaned.type is MessageType.LOCATION
