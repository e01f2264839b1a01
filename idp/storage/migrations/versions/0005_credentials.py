"""Credentials: credential signing keys with their certificates, Credential Datasets, Token Status Lists, issued
credentials, pre-authorized codes (OpenID4VCI 1.0, draft-ietf-oauth-status-list).

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIME = sa.DateTime(timezone=True)
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "credential_signing_keys",
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
        sa.Column("certificate", sa.LargeBinary()),
        sa.PrimaryKeyConstraint("kid", name="pk_credential_signing_keys"),
        sa.UniqueConstraint("alg", "generation", name="uq_credential_signing_keys_alg_generation"),
    )
    op.create_index("ix_credential_signing_keys_expires_at", "credential_signing_keys", ["expires_at"])
    op.create_table(
        "credential_datasets",
        sa.Column("identifier", sa.String(64), nullable=False),
        sa.Column("issuance_id", sa.String(64), nullable=False),
        sa.Column("configuration_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("kek_id", sa.String(32)),
        sa.Column("sealed", sa.LargeBinary()),
        sa.Column("cert_ref", sa.String(64), nullable=False),
        sa.Column("cert_issuer", sa.String(64), nullable=False),
        sa.Column("request_key", sa.String(64)),
        sa.Column("response_status", sa.Integer()),
        sa.Column("response_kek_id", sa.String(32)),
        sa.Column("response", sa.LargeBinary()),
        sa.Column("transaction_id", sa.String(64)),
        sa.Column("notification_id", sa.String(64)),
        sa.Column("notification_event", sa.String(32)),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("identifier", name="pk_credential_datasets"),
        sa.UniqueConstraint("transaction_id", name="uq_credential_datasets_transaction_id"),
        sa.UniqueConstraint("notification_id", name="uq_credential_datasets_notification_id"),
    )
    op.create_index("ix_credential_datasets_issuance_id", "credential_datasets", ["issuance_id"])
    op.create_index("ix_credential_datasets_cert_ref", "credential_datasets", ["cert_ref"])
    op.create_index("ix_credential_datasets_expires_at", "credential_datasets", ["expires_at"])
    op.create_table(
        "status_lists",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("bits", sa.SmallInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_status_lists"),
    )
    op.create_table(
        "issued_credentials",
        sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("status_list_id", sa.Integer(), nullable=False),
        sa.Column("status_idx", sa.Integer(), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("configuration_id", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("cert_ref", sa.String(64), nullable=False),
        sa.Column("issued_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_issued_credentials"),
        sa.UniqueConstraint("status_list_id", "status_idx", name="uq_issued_credentials_status_list_id"),
    )
    op.create_index("ix_issued_credentials_cert_ref", "issued_credentials", ["cert_ref"])
    op.create_index("ix_issued_credentials_dataset", "issued_credentials", ["dataset"])
    op.create_table(
        "pre_authorized_codes",
        sa.Column("code_digest", sa.String(64), nullable=False),
        sa.Column("issuance_id", sa.String(64), nullable=False),
        sa.Column("tx_code_digest", sa.String(64)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("consumed_at", _TIME),
        sa.PrimaryKeyConstraint("code_digest", name="pk_pre_authorized_codes"),
    )
    op.create_index("ix_pre_authorized_codes_expires_at", "pre_authorized_codes", ["expires_at"])


def downgrade() -> None:
    for table in ("pre_authorized_codes", "issued_credentials", "status_lists", "credential_datasets",
                  "credential_signing_keys"):
        op.drop_table(table)
