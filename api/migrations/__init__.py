"""Alembic migrations of the service database (see api/alembic.ini)."""
