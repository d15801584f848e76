"""The local encrypted cache: schema, migrations, queries and search."""
