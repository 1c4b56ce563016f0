"""the deadline check's late registrations on an index of their own

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 04:30:00

A case registered after its establishment time was over (`registered_late`, issue 13) is
caught once by the next deadline check (reminders/deadlines.py `_late_select`): the cases
flagged late whose establishment due date has passed. Its statement found them through
`ix_cases_establishment_due` over every case whose establishment due date has passed (most
ended and running cases), then kept the few flagged late: 32 ms of a 60 ms re-run at
100,000 cases, ten times that at a million. `ix_cases_registered_late (active,
establishment_due)` holds the flagged cases only, its WHERE spelled as the statement has it
on each database (`registered_late = 1` on SQLite, `registered_late` on PostgreSQL: a
partial index is used only for a query holding its WHERE term as written). Led by `active`,
which the statement asks by equality: without statistics SQLite prefers an index whose
first column is asked by equality (here `ix_cases_state_since` for `state IN (...)`) to one
asked by a range alone. No other statement can take this index (none holds its WHERE).

Plain CREATE / DROP INDEX, never a batch (a batch may copy the table on SQLite, and the
append-only triggers must stay).
"""
from alembic import op
from sqlalchemy import text

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cases_registered_late', 'cases', ['active', 'establishment_due'],
                    sqlite_where=text('registered_late = 1'), postgresql_where=text('registered_late'))


def downgrade() -> None:
    op.drop_index('ix_cases_registered_late', table_name='cases')
