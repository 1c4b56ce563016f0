"""every hot query on an index: gallring's selection of ended cases, and the registration
check of one active case per person on SQLite

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 01:00:00

tests/test_query_plans.py EXPLAINs every statement of the hot paths at 100,000 cases
(issue 17, item 1). Two findings:

- Gallring's selection (cases/retention.py `plan`: ended cases, `active IS false`, whose
  last state began before a category's cut-off) read every case on both databases: no
  index held the ended cases by `state_since`. `ix_cases_ended (state_since)` holds the
  ended cases only, its WHERE spelled as the selection's statement has it on each
  database (`active IS 0` on SQLite, `active IS false` on PostgreSQL): a partial index is
  used only for a query holding its WHERE term as written. The selection now sorts its
  ids in Python: with ORDER BY id, SQLite (no statistics) walked the table in id order
  rather than sort. Not led by `active`: without statistics SQLite takes an equality on
  an index's first column for ~10 rows, so an index (active, state_since) (tried first)
  became its choice for the erasure's `id IN (...) AND active IS 0` (every ended case per
  batch) and, over every case, for the registration's `person = ? AND active = 1` under
  the old unique index (a registration at a million cases did not finish in 15 minutes).
- The registration's check for an active case of the person asks `person = ? AND
  active = 1` on SQLite, which the unique index `uq_cases_active_person ... WHERE active`
  does not match (SQLite uses a partial index only for a query holding its WHERE term
  itself): the check read `ix_cases_person` (every case of the person) instead of the one
  index that says it in one entry. The index is rebuilt on SQLite with the predicate as
  the statement spells it (`active = 1`, like the queue indexes of 0010); the same rows
  (a boolean is stored as 0 or 1), so it refuses exactly what it refused. PostgreSQL's is
  unchanged (`WHERE active` matches its `cases.active`).

Plain CREATE / DROP INDEX, never a batch (a batch may copy the table on SQLite, and the
append-only triggers must stay).
"""
from alembic import op
from sqlalchemy import text

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def upgrade() -> None:
    op.create_index('ix_cases_ended', 'cases', ['state_since'], sqlite_where=text('active IS 0'),
                    postgresql_where=text('active IS false'))
    if _sqlite():
        op.drop_index('uq_cases_active_person', table_name='cases')
        op.create_index('uq_cases_active_person', 'cases', ['person'], unique=True,
                        sqlite_where=text('active = 1'))
        # the planner's row counts for the new index, where the database has them already
        # (a file that was ANALYZEd; a new one has no sqlite_stat1 and needs none)
        if op.get_bind().execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
            op.execute('ANALYZE cases')


def downgrade() -> None:
    if _sqlite():
        op.drop_index('uq_cases_active_person', table_name='cases')
        op.create_index('uq_cases_active_person', 'cases', ['person'], unique=True, sqlite_where=text('active'))
    op.drop_index('ix_cases_ended', table_name='cases')
