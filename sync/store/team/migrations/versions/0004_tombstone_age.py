"""When each tombstone was made, so ``caixa-server db prune`` can drop the old ones.

A deleted row stays as a tombstone so every desktop learns of the delete on its next pull.
``deleted_at`` is set by a trigger when a row becomes deleted (and cleared if it ever comes
back); the triggers fire only on that change, not on every write. Tombstones already there are
dated from this upgrade.

Revision ID: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("accounts", "conversations", "messages", "reactions", "notes")

_FUNCTION = """
CREATE FUNCTION caixa_deleted_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.deleted_at := CASE WHEN NEW.deleted THEN now() END;
    RETURN NEW;
END $$;
"""


def upgrade() -> None:
    """Add ``deleted_at`` and its triggers to every table with tombstones."""
    op.execute(_FUNCTION)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN deleted_at timestamptz")
        op.execute(f"UPDATE {table} SET deleted_at = now() WHERE deleted")
        op.execute(
            f"CREATE TRIGGER {table}_deleted_at BEFORE INSERT ON {table} FOR EACH ROW"
            " WHEN (NEW.deleted) EXECUTE FUNCTION caixa_deleted_at()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_deleted_at_change BEFORE UPDATE OF deleted ON {table}"
            " FOR EACH ROW WHEN (OLD.deleted IS DISTINCT FROM NEW.deleted)"
            " EXECUTE FUNCTION caixa_deleted_at()"
        )


def downgrade() -> None:
    """Not supported: the team schema is only ever upgraded (restore a backup to go back)."""
    raise NotImplementedError("downgrade is not supported; restore a backup instead")
