"""the report's overdue measures and transfers counted from two derived tables, without a
lookup of each measure's case or of each transfer's event

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 03:00:00

At 1,000,000 cases on SQLite, two parts of a national report read a row elsewhere for
every row they counted:
- the overdue measures, counted by the municipality their case is in now, of running
  cases only (reports/overdue.py): every open measure due by the last step of the reminder
  ladder was looked up in `cases`, 194,000 lookups and 0.4 s;
- the period's transfers (reports/flow.py): each transfer event's row was read from the
  audit trail for where the case came from (in its data), 18,000 rows and 0.15 s.

`report_measures` holds each open measure of a running case with its case's municipality
now; `report_transfers` each transfer that stands, on its Stockholm day. Both are derived
like `report_cases` and recomputed with it (reports/facts.py), and each is counted in one
scan of its index.

Filled here for every case: the measures with the open measure states and the running
states of the process as they are at this revision, the transfers with the report's own
SQL for a Stockholm day (reports/sql.py); a case whose derived rows are stale is
recomputed by the next refresh anyway. The index on `measures` the old count read
(`ix_measures_open_due_case`) stays: the deadline check reads the open measures of a day's
window through it.
"""
from alembic import op
import sqlalchemy as sa

from etablera.reports.sql import Dialect

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

OPEN = ('planned', 'ongoing')
RUNNING = ('module1.registered', 'module1.talk_held', 'module2.preparing', 'module2.extended',
           'assessment.pending', 'module3.in_track')


def _listed(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    d = Dialect(op.get_bind().dialect.name)
    op.create_table('report_measures',
                    sa.Column('case_id', sa.Integer(), nullable=False),
                    sa.Column('measure_id', sa.Integer(), nullable=False),
                    sa.Column('municipality', sa.String(length=4), nullable=False),
                    sa.Column('type', sa.String(length=40), nullable=False),
                    sa.Column('due', sa.Date(), nullable=False),
                    sa.PrimaryKeyConstraint('case_id', 'measure_id'))
    op.execute(f"INSERT INTO report_measures (case_id, measure_id, municipality, type, due) "
               f"SELECT m.case_id, m.id, c.municipality, m.type, m.due FROM measures m JOIN cases c ON c.id = m.case_id "
               f"WHERE m.state IN ({_listed(OPEN)}) AND c.state IN ({_listed(RUNNING)})")
    op.create_index('ix_report_measures_due', 'report_measures', ['municipality', 'type', 'due'])
    op.create_table('report_transfers',
                    sa.Column('case_id', sa.Integer(), nullable=False),
                    sa.Column('seq', sa.Integer(), nullable=False),
                    sa.Column('day', sa.Integer(), nullable=False),
                    sa.Column('municipality', sa.String(length=4), nullable=False),
                    sa.Column('from_municipality', sa.String(length=4), nullable=True),
                    sa.PrimaryKeyConstraint('case_id', 'seq'))
    op.execute(f"INSERT INTO report_transfers (case_id, seq, day, municipality, from_municipality) "
               f"SELECT e.case_id, e.seq, {d.local_day('e.at')}, e.municipality, "
               f"{d.json_text('e.data', 'from_municipality')} FROM audit_events e "
               "WHERE e.trigger = 'transfer' AND NOT EXISTS (SELECT 1 FROM corrections x WHERE x.case_id = e.case_id "
               "AND (x.corrected_seq = e.seq OR x.correction_seq = e.seq))")
    op.create_index('ix_report_transfers_day', 'report_transfers', ['day', 'municipality', 'from_municipality'])


def downgrade() -> None:
    op.drop_index('ix_report_transfers_day', table_name='report_transfers')
    op.drop_table('report_transfers')
    op.drop_index('ix_report_measures_due', table_name='report_measures')
    op.drop_table('report_measures')
