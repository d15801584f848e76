"""What the demo provider declares: no account, no webhooks, what its adapter can do."""

from __future__ import annotations

from sync.providers.base import Capabilities, ProviderSpec

PROVIDER = ProviderSpec(
    kind="demo",
    label="Demo",
    description="Fictitious customers who write, answer and read, with no network.",
    capabilities=Capabilities(
        templates=False,
        max_text_length=4096,
        sends_per_second=20.0,
        needs_qr_link=False,
        media=True,
        echoes_client_ref=True,
    ),
    adapter="sync.providers.demo.adapter:DemoProvider",
)
