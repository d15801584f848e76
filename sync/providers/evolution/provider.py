"""What the Evolution API provider declares: its account fields, webhook routes, capabilities."""

from __future__ import annotations

from sync.providers.base import (
    NAME_FIELD,
    AccountField,
    Capabilities,
    FieldCheck,
    ProviderSpec,
    WebhookRoute,
)
from sync.providers.evolution.account import EvolutionAccount
from sync.providers.evolution.limits import MAX_TEXT

PROVIDER = ProviderSpec(
    kind=EvolutionAccount.provider,
    label="QR-linked (Evolution API)",
    description="Your WhatsApp app linked by scanning a QR code, through Evolution API.",
    capabilities=Capabilities(
        templates=False,  # templates are Meta's; a linked phone sends free text at any time
        max_text_length=MAX_TEXT,
        # A linked personal number sending fast is what WhatsApp bans: stay at a human pace.
        sends_per_second=1.0,
        needs_qr_link=True,
        media=True,
        echoes_client_ref=False,
        reactions=True,
        replies=True,
    ),
    adapter="sync.providers.evolution.adapter:EvolutionAdapter",
    account_type=EvolutionAccount,
    account_fields=(
        NAME_FIELD,
        AccountField("base_url", "Server address", check=FieldCheck.URL),
        AccountField("api_key", "API key", secret=True),
        AccountField("instance", "Instance name", check=FieldCheck.INSTANCE, from_name=True),
        # The global API key works for every instance: an instance's own token is optional.
        AccountField(
            "instance_token", "Instance token", secret=True, required=False, in_form=False
        ),
        # Evolution does not sign its webhooks: Caixa makes this secret and has Evolution send
        # it back as a header on every call (see webhook.py).
        AccountField(
            "webhook_secret",
            "Webhook secret",
            secret=True,
            required=False,
            in_form=False,
            generated=True,
        ),
    ),
    webhook_routes=(
        WebhookRoute("/hooks/evolution/{instance}"),
        # webhookByEvents appends ONE segment, the event name lower case with "-"
        # (MESSAGES_UPSERT -> /messages-upsert): EvolutionAPI/evolution-api,
        # src/api/integrations/event/webhook/webhook.controller.ts (transformedWe).
        WebhookRoute("/hooks/evolution/{instance}/{event}"),
    ),
    webhook_parser="sync.providers.evolution.webhook:parse_webhook",
)
