"""The reminder outbox (its recipients are users: models/users.py).

A `Reminder` is one (subject, visit, step) whose moment has come: recorded once, because
the unique key `uq_reminder_key` makes a second check, a retry or a concurrent check
record nothing twice. A `ReminderDelivery` is that reminder on its way to one recipient:
sent, failed (retried by the next run) or dead after the configured number of attempts.
Neither holds a name or an identity number: a reminder names the case id, the stage, the
due date and how late it is.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from etablera.models.case import Case
from etablera.models.timestamps import UTCDateTime

# The check scans the establishment due date (two years from the permit) by range, like
# the stage due date (ix_cases_due): this index on `cases` belongs to the reminders.
ix_cases_establishment_due = Index("ix_cases_establishment_due", Case.__table__.c.establishment_due)


class Reminder(SQLModel, table=True):
    """One rung of the ladder reached by one subject in one visit.

    kind: stage | measure | establishment | agreement.revision | agreement.expiry.
    target_id: the case id (stage, establishment), the measure id, or the municipality
    code as a number (agreements). visit: the seq of the event that entered the stage;
    0 for a measure and the establishment; the due date as YYYYMMDD for an agreement date.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("kind", "target_id", "visit", "step", name="uq_reminder_key"),
        Index("ix_reminders_status", "status"),
        Index("ix_reminders_case", "case_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    target_id: int
    visit: int
    step: str = Field(max_length=24)
    case_id: int | None = None
    measure_id: int | None = None
    municipality: str = Field(max_length=4)
    stage: str = Field(max_length=60, description="module1, module2.preparing, measure.sfi, establishment ...")
    due: date
    detected_on: date = Field(description="the Stockholm date of the check that recorded it")
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    status: str = Field(default="pending", max_length=8, description="pending | sent | failed | dead")
    addressed: bool = False
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class ReminderDelivery(SQLModel, table=True):
    """A reminder on its way to one recipient (a user id, `coordinator:CODE` when the
    municipality has no coordinator registered, or `unassigned`)."""

    __tablename__ = "reminder_deliveries"
    __table_args__ = (
        UniqueConstraint("reminder_id", "recipient", name="uq_delivery_recipient"),
        Index("ix_deliveries_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(sa_column=Column(Integer, ForeignKey("reminders.id"), nullable=False, index=True))
    recipient: str = Field(max_length=80)
    status: str = Field(default="pending", max_length=8, description="pending | sending | sent | failed | dead")
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
