"""payments: a refund claim shared by every worker, and the review a manager settles

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refund_claim", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("refund_claim_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("refund_pending_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("refund_pending_minor", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("review", sa.String(length=20), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("review_reason", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("review_reason")
        batch_op.drop_column("review")
        batch_op.drop_column("refund_pending_minor")
        batch_op.drop_column("refund_pending_key")
        batch_op.drop_column("refund_claim_until")
        batch_op.drop_column("refund_claim")
