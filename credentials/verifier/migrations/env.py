"""Alembic environment: runs on the connection :meth:`credentials.verifier.store.TransactionStore.migrate` passes in."""

from servicekit.migrations import run_environment

run_environment()
