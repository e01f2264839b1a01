"""Alembic migrations of the provider's schema (run by :func:`idp.storage.migrate.migrate`)."""
