"""Initial schema: short-lived protocol objects, clients, signing keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oidc_objects",
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("grant_id", sa.String(255)),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("consumed_at", _TIME),
        sa.PrimaryKeyConstraint("pk", name="pk_oidc_objects"),
        sa.UniqueConstraint("kind", "id", name="uq_oidc_objects_kind_id"),
    )
    op.create_index("ix_oidc_objects_grant_id", "oidc_objects", ["grant_id"])
    op.create_index("ix_oidc_objects_expires_at", "oidc_objects", ["expires_at"])
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("auth_method", sa.String(32), nullable=False),
        sa.Column("secret_sha256", sa.String(64)),
        sa.Column("redirect_uris", _JSON, nullable=False),
        sa.Column("jwks", _JSON),
        sa.Column("jwks_uri", sa.Text()),
        sa.Column("id_token_signed_response_alg", sa.String(16), nullable=False),
        sa.Column("sector_identifier", sa.String(255)),
        sa.Column("require_par", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_clients"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("key_ref", sa.String(255)),
        sa.Column("kek_id", sa.String(32)),
        sa.Column("wrapped", sa.LargeBinary()),
        sa.Column("public_jwk", _JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("activate_at", _TIME, nullable=False),
        sa.Column("retire_at", _TIME),
        sa.Column("expires_at", _TIME),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_keys"),
        sa.UniqueConstraint("alg", "generation", name="uq_signing_keys_alg_generation"),
    )
    op.create_index("ix_signing_keys_expires_at", "signing_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_table("signing_keys")
    op.drop_table("clients")
    op.drop_table("oidc_objects")
