"""Claimed sends hold a lease: a dispatcher that stopped is known by its leases running out.

A claim sets ``lease_until``; the dispatcher renews it while the provider call lasts. Any
server process settles as "unknown" (never resent) the sends whose lease ended, while the others
keep running: no process needs to be alone for that. The partial index keeps that look small.

Revision ID: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_SQL = """
ALTER TABLE outbox ADD COLUMN lease_until timestamptz;
CREATE INDEX outbox_leases ON outbox (lease_until) WHERE state = 'sending';
"""


def upgrade() -> None:
    """Add the lease and its index."""
    op.execute(_SQL)


def downgrade() -> None:
    """Not supported: the team schema is only ever upgraded (restore a backup to go back)."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
