"""the skip audit reads the events that skipped a module from an index of their own

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 08:00:00

The skip audit (cases/skip_audit.py) matched every event of the audit trail against
`CAST(skipped AS VARCHAR) LIKE '%"module%'`: each view of the page, and its count, read
the whole trail (some 540,000 events at 50,000 cases: 100-270 ms of PostgreSQL per view,
ten times that at a million). A few events in a hundred skip a module. These partial
indexes hold those only, one in the page's default order (when, then case and step), one
in case order (sorted by case SQLite otherwise walked the trail's own (case, seq) index
whole); the query asks for the indexes' WHERE term letter for letter
(models/audit.SKIPPED_SQL), which SQLite needs to use them. Nothing is derived or stored,
so there is nothing to backfill.
"""
from alembic import op
from sqlalchemy import text

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

_SKIPPED_TEXT = "CAST(skipped AS VARCHAR)"
_SKIPPED = f"{_SKIPPED_TEXT} != '[]'"
_INDEXES = {'ix_audit_skips': ['at', 'case_id', 'seq'], 'ix_audit_skips_case': ['case_id', 'seq']}


# Plain CREATE INDEX, never a batch (a batch may copy the table on SQLite, and the audit
# trail's append-only triggers must stay).
def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, 'audit_events', columns, sqlite_where=text(_SKIPPED), postgresql_where=text(_SKIPPED))
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # PostgreSQL keeps no statistics of an expression by itself: it took the condition
        # for all but half a percent of the trail and chose to read all of it for the page
        # sorted by municipality, actor or reason. Statistics of the expression (14 and
        # newer) tell it how few events skip; ANALYZE samples the table (seconds at millions).
        if bind.dialect.server_version_info >= (14,):
            op.execute(f"CREATE STATISTICS st_audit_skipped ON ({_SKIPPED_TEXT}) FROM audit_events")
            op.execute('ANALYZE audit_events')
    elif bind.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
        op.execute('ANALYZE audit_events')      # the planner's row counts for the new indexes, where the file has them


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP STATISTICS IF EXISTS st_audit_skipped')
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name='audit_events')
