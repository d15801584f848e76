"""Pacing's state, shared by every dispatcher of every server process.

One row per number (recipient "") and per (number, recipient) lately written to: the time
(epoch seconds) of its limit, as the engine's pacing rules count it (``sync/engine/pacing.py``).
A claim locks its number's row and its recipient's, asks the rules, and writes the new times in
its own transaction: several processes take turns on a number, so its rate holds across all of
them. Server-only: the system scope reads and writes it, no agent does.

Revision ID: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_SQL = """
CREATE TABLE pacing (
    workspace_id bigint NOT NULL REFERENCES workspaces(id),
    account_id bigint NOT NULL REFERENCES accounts(id),
    recipient text NOT NULL,
    -- NULL: never spent (a row made only to be locked by a claim).
    tat double precision,
    PRIMARY KEY (account_id, recipient)
);
CREATE INDEX pacing_age ON pacing (tat);
ALTER TABLE pacing ENABLE ROW LEVEL SECURITY;
CREATE POLICY caixa_scope ON pacing USING ((SELECT caixa_is_system()));
"""


def upgrade() -> None:
    """Create the table, readable and writable by the system scope only."""
    op.execute(_SQL)


def downgrade() -> None:
    """Not supported: the team schema is only ever upgraded (restore a backup to go back)."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
