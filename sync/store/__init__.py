"""The local encrypted cache: its key, opening and migrations, the database thread, the
queries the views run, full-text search, bulk loading and export."""
