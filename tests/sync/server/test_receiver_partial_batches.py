"""A call whose batch holds broken items, through the real receiver over a real cache.

Providers retry a refused call with the same body (Meta for days) or drop it (Evolution drops a
400): a call refused whole for one broken item loses every good one beside it. So a call whose
envelope is right is answered 200 and its valid items stored; each broken item is skipped and
logged (WARNING, with the provider, its position and why, never its content). A body that is
not what the provider sends at all keeps its 400.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from sync.engine.ingest_queue import IngestQueue
from sync.ingress.receiver import WebhookReceiver
from sync.providers.directory import StaticDirectory
from sync.store.local.database import Database
from sync.store.local.store import LocalStore
from tests.fakes.loopback import serve
from tests.sync.server.conftest import Numbers
from tests.sync.server.payloads import (
    CUSTOMER,
    EVOLUTION_INSTANCE,
    GATEWAY_INSTANCE,
    META_APP_SECRET,
    META_WABA_ID,
    dumps,
    evolution_headers,
    evolution_text_message,
    gateway_headers,
    gateway_text_message,
    meta_headers,
    meta_notification,
)

pytestmark = pytest.mark.anyio

SECRET_TEXT = "cartão 4111 1111 1111 1111"  # inside broken items: must never reach the log


@contextlib.asynccontextmanager
async def receiving(db: Database, numbers: Numbers) -> AsyncIterator[httpx.AsyncClient]:
    """What ``caixa receive`` serves: the receiver over the cache's group-commit queue."""
    queue = IngestQueue(LocalStore(db))
    receiver = WebhookReceiver(StaticDirectory(numbers.all()), queue.submit)
    try:
        with serve(receiver.app) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
                yield http
    finally:
        await queue.aclose()


@pytest.fixture
def warnings_only(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Skipped items are warnings; nothing here is an error (a broken parser or store)."""
    with caplog.at_level(logging.INFO, logger="sync"):
        yield caplog
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors
    assert SECRET_TEXT not in caplog.text and META_APP_SECRET not in caplog.text


def stored(db: Database) -> list[str]:
    rows = db.run_sync(
        lambda cache: cache.conn.exec_driver_sql(
            "SELECT provider_message_id FROM messages ORDER BY provider_message_id"
        ).all()
    )
    return [r[0] for r in rows]


def skipped(caplog: pytest.LogCaptureFixture, provider: str) -> list[str]:
    prefix = f"{provider} webhook: skipped "
    return [
        r.getMessage()[len(prefix) :]
        for r in caplog.records
        if r.getMessage().startswith(prefix) and r.levelno == logging.WARNING
    ]


def meta_text(wamid: str, text: str = "Oi, tem bolo?") -> dict[str, Any]:
    return {
        "from": CUSTOMER,
        "id": wamid,
        "timestamp": "1700000000",
        "type": "text",
        "text": {"body": text},
    }


async def test_meta_one_valid_message_among_broken_items_of_every_kind_is_stored(
    db: Database, numbers: Numbers, warnings_only: pytest.LogCaptureFixture
) -> None:
    document = meta_notification(
        [
            {**meta_text("", SECRET_TEXT)},  # no id
            "not an object",
            meta_text("wamid.VALID"),
            {**meta_text("wamid.no-ts", SECRET_TEXT), "timestamp": None},
            {**meta_text("wamid.bad-edit", SECRET_TEXT), "type": "edit", "edit": {}},
        ],
        statuses=[
            {"status": "read", "timestamp": "1700000001", "recipient_id": CUSTOMER},  # no id
            {"id": "wamid.x", "status": "read", "timestamp": 10**400, "recipient_id": "1"},
        ],
    )
    good_change = document["entry"][0]["changes"][0]
    document["entry"] = [
        42,  # not an object
        {"id": META_WABA_ID},  # no changes
        {"id": META_WABA_ID, "changes": [None, {"field": "messages"}, good_change]},
    ]
    body = dumps(document)
    async with receiving(db, numbers) as http:
        response = await http.post("/hooks/meta", content=body, headers=meta_headers(body))

    assert response.status_code == 200, response.text
    assert stored(db) == ["wamid.VALID"]
    value = "entry[2].changes[2].value"
    assert [m.split(" (")[0] for m in skipped(warnings_only, "Meta")] == [
        "entry[0]",
        "entry[1]",
        "entry[2].changes[0]",
        "entry[2].changes[1]",
        f"{value}.messages[0]",
        f"{value}.messages[1]",
        f"{value}.messages[3]",
        f"{value}.messages[4]",
        f"{value}.statuses[0]",
        f"{value}.statuses[1]",
    ]


async def test_meta_a_parser_bug_on_one_message_loses_only_that_message(
    db: Database,
    numbers: Numbers,
    warnings_only: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sync.providers.meta_cloud import webhook as meta_cloud

    def buggy(*args: Any, **kwargs: Any) -> Any:
        raise IndexError(SECRET_TEXT)

    monkeypatch.setattr(meta_cloud, "_interactive_reply", buggy)
    tap = {**meta_text("wamid.TAP"), "type": "interactive", "interactive": {"type": "x"}}
    body = dumps(meta_notification([tap, meta_text("wamid.KEPT")]))
    async with receiving(db, numbers) as http:
        response = await http.post("/hooks/meta", content=body, headers=meta_headers(body))

    assert response.status_code == 200, response.text
    assert stored(db) == ["wamid.KEPT"]
    (reason,) = skipped(warnings_only, "Meta")
    assert reason.startswith(
        "entry[0].changes[0].value.messages[0] (could not be parsed: IndexError at "
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
    ],
)
async def test_meta_a_wrong_envelope_is_still_refused(
    db: Database, numbers: Numbers, body: bytes
) -> None:
    async with receiving(db, numbers) as http:
        response = await http.post("/hooks/meta", content=body, headers=meta_headers(body))
    assert response.status_code == 400
    assert stored(db) == []


def evolution_records() -> list[Any]:
    """A messages.upsert list: one valid message among broken ones of every kind."""
    valid = evolution_text_message("3EB0VALID")["data"]

    def broken(**changes: Any) -> dict[str, Any]:
        record = json.loads(json.dumps(valid))
        record["message"] = {"conversation": SECRET_TEXT}
        record["key"]["id"] = "3EB0BROKEN"
        for name, value in changes.items():
            if name.startswith("key_"):
                record["key"][name[4:]] = value
            elif value is None:
                record.pop(name, None)
            else:
                record[name] = value
        return record

    return [
        broken(key=None),  # no key
        broken(key_id=""),  # no id
        broken(key_remoteJid=None),  # no chat
        broken(messageTimestamp=None),  # no timestamp
        broken(messageTimestamp="amanhã"),  # an unreadable timestamp
        "not an object",
        valid,
    ]


async def test_evolution_one_valid_message_among_broken_items_is_stored(
    db: Database, numbers: Numbers, warnings_only: pytest.LogCaptureFixture
) -> None:
    document = evolution_text_message("unused")
    document["data"] = evolution_records()
    body = dumps(document)
    async with receiving(db, numbers) as http:
        response = await http.post(
            f"/hooks/evolution/{EVOLUTION_INSTANCE}", content=body, headers=evolution_headers()
        )

    assert response.status_code == 200, response.text
    assert stored(db) == ["3EB0VALID"]
    assert [m.split(" (")[0] for m in skipped(warnings_only, "Evolution")] == [
        f"messages data[{i}]" for i in range(6)
    ]


async def test_evolution_one_broken_object_is_still_refused(db: Database, numbers: Numbers) -> None:
    # Evolution's usual call carries one message object: broken, it is the whole call (400).
    document = evolution_text_message("3EB0X")
    del document["data"]["messageTimestamp"]
    body = dumps(document)
    async with receiving(db, numbers) as http:
        response = await http.post(
            f"/hooks/evolution/{EVOLUTION_INSTANCE}", content=body, headers=evolution_headers()
        )
    assert response.status_code == 400
    assert stored(db) == []


async def test_the_gateway_posts_one_event_per_call(db: Database, numbers: Numbers) -> None:
    # No batch in the gateway's format: a good call is stored, a broken one refused whole.
    good = dumps(gateway_text_message("GW.OK"))
    broken_document = gateway_text_message("GW.BROKEN")
    del broken_document["data"]["from"]
    broken = dumps(broken_document)
    async with receiving(db, numbers) as http:
        route = f"/hooks/gateway/{GATEWAY_INSTANCE}"
        ok = await http.post(route, content=good, headers=gateway_headers())
        refused = await http.post(route, content=broken, headers=gateway_headers())

    assert (ok.status_code, refused.status_code) == (200, 400)
    assert stored(db) == ["GW.OK"]
