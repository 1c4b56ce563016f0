"""the access log keeps one index by case: (case_id, at) serves every lookup by case

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 11:30:00

ix_access_log_case_id (case_id) is the prefix of ix_access_case_at (case_id, at): every
view of a case wrote both for nothing.
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


# Plain DROP/CREATE INDEX, never a batch: a batch may copy the table on SQLite, and the
# access log's append-only triggers must stay.
def upgrade() -> None:
    op.drop_index('ix_access_log_case_id', table_name='access_log')


def downgrade() -> None:
    op.create_index('ix_access_log_case_id', 'access_log', ['case_id'], unique=False)
