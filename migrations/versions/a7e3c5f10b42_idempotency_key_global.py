"""idempotency_record: a key is one submission whoever sends it (issue 17)

Revision ID: a7e3c5f10b42
Revises: a7d3e9f1b026
Create Date: 2026-12-07 10:00:00

Until this revision a key was stored per user, as "<user id or 0>:<key>". It is now stored
as sent. Each row whose key starts with its own user's prefix is rewritten to the bare key;
where two users' rows name the same bare key (each was applied once, per user), the earliest
is kept under it and the later ones are deleted: a repeat of that key is then answered as
a repeat of the earliest (its own result for its user, "already done" for anyone else).
The ledger rows of every submission stay; they already carried the bare key.

Plain SQL both SQLite (3.25 or later: window functions) and PostgreSQL run. The rewrite goes
through a "~" prefix, which no key has (keys are letters, digits and . _ : -): a row's new
key can then never meet another row's old key half-way through the UPDATE (PostgreSQL
checks the primary key row by row).

Downgrade puts the prefix back on every row; the rows deleted on upgrade are not restored.
"""
from alembic import op


revision = 'a7e3c5f10b42'
down_revision = 'a7d3e9f1b026'
branch_labels = None
depends_on = None

# The prefix the previous release wrote before each key: the user's id, or 0 for none.
PREFIX = "(CAST(COALESCE(user_id, 0) AS VARCHAR(20)) || ':')"
PREFIXED = f'SUBSTR("key", 1, LENGTH({PREFIX})) = {PREFIX}'
BARE = f'SUBSTR("key", LENGTH({PREFIX}) + 1)'
UNMARK = """UPDATE idempotency_record SET "key" = SUBSTR("key", 2) WHERE "key" LIKE '~%'"""


def upgrade():
    op.execute(f"""
        DELETE FROM idempotency_record WHERE "key" IN (
            SELECT "key" FROM (
                SELECT "key", ROW_NUMBER() OVER (
                    PARTITION BY CASE WHEN {PREFIXED} THEN {BARE} ELSE "key" END
                    ORDER BY created_at, "key") AS n
                FROM idempotency_record) AS ranked
            WHERE n > 1)""")
    op.execute(f"""UPDATE idempotency_record SET "key" = '~' || {BARE} WHERE {PREFIXED}""")
    op.execute(UNMARK)


def downgrade():
    op.execute(f"""UPDATE idempotency_record SET "key" = '~' || {PREFIX} || "key" """)
    op.execute(UNMARK)
