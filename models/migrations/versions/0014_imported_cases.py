"""imported cases: which row of which file made which case

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-05 00:00:00

`etablera import FILE` (cases/importing.py) records each case it writes under the row's
external reference, so that importing the same file again changes nothing.
"""
import sqlalchemy as sa
from alembic import op

from etablera.models.timestamps import UTCDateTime

revision = '0014'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'imported_cases',
        sa.Column('external_ref', sa.String(length=100), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('cases.id'), nullable=False, unique=True),
        sa.Column('source', sa.String(length=200), nullable=False),
        sa.Column('line', sa.Integer(), nullable=False),
        sa.Column('actor', sa.String(length=60), nullable=False),
        sa.Column('imported_at', UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('imported_cases')
