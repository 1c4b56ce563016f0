"""worklist indexes that give the listing's order whatever the planner knows

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00

A municipal officer's worklist filters on officer and municipality and reads in due-date
order. With (kommun_officer, due) and (municipality, due) side by side, SQLite without
statistics (a database nobody has ANALYZEd) picked the municipality's index and walked
every running case of the municipality to find one officer's fifty. An index with both
equalities before the due date is the one any planner takes; `id` last gives PostgreSQL
the whole `ORDER BY due, id` from the index (SQLite has the rowid there already).
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_NEW = {
    'ix_cases_worklist_kommun': ['kommun_officer', 'municipality', 'due', 'id'],
    'ix_cases_worklist_af': ['af_officer', 'due', 'id'],
    'ix_cases_worklist_municipality': ['municipality', 'due', 'id'],
}
_OLD = {
    'ix_cases_kommun_officer_due': ['kommun_officer', 'due'],
    'ix_cases_af_officer_due': ['af_officer', 'due'],
    'ix_cases_municipality_due': ['municipality', 'due'],
}


# Plain CREATE/DROP INDEX, never a batch: a batch may copy the table on SQLite, and the
# access log's append-only triggers must stay.
def upgrade() -> None:
    for name, columns in _NEW.items():
        op.create_index(name, 'cases', columns, unique=False)
    for name in _OLD:
        op.drop_index(name, table_name='cases')


def downgrade() -> None:
    for name, columns in _OLD.items():
        op.create_index(name, 'cases', columns, unique=False)
    for name in _NEW:
        op.drop_index(name, table_name='cases')
