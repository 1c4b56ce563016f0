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

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from etablera.models.timestamps import UTCDateTime


class WebhookSubscription(SQLModel, table=True):
    """A receiving URL. `secret`: the Standard Webhooks signing secret (whsec_...), shown
    once when it is made. `municipalities`: space-separated codes, or none for all."""

    __tablename__ = "webhook_subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=200)
    municipalities: str | None = Field(default=None, max_length=400)
    after_txid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    after_id: int = 0
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_by: str = Field(max_length=60)


class WebhookDelivery(SQLModel, table=True):
    """One event on its way to one subscription."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_event"),
        Index("ix_webhook_deliveries_status", "status"),
        Index("ix_webhook_deliveries_case", "subscription_id", "case_id", "seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(sa_column=Column(Integer, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
                                                  nullable=False))
    event_id: int = Field(sa_column=Column(Integer, ForeignKey("audit_events.id"), nullable=False))
    case_id: int
    seq: int
    status: str = Field(default="pending", max_length=8, description="pending | sending | sent | failed | dead")
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    not_before: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
