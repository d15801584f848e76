"""What Meta's Cloud API provider declares: its account fields, webhook route and capabilities."""

from __future__ import annotations

from sync.providers.base import (
    NAME_FIELD,
    AccountField,
    Capabilities,
    FieldCheck,
    ProviderSpec,
    WebhookRoute,
)
from sync.providers.meta_cloud.account import META_API_VERSION, META_GRAPH_URL, MetaAccount
from sync.providers.meta_cloud.limits import TEXT_MAX

PROVIDER = ProviderSpec(
    kind=MetaAccount.provider,
    label="Official (Meta Cloud API)",
    description="A number registered on Meta's WhatsApp Business Platform.",
    capabilities=Capabilities(
        templates=True,
        max_text_length=TEXT_MAX,
        # Cloud API throughput: "up to 80 messages per second" by default per number.
        # https://developers.facebook.com/docs/whatsapp/cloud-api/overview#throughput
        sends_per_second=80.0,
        needs_qr_link=False,
        media=True,
        echoes_client_ref=True,
        service_window=True,
        reactions=True,
        replies=True,
    ),
    adapter="sync.providers.meta_cloud.adapter:MetaCloudAdapter",
    account_type=MetaAccount,
    account_fields=(
        NAME_FIELD,
        AccountField("phone_number_id", "Phone number ID", check=FieldCheck.DIGITS),
        AccountField("waba_id", "WhatsApp Business Account ID", check=FieldCheck.DIGITS),
        AccountField("access_token", "Access token", secret=True),
        AccountField("app_secret", "App secret", secret=True),
        AccountField("verify_token", "Webhook verify token", secret=True),
        AccountField(
            "base_url",
            "Graph API address",
            required=False,
            check=FieldCheck.URL,
            default=META_GRAPH_URL,
            in_form=False,
        ),
        AccountField(
            "api_version",
            "Graph API version",
            required=False,
            check=FieldCheck.API_VERSION,
            default=META_API_VERSION,
            in_form=False,
        ),
    ),
    # GET is the subscription handshake, POST the notifications: one address for every number
    # of the app (each change names its phone number id).
    webhook_routes=(WebhookRoute("/hooks/meta", ("GET", "POST")),),
    webhook_parser="sync.providers.meta_cloud.webhook:parse_webhook",
)
