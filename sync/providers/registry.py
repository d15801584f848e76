"""Every provider adapter Caixa knows, by kind. Adding a provider = one file + one line here."""

from __future__ import annotations

from sync.providers.demo import DemoProvider

ADAPTERS: dict[str, type] = {
    DemoProvider.kind: DemoProvider,
}
