"""The certificates behind live credentials that the online revocation sources re-check (idp.vci.watch)."""

from alembic import op

import idp.storage.columns as columns

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table("certificate_watches", *columns.certificate_watches())


def downgrade() -> None:
    op.drop_table("certificate_watches")
