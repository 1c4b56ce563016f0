"""the skip audit reads a module's skips, and its other orders, from indexes of their own

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 10:00:00

0022 gave the skip audit the skipping events in time and case order. Filtered to one
module, a view still read every skipping event from the table to leave out the other
module's (`LIKE '%"module2"%'` is not in an index), and sorted by where the case was, who
or why, it read them all and sorted them: at 300,000 cases (112,000 skips) 270-660 ms of
PostgreSQL per view for an auditor. These partial indexes hold each module's skips in
time and in case order (as 0022's hold all skips), and the skipping events by
municipality, actor and reason (then case and step, the page's tie-break). The query asks for each index's WHERE term letter for letter
(models/audit.SKIPPED_SQL, SKIPPED_MODULE_SQL), which SQLite needs to use them. Nothing is
derived or stored, so there is nothing to backfill.
"""
from alembic import op
from sqlalchemy import text

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

_SKIPPED = "CAST(skipped AS VARCHAR) != '[]'"
_INDEXES = {f'ix_audit_skips_{key}': ([key, 'case_id', 'seq'], _SKIPPED) for key in ('municipality', 'actor', 'reason')}
_INDEXES.update({f'ix_audit_skips_module{module}{suffix}': (columns,
                                                             f"CAST(skipped AS VARCHAR) LIKE '%\"module{module}\"%'")
                 for module in ('2', '3')
                 for suffix, columns in (('', ['at', 'case_id', 'seq']), ('_case', ['case_id', 'seq']))})


# Plain CREATE INDEX, never a batch (a batch may copy the table on SQLite, and the audit
# trail's append-only triggers must stay).
def upgrade() -> None:
    for name, (columns, where) in _INDEXES.items():
        op.create_index(name, 'audit_events', columns, sqlite_where=text(where), postgresql_where=text(where))
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql' or bind.execute(
            text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
        op.execute('ANALYZE audit_events')      # the planner's figures for the new indexes


def downgrade() -> None:
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name='audit_events')
