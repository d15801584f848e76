"""The shared contract table, run on the gateway adapter through its harness (a local copy of
the lead's ``test_contract.py`` cases, so they run before that file exists)."""

from __future__ import annotations

import logging

import pytest

from sync.providers.base import (
    AuthError,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    ProviderAdapter,
    ProviderError,
    QrLinkAdapter,
    RateLimited,
    SendResult,
)
from sync.providers.gateway import GatewayAdapter
from sync.providers.registry import adapter_class, webhook_parser
from tests.sync.providers.gateway.harness import GatewayHarness, harness

pytestmark = pytest.mark.anyio


def _assert_secret_free(h: GatewayHarness, *texts: str) -> None:
    for text in texts:
        for secret in h.secrets:
            assert secret not in text


def test_the_registry_knows_the_gateway() -> None:
    assert adapter_class("gateway") is GatewayAdapter
    assert webhook_parser("gateway").__module__ == "sync.providers.gateway.webhook"


async def test_the_adapter_implements_the_protocols_and_declares_what_it_can_do() -> None:
    async with harness() as h:
        assert isinstance(h.adapter, ProviderAdapter)
        assert isinstance(h.adapter, QrLinkAdapter)
        caps = GatewayAdapter.capabilities
        assert GatewayAdapter.kind == "gateway"
        assert caps.needs_qr_link and not caps.echoes_client_ref
        assert not caps.media and not caps.templates


async def test_a_good_send_returns_the_gateways_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with harness() as h:
        result = await h.adapter.send(h.outgoing("bom dia"))
        assert isinstance(result, SendResult)
        assert result.provider_message_id == h.fake.accepted[0]["id"]
        assert h.accepted() == 1
        _assert_secret_free(h, repr(h.adapter), *(r.getMessage() for r in caplog.records))


@pytest.mark.parametrize(
    ("failure", "error", "accepted"),
    [
        ("unauthorized", AuthError, 0),
        ("rate_limited", RateLimited, 0),
        ("accept_then_hang", DeliveryUnknown, 1),
        ("refused", NotSent, 0),
        ("invalid_recipient", PermanentSendError, 0),
    ],
)
async def test_each_failure_maps_to_its_error(
    caplog: pytest.LogCaptureFixture,
    failure: str,
    error: type[ProviderError],
    accepted: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with harness() as h:
        h.arrange(failure, retry_after=7 if failure == "rate_limited" else None)
        with pytest.raises(error) as raised:
            await h.adapter.send(h.outgoing())
        assert type(raised.value) is not ProviderError
        assert h.accepted() == accepted
        if failure == "rate_limited":
            assert isinstance(raised.value, RateLimited)
            assert raised.value.retry_after >= 7
        _assert_secret_free(
            h,
            repr(h.adapter),
            str(raised.value),
            repr(raised.value),
            *(r.getMessage() for r in caplog.records),
        )
        # The adapter is still usable afterwards, and the next good send goes out.
        assert h.adapter.ready_to_send()
        await h.adapter.send(h.outgoing("de novo"))
        assert h.accepted() == accepted + 1
