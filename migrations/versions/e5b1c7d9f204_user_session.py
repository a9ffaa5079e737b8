"""user_session: one row per sign-in, so that a sign-in can end (issue 17)

Revision ID: e5b1c7d9f204
Revises: d4e8a2b6c913
Create Date: 2026-12-06 18:20:00

Session cookies issued before this revision named the user, not a sign-in: they no longer
sign anyone in, and each user signs in once more.
"""
from alembic import op
import sqlalchemy as sa


revision = 'e5b1c7d9f204'
down_revision = 'd4e8a2b6c913'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_session',
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('ended_why', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_user_session_user_id_user_account')),
    sa.PrimaryKeyConstraint('key_hash', name=op.f('pk_user_session'))
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_session_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_session_user_id'))
    op.drop_table('user_session')
