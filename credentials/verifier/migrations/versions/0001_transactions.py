"""Transactions of the verifier service (OpenID4VP 1.0): the table ``metadata.create_all`` made before migrations.

A database made that way has the table but no revision; the first migration stamps it at this revision instead of
creating the table (:class:`servicekit.migrations.Baseline`).
"""

from alembic import op

from credentials.verifier.migrations.columns import transaction_columns

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("verifier_transactions", *transaction_columns())


def downgrade() -> None:
    op.drop_table("verifier_transactions")
