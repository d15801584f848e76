"""The shared contract table, run locally on the Evolution harness (the lead's test_contract.py
runs the same cases over every registered provider)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from sync.providers.base import (
    AuthError,
    DeliveryUnknown,
    NotSent,
    PermanentSendError,
    ProviderAdapter,
    QrLinkAdapter,
    RateLimited,
    SendResult,
)
from sync.providers.evolution import EvolutionAdapter
from sync.providers.registry import adapter_class, webhook_parser
from tests.fakes.evolution_server import FakeEvolution
from tests.sync.providers.evolution.harness import fake_evolution, harness


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeEvolution, str]]:
    with fake_evolution() as running:
        yield running


def _no_secret(h, *texts: str) -> None:
    for secret in h.secrets:
        for text in texts:
            assert secret not in text


def test_registered() -> None:
    assert adapter_class("evolution") is EvolutionAdapter
    assert webhook_parser("evolution").__name__ == "parse_webhook"


@pytest.mark.anyio
async def test_protocols_and_repr(server: tuple[FakeEvolution, str]) -> None:
    async with harness(server=server) as h:
        assert isinstance(h.adapter, ProviderAdapter)
        assert isinstance(h.adapter, QrLinkAdapter)
        text = repr(h.adapter)
        assert text == "EvolutionAdapter(kind='evolution', account_id=7, name='Loja Centro')"
        _no_secret(h, text)
        caps = EvolutionAdapter.capabilities
        assert caps.needs_qr_link and caps.media and not caps.echoes_client_ref
        assert not caps.templates


@pytest.mark.anyio
async def test_good_send(
    server: tuple[FakeEvolution, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with harness(server=server) as h:
        result = await h.adapter.send(h.outgoing())
        assert isinstance(result, SendResult)
        assert result.provider_message_id.startswith("3EB0")
        assert h.accepted() == 1
        _no_secret(h, caplog.text, *(r.getMessage() for r in caplog.records))


CASES = [
    ("unauthorized", None, AuthError, 0),
    ("rate_limited", 7, RateLimited, 0),
    ("rate_limited", None, RateLimited, 0),
    ("accept_then_hang", None, DeliveryUnknown, 1),
    ("refused", None, NotSent, 0),
    ("invalid_recipient", None, PermanentSendError, 0),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("failure", "retry_after", "error", "accepted"), CASES)
async def test_contract_table(
    server: tuple[FakeEvolution, str],
    failure: str,
    retry_after: int | None,
    error: type[Exception],
    accepted: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with harness(server=server) as h:
        h.arrange(failure, retry_after=retry_after)
        with pytest.raises(error) as info:
            await h.adapter.send(h.outgoing())
        assert h.accepted() == accepted
        if retry_after is not None:
            assert isinstance(info.value, RateLimited)
            assert info.value.retry_after >= retry_after
        _no_secret(h, str(info.value), repr(info.value), caplog.text)
        # The next send goes through: a failure is never sticky.
        await h.adapter.send(h.outgoing())
        assert h.accepted() == accepted + 1
