"""follow-ups after exit; the report's derived tables (visits, case facts); report indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # autogenerate writes sqlmodel.sql.sqltypes.AutoString

import etablera.models.timestamps
from etablera import models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table('followups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Integer(), nullable=False),
    sa.Column('status', _S(length=20), nullable=False),
    sa.Column('exit_state', _S(length=40), nullable=False),
    sa.Column('municipality', _S(length=4), nullable=False),
    sa.Column('at', models.timestamps.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', _S(length=60), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'day', name='uq_followup_case_day')
    )
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.create_index('ix_followups_day_status', ['day', 'status'], unique=False)

    op.create_table('report_visits',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('visit', sa.Integer(), nullable=False),
    sa.Column('stage', _S(length=20), nullable=False),
    sa.Column('track', _S(length=60), nullable=True),
    sa.Column('start_day', sa.Integer(), nullable=False),
    sa.Column('start_municipality', _S(length=4), nullable=False),
    sa.Column('end_day', sa.Integer(), nullable=True),
    sa.Column('municipality', _S(length=4), nullable=False),
    sa.Column('end_state', _S(length=40), nullable=True),
    sa.Column('end_trigger', _S(length=40), nullable=True),
    sa.Column('decision', _S(length=20), nullable=True),
    sa.Column('skipped', _S(length=60), nullable=False),
    sa.Column('reason', _S(length=40), nullable=True),
    sa.Column('days', sa.Integer(), nullable=True),
    sa.Column('paused_days', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('case_id', 'visit')
    )
    with op.batch_alter_table('report_visits', schema=None) as batch_op:
        batch_op.create_index('ix_report_visits_stage_muni_days',
                              ['stage', 'municipality', 'days', 'end_day', 'paused_days'], unique=False)
        batch_op.create_index('ix_report_visits_module3', ['stage', 'end_day', 'municipality', 'track', 'end_state'],
                              unique=False)
        batch_op.create_index('ix_report_visits_skips', ['end_day', 'municipality', 'skipped', 'reason'],
                              unique=False, sqlite_where=sa.text("skipped <> '[]'"),
                              postgresql_where=sa.text("skipped <> '[]'"))

    op.create_table('report_cases',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('target_group', _S(length=1), nullable=False),
    sa.Column('permit_day', sa.Integer(), nullable=False),
    sa.Column('establishment_due_day', sa.Integer(), nullable=False),
    sa.Column('registered_day', sa.Integer(), nullable=False),
    sa.Column('start_municipality', _S(length=4), nullable=False),
    sa.Column('exit_state', _S(length=40), nullable=True),
    sa.Column('exit_day', sa.Integer(), nullable=True),
    sa.Column('exit_municipality', _S(length=4), nullable=True),
    sa.Column('exit_track', _S(length=60), nullable=True),
    sa.PrimaryKeyConstraint('case_id')
    )
    with op.batch_alter_table('report_cases', schema=None) as batch_op:
        batch_op.create_index('ix_report_cases_registered', ['registered_day', 'start_municipality', 'exit_state',
                                                             'exit_day', 'permit_day', 'establishment_due_day'],
                              unique=False)
        batch_op.create_index('ix_report_cases_exit', ['exit_day', 'exit_municipality', 'exit_state', 'permit_day',
                                                       'target_group'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_report', ['id', 'last_seq', 'state', 'municipality'], unique=False)
        batch_op.create_index('ix_cases_due_report', ['due', 'state', 'municipality'], unique=False)
        batch_op.create_index('ix_cases_state_since', ['state', 'state_since'], unique=False)
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.create_index('ix_measures_open_due_case', ['state', 'due', 'case_id', 'type'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.drop_index('ix_measures_open_due_case')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_state_since')
        batch_op.drop_index('ix_cases_due_report')
        batch_op.drop_index('ix_cases_report')
    op.drop_table('report_cases')
    op.drop_table('report_visits')
    op.drop_table('followups')
