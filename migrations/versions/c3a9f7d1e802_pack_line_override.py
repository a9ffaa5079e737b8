"""pack line: a supervisor's override of the pack gate (who, why)

Revision ID: c3a9f7d1e802
Revises: b7d41e0c2a55
Create Date: 2026-12-06 00:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c3a9f7d1e802'
down_revision = 'b7d41e0c2a55'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('pack_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('override_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('override_reason', sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_pack_line_override_by_id_user_account'),
                                    'user_account', ['override_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('pack_line', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_pack_line_override_by_id_user_account'),
                                 type_='foreignkey')
        batch_op.drop_column('override_reason')
        batch_op.drop_column('override_by_id')
