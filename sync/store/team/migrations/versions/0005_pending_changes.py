"""Edits and deletions that arrive before the message they change wait here for it.

WhatsApp does not promise order: an edit (or a "deleted for everyone") can reach the server
before its message, typically after a reconnect. It is kept, keyed by number and provider id,
and applied as soon as the message is stored (``pg_ingest``); ``db prune`` forgets changes
whose message never came. Server-only: the system scope reads and writes it, no agent does.

Revision ID: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SQL = """
CREATE TABLE pending_changes (
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    account_id bigint NOT NULL REFERENCES accounts(id),
    target_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('edit', 'revoke')),
    body text NOT NULL DEFAULT '',
    ts bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, target_id, kind)
);
ALTER TABLE pending_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY caixa_scope ON pending_changes USING ((SELECT caixa_is_system()));
"""


def upgrade() -> None:
    """Create the table, readable and writable by the system scope only."""
    op.execute(_SQL)


def downgrade() -> None:
    """Not supported: the team schema is only ever upgraded (restore a backup to go back)."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
