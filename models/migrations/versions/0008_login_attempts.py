"""login attempts, counted in the database before a password is checked

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00

Every process and instance of the web interface records an attempt here and decides
from the attempts of the same user name (access/login_guard.py), so parallel guesses
and restarted workers count like any other.
"""
import sqlalchemy as sa
from alembic import op

from etablera.models.timestamps import UTCDateTime

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'login_attempts',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.Column('outcome', sa.String(length=8), nullable=False),
    )
    op.create_index('ix_login_attempts_name_at', 'login_attempts', ['name', 'at'])
    op.create_index('ix_login_attempts_at', 'login_attempts', ['at'])


def downgrade() -> None:
    op.drop_index('ix_login_attempts_at', table_name='login_attempts')
    op.drop_index('ix_login_attempts_name_at', table_name='login_attempts')
    op.drop_table('login_attempts')
