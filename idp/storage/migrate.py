"""The provider's schema migrations (Alembic scripts in ``migrations/``), applied at start-up or by ``idp migrate``.

Its revision stays in ``alembic_version`` (the table existing databases have), beside the verifier service's own
when both share one PostgreSQL database.
"""

from __future__ import annotations

from typing import Final

from servicekit.migrations import Migrations

#: The provider's scripts; "myna" is the advisory lock serialising its migrations on PostgreSQL.
MIGRATIONS: Final = Migrations("idp.storage:migrations", lock_key=0x6D796E61, version_table="alembic_version")

head_revision = MIGRATIONS.head_revision
current_revision = MIGRATIONS.current_revision
migrate = MIGRATIONS.migrate
