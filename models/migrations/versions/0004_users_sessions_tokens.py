"""users, web sessions and API tokens; worklist indexes on cases; access log by actor

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 11:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # autogenerate writes sqlmodel.sql.sqltypes.AutoString

import etablera.models.timestamps
from etablera import models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = models.timestamps.UTCDateTime


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', _S(length=60), nullable=False),
    sa.Column('name', _S(length=120), nullable=False),
    sa.Column('role', _S(length=12), nullable=False),
    sa.Column('organisation', _S(length=6), nullable=False),
    sa.Column('municipality', _S(length=4), nullable=True),
    sa.Column('office', _S(length=40), nullable=True),
    sa.Column('password_hash', _S(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', _T(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('web_sessions',
    sa.Column('id', _S(length=64), nullable=False),
    sa.Column('user_id', _S(length=60), nullable=False),
    sa.Column('csrf', _S(length=64), nullable=False),
    sa.Column('created_at', _T(timezone=True), nullable=False),
    sa.Column('expires_at', _T(timezone=True), nullable=False),
    sa.Column('absolute_expires_at', _T(timezone=True), nullable=False),
    sa.Column('ended_at', _T(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_web_sessions_user', ['user_id'], unique=False)
    op.create_table('api_tokens',
    sa.Column('id', _S(length=64), nullable=False),
    sa.Column('prefix', _S(length=12), nullable=False),
    sa.Column('user_id', _S(length=60), nullable=False),
    sa.Column('label', _S(length=120), nullable=False),
    sa.Column('created_at', _T(timezone=True), nullable=False),
    sa.Column('expires_at', _T(timezone=True), nullable=True),
    sa.Column('revoked_at', _T(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_api_tokens_user', ['user_id'], unique=False)
    # The worklist: a user's cases (as responsible officer, or in their municipalities)
    # in due-date order, read straight off an index.
    # (Plain CREATE INDEX, never a batch: a batch may copy the table on SQLite, and the
    # access log's append-only triggers must stay.)
    op.create_index('ix_cases_kommun_officer_due', 'cases', ['kommun_officer', 'due'], unique=False)
    op.create_index('ix_cases_af_officer_due', 'cases', ['af_officer', 'due'], unique=False)
    op.create_index('ix_cases_municipality_due', 'cases', ['municipality', 'due'], unique=False)
    # The auditors' search of the access log by who looked.
    op.create_index('ix_access_actor_at', 'access_log', ['actor', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_access_actor_at', table_name='access_log')
    op.drop_index('ix_cases_municipality_due', table_name='cases')
    op.drop_index('ix_cases_af_officer_due', table_name='cases')
    op.drop_index('ix_cases_kommun_officer_due', table_name='cases')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_api_tokens_user')
    op.drop_table('api_tokens')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_web_sessions_user')
    op.drop_table('web_sessions')
    op.drop_table('users')
