"""Persistence: SQLModel tables, the engine, migrations and small data functions."""
