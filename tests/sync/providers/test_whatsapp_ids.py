"""``sync.providers.whatsapp_ids``: JIDs, LIDs and phone numbers, read one way by all."""

from __future__ import annotations

import pytest

from sync.providers.whatsapp_ids import (
    ascii_digits,
    decode_jid,
    is_group_jid,
    is_ignored_chat,
    jid_for_chat,
    jid_user,
    lid_of_jid,
    message_id_of,
    parse_jid,
    phone_digits,
    phone_jid,
    phone_of_jid,
)


@pytest.mark.parametrize(
    ("jid", "phone", "lid", "user"),
    [
        ("5511999990000@s.whatsapp.net", "5511999990000", "", "5511999990000"),
        ("5511999990000:12@s.whatsapp.net", "5511999990000", "", "5511999990000"),  # device
        ("5511999990000_1:3@S.WhatsApp.Net", "5511999990000", "", "5511999990000"),  # agent
        ("5511999990000@c.us", "5511999990000", "", "5511999990000"),  # whatsapp-web.js
        ("87654321012345@lid", "", "87654321012345@lid", "87654321012345"),  # never a phone
        ("87654321012345:7@hosted.lid", "", "87654321012345@hosted.lid", "87654321012345"),
        ("120363025246125486@g.us", "", "", "120363025246125486"),
        ("1234@s.whatsapp.net", "", "", "1234"),  # a short code, not a number
        ("status@broadcast", "", "", "status"),
        ("5511999990000", "", "", ""),  # no server: not a JID
    ],
)
def test_what_a_jid_says(jid: str, phone: str, lid: str, user: str) -> None:
    assert (phone_of_jid(jid), lid_of_jid(jid), jid_user(jid)) == (phone, lid, user)


def test_groups_and_what_is_no_chat() -> None:
    assert is_group_jid("120363025246125486@g.us")
    assert not is_group_jid("5511999990000@s.whatsapp.net")
    for jid in ("status@broadcast", "1234@broadcast", "120363111@newsletter"):
        assert is_ignored_chat(jid)
    assert not is_ignored_chat("5511999990000@s.whatsapp.net")


def test_decoding_is_baileys_own_and_parsing_is_strict() -> None:
    decoded = decode_jid("abc:1@Some.Server")
    assert decoded is not None and (decoded.user, decoded.server) == ("abc", "some.server")
    assert parse_jid("abc@s.whatsapp.net") is None  # not a user WhatsApp makes
    assert parse_jid("5511999990000@example.com") is None  # not one of WhatsApp's servers
    assert parse_jid("5511999990000@s.whatsapp.net\n") is not None  # stripped first
    jid = parse_jid("5511-1600000000@g.us")  # the old group form
    assert jid is not None and jid.is_group and jid.normalized == "5511-1600000000@g.us"


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("+55 (11) 99999-0000", "5511999990000"),
        ("16505551234", "16505551234"),
        ("1.650.555.1234", "16505551234"),
        ("1234", ""),  # too short to be a number
        ("US.13491208655302741918", ""),  # a business-scoped user id
        ("٥٥١١٩٩٩٩٩٠٠٠٠", ""),  # digits of another script are not a phone number
        ("1" * 25, ""),
    ],
)
def test_phone_numbers_written_as_text(text: str, digits: str) -> None:
    assert phone_digits(text) == digits
    found = phone_jid(text)
    assert (found.phone if found is not None else "") == digits


def test_small_helpers() -> None:
    assert phone_digits("5511999990000\n") == ""  # what was read is checked whole
    assert ascii_digits("+55 ٥ 11") == "5511"
    assert jid_for_chat("5511999990000") == "5511999990000@s.whatsapp.net"
    assert jid_for_chat("120363025246125486@g.us") == "120363025246125486@g.us"
    assert message_id_of(" 3EB0C767D26A1D0A ") == "3EB0C767D26A1D0A"
    assert message_id_of("x" * 257) == "" and message_id_of(7) == "" and message_id_of("") == ""
