"""Clients: userinfo_signed_response_alg (OIDC Dynamic Client Registration §2), for signed UserInfo responses."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("clients", sa.Column("userinfo_signed_response_alg", sa.String(16)))


def downgrade() -> None:
    op.drop_column("clients", "userinfo_signed_response_alg")
