"""The local cache: one SQLCipher database per desktop, its migrations, queries,
full-text search, ingest and outbox (what the engine stores solo)."""
