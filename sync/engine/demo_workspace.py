"""The built-in demo workspace: three fictitious businesses with a realistic history.

The history is generated from a fixed seed, so every newcomer sees the same shop, and loaded
with the bulk loader (about 45,000 messages in well under a second on an ordinary laptop).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sync.domain.changes import ChangeSet
from sync.domain.models import ConnectionState
from sync.providers.demo import DemoProvider, DemoTiming
from sync.providers.demo.corpus import PROFILES, DemoCustomer, generate_history
from sync.store.local import queries
from sync.store.local.bulk import load_history

if TYPE_CHECKING:
    from sync.store.local.local_cache import LocalCache

DEMO_SEED = 20261123
_SEEDED_KEY = "demo.seeded"


@dataclass(frozen=True, slots=True)
class DemoShape:
    """How big the generated workspace is."""

    numbers: int = 3
    conversations: int = 150
    max_messages: int = 200


def seed_demo_workspace(
    cache: LocalCache,
    *,
    shape: DemoShape | None = None,
    seed: int = DEMO_SEED,
    now_ms: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ChangeSet:
    """Create the demo numbers and their history, once; later calls change nothing."""
    if queries.get_meta(cache, _SEEDED_KEY) is not None:
        return ChangeSet()
    shape = shape or DemoShape()
    now = int(time.time() * 1000) if now_ms is None else now_ms
    changes = ChangeSet(reset=True)
    loaded = 0
    for index in range(shape.numbers):
        profile = PROFILES[index]
        account_id = queries.add_account(
            cache,
            name=profile.name,
            provider=DemoProvider.kind,
            phone=profile.phone,
            display_name=profile.name,
            config={"profile_index": index},
            sort_order=index,
            state=ConnectionState.CONNECTING,
        )
        history = generate_history(
            index,
            seed=seed,
            conversations=shape.conversations,
            max_messages=shape.max_messages,
            now_ms=now,
        )
        base = loaded

        def report(count: int, base: int = base) -> None:
            if progress is not None:
                progress(base + count)

        changes |= load_history(cache, account_id, history, progress=report)
        loaded = base + queries.count_messages(cache, account_id)
    queries.set_meta(cache, _SEEDED_KEY, str(seed))
    return changes


def demo_customers(cache: LocalCache, account_id: int) -> list[DemoCustomer]:
    """The customers a demo number already talks to (so live messages continue their chats)."""
    rows = cache.conn.exec_driver_sql(
        "SELECT customer_phone, customer_name FROM conversations WHERE account_id = ? ORDER BY id",
        (account_id,),
    )
    return [
        DemoCustomer(phone=phone, name=name, language="pt" if phone.startswith("+55") else "en")
        for phone, name in rows
    ]


def demo_adapters(
    cache: LocalCache, *, seed: int = DEMO_SEED, timing: DemoTiming | None = None, live: bool = True
) -> dict[int, DemoProvider]:
    """One demo adapter per demo number in the cache."""
    adapters: dict[int, DemoProvider] = {}
    for account in queries.list_accounts(cache):
        if account.provider != DemoProvider.kind:
            continue
        adapters[account.id] = DemoProvider(
            account.id,
            profile_index=int(account.config.get("profile_index", 0)),
            customers=demo_customers(cache, account.id),
            seed=seed,
            timing=timing,
            live=live,
        )
    return adapters
