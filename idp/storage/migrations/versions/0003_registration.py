"""Clients: dynamic registration (RFC 7591/7592) and logout metadata (OIDC RP-Initiated and Back-Channel Logout),
DPoP-bound tokens (RFC 9449 §5.2), the sector_identifier_uri (OIDC Dynamic Client Registration §2)."""

from alembic import op

import idp.storage.columns as columns

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        for column in columns.client_registration():
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        for column in reversed(columns.client_registration()):
            batch.drop_column(column.name)
