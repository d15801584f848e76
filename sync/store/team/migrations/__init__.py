"""Alembic migrations of the team server's Postgres schema (run by ``caixa-server db upgrade``)."""
