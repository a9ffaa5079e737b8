"""ledger: picked units of a lot that may not leave returned to stock ('return')

Revision ID: b7d41e0c2a55
Revises: 8c1e2f4a9b10
Create Date: 2026-12-06 00:35:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d41e0c2a55'
down_revision = '8c1e2f4a9b10'
branch_labels = None
depends_on = None

OLD_TYPES = ("'putaway', 'put', 'pull', 'move-out', 'move-in', 'cycle-count', 'pick', "
             "'hold', 'release'")
NEW_TYPES = OLD_TYPES + ", 'return'"
TYPE_CHECK = "type IN ({})"


def upgrade():
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_entry_type'), type_='check')
        batch_op.create_check_constraint('type', sa.text(TYPE_CHECK.format(NEW_TYPES)))


def downgrade():
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_entry_type'), type_='check')
        batch_op.create_check_constraint('type', sa.text(TYPE_CHECK.format(OLD_TYPES)))
