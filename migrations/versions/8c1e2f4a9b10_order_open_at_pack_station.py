"""order open at a pack station (CMD:NEXT hands each station its own order)

Revision ID: 8c1e2f4a9b10
Revises: 4d382b7d2768
Create Date: 2026-12-05 23:45:00

"""
from alembic import op
import sqlalchemy as sa


revision = '8c1e2f4a9b10'
down_revision = '4d382b7d2768'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customer_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('packing_station', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('packing_since', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('customer_order', schema=None) as batch_op:
        batch_op.drop_column('packing_since')
        batch_op.drop_column('packing_station')
