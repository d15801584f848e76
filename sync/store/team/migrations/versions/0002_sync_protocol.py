"""What the sync protocol needs beyond the base schema.

- ``users`` carries change stamps too, so teammates (id, name, role, disabled) sync like the
  other tables instead of being sent in full on every pull.
- ``sync_settings``: server-wide values of the protocol. ``resync_before`` (an xid8): a client
  whose cursor is older is told "resync required" (set it after pruning tombstones older than
  that, so no client can miss a delete). Readable by every request; written by the system only.
- Pushed commands run on behalf of the agent (row-level security applies): an agent may record
  and read back their own commands, and queue a send (an outbox row) on a number they may see.
  Without these policies the push would have to run as the system, with the explicit checks as
  its only guard.

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SQL = """
ALTER TABLE users
    ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN seq bigint NOT NULL DEFAULT nextval('change_seq');
CREATE INDEX users_change ON users (xid, seq);
CREATE TRIGGER users_stamp BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION caixa_stamp();
CREATE TRIGGER users_notify AFTER INSERT OR UPDATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION caixa_notify();

CREATE TABLE sync_settings (
    key text PRIMARY KEY,
    value text NOT NULL
);
ALTER TABLE sync_settings ENABLE ROW LEVEL SECURITY;
CREATE POLICY caixa_read ON sync_settings FOR SELECT USING (true);
CREATE POLICY caixa_scope ON sync_settings USING ((SELECT caixa_is_system()));

CREATE POLICY caixa_own ON commands
    USING (
        workspace_id = (SELECT caixa_workspace())
        AND user_id = nullif(current_setting('caixa.user_id', true), '')::bigint
    );

CREATE POLICY caixa_enqueue ON outbox FOR INSERT
    WITH CHECK (
        workspace_id = (SELECT caixa_workspace())
        AND account_id IN (SELECT unnest(caixa_visible_accounts()))
    );
CREATE POLICY caixa_enqueue_read ON outbox FOR SELECT
    USING (
        workspace_id = (SELECT caixa_workspace())
        AND account_id IN (SELECT unnest(caixa_visible_accounts()))
    );
"""


def upgrade() -> None:
    """Stamp users, add sync settings, let agents record commands and queue sends."""
    op.execute(_SQL)


def downgrade() -> None:
    """Not supported: the team schema is only ever upgraded (restore a backup to go back)."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
