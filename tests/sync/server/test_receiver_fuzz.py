"""Property: whatever a route is sent, the receiver never answers 5xx nor raises, a call with a
bad signature or token stores nothing, and a call a provider really makes is stored.

Each route gets 5,000 calls drawn by ``mutations.py`` (a fifth of them well-formed: a text
message with any text, in any JSON spelling, authentication right for its bytes; the rest valid
provider bodies mutated structurally and as bytes, authentication right for the bytes or not),
through the real ASGI app in process (``httpx.ASGITransport``) with the real parsers and a real
encrypted cache behind the group-commit ingest. Derandomized, so CI sees the same calls every
run.

Checked for every call: the status is below 500; no log line at any level shows a secret; a
call whose authentication is not right gets 401/403 (or a 4xx that comes before authentication
can be judged: 413, 404) and leaves the cache untouched (``total_changes()`` of its only
connection unchanged, the sink never called); no error is logged (the receiver logs a parser
that broke its contract or a failed store; a parser logs when its last-resort catch-all fired).
A well-formed call is answered 200 and each of its messages is stored with its text as sent
(a receiver that checked or read anything but the bytes it was sent fails there).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sync.domain.events import ProviderEvent
from sync.engine.ingest_queue import IngestQueue
from sync.ingress.receiver import WebhookReceiver
from sync.providers.directory import StaticDirectory
from sync.store.local.cache_key import CacheKey
from sync.store.local.database import Database
from sync.store.local.local_cache import LocalCache
from sync.store.local.store import LocalStore
from tests.sync.server.conftest import add_numbers
from tests.sync.server.mutations import (
    Call,
    evolution_calls,
    gateway_calls,
    meta_calls,
    meta_handshakes,
    well_formed_evolution_calls,
    well_formed_gateway_calls,
    well_formed_meta_calls,
)
from tests.sync.server.payloads import (
    EVOLUTION_WEBHOOK_SECRET,
    GATEWAY_INSTANCE_TOKEN,
    META_APP_SECRET,
    META_VERIFY_TOKEN,
)

# Several seconds per route on a 2-core machine: marked slow (it still runs by default).
pytestmark = pytest.mark.slow

# 5,000 calls per route, drawn 25 to an example: hypothesis's fixed cost per example is then
# paid 200 times, not 5,000 (it still shrinks a failing batch down to the one call that fails).
CALLS = 5000
BATCH = 25
MAX_BODY = 1024 * 1024

FUZZ = settings(
    max_examples=CALLS // BATCH,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
        HealthCheck.large_base_example,
    ],
)


SECRETS = (
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    EVOLUTION_WEBHOOK_SECRET,
    GATEWAY_INSTANCE_TOKEN,
    "EAAG-test-access-token",
    "evolution-api-key-for-tests",
)


class _Errors(logging.Handler):
    """Keeps error records, and every record (any level) that shows a secret."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.records.append(record)
        text = record.getMessage() + (self.format(record) if record.exc_info else "")
        if any(secret in text for secret in SECRETS):
            self.leaks.append(text)


@dataclass
class Harness:
    """The receiver in process over a real cache, driven from one event loop."""

    runner: asyncio.Runner
    db: Database
    http: httpx.AsyncClient
    sink_calls: list[int]
    errors: _Errors
    # The text each well-formed message id was first sent with: a redelivery is not stored
    # again, and generated ids may repeat.
    first_texts: dict[str, str] = field(default_factory=dict)

    def send(self, call: Call) -> httpx.Response:
        return self.runner.run(
            self.http.request(
                call.method, call.path, headers=call.headers, content=call.body, params=call.query
            )
        )

    def changes(self) -> int:
        return int(self.db.run_sync(_total_changes))

    def stored(self, provider_message_id: str) -> list[str]:
        return self.db.run_sync(_bodies, provider_message_id)

    def check(self, call: Call) -> httpx.Response:
        before_changes = None if call.authentic else self.changes()
        before_calls, before_errors = len(self.sink_calls), len(self.errors.records)

        response = self.send(call)

        assert response.status_code < 500, (response.status_code, response.text)
        new_errors = self.errors.records[before_errors:]
        assert not new_errors, [r.getMessage() for r in new_errors]
        assert not self.errors.leaks, self.errors.leaks
        if not call.authentic:
            assert response.status_code in (401, 403, 404, 413), response.status_code
            assert len(self.sink_calls) == before_calls, "a call with bad auth reached the sink"
            assert self.changes() == before_changes, "a call with bad auth changed the cache"
        if call.well_formed:
            assert response.status_code == 200, (response.status_code, response.text)
        for message_id, text in call.stores:
            assert self.stored(message_id) == [self.first_texts.setdefault(message_id, text)]
        return response


def _total_changes(cache: LocalCache) -> int:
    return int(cache.conn.exec_driver_sql("SELECT total_changes()").scalar_one())


def _bodies(cache: LocalCache, provider_message_id: str) -> list[str]:
    rows = cache.conn.exec_driver_sql(
        "SELECT body FROM messages WHERE provider_message_id = ?", (provider_message_id,)
    )
    return [row[0] for row in rows]


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    if importlib.util.find_spec("sniffio") is None:
        # WORKAROUND(httpx): ASGITransport tries ``import sniffio`` on every request; without
        # it installed, each failed import searches sys.path again, costing more than the
        # receiver's own work. None in sys.modules makes that import fail at once, as it would
        # anyway. https://github.com/encode/httpx/blob/0.28.1/httpx/_transports/asgi.py#L29
        monkeypatch.setitem(sys.modules, "sniffio", None)
    db = Database(tmp_path / "caixa-cache.db", CacheKey.generate())
    db.open_sync()
    # Durability is not what this test is about (the crash test is): no fsync per commit.
    db.run_sync(lambda cache: cache.conn.exec_driver_sql("PRAGMA synchronous = OFF"))
    numbers = db.run_sync(add_numbers)
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    # Every level reaches the handler: a secret must not show even in a debug line.
    monkeypatch.setattr(logging.getLogger("sync"), "level", logging.DEBUG)
    runner = asyncio.Runner()
    sink_calls: list[int] = []
    try:

        async def build() -> tuple[httpx.AsyncClient, IngestQueue]:
            queue = IngestQueue(LocalStore(db))

            async def sink(events: Sequence[ProviderEvent]) -> Any:
                sink_calls.append(len(events))
                return await queue.submit(events)

            receiver = WebhookReceiver(
                StaticDirectory(numbers.all()), sink, max_body_bytes=MAX_BODY
            )
            transport = httpx.ASGITransport(app=receiver.app)
            return httpx.AsyncClient(transport=transport, base_url="http://receiver"), queue

        http, queue = runner.run(build())
        yield Harness(runner, db, http, sink_calls, errors)
        runner.run(http.aclose())
        runner.run(queue.aclose())
    finally:
        runner.close()
        logging.getLogger().removeHandler(errors)
        db.close_sync()


def batches(
    calls: st.SearchStrategy[Call], well_formed: st.SearchStrategy[Call]
) -> st.SearchStrategy[list[Call]]:
    # One call in five well-formed (one_of picks a branch uniformly).
    mixed = st.one_of(calls, calls, calls, calls, well_formed)
    return st.lists(mixed, min_size=BATCH, max_size=BATCH)


@FUZZ
@given(calls=batches(meta_calls(), well_formed_meta_calls()))
def test_meta_posts(harness: Harness, calls: list[Call]) -> None:
    for call in calls:
        harness.check(call)


@settings(FUZZ, max_examples=40)
@given(calls=st.lists(meta_handshakes(), min_size=BATCH, max_size=BATCH))
def test_meta_handshakes(harness: Harness, calls: list[Call]) -> None:
    for call in calls:
        response = harness.check(call)
        if call.authentic and response.status_code == 200:
            assert response.text == (call.query or {}).get("hub.challenge")


@FUZZ
@given(calls=batches(evolution_calls(), well_formed_evolution_calls()))
def test_evolution_posts(harness: Harness, calls: list[Call]) -> None:
    for call in calls:
        harness.check(call)


@FUZZ
@given(calls=batches(gateway_calls(), well_formed_gateway_calls()))
def test_gateway_posts(harness: Harness, calls: list[Call]) -> None:
    for call in calls:
        harness.check(call)


@settings(FUZZ, max_examples=300)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    path=st.text(alphabet="/abcdehkmostvw-_.%0123456789", max_size=40),
    body=st.binary(max_size=100),
)
def test_any_route_and_method(harness: Harness, method: str, path: str, body: bytes) -> None:
    call = Call(method, "/" + path.lstrip("/"), {}, body, authentic=False)
    response = harness.send(call)
    assert response.status_code < 500
    assert not harness.errors.records
