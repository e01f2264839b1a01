"""Credentials: credential signing keys with their certificates, Credential Datasets, Token Status Lists, issued
credentials, pre-authorized codes (OpenID4VCI 1.0, draft-ietf-oauth-status-list)."""

import sqlalchemy as sa
from alembic import op

import idp.storage.columns as columns

revision = "0005"
down_revision = "0003"


def upgrade() -> None:
    op.create_table("credential_signing_keys", *columns.signing_keys("credential_signing_keys"),
                    sa.Column("certificate", sa.LargeBinary()))
    op.create_table("credential_datasets", *columns.credential_datasets())
    op.create_table("status_lists", *columns.status_lists())
    op.create_table("issued_credentials", *columns.issued_credentials())
    op.create_table("pre_authorized_codes", *columns.pre_authorized_codes())


def downgrade() -> None:
    for table in ("pre_authorized_codes", "issued_credentials", "status_lists", "credential_datasets",
                  "credential_signing_keys"):
        op.drop_table(table)
