"""The dispatcher's claim finds each conversation's oldest outbox entry through an index.

Per-conversation order means the dispatcher only ever claims the head of a conversation's queue
(``DISTINCT ON (conversation_id) ... ORDER BY conversation_id, created_at``); without this index
every claim sorted the whole outbox.

Revision ID: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the index."""
    op.execute(
        "CREATE INDEX outbox_conversation_heads ON outbox (conversation_id, created_at, message_id)"
    )


def downgrade() -> None:
    """Not supported: the team schema is only ever upgraded (restore a backup to go back)."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
