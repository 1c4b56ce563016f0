"""casework: the person's name and contact details, transfers in, notes, documents,
corrections and saved filters

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:00:00

Columns are added to `cases` with plain ALTER TABLE (never a batch, which may copy the
table on SQLite); the corrections are append-only like the audit trail.
"""
import sqlalchemy as sa
from alembic import op

from etablera.models.timestamps import UTCDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_CASE_COLUMNS = (
    ('given_name', sa.String(length=100)), ('family_name', sa.String(length=100)),
    ('given_key', sa.String(length=100)), ('family_key', sa.String(length=100)),
    ('language', sa.String(length=40)), ('phone', sa.String(length=40)), ('email', sa.String(length=200)),
    ('transferred_from', sa.String(length=4)), ('transferred_at', sa.Date()),
)
_FLAGS = ('interpreter', 'registered_late')


def upgrade() -> None:
    for name, kind in _CASE_COLUMNS:
        op.add_column('cases', sa.Column(name, kind, nullable=True))
    for name in _FLAGS:
        op.add_column('cases', sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index('ix_cases_person', 'cases', ['person'])
    op.create_index('ix_cases_given_key', 'cases', ['given_key'], postgresql_ops={'given_key': 'varchar_pattern_ops'})
    op.create_index('ix_cases_family_key', 'cases', ['family_key'],
                    postgresql_ops={'family_key': 'varchar_pattern_ops'})
    op.create_index('ix_cases_municipality_transferred', 'cases', ['municipality', 'transferred_at'])

    op.create_table(
        'notes',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('author', sa.String(length=60), nullable=False),
        sa.Column('text', sa.String(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=False),
    )
    op.create_index('ix_notes_case', 'notes', ['case_id', 'id'])
    op.create_table(
        'documents',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=True),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('storage_key', sa.String(length=200), nullable=False),
        sa.Column('added_at', UTCDateTime(), nullable=False),
        sa.Column('added_by', sa.String(length=60), nullable=False),
        sa.Column('erased_at', UTCDateTime(), nullable=True),
    )
    op.create_index('ix_documents_case', 'documents', ['case_id', 'id'])
    op.create_table(
        'corrections',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), nullable=False),
        sa.Column('corrected_seq', sa.Integer(), nullable=False),
        sa.Column('correction_seq', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.UniqueConstraint('case_id', 'corrected_seq', name='uq_corrections_step'),
    )
    op.create_table(
        'saved_filters',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('user_id', sa.String(length=60), sa.ForeignKey('users.id'), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('query', sa.JSON(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.UniqueConstraint('user_id', 'name', name='uq_saved_filter_name'),
    )
    _append_only('corrections')


def downgrade() -> None:
    _drop_append_only('corrections')
    for table in ('saved_filters', 'corrections', 'documents', 'notes'):
        op.drop_table(table)
    for name in ('ix_cases_municipality_transferred', 'ix_cases_family_key', 'ix_cases_given_key', 'ix_cases_person'):
        op.drop_index(name, table_name='cases')
    for name in _FLAGS + tuple(n for n, _ in _CASE_COLUMNS):
        op.drop_column('cases', name)


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":     # etablera_append_only() is migration 0001's
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION etablera_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION etablera_append_only()")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def _drop_append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
