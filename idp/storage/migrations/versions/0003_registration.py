"""Clients: dynamic registration (RFC 7591/7592) and logout metadata (OIDC RP-Initiated and Back-Channel Logout),
DPoP-bound tokens (RFC 9449 §5.2), the sector_identifier_uri (OIDC Dynamic Client Registration §2).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_COLUMNS = ("post_logout_redirect_uris", "backchannel_logout_uri", "backchannel_logout_session_required",
            "dpop_bound_access_tokens", "sector_identifier_uri", "registration_token_sha256", "client_id_issued_at")


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("post_logout_redirect_uris", _JSON))
        batch.add_column(sa.Column("backchannel_logout_uri", sa.Text()))
        batch.add_column(sa.Column("backchannel_logout_session_required", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("dpop_bound_access_tokens", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("sector_identifier_uri", sa.Text()))
        batch.add_column(sa.Column("registration_token_sha256", sa.String(64)))
        batch.add_column(sa.Column("client_id_issued_at", sa.BigInteger()))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
