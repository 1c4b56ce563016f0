"""every hot query on an index: gallring's selection of ended cases, and the registration
check of one active case per person on SQLite

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 01:00:00

tests/test_query_plans.py EXPLAINs every statement of the hot paths at 100,000 cases
(issue 17, item 1). Two findings:

- Gallring's selection (cases/retention.py `plan`: ended cases, `active IS false`, whose
  last state began before a category's cut-off) read every case on both databases: no
  index held `active` and `state_since` together. `ix_cases_ended (active, state_since)`
  answers it as one range (SQLite and PostgreSQL both take `IS false` / `IS 0` as an
  equality on an indexed boolean). Not partial: the selection's spelling of "ended"
  differs per database and from the other indexes', and a partial index is used only when
  the query holds its WHERE term as written.
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
    op.create_index('ix_cases_ended', 'cases', ['active', 'state_since'])
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
