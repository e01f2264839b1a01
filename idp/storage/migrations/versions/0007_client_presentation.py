"""Clients: presentation metadata (client_name, logo_uri, policy_uri, tos_uri with language tags, OIDC Dynamic
Client Registration §2; purpose_of_use) and their logos, stored by the provider (idp.web.logos)."""

from alembic import op

import idp.storage.columns as columns

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        for column in columns.client_presentation():
            batch.add_column(column)
    op.create_table("client_logos", *columns.client_logos())


def downgrade() -> None:
    op.drop_table("client_logos")
    with op.batch_alter_table("clients") as batch:
        for column in reversed(columns.client_presentation()):
            batch.drop_column(column.name)
