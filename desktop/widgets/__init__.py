"""Painted delegates and small reusable widgets."""
