"""Alembic migrations of the store: each version a file in ``versions/``; ``Store`` upgrades on open."""
