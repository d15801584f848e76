"""The registry and what each provider declares: a provider is one package and one line there.

Every registered package must declare itself consistently (its ``PROVIDER``), and reading the
declarations must stay cheap: the app reads them early, so a declaration loads no adapter.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys

import pytest

from sync.providers import registry
from sync.providers.accounts import (
    ACCOUNT_TYPES,
    AccountConfigError,
    account_from_json,
    account_to_json,
)
from sync.providers.base import (
    NAME_FIELD,
    AccountField,
    Capabilities,
    ProviderSpec,
    WebhookRoute,
)

KINDS = registry.kinds()


@pytest.mark.parametrize("kind", KINDS)
def test_each_package_declares_its_provider_consistently(kind: str) -> None:
    spec = registry.provider(kind)
    package = importlib.import_module(registry.PROVIDERS[kind])
    assert package.PROVIDER is spec and spec.kind == kind
    adapter = spec.load_adapter()
    assert adapter.kind == kind  # type: ignore[attr-defined]
    assert adapter.capabilities is spec.capabilities  # type: ignore[attr-defined]
    if spec.account_type is not None:
        declared = [f.name for f in spec.account_fields]
        fields = [f.name for f in dataclasses.fields(spec.account_type) if f.name != "account_id"]
        assert sorted(fields) == sorted(declared)
        assert spec.account_type.provider == kind
        assert spec.account_fields[0] == NAME_FIELD
    if spec.webhook_routes:
        assert callable(registry.webhook_parser(kind))
    else:
        with pytest.raises(KeyError):
            registry.webhook_parser(kind)


@pytest.mark.parametrize("kind", KINDS)
def test_each_package_re_exports_its_public_names(kind: str) -> None:
    package = importlib.import_module(registry.PROVIDERS[kind])
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    with pytest.raises(AttributeError):
        package.not_a_name  # noqa: B018


def test_reading_the_declarations_loads_no_adapter() -> None:
    """The registry is on the app's start-up path: a declaration must not import its adapter,
    its webhook parser, httpx or the demo corpus."""
    code = (
        "import sys\n"
        "from sync.providers import registry\n"
        "specs = registry.providers()\n"
        "heavy = [m for m in sys.modules if m == 'httpx' or m.endswith(('.adapter', '.webhook',"
        " '.corpus'))]\n"
        "print(len(specs), heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split(" ", 1)
    assert int(out[0]) == len(KINDS)
    assert out[1].strip() == "[]"


def test_the_providers_numbers_are_added_to() -> None:
    assert set(registry.account_kinds()) == {"meta", "evolution", "gateway"}
    assert set(ACCOUNT_TYPES) == set(registry.account_kinds())
    assert "demo" not in ACCOUNT_TYPES and "carrier-pigeon" not in ACCOUNT_TYPES
    with pytest.raises(KeyError):
        registry.provider("carrier-pigeon")


@pytest.mark.parametrize("kind", registry.account_kinds())
def test_an_account_of_each_provider_goes_to_json_and_back(kind: str) -> None:
    spec = registry.provider(kind)
    values = {"digits": "123456789", "url": "https://x.example", "instance": "loja-1"}
    data = {"provider": kind}
    for field in spec.account_fields:
        data[field.name] = values.get(field.check.value, field.default or f"{field.name}-value")
    data["api_version"] = "v23.0" if "api_version" in data else data.get("api_version", "")
    data = {k: v for k, v in data.items() if v}
    account = account_from_json(data, account_id=3)
    assert account.provider == kind and account.account_id == 3
    assert account_to_json(account, with_secrets=True) == {
        **{f.name: f.default for f in spec.account_fields},
        **data,
    }
    shown = json.dumps(account_to_json(account)) + repr(account)
    for name in spec.secret_fields:
        if data.get(name):
            assert data[name] not in shown


def test_the_address_a_provider_is_given_is_its_first_route() -> None:
    meta = account_from_json(
        {
            "provider": "meta",
            "name": "Loja",
            "phone_number_id": "123456",
            "waba_id": "654321",
            "access_token": "t",
            "app_secret": "s",
            "verify_token": "v",
        }
    )
    gateway = account_from_json(
        {
            "provider": "gateway",
            "name": "Loja",
            "instance": "loja.centro",
            "base_url": "https://gw.example",
            "master_token": "m",
        }
    )
    assert registry.hook_url("https://caixa.example/", meta) == "https://caixa.example/hooks/meta"
    assert registry.hook_url("https://caixa.example", gateway) == (
        "https://caixa.example/hooks/gateway/loja.centro"
    )
    assert registry.hook_url("", gateway) == ""


@pytest.mark.parametrize(
    ("data", "reason", "fields"),
    [
        ([], "not_object", ()),
        ({"provider": "pigeon"}, "provider", ("provider",)),
        ({"provider": "gateway", "name": "x", "colour": "blue"}, "unknown_fields", ("colour",)),
        ({"provider": "gateway", "name": "x"}, "required", ("base_url",)),
        ({"provider": "gateway", "name": "x", "base_url": 7}, "not_text", ("base_url",)),
        ({"provider": "gateway", "name": "x", "base_url": "ftp://gw"}, "url", ("base_url",)),
        ({"provider": "gateway", "name": "x", "base_url": "http://["}, "url", ("base_url",)),
        (
            {"provider": "gateway", "name": "x", "base_url": "https://gw", "instance": "a b"},
            "instance",
            ("instance",),
        ),
        (
            {"provider": "gateway", "name": "x", "base_url": "https://gw", "instance": "a"},
            "one_of",
            ("master_token", "instance_token"),
        ),
        ({"provider": "gateway", "name": "x" * 101}, "name", ("name",)),
        (
            {"provider": "meta", "name": "x", "phone_number_id": "12a"},
            "digits",
            ("phone_number_id",),
        ),
    ],
)
def test_a_refusal_names_the_field_and_why_never_the_value(
    data: object, reason: str, fields: tuple[str, ...]
) -> None:
    with pytest.raises(AccountConfigError) as refused:
        account_from_json(data)
    assert (refused.value.reason, refused.value.fields) == (reason, fields)
    assert refused.value.field == (fields[0] if fields else "")
    if isinstance(data, dict):
        for key, value in data.items():
            if key != "provider" and isinstance(value, str) and len(value) > 3:
                assert value not in str(refused.value)


def test_a_declaration_that_contradicts_itself_is_refused() -> None:
    caps = Capabilities(
        templates=False,
        max_text_length=10,
        sends_per_second=1.0,
        needs_qr_link=False,
        media=False,
        echoes_client_ref=False,
    )
    base = {"kind": "x", "label": "X", "description": "", "capabilities": caps, "adapter": "m:A"}
    with pytest.raises(ValueError, match="twice"):
        ProviderSpec(**base, account_fields=(NAME_FIELD, NAME_FIELD))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="first account field"):
        ProviderSpec(**base, account_fields=(AccountField("token", "Token"),))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="route"):
        ProviderSpec(  # type: ignore[arg-type]
            **base,
            webhook_routes=(WebhookRoute("/hooks/x/{secret}"),),
            webhook_parser="m:f",
        )
    with pytest.raises(ValueError, match="filled from the account"):
        ProviderSpec(  # type: ignore[arg-type]
            **base,
            account_fields=(NAME_FIELD,),
            webhook_routes=(WebhookRoute("/hooks/x/{instance}"),),
            webhook_parser="m:f",
        )
