"""lot: on_hold, true while the lot has an open hold (one locking read at pack sees it)

Revision ID: d4e8a2b6c913
Revises: c3a9f7d1e802
Create Date: 2026-12-06 02:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd4e8a2b6c913'
down_revision = 'c3a9f7d1e802'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('on_hold', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute("UPDATE lot SET on_hold = true WHERE id IN "
               "(SELECT lot_id FROM lot_hold WHERE released_at IS NULL)")


def downgrade():
    with op.batch_alter_table('lot', schema=None) as batch_op:
        batch_op.drop_column('on_hold')
