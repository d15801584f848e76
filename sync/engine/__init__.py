"""The engine: the rules written once, over a store. Ingest (and its group commit), the outbox
and its dispatcher, and the workspaces that give it adapters (the demo's, a solo user's)."""
