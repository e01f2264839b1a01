"""Storage: SQLAlchemy 2 (async) over SQLite (embedded default) or PostgreSQL, with Alembic migrations.

Nothing is kept in process memory (but registered clients, in a cache that every change reaches:
:mod:`idp.storage.clients`): every worker reads and writes the same rows, so two workers behind one address behave
as one.
"""

from idp.storage.cleanup import CleanupResult, delete_expired
from idp.storage.clients import ClientExists, ClientStore
from idp.storage.migrate import current_revision, head_revision, migrate
from idp.storage.objects import NewObject, ObjectStore, StoredObject
from idp.storage.signing_keys import SqlKeyStore
from servicekit.database import Database

__all__ = [
    "CleanupResult",
    "ClientExists",
    "ClientStore",
    "Database",
    "NewObject",
    "ObjectStore",
    "SqlKeyStore",
    "StoredObject",
    "current_revision",
    "delete_expired",
    "head_revision",
    "migrate",
]
