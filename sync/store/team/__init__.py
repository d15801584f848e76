"""The team's store: Postgres (row-level security, Alembic migrations), its ingest
and outbox (what the engine stores in a team, on the server)."""
