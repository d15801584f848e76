"""Alembic environment: always run programmatically by ``sync.store.team.database.upgrade``.

The caller hands the connection in through ``config.attributes["connection"]``; there is no
alembic.ini and no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
