"""the skip audit finds a page's events, and its count, from an index alone, in every order and filtered

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 10:00:00

0022 gave the skip audit the skipping events in time and case order. Filtered to one
module, a view still read every skipping event from the table to leave out the other
module's (`LIKE '%"module2"%'` is not in an index); sorted by where the case was, who or
why, it read them all and sorted them; filtered to a reason and a municipality, its count
read every skip of the reason. At 300,000 cases (112,000 skips) 220-660 ms of PostgreSQL
per view.

Now the skipping events, and each module's, have a partial index in each order the page
offers (then case and step, its tie-break), holding after those every other column the
page filters or sorts by (when, where, who, why): a page's events and its count are found
from an index alone, and only the page's own events are read from the table
(cases/skip_audit.py). 0022's two indexes are made again with those columns. The query
asks for each index's WHERE term letter for letter (models/audit.SKIPPED_SQL,
SKIPPED_MODULE_SQL), which SQLite needs to use them.

On PostgreSQL (14 and newer) statistics of the reason and the skipped modules together:
a reason is given only to a skip or an exit, and taken for independent of skipping the
planner expected a thirtieth of a reason's skips. Nothing is derived or stored, so there
is nothing to backfill.
"""
from alembic import op
from sqlalchemy import text

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

_SKIPPED = "CAST(skipped AS VARCHAR) != '[]'"
_COLUMNS = ('at', 'municipality', 'actor', 'reason')


def _columns(order: list[str]) -> list[str]:
    leading = [*order, 'case_id', 'seq']
    return leading + [column for column in _COLUMNS if column not in leading]


_ORDERS = {'': ['at'], '_case': [], **{f'_{key}': [key] for key in _COLUMNS[1:]}}
_INDEXES = {f'ix_audit_skips{suffix}': (_columns(order), _SKIPPED) for suffix, order in _ORDERS.items()}
_INDEXES.update({f'ix_audit_skips_module{module}{suffix}': (_columns(order),
                                                             f"CAST(skipped AS VARCHAR) LIKE '%\"module{module}\"%'")
                 for module in ('2', '3') for suffix, order in (('', ['at']), ('_case', []))})
_BEFORE = {'ix_audit_skips': ['at', 'case_id', 'seq'], 'ix_audit_skips_case': ['case_id', 'seq']}     # 0022's


# Plain CREATE and DROP INDEX, never a batch (a batch may copy the table on SQLite, and the
# audit trail's append-only triggers must stay).
def upgrade() -> None:
    for name in _BEFORE:
        op.drop_index(name, table_name='audit_events')
    for name, (columns, where) in _INDEXES.items():
        op.create_index(name, 'audit_events', columns, sqlite_where=text(where), postgresql_where=text(where))
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        if bind.dialect.server_version_info >= (14,):
            op.execute('CREATE STATISTICS st_audit_skip_reasons (mcv) ON reason, (CAST(skipped AS VARCHAR)) '
                       'FROM audit_events')
        op.execute('ANALYZE audit_events')
    elif bind.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
        op.execute('ANALYZE audit_events')      # the planner's figures for the new indexes


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP STATISTICS IF EXISTS st_audit_skip_reasons')
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name='audit_events')
    for name, columns in _BEFORE.items():
        op.create_index(name, 'audit_events', columns, sqlite_where=text(_SKIPPED), postgresql_where=text(_SKIPPED))
