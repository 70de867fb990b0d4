"""tip splits saved by managers"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "tip_splits",
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("shares", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"]),
        sa.PrimaryKeyConstraint("payment_id"),
    )
    with op.batch_alter_table("tip_splits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tip_splits_store_id"), ["store_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tip_splits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tip_splits_store_id"))
    op.drop_table("tip_splits")
