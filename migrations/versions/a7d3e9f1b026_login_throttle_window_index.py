"""login_throttle: an index on window_start, so dead rows are pruned cheaply (issue 17)

Revision ID: a7d3e9f1b026
Revises: f6c2d8e0a315
Create Date: 2026-12-08 10:00:00

"""
from alembic import op


revision = 'a7d3e9f1b026'
down_revision = 'f6c2d8e0a315'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.create_index('ix_login_throttle_window_start', ['window_start'], unique=False)


def downgrade():
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.drop_index('ix_login_throttle_window_start')
