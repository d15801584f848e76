"""SQLAlchemy Core tables mirroring the newest local-cache schema (see ``migrations.py``)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, Text

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("phone", Text, nullable=False, default=""),
    Column("display_name", Text, nullable=False, default=""),
    Column("state", Text, nullable=False, default="offline"),
    Column("state_reason", Text, nullable=False, default=""),
    Column("config", Text, nullable=False, default="{}"),
    Column("sort_order", Integer, nullable=False, default=0),
    Column("created_at", Integer, nullable=False, default=0),
    Column("automations", Text, nullable=False, default="{}"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, nullable=False),
    Column("chat_key", Text, nullable=False),
    Column("customer_phone", Text, nullable=False, default=""),
    Column("customer_name", Text, nullable=False, default=""),
    Column("is_group", Integer, nullable=False, default=0),
    Column("last_message_at", Integer, nullable=False, default=0),
    Column("last_preview", Text, nullable=False, default=""),
    Column("last_direction", Text),
    Column("last_status", Text),
    Column("last_message_seq", Integer),
    Column("unread_count", Integer, nullable=False, default=0),
    Column("assigned_user_id", Integer),
    Column("version", Integer, nullable=False, default=1),
    Column("labels", Text, nullable=False, default="[]"),
    Column("last_inbound_at", Integer),
)

messages = Table(
    "messages",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("id", Text, nullable=False, unique=True),
    Column("account_id", Integer, nullable=False),
    Column("conversation_id", Integer, nullable=False),
    Column("provider_message_id", Text),
    Column("direction", Text, nullable=False),
    Column("ts", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("body", Text, nullable=False, default=""),
    Column("sender_name", Text, nullable=False, default=""),
    Column("reply_to", Text),
    Column("media", Text),
    Column("status", Text, nullable=False),
    Column("error", Text),
    Column("edited_at", Integer),
    Column("revoked_at", Integer),
    Column("author_user_id", Integer),
)

outbox = Table(
    "outbox",
    metadata,
    Column("message_id", Text, primary_key=True),
    Column("account_id", Integer, nullable=False),
    Column("state", Text, nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Integer, nullable=False, default=0),
    Column("created_at", Integer, nullable=False),
    Column("last_error", Text),
)

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

notes = Table(
    "notes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("account_id", Integer, nullable=False),
    Column("conversation_id", Integer, nullable=False),
    Column("author_user_id", Integer),
    Column("body", Text, nullable=False),
    Column("ts", Integer, nullable=False),
)

teammates = Table(
    "teammates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", Text, nullable=False),
    Column("display_name", Text, nullable=False, default=""),
    Column("role", Text, nullable=False),
    Column("disabled", Integer, nullable=False, default=0),
)

team_commands = Table(
    "team_commands",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("id", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("state", Text, nullable=False, default="pending"),
    Column("result", Text),
)

pending_changes = Table(
    "pending_changes",
    metadata,
    Column("account_id", Integer, primary_key=True),
    Column("target_id", Text, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("text", Text, nullable=False, default=""),
    Column("ts", Integer, nullable=False),
)
