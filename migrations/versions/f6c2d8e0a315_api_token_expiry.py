"""api_token: expires_at, an optional expiry (issue 17)

Revision ID: f6c2d8e0a315
Revises: e5b1c7d9f204
Create Date: 2026-12-06 18:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'f6c2d8e0a315'
down_revision = 'e5b1c7d9f204'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
