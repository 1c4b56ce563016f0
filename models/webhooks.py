"""Webhooks: other systems told of each state change (cases/webhooks.py).

A `WebhookSubscription` is one receiving URL with its signing secret and its own cursor in
the event feed (cases/feed.py): how far its events have been recorded for delivery. A
`WebhookDelivery` is one event on its way to one subscription: pending, sending, sent,
failed (tried again after its back-off) or dead after the configured attempts (shown,
never dropped; `etablera webhook retry` sends it again).

The deliveries have a table of their own rather than rows of the reminder outbox
(`reminder_deliveries`): those hang off a reminder and a recipient user, these off an
audit event and a subscription, and must be sent in order per case (the case and seq
kept here). The claim, lease, attempts and dead-letter rules are the same code
(reminders/leases.py). Neither table holds personal data: a delivery names the event.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, UniqueConstraint

from etablera.models.metadata import Index, metadata
from etablera.models.timestamps import UTCDateTime

# A receiving URL. `secret`: the Standard Webhooks signing secret (whsec_...), shown
# once when it is made. `municipalities`: space-separated codes, or none for all.
WebhookSubscription = Table(
    "webhook_subscriptions", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(60), nullable=False, unique=True),
    Column("url", String(500), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("municipalities", String(400)),
    Column("after_txid", BigInteger, nullable=False),
    Column("after_id", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(60), nullable=False),
)

# One event on its way to one subscription.
WebhookDelivery = Table(
    "webhook_deliveries", metadata,
    Column("id", Integer, primary_key=True),
    Column("subscription_id", Integer, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", Integer, ForeignKey("audit_events.id"), nullable=False),
    Column("case_id", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("status", String(8), nullable=False, default="pending"),  # pending | sending | sent | failed | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(500)),
    Column("not_before", UTCDateTime),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_event"),
    Index("ix_webhook_deliveries_status", "status"),
    Index("ix_webhook_deliveries_case", "subscription_id", "case_id", "seq"),
)
