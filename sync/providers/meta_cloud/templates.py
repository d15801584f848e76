"""Approved message templates: what the template list says, and how the composer fills them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sync.providers.meta_cloud.values import clean

TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}")
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Za-z]{2,4})?")


@dataclass(frozen=True, slots=True)
class TemplateInfo:
    """An approved template as the composer offers it: its texts and how many parameters."""

    name: str
    language: str
    category: str
    header_text: str
    body_text: str
    footer_text: str

    @property
    def header_parameters(self) -> int:
        """How many ``{{n}}`` the header text holds."""
        return _placeholder_count(self.header_text)

    @property
    def body_parameters(self) -> int:
        """How many ``{{n}}`` the body holds."""
        return _placeholder_count(self.body_text)

    def render(self, header: Sequence[str] = (), body: Sequence[str] = ()) -> str:
        """The text the customer will read, parameters filled in (for the bubble and search)."""
        parts = [
            _fill(self.header_text, header),
            _fill(self.body_text, body),
            self.footer_text,
        ]
        return "\n".join(p for p in parts if p)


_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def _placeholder_count(text: str) -> int:
    return max((int(n) for n in _PLACEHOLDER.findall(text)), default=0)


def _fill(text: str, values: Sequence[str]) -> str:
    def one(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return values[index] if 0 <= index < len(values) else match.group(0)

    return _PLACEHOLDER.sub(one, text)


def template_info(item: Any) -> TemplateInfo | None:
    """One entry of the template list, or None when it cannot be sent (not approved, odd)."""
    if not isinstance(item, dict) or clean(item.get("status")).upper() != "APPROVED":
        return None
    name, language = clean(item.get("name")), clean(item.get("language"))
    if not TEMPLATE_NAME.fullmatch(name) or not LANGUAGE.fullmatch(language):
        return None
    texts = {"HEADER": "", "BODY": "", "FOOTER": ""}
    components = item.get("components")
    for component in components if isinstance(components, list) else ():
        if not isinstance(component, dict):
            continue
        kind = clean(component.get("type")).upper()
        if kind == "HEADER" and clean(component.get("format") or "TEXT").upper() != "TEXT":
            return None  # a media header needs its media at send time: not offered (yet)
        if kind in texts:
            texts[kind] = clean(component.get("text"))
    return TemplateInfo(
        name=name,
        language=language,
        category=clean(item.get("category")),
        header_text=texts["HEADER"],
        body_text=texts["BODY"],
        footer_text=texts["FOOTER"],
    )
