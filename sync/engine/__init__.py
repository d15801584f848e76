"""The engine: ingest, outbox dispatcher, automations."""
