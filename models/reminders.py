"""The reminder outbox (its recipients are users: models/users.py).

A `Reminder` is one (subject, visit, step) whose moment has come: recorded once, because
the unique key `uq_reminder_key` makes a second check, a retry or a concurrent check
record nothing twice. A `ReminderDelivery` is that reminder on its way to one recipient:
sent, failed (retried by the next run) or dead after the configured number of attempts.
Neither holds a name or an identity number: a reminder names the case id, the stage, the
due date and how late it is.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, ForeignKey, Integer, String, Table, UniqueConstraint

from etablera.models.case import Case
from etablera.models.metadata import Index, metadata
from etablera.models.timestamps import UTCDateTime

# The check scans the establishment due date (two years from the permit) by range, like
# the stage due date (the report's ix_cases_due_report, models/followup.py): this index on
# `cases` belongs to the reminders.
ix_cases_establishment_due = Index("ix_cases_establishment_due", Case.c.establishment_due)

# One rung of the ladder reached by one subject in one visit.
#
# kind: stage | measure | establishment | agreement.revision | agreement.expiry.
# target_id: the case id (stage, establishment), the measure id, or the municipality
# code as a number (agreements). visit: the seq of the event that entered the stage;
# 0 for a measure and the establishment; the due date as YYYYMMDD for an agreement date.
Reminder = Table(
    "reminders", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(24), nullable=False),
    Column("target_id", Integer, nullable=False),
    Column("visit", Integer, nullable=False),
    Column("step", String(24), nullable=False),
    Column("case_id", Integer),
    Column("measure_id", Integer),
    Column("municipality", String(4), nullable=False),
    Column("stage", String(60), nullable=False),          # module1, module2.preparing, measure.sfi,
                                                          # establishment ...
    Column("due", Date, nullable=False),
    Column("detected_on", Date, nullable=False),          # the Stockholm date of the check that recorded it
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("status", String(8), nullable=False, default="pending"),  # pending | sent | failed | dead
    Column("addressed", Boolean, nullable=False, default=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(500)),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("kind", "target_id", "visit", "step", name="uq_reminder_key"),
    Index("ix_reminders_status", "status"),
    Index("ix_reminders_case", "case_id"),
)

# A reminder on its way to one recipient (a user id, `coordinator:CODE` when the
# municipality has no coordinator registered, or `unassigned`).
ReminderDelivery = Table(
    "reminder_deliveries", metadata,
    Column("id", Integer, primary_key=True),
    Column("reminder_id", Integer, ForeignKey("reminders.id"), nullable=False, index=True),
    Column("recipient", String(80), nullable=False),
    Column("status", String(8), nullable=False, default="pending"),  # pending | sending | sent | failed | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(500)),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("reminder_id", "recipient", name="uq_delivery_recipient"),
    Index("ix_deliveries_status", "status"),
)
