"""What the desktop runs its inbox on, composed from the parts below: in solo mode the engine,
the numbers' adapters and the webhook receiver over the local cache (``workspace``)."""
