"""crash reports terminals chose to send (opt-in), for IT"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'


def upgrade() -> None:
    op.create_table('crash_reports',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('store_id', sa.String(length=32), nullable=False),
    sa.Column('terminal_id', sa.String(length=32), nullable=False),
    sa.Column('app_version', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('terminal_id', 'name', name='uq_crash_reports_terminal_name')
    )
    with op.batch_alter_table('crash_reports', schema=None) as batch_op:
        batch_op.create_index('ix_crash_reports_store_received', ['store_id', 'received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('crash_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_crash_reports_store_received')
    op.drop_table('crash_reports')
