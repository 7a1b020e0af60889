"""Superfone fixtures (none yet)."""
