"""The battery every provider adapter passes, run over the registry (STYLE.md).

Each real provider ships a harness (``tests/sync/providers/<package>/harness.py``): its fake
server on loopback, an adapter connected to it and ready, and a way to make the next send fail in
a given way. The same table then holds for every provider: how each failure surfaces to the
outbox, how many messages the provider took meanwhile, and that no secret leaks into a repr, an
error or a log.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sync.providers import registry
from sync.providers.base import (
    AuthError,
    Capabilities,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    ProviderAdapter,
    ProviderError,
    RateLimited,
    SendResult,
)

pytestmark = pytest.mark.anyio

REAL_PROVIDERS = list(registry.account_kinds())


def _harness(kind: str) -> str:
    """The harness module of provider ``kind``: tests mirror the provider's package."""
    return f"tests.{registry.PROVIDERS[kind]}.harness"


@pytest.fixture(params=REAL_PROVIDERS)
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    module = importlib.import_module(_harness(request.param))
    async with module.harness() as h:
        yield h


def _assert_no_secret(harness: Any, *texts: str) -> None:
    for secret in harness.secrets:
        assert secret, "a harness lists the secrets it revealed"
        for text in texts:
            assert secret not in text


async def _send_failing(harness: Any, failure: str, **kw: Any) -> ProviderError:
    harness.arrange(failure, **kw)
    with pytest.raises(ProviderError) as caught:
        await harness.adapter.send(harness.outgoing())
    error = caught.value
    _assert_no_secret(harness, str(error), repr(error), error.detail)
    return error


def test_every_registered_provider_has_a_harness() -> None:
    for kind in REAL_PROVIDERS:
        importlib.import_module(_harness(kind))


def test_the_registry_names_each_adapter_by_its_kind() -> None:
    for kind in registry.kinds():
        cls = registry.adapter_class(kind)
        assert cls.kind == kind
        assert cls.capabilities is registry.provider(kind).capabilities
        assert isinstance(cls.capabilities, Capabilities)
    for spec in registry.webhook_providers():
        assert callable(registry.webhook_parser(spec.kind))


async def test_adapter_implements_the_protocol_and_hides_secrets(harness: Any) -> None:
    adapter = harness.adapter
    assert isinstance(adapter, ProviderAdapter)
    assert adapter.ready_to_send()
    _assert_no_secret(harness, repr(adapter), str(adapter))


async def test_a_good_send_is_taken_once_and_named(harness: Any) -> None:
    result = await harness.adapter.send(harness.outgoing("olá, tudo bem? 👋"))
    assert isinstance(result, SendResult)
    assert result.provider_message_id
    assert harness.accepted() == 1


async def test_refused_credentials_raise_auth_error_and_send_nothing(harness: Any) -> None:
    error = await _send_failing(harness, "unauthorized")
    assert isinstance(error, AuthError)
    assert harness.accepted() == 0


async def test_rate_limited_says_when_to_retry_and_sends_nothing(harness: Any) -> None:
    error = await _send_failing(harness, "rate_limited", retry_after=7)
    assert isinstance(error, RateLimited)
    assert error.retry_after >= 7
    assert harness.accepted() == 0


async def test_a_lost_answer_is_delivery_unknown_never_a_retryable_error(harness: Any) -> None:
    error = await _send_failing(harness, "accept_then_hang")
    assert isinstance(error, DeliveryUnknown)
    assert not isinstance(error, NotSent | RateLimited)
    assert harness.accepted() == 1  # the provider has it: resending would double it


async def test_nobody_listening_is_not_sent(harness: Any) -> None:
    error = await _send_failing(harness, "refused")
    assert isinstance(error, NotSent)
    assert harness.accepted() == 0


async def test_an_invalid_recipient_is_a_permanent_failure(harness: Any) -> None:
    error = await _send_failing(harness, "invalid_recipient")
    assert isinstance(error, PermanentSendError)
    assert harness.accepted() == 0


async def test_no_secret_reaches_the_logs(harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await harness.adapter.send(harness.outgoing())
    for failure in ("unauthorized", "rate_limited", "accept_then_hang", "refused"):
        harness.arrange(failure)
        with pytest.raises(ProviderError):
            await harness.adapter.send(harness.outgoing())
    _assert_no_secret(harness, caplog.text)
