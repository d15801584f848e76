"""The desktop side of team sync: pull, push, live pokes (no Qt here)."""
