"""Alembic environment: runs on the connection :func:`idp.storage.migrate.migrate` passes in."""

from servicekit.migrations import run_environment

run_environment()
