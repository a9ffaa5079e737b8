"""user_account.username_key: the name as compared (NFKC, case folded), unique (issue 17)

Existing names are keyed here with lotline.text.name_key. Two existing names that read
alike (created before the rule) cannot share a key: the later one (higher id) keeps its
exact name for signing in, and its key gets ``#<id>`` so the index holds; the admin can
rename or deactivate it.

Revision ID: b8f4a2c6d913
Revises: a7e3c5f10b42
Create Date: 2026-12-06 21:00:00

"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = 'b8f4a2c6d913'
down_revision = 'a7e3c5f10b42'
branch_labels = None
depends_on = None


def _key(name: str) -> str:  # lotline.text.name_key, as it was when this was written
    return unicodedata.normalize("NFKC", name).casefold()


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('username_key', sa.String(length=200), nullable=True))
    bind = op.get_bind()
    users = sa.table('user_account', sa.column('id', sa.Integer),
                     sa.column('username', sa.String), sa.column('username_key', sa.String))
    seen = set()
    for row in bind.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)):
        key = _key(row.username)
        if key in seen:
            key = f"{key}#{row.id}"
        seen.add(key)
        bind.execute(users.update().where(users.c.id == row.id).values(username_key=key))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.alter_column('username_key', existing_type=sa.String(length=200),
                              nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_user_account_username_key'),
                                          ['username_key'])


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_user_account_username_key'), type_='unique')
        batch_op.drop_column('username_key')
