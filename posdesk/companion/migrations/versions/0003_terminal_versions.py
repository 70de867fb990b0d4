"""terminals: the POS version each one last ran (User-Agent), for the update notice and IT"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'


def upgrade() -> None:
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('app_version', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('version_seen_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.drop_column('version_seen_at')
        batch_op.drop_column('app_version')
