"""What the VPS gateway provider declares: its account fields, webhook route and capabilities."""

from __future__ import annotations

from sync.providers.base import (
    NAME_FIELD,
    AccountField,
    Capabilities,
    FieldCheck,
    ProviderSpec,
    WebhookRoute,
)
from sync.providers.gateway.account import GatewayAccount
from sync.providers.gateway.limits import MAX_TEXT_LENGTH

PROVIDER = ProviderSpec(
    kind=GatewayAccount.provider,
    label="VPS gateway",
    description="Your WhatsApp app linked through your own Caixa gateway on a server.",
    # Text only: the design's ``/send`` takes ``{to, message}`` and nothing else (no media, no
    # quoted reply, no templates). It echoes no client reference. One send per second: Baileys
    # has no limit of its own, but fast bursts from a linked device are what gets numbers banned.
    capabilities=Capabilities(
        templates=False,
        max_text_length=MAX_TEXT_LENGTH,
        sends_per_second=1.0,
        needs_qr_link=True,
        media=False,
        echoes_client_ref=False,
    ),
    adapter="sync.providers.gateway.adapter:GatewayAdapter",
    account_type=GatewayAccount,
    account_fields=(
        NAME_FIELD,
        AccountField("base_url", "Server address", check=FieldCheck.URL),
        AccountField("master_token", "Master token", secret=True, required=False),
        AccountField("instance_token", "Instance token", secret=True, required=False),
        AccountField("instance", "Instance name", check=FieldCheck.INSTANCE),
    ),
    # Either token is enough: the master token for the gateway's own instances, or the instance
    # token for that one instance.
    one_of=(("master_token", "instance_token"),),
    webhook_routes=(WebhookRoute("/hooks/gateway/{instance}"),),
    webhook_parser="sync.providers.gateway.webhook:parse_webhook",
)
