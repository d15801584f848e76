"""Small builders shared by the core tests: accounts, provider events, raw row reads."""

from __future__ import annotations

from typing import Any

from sync.domain.events import ConnectionEvent, MessageEvent, StatusEvent
from sync.domain.ids import chat_key_for_phone
from sync.domain.models import ConnectionState, DeliveryStatus, Direction, MessageType
from sync.store.local import queries
from sync.store.local.local_cache import LocalCache

BASE_TS = 1_700_000_000.0  # 2023-11-14T22:13:20Z, epoch seconds


def add_account(cache: LocalCache, name: str = "Loja", *, sort_order: int = 0) -> int:
    """A number served by the recording fake."""
    return queries.add_account(
        cache, name=name, provider="recording", phone="+5511900000000", sort_order=sort_order
    )


def inbound(
    account_id: int,
    provider_id: str,
    text: str = "Olá",
    *,
    phone: str = "+55 11 99999-0001",
    name: str = "Ana",
    ts: float = BASE_TS,
    type_: MessageType = MessageType.TEXT,
) -> MessageEvent:
    """A customer's message as an adapter would normalize it."""
    return MessageEvent(
        account_id=account_id,
        provider_message_id=provider_id,
        chat_key=chat_key_for_phone(phone),
        chat_phone=phone,
        direction=Direction.IN,
        timestamp=ts,
        type=type_,
        text=text,
        sender_name=name,
        sender_phone=phone,
    )


def outbound_echo(
    account_id: int,
    provider_id: str,
    text: str = "Resposta",
    *,
    phone: str = "+55 11 99999-0001",
    ts: float = BASE_TS,
) -> MessageEvent:
    """A message the business sent from elsewhere (its phone), echoed by the provider."""
    return MessageEvent(
        account_id=account_id,
        provider_message_id=provider_id,
        chat_key=chat_key_for_phone(phone),
        chat_phone=phone,
        direction=Direction.OUT,
        timestamp=ts,
        type=MessageType.TEXT,
        text=text,
    )


def receipt(
    account_id: int,
    provider_id: str,
    status: DeliveryStatus,
    *,
    client_ref: str | None = None,
    error: str | None = None,
    ts: float = BASE_TS,
) -> StatusEvent:
    """A delivery receipt."""
    return StatusEvent(account_id, provider_id, status, ts, error=error, client_ref=client_ref)


def connection(account_id: int, state: ConnectionState, **kw: Any) -> ConnectionEvent:
    """A link-state change."""
    return ConnectionEvent(account_id, state, **kw)


def row(cache: LocalCache, sql: str, *params: object) -> tuple[Any, ...] | None:
    """One raw row (None when there is none)."""
    found = cache.conn.exec_driver_sql(sql, params).first()
    return None if found is None else tuple(found)


def rows(cache: LocalCache, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """All raw rows."""
    return [tuple(r) for r in cache.conn.exec_driver_sql(sql, params)]


def scalar(cache: LocalCache, sql: str, *params: object) -> Any:
    """The first column of the first row."""
    return cache.conn.exec_driver_sql(sql, params).scalar()


def conversation_id_for(cache: LocalCache, account_id: int, phone: str) -> int:
    """The id of a number's conversation with ``phone``."""
    found = scalar(
        cache,
        "SELECT id FROM conversations WHERE account_id = ? AND chat_key = ?",
        account_id,
        chat_key_for_phone(phone),
    )
    assert found is not None, f"no conversation with {phone}"
    return int(found)


def message_by_provider_id(cache: LocalCache, account_id: int, provider_id: str) -> Any:
    """The message row (as a SQLAlchemy Row) with this provider id."""
    return cache.conn.exec_driver_sql(
        "SELECT * FROM messages WHERE account_id = ? AND provider_message_id = ?",
        (account_id, provider_id),
    ).one()


def message_row(cache: LocalCache, message_id: str) -> Any:
    """The message row with our id."""
    return cache.conn.exec_driver_sql("SELECT * FROM messages WHERE id = ?", (message_id,)).one()
