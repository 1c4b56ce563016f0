"""the event feed and webhooks: each audit event's transaction id, token scopes,
webhook subscriptions and their deliveries

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-05 00:30:00

- `audit_events.txid`: the id of the transaction that wrote the event. The feed
  (cases/feed.py) orders by (txid, id) and serves only transactions certainly finished, so
  an event that commits late is never skipped. On PostgreSQL the rows already there get 0
  (ADD COLUMN with a constant default: no rewrite, no UPDATE, which the append-only trigger
  would refuse) and new rows `pg_current_xact_id()` (PostgreSQL 13 or later); on SQLite it
  stays 0: writers take turns (BEGIN IMMEDIATE and the writers' lock), so id order is
  commit order there. An index on (txid, id) for the feed.
- `api_tokens.scopes`: a token made with `--scope events:read` may read the feed and
  nothing else; a token without scopes acts as its user, as before (and cannot read the feed).
- `webhook_subscriptions`, `webhook_deliveries` (cases/webhooks.py).
"""
import sqlalchemy as sa
from alembic import op

from etablera.models.timestamps import UTCDateTime

revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('audit_events', sa.Column('txid', sa.BigInteger(), nullable=False, server_default=sa.text('0')))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_events ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)")
    op.create_index('ix_audit_feed', 'audit_events', ['txid', 'id'])
    op.add_column('api_tokens', sa.Column('scopes', sa.String(length=200), nullable=True))
    op.create_table(
        'webhook_subscriptions',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('name', sa.String(length=60), nullable=False, unique=True),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('secret', sa.String(length=200), nullable=False),
        sa.Column('municipalities', sa.String(length=400), nullable=True),
        sa.Column('after_txid', sa.BigInteger(), nullable=False),
        sa.Column('after_id', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=60), nullable=False),
    )
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('subscription_id', sa.Integer(), sa.ForeignKey('webhook_subscriptions.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('event_id', sa.Integer(), sa.ForeignKey('audit_events.id'), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=8), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('not_before', UTCDateTime(), nullable=True),
        sa.Column('claimed_at', UTCDateTime(), nullable=True),
        sa.Column('sent_at', UTCDateTime(), nullable=True),
        sa.UniqueConstraint('subscription_id', 'event_id', name='uq_webhook_delivery_event'),
    )
    op.create_index('ix_webhook_deliveries_status', 'webhook_deliveries', ['status'])
    op.create_index('ix_webhook_deliveries_case', 'webhook_deliveries', ['subscription_id', 'case_id', 'seq'])


def downgrade() -> None:
    op.drop_index('ix_webhook_deliveries_case', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_status', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_subscriptions')
    op.drop_column('api_tokens', 'scopes')
    op.drop_index('ix_audit_feed', table_name='audit_events')
    op.drop_column('audit_events', 'txid')
