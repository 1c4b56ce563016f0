"""the report's starters and exits counted in index order: report_cases.exit_days and two
indexes in the order the report groups by

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 00:10:00

The report counts the period's starters by (municipality, exit state, days from permit to
exit) and the period's exits by (municipality, exit state, target group, days from permit
to exit) (reports/report.py `prepare`). Read through the indexes led by the day, every
starter and every exit went through a sort before it could be counted: at 100,000 cases
as long as reading them. `exit_days` (exit_day - permit_day, derived like every column of
report_cases, filled here from the two days) and two covering indexes in the grouping's
order let SQLite count them as it reads, testing the period's days from the index; the
exits' index holds only cases that have left (`exit_day IS NOT NULL`, which the period's
range implies on both databases), and `permit_day`: without it, a query grouping the
exits by `exit_day - permit_day` took this index (its WHERE matched) and read the table
for every exit.

Plain ADD COLUMN and CREATE / DROP INDEX, never a batch (a batch copies the table on
SQLite).
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import text

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('report_cases', sa.Column('exit_days', sa.Integer(), nullable=True))
    op.execute("UPDATE report_cases SET exit_days = exit_day - permit_day WHERE exit_day IS NOT NULL")
    op.create_index('ix_report_cases_starters', 'report_cases',
                    ['start_municipality', 'exit_state', 'exit_days', 'registered_day', 'exit_day',
                     'establishment_due_day'])
    op.create_index('ix_report_cases_exits', 'report_cases',
                    ['exit_municipality', 'exit_state', 'target_group', 'exit_days', 'exit_day', 'permit_day'],
                    sqlite_where=text('exit_day IS NOT NULL'), postgresql_where=text('exit_day IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_report_cases_exits', table_name='report_cases')
    op.drop_index('ix_report_cases_starters', table_name='report_cases')
    op.drop_column('report_cases', 'exit_days')
