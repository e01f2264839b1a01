"""Clients: userinfo_signed_response_alg (OIDC Dynamic Client Registration §2), for signed UserInfo responses.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clients", sa.Column("userinfo_signed_response_alg", sa.String(16)))


def downgrade() -> None:
    op.drop_column("clients", "userinfo_signed_response_alg")
