"""Initial schema: short-lived protocol objects, clients, signing keys."""

from alembic import op

import idp.storage.columns as columns

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("oidc_objects", *columns.oidc_objects())
    op.create_table("clients", *columns.clients())
    op.create_table("signing_keys", *columns.signing_keys("signing_keys"))


def downgrade() -> None:
    op.drop_table("signing_keys")
    op.drop_table("clients")
    op.drop_table("oidc_objects")
