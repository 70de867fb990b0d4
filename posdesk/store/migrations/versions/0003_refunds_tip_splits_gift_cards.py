"""each refund with its time and tip part, a manager's tip split, gift cards sold through the POS"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'


def upgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_tip_minor', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('refunds', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('tip_split', sa.JSON(), nullable=True))
    op.create_table('gift_cards',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('balance_minor', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('sold_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_gift_cards'))
    )


def downgrade() -> None:
    op.drop_table('gift_cards')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('tip_split')
        batch_op.drop_column('refunds')
        batch_op.drop_column('refunded_tip_minor')
