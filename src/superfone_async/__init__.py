"""Async SDK for the Superfone Enterprise API (placeholder until the Superfone issue lands)."""

__all__: list[str] = []
