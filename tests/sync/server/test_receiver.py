"""The receiver over real HTTP on loopback, with the providers' real parsers and a real cache."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

import httpx
import pytest

from sync.domain.events import ProviderEvent, UnstorableEvents
from sync.engine.ingest_queue import IngestQueue
from sync.ingress.receiver import WebhookReceiver
from sync.providers.directory import StaticDirectory
from sync.store.local.database import Database
from sync.store.local.store import LocalStore
from tests.fakes.loopback import serve
from tests.sync.helpers import scalar
from tests.sync.server.conftest import Numbers
from tests.sync.server.payloads import (
    EVOLUTION_INSTANCE,
    EVOLUTION_WEBHOOK_SECRET,
    GATEWAY_INSTANCE,
    GATEWAY_INSTANCE_TOKEN,
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    dumps,
    evolution_headers,
    evolution_text_message,
    gateway_headers,
    gateway_text_message,
    meta_headers,
    meta_notification,
    meta_text_message,
)

pytestmark = pytest.mark.anyio

MAX_BODY = 64 * 1024


@dataclass
class Running:
    """The receiver served on loopback, a client for it, and what it stored and observed."""

    http: httpx.AsyncClient
    db: Database
    receiver: WebhookReceiver
    queue: IngestQueue
    observed: list[Sequence[ProviderEvent]] = field(default_factory=list)

    def messages(self) -> int:
        return int(self.db.run_sync(scalar, "SELECT COUNT(*) FROM messages"))

    def count(self, provider_id: str) -> int:
        return int(
            self.db.run_sync(
                scalar, "SELECT COUNT(*) FROM messages WHERE provider_message_id = ?", provider_id
            )
        )


@contextlib.asynccontextmanager
async def running(db: Database, numbers: Numbers) -> AsyncIterator[Running]:
    queue = IngestQueue(LocalStore(db))
    receiver = WebhookReceiver(
        StaticDirectory(numbers.all()),
        queue.submit,
        max_body_bytes=MAX_BODY,
    )
    observed: list[Sequence[ProviderEvent]] = []
    receiver.add_observer(observed.append)
    with serve(receiver.app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            yield Running(http, db, receiver, queue, observed)


@pytest.fixture
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The receiver logs a parser's broken contract or a store failure as an error."""
    with caplog.at_level(logging.INFO, logger="sync"):
        yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


# --- Meta ---------------------------------------------------------------------------------------


async def test_a_signed_meta_post_lands_once_however_often_redelivered(
    db: Database, numbers: Numbers, no_errors_logged: None
) -> None:
    body = dumps(meta_text_message("wamid.HBgLNTUxMTk5OTk5MDAwMRUCABIYFjNFQjBDMEE"))
    async with running(db, numbers) as r:
        first = await r.http.post("/hooks/meta", content=body, headers=meta_headers(body))
        # Meta redelivers what it thinks was not acknowledged, sometimes in parallel.
        again = await asyncio.gather(
            *(
                r.http.post("/hooks/meta", content=body, headers=meta_headers(body))
                for _ in range(5)
            )
        )

        assert first.status_code == 200
        assert [a.status_code for a in again] == [200] * 5
        assert r.count("wamid.HBgLNTUxMTk5OTk5MDAwMRUCABIYFjNFQjBDMEE") == 1
        assert r.messages() == 1
        # Observers hear each acknowledged call, after its commit.
        assert len(r.observed) == 6


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no signature"),
        pytest.param({"X-Hub-Signature-256": "sha256=" + "0" * 64}, id="wrong digest"),
        pytest.param({"X-Hub-Signature-256": "garbage"}, id="malformed"),
        pytest.param("other-secret", id="signed with another secret"),
    ],
)
async def test_a_meta_post_with_a_bad_signature_is_401_and_stores_nothing(
    db: Database, numbers: Numbers, headers: dict[str, str] | str
) -> None:
    body = dumps(meta_text_message("wamid.bad-signature"))
    sent = meta_headers(body, headers) if isinstance(headers, str) else headers
    async with running(db, numbers) as r:
        response = await r.http.post("/hooks/meta", content=body, headers=sent)

        assert response.status_code == 401
        assert "error" in response.json()
        assert r.messages() == 0
        assert r.observed == []


async def test_a_meta_body_altered_after_signing_is_refused(db: Database, numbers: Numbers) -> None:
    body = dumps(meta_text_message("wamid.altered", "pague 10"))
    altered = body.replace(b"pague 10", b"pague 99")
    async with running(db, numbers) as r:
        response = await r.http.post("/hooks/meta", content=altered, headers=meta_headers(body))

        assert response.status_code == 401
        assert r.messages() == 0


async def test_a_meta_post_for_an_unknown_phone_number_id_is_acknowledged_and_not_stored(
    db: Database, numbers: Numbers, no_errors_logged: None
) -> None:
    body = dumps(meta_text_message("wamid.elsewhere", phone_number_id="999999999999"))
    async with running(db, numbers) as r:
        response = await r.http.post("/hooks/meta", content=body, headers=meta_headers(body))

        # 200: Meta must not keep retrying a call that will never be for us.
        assert response.status_code == 200
        assert r.messages() == 0


async def test_the_meta_get_handshake_answers_the_challenge(db: Database, numbers: Numbers) -> None:
    async with running(db, numbers) as r:
        ok = await r.http.get(
            "/hooks/meta",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": META_VERIFY_TOKEN,
                "hub.challenge": "1158201444",
            },
        )
        wrong = await r.http.get(
            "/hooks/meta",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": "not-the-token",
                "hub.challenge": "1158201444",
            },
        )

        assert ok.status_code == 200
        assert ok.text == "1158201444"
        assert ok.headers["content-type"].startswith("text/plain")
        assert wrong.status_code in (401, 403)
        assert "1158201444" not in wrong.text


async def test_a_signed_but_malformed_meta_body_is_a_4xx(db: Database, numbers: Numbers) -> None:
    async with running(db, numbers) as r:
        for body in (b"{not json", b"[]", b'{"object": "page", "entry": 5}'):
            response = await r.http.post("/hooks/meta", content=body, headers=meta_headers(body))
            assert 400 <= response.status_code < 500, body
        assert r.messages() == 0


# --- Evolution ----------------------------------------------------------------------------------


async def test_an_evolution_post_with_its_token_is_stored(
    db: Database, numbers: Numbers, no_errors_logged: None
) -> None:
    body = dumps(evolution_text_message("3EB0C0A1B2C3D4E5F6"))
    async with running(db, numbers) as r:
        response = await r.http.post(
            f"/hooks/evolution/{EVOLUTION_INSTANCE}", content=body, headers=evolution_headers()
        )

        assert response.status_code == 200
        assert r.count("3EB0C0A1B2C3D4E5F6") == 1


async def test_evolution_webhook_by_events_suffix_is_accepted(
    db: Database, numbers: Numbers
) -> None:
    body = dumps(evolution_text_message("3EB0BYEVENTS"))
    async with running(db, numbers) as r:
        response = await r.http.post(
            f"/hooks/evolution/{EVOLUTION_INSTANCE}/messages-upsert",
            content=body,
            headers=evolution_headers(),
        )

        assert response.status_code == 200
        assert r.count("3EB0BYEVENTS") == 1


@pytest.mark.parametrize(
    ("path_instance", "body_instance", "token"),
    [
        pytest.param(EVOLUTION_INSTANCE, EVOLUTION_INSTANCE, None, id="no token"),
        pytest.param(EVOLUTION_INSTANCE, EVOLUTION_INSTANCE, "wrong-token", id="wrong token"),
        pytest.param("other-instance", EVOLUTION_INSTANCE, EVOLUTION_WEBHOOK_SECRET, id="path"),
        pytest.param(EVOLUTION_INSTANCE, "other-instance", EVOLUTION_WEBHOOK_SECRET, id="body"),
        pytest.param(
            EVOLUTION_INSTANCE, EVOLUTION_INSTANCE, GATEWAY_INSTANCE_TOKEN, id="another's secret"
        ),
    ],
)
async def test_evolution_needs_the_token_of_the_number_named_by_path_and_body(
    db: Database, numbers: Numbers, path_instance: str, body_instance: str, token: str | None
) -> None:
    body = dumps(evolution_text_message("3EB0REFUSED", instance=body_instance))
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["x-caixa-webhook-token"] = token
    async with running(db, numbers) as r:
        response = await r.http.post(
            f"/hooks/evolution/{path_instance}", content=body, headers=headers
        )

        assert response.status_code in (401, 403)
        assert r.messages() == 0


# --- the gateway --------------------------------------------------------------------------------


async def test_a_gateway_post_with_its_bearer_token_is_stored(
    db: Database, numbers: Numbers, no_errors_logged: None
) -> None:
    body = dumps(gateway_text_message("3EB0GATEWAY01"))
    async with running(db, numbers) as r:
        response = await r.http.post(
            f"/hooks/gateway/{GATEWAY_INSTANCE}", content=body, headers=gateway_headers()
        )

        assert response.status_code == 200
        assert r.count("3EB0GATEWAY01") == 1


@pytest.mark.parametrize(
    ("path_instance", "authorization"),
    [
        pytest.param(GATEWAY_INSTANCE, None, id="no authorization"),
        pytest.param(GATEWAY_INSTANCE, "Bearer wrong-token", id="wrong token"),
        pytest.param(GATEWAY_INSTANCE, GATEWAY_INSTANCE_TOKEN, id="not bearer"),
        pytest.param(GATEWAY_INSTANCE, f"Basic {GATEWAY_INSTANCE_TOKEN}", id="basic"),
        pytest.param("another", f"Bearer {GATEWAY_INSTANCE_TOKEN}", id="another instance"),
        pytest.param(GATEWAY_INSTANCE, f"Bearer {META_APP_SECRET}", id="another's secret"),
    ],
)
async def test_the_gateway_needs_its_bearer_token(
    db: Database, numbers: Numbers, path_instance: str, authorization: str | None
) -> None:
    body = dumps(gateway_text_message("3EB0GWREFUSED"))
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    async with running(db, numbers) as r:
        response = await r.http.post(
            f"/hooks/gateway/{path_instance}", content=body, headers=headers
        )

        assert response.status_code in (401, 403)
        assert r.messages() == 0


# --- the HTTP surface ---------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_413_and_stores_nothing(
    db: Database, numbers: Numbers
) -> None:
    message = meta_text_message("wamid.huge", "x" * (MAX_BODY + 1))
    body = dumps(message)
    async with running(db, numbers) as r:
        declared = await r.http.post("/hooks/meta", content=body, headers=meta_headers(body))

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer
            for start in range(0, len(body), 8192):
                yield body[start : start + 8192]

        streamed = await r.http.post("/hooks/meta", content=chunks(), headers=meta_headers(body))

        assert declared.status_code == 413
        assert streamed.status_code == 413
        assert r.messages() == 0


async def test_unknown_routes_are_404_and_wrong_methods_405(db: Database, numbers: Numbers) -> None:
    async with running(db, numbers) as r:
        assert (await r.http.get("/")).status_code == 404
        assert (await r.http.post("/hooks/whatsapp")).status_code == 404
        assert (await r.http.post("/hooks/evolution")).status_code == 404
        assert (await r.http.post("/hooks/evolution/a/b/c")).status_code == 404
        assert (await r.http.post("/hooks/gateway")).status_code == 404
        assert (await r.http.put("/hooks/meta")).status_code == 405
        assert (await r.http.delete("/hooks/meta")).status_code == 405
        assert (await r.http.get(f"/hooks/evolution/{EVOLUTION_INSTANCE}")).status_code == 405
        assert (await r.http.get(f"/hooks/gateway/{GATEWAY_INSTANCE}")).status_code == 405
        assert (await r.http.post("/health")).status_code == 405
        health = await r.http.get("/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}


async def test_a_store_failure_is_503_so_the_provider_retries(
    db: Database, numbers: Numbers, caplog: pytest.LogCaptureFixture
) -> None:
    body = dumps(meta_text_message("wamid.disk-full"))
    failing = True

    async with running(db, numbers) as r:
        real_submit = r.queue.submit

        async def sink(events: Sequence[ProviderEvent]) -> object:
            if failing:
                raise OSError(28, "No space left on device")
            return await real_submit(events)

        r.receiver._sink = sink
        with caplog.at_level(logging.ERROR, logger="sync.server"):
            refused = await r.http.post("/hooks/meta", content=body, headers=meta_headers(body))
        failing = False
        retried = await r.http.post("/hooks/meta", content=body, headers=meta_headers(body))

        assert refused.status_code == 503
        assert refused.headers["retry-after"]
        assert retried.status_code == 200
        assert r.count("wamid.disk-full") == 1
        assert META_APP_SECRET not in caplog.text
        assert "OSError" in caplog.text


async def test_an_observer_that_fails_does_not_fail_the_call(
    db: Database, numbers: Numbers, caplog: pytest.LogCaptureFixture
) -> None:
    body = dumps(meta_text_message("wamid.observed"))

    def broken(events: Sequence[ProviderEvent]) -> None:
        raise RuntimeError("observer bug")

    async with running(db, numbers) as r:
        unsubscribe = r.receiver.add_observer(broken)
        with caplog.at_level(logging.ERROR, logger="sync.server"):
            response = await r.http.post("/hooks/meta", content=body, headers=meta_headers(body))
        unsubscribe()

        assert response.status_code == 200
        assert r.count("wamid.observed") == 1
        assert "RuntimeError" in caplog.text


async def test_events_that_store_nothing_still_reach_the_observers(
    db: Database, numbers: Numbers, no_errors_logged: None
) -> None:
    # The gateway's "qr" lifecycle event: nothing for the cache, everything for the pairing
    # dialog, which learns of it through an adapter's observe().
    body = dumps(
        {"event": "qr", "instanceId": GATEWAY_INSTANCE, "data": {"qr": "2@abc,def"}, "timestamp": 1}
    )
    async with running(db, numbers) as r:
        response = await r.http.post(
            f"/hooks/gateway/{GATEWAY_INSTANCE}", content=body, headers=gateway_headers()
        )

        assert response.status_code == 200
        assert r.messages() == 0
        (events,) = r.observed
        assert [(e.kind, getattr(e, "qr_code", None)) for e in events] == [("qr", "2@abc,def")]
        assert events[0].account_id == numbers.gateway.account_id


async def test_events_the_cache_cannot_hold_are_a_4xx_not_a_retry(
    db: Database, numbers: Numbers
) -> None:
    body = dumps(meta_text_message("wamid.unstorable"))

    async def sink(events: Sequence[ProviderEvent]) -> object:
        raise UnstorableEvents("a value past SQLite's limits")

    async with running(db, numbers) as r:
        r.receiver._sink = sink
        response = await r.http.post("/hooks/meta", content=body, headers=meta_headers(body))

        assert response.status_code == 422
        assert r.messages() == 0


async def test_a_lone_surrogate_is_stored_not_refused(db: Database, numbers: Numbers) -> None:
    # JSON may carry half an emoji ("\ud83c" alone, ASCII-escaped as senders do); SQLite takes
    # only valid UTF-8.
    body = json.dumps(meta_text_message("wamid.half-emoji", "bolo \ud83c")).encode("ascii")
    async with running(db, numbers) as r:
        response = await r.http.post("/hooks/meta", content=body, headers=meta_headers(body))

        assert response.status_code == 200
        stored = r.db.run_sync(
            scalar, "SELECT body FROM messages WHERE provider_message_id = 'wamid.half-emoji'"
        )
        assert stored == "bolo \ufffd"


async def test_one_absurd_status_does_not_refuse_the_rest_of_a_meta_post(
    db: Database, numbers: Numbers, no_errors_logged: None
) -> None:
    document = meta_notification(
        meta_text_message("wamid.kept")["entry"][0]["changes"][0]["value"]["messages"],
        statuses=[{"id": "wamid.x", "status": "read", "timestamp": 10**400, "recipient_id": "1"}],
    )
    body = dumps(document)
    async with running(db, numbers) as r:
        response = await r.http.post("/hooks/meta", content=body, headers=meta_headers(body))

        assert response.status_code == 200
        assert r.count("wamid.kept") == 1
