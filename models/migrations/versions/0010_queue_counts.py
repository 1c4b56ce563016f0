"""the start page's queue counts read indexes only: partial indexes over the running
cases, and one over the exits that are followed up

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 23:00:00

The start page counts six queues (cases/queues.py). Each count is over running cases
(`active AND due IS NOT NULL`), and `active` was in none of the indexes they used, so each
counted case was read from the table: 3,256 rows for one municipality's overdue count at
100,000 cases, ten times that at a million. These indexes hold the running cases only
(partial, WHERE active) with every column the counts ask, so each count is one range of
one index and nothing else:

- mine and unassigned: (kommun_officer | af_officer, municipality, due)
- overdue: (municipality, due)
- awaiting joint assessment: (municipality, state, due)
- transferred in: (municipality, transferred_at, due), of the cases transferred at all

`active` is also the last column: SQLite (3.40) counts a column the query names as
covered only if the index holds it, even when the index's own WHERE decides it. The
predicate is spelled as each database's statement has it (SQLAlchemy writes
`cases.active = 1` on SQLite and `cases.active` on PostgreSQL): SQLite uses a partial
index only when the query has the index's WHERE term itself.

The follow-up queue (exits to work, own business or studies whose 90, 180 or 360 days'
follow-up is due and not recorded) computed each exit's Stockholm day row by row over
every followed-up exit of the municipality. The day is a monotonic function of the
stored instant, so the query now asks for `state_since` in the UTC instants that begin
and end each window's Stockholm days (computed once, in Python), and this index, over
those exits only, answers it as a range. The IN list is the queue's condition letter for
letter (models/case.FOLLOWED_UP_SQL), which SQLite needs to use the index. Nothing is
derived or stored beside the state and its instant, so there is nothing to backfill and
nothing that the audit replay, the engine and the bulk writer must keep in step.
"""
from alembic import op
from sqlalchemy import text

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_ACTIVE = dict(sqlite_where=text('active = 1'), postgresql_where=text('active'))
_TRANSFERRED = dict(sqlite_where=text('active = 1 AND transferred_at IS NOT NULL'),
                    postgresql_where=text('active AND transferred_at IS NOT NULL'))
_FOLLOWED_UP = "state IN ('exited.work', 'exited.own_business', 'exited.studies')"
_INDEXES = {
    'ix_cases_queue_kommun': (['kommun_officer', 'municipality', 'due', 'active'], _ACTIVE),
    'ix_cases_queue_af': (['af_officer', 'municipality', 'due', 'active'], _ACTIVE),
    'ix_cases_queue_due': (['municipality', 'due', 'active'], _ACTIVE),
    'ix_cases_queue_state': (['municipality', 'state', 'due', 'active'], _ACTIVE),
    'ix_cases_queue_transferred': (['municipality', 'transferred_at', 'due', 'active'], _TRANSFERRED),
    'ix_cases_queue_followup': (['municipality', 'state_since', 'state', 'id'],
                                dict(sqlite_where=text(_FOLLOWED_UP), postgresql_where=text(_FOLLOWED_UP))),
}


# Plain CREATE INDEX, never a batch (a batch may copy the table on SQLite, and the access
# log's append-only triggers must stay).
def upgrade() -> None:
    for name, (columns, where) in _INDEXES.items():
        op.create_index(name, 'cases', columns, **where)
    if op.get_bind().dialect.name == 'sqlite':
        # the planner's row counts for the new indexes, where the database has them already
        # (a file that was ANALYZEd; a new one has no sqlite_stat1 and needs none)
        if op.get_bind().execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
            op.execute('ANALYZE cases')


def downgrade() -> None:
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name='cases')
