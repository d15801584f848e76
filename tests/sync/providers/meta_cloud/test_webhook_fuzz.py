"""Property tests: ``parse_webhook`` answers any input with events or a WebhookRejected subclass,
and what Meta really sends with the events it carries.

Bodies are Meta's documented shapes (the sample payloads) with random parts replaced by random
JSON, plus arbitrary bytes; and text messages with any text, in any JSON spelling, signed over
their exact bytes, which must give back each text as sent. The receiver's own fuzzing (5,000+
bodies per route) runs through HTTP; this one is aimed at the parser and also checks that no
input reaches its last-resort ``except`` (which would mean a bug that only the catch-all hid).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.domain.events import MessageEvent, to_json
from sync.providers.base import WebhookAuthError, WebhookPayloadError, WebhookRequest
from sync.providers.meta_cloud import parse_webhook
from tests.fakes.meta_server import change, messages_value, signed_webhook, text_item, webhook_body
from tests.sync.providers.meta_cloud.harness import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    WABA_ID,
    make_account,
)
from tests.sync.server.mutations import TEXTS, json_bytes

ACCOUNT = make_account("https://graph.facebook.com")
SAMPLES = [
    json.loads(p.read_text(encoding="utf-8"))
    for p in sorted((Path(__file__).parent / "payloads").glob("*.json"))
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(_paths(value, (*prefix, index)))
    return out


def _replace(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node[path[0]] = _replace(node[path[0]], path[1:], value)
    return node


@st.composite
def mutated_bodies(draw: st.DrawFn) -> Any:
    body = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(body)
        path = draw(st.sampled_from(paths))
        body = _replace(body, path, draw(json_values))
    return body


def _check(result_events: Any) -> None:
    for event in result_events:
        json.dumps(to_json(event, "x"), allow_nan=False)


@pytest.fixture
def no_parser_bugs(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.ERROR, logger="sync.providers.meta_cloud")
    yield
    assert not [r for r in caplog.records if "could not be parsed" in r.getMessage()]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=mutated_bodies())
def test_mutated_documented_bodies(no_parser_bugs: None, body: Any) -> None:
    raw, headers = signed_webhook(APP_SECRET, json.dumps(body).encode())
    try:
        result = parse_webhook(WebhookRequest("POST", headers, raw), [ACCOUNT])
    except WebhookPayloadError:
        return
    _check(result.events)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=300), signed=st.booleans())
def test_arbitrary_bytes(no_parser_bugs: None, raw: bytes, signed: bool) -> None:
    headers = signed_webhook(APP_SECRET, raw)[1] if signed else {"x-hub-signature-256": "sha256=00"}
    try:
        result = parse_webhook(WebhookRequest("POST", headers, raw), [ACCOUNT])
    except WebhookAuthError:
        assert not signed
        return
    except WebhookPayloadError:
        assert signed
        return
    _check(result.events)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["GET", "POST", "HEAD", "DELETE", ""]),
    headers=st.dictionaries(st.text(max_size=30), st.text(max_size=80), max_size=4),
    query=st.dictionaries(
        st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "x"]),
        st.text(max_size=40),
    ),
)
def test_arbitrary_requests(
    no_parser_bugs: None, method: str, headers: dict[str, str], query: dict[str, str]
) -> None:
    with contextlib.suppress(WebhookAuthError, WebhookPayloadError):
        parse_webhook(WebhookRequest(method, headers, b"{}", query=query), [ACCOUNT])


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(TEXTS, min_size=1, max_size=3), data=st.data())
def test_authentic_well_formed_bodies_give_their_texts(
    no_parser_bugs: None, texts: list[str], data: st.DataObject
) -> None:
    # Never refused, whatever the spelling: the signature is over the bytes, not over the JSON.
    sender = "5511987654321"
    items = [text_item(t, sender=sender, wamid=f"wamid.{i}") for i, t in enumerate(texts)]
    value = messages_value(PHONE_NUMBER_ID, items, contacts=[(sender, "Ana Souza")])
    raw, headers = signed_webhook(
        APP_SECRET, data.draw(json_bytes(webhook_body(WABA_ID, [change(value)])))
    )

    result = parse_webhook(WebhookRequest("POST", headers, raw), [ACCOUNT])

    messages = [e for e in result.events if isinstance(e, MessageEvent)]
    assert [(m.provider_message_id, m.text) for m in messages] == [
        (f"wamid.{i}", t) for i, t in enumerate(texts)
    ]
