"""the stage due date has no index of its own: (due, state, municipality) leads with it

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 01:10:00

0001 gave `cases.due` an index of its own, and 0003 the report's (due, state, municipality),
which starts with the same column: any range or order of the due date that the first
could read, the second reads too, and no statement of the hot paths read the first
(tests/test_query_plans.py, at 100,000 cases, on SQLite and PostgreSQL). Yet every step
that moved a due date (most do) rewrote an entry of both. Dropped: two pages fewer for such
a step to write, of 35 (SQLite's write-ahead log, measured).
"""
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


# Plain DROP and CREATE INDEX, never a batch (a batch may copy the table on SQLite).
def upgrade() -> None:
    op.drop_index('ix_cases_due', table_name='cases')


def downgrade() -> None:
    op.create_index('ix_cases_due', 'cases', ['due'])
