"""The audit trail: hash-chained entries and the chain's head row (servicekit.audit, idp.storage.audit)."""

from alembic import op

import idp.storage.columns as columns
from servicekit.audit import INITIAL_HEAD

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table("audit_log", *columns.audit_log())
    head = op.create_table("audit_head", *columns.audit_head())
    assert head is not None
    op.bulk_insert(head, [dict(INITIAL_HEAD)])


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_log")

