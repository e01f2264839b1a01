"""Alembic environment: runs on the connection :func:`idp.storage.migrate.migrate` passes in."""

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes["connection"]
assert isinstance(connection, Connection), "run migrations through `idp migrate`"
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
