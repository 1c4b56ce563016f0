"""A newcomer's case (ärende) and its measures (insatser)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, text
from sqlmodel import Field, SQLModel

from etablera.models.timestamps import UTCDateTime

_CASE_VERSION = Column("version", Integer, nullable=False)
_ACTIVE = {"sqlite_where": text("active = 1"), "postgresql_where": text("active")}
# The exits followed up after 90, 180 and 360 days (statemachine/process.FOLLOWED_UP), as the
# follow-up queue's condition and its partial index both spell it: SQLite uses a partial
# index only for a query holding the index's WHERE term itself (a test checks it is the
# process table's list).
FOLLOWED_UP_SQL = "state IN ('exited.work', 'exited.own_business', 'exited.studies')"
_MEASURE_VERSION = Column("version", Integer, nullable=False)


class Case(SQLModel, table=True):
    """One individual's way through the module process in one municipality.

    `state` is a dotted state of the process table (statemachine/process.py). `due` is
    the current stage's due date, fixed when the case entered the stage and moved only by
    time on hold. `version` refuses concurrent changes (optimistic locking).
    """

    __tablename__ = "cases"
    __table_args__ = (
        # One active case per person: the engine checks first, the index makes it true
        # (its WHERE as each database's check spells it, so the check reads it: 0016).
        Index("uq_cases_active_person", "person", unique=True, **_ACTIVE),
        Index("ix_cases_municipality_state", "municipality", "state"),
        Index("ix_cases_due", "due"),
        Index("ix_cases_person", "person"),
        # Name search: a prefix of the folded given or family name (cases/search.py).
        Index("ix_cases_given_key", "given_key", postgresql_ops={"given_key": "varchar_pattern_ops"}),
        Index("ix_cases_family_key", "family_key", postgresql_ops={"family_key": "varchar_pattern_ops"}),
        # ... within the user's municipalities (migration 0009).
        Index("ix_cases_municipality_given_key", "municipality", "given_key",
              postgresql_ops={"given_key": "varchar_pattern_ops"}),
        Index("ix_cases_municipality_family_key", "municipality", "family_key",
              postgresql_ops={"family_key": "varchar_pattern_ops"}),
        Index("ix_cases_municipality_transferred", "municipality", "transferred_at"),
        # Gallring's ended cases by when they ended, the WHERE as its statement spells it
        # on each database (cases/retention.py; migration 0016).
        Index("ix_cases_ended", "state_since", sqlite_where=text("active IS 0"),
              postgresql_where=text("active IS false")),
        # The deadline check's late registrations (reminders/deadlines.py; migration 0017).
        Index("ix_cases_registered_late", "active", "establishment_due", sqlite_where=text("registered_late = 1"),
              postgresql_where=text("registered_late")),
        # The start page's queue counts, each one range of one index (migration 0010): the
        # running cases only, `active` last (SQLite counts a column covered only if the index
        # holds it), the WHERE as each database's statement spells it.
        Index("ix_cases_queue_kommun", "kommun_officer", "municipality", "due", "active", **_ACTIVE),
        Index("ix_cases_queue_af", "af_officer", "municipality", "due", "active", **_ACTIVE),
        Index("ix_cases_queue_due", "municipality", "due", "active", **_ACTIVE),
        Index("ix_cases_queue_state", "municipality", "state", "due", "active", **_ACTIVE),
        Index("ix_cases_queue_transferred", "municipality", "transferred_at", "due", "active",
              sqlite_where=text("active = 1 AND transferred_at IS NOT NULL"),
              postgresql_where=text("active AND transferred_at IS NOT NULL")),
        # ... and the exits that are followed up, by the instant of the exit
        Index("ix_cases_queue_followup", "municipality", "state_since", "state", "id",
              sqlite_where=text(FOLLOWED_UP_SQL), postgresql_where=text(FOLLOWED_UP_SQL)),
    )
    __mapper_args__ = {"version_id_col": _CASE_VERSION}

    id: int | None = Field(default=None, primary_key=True)
    person: str = Field(max_length=12, description="personal identity or coordination number, 12 digits")
    municipality: str = Field(max_length=4)
    target_group: str = Field(max_length=1)
    no_upper_secondary: bool = False
    permit_date: date
    reception_date: date | None = None
    state: str = Field(max_length=40)
    state_since: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    stage_started: date = Field(description="the Stockholm date the current stage began")
    stage_seq: int = Field(default=1, description="seq of the event that entered the current stage: "
                                                  "identifies the stage visit")
    due: date | None = None
    establishment_due: date
    paused_from: str | None = Field(default=None, max_length=40)
    paused_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    plan: str | None = Field(default=None, max_length=20)
    track: str | None = Field(default=None, max_length=60)
    kommun_officer: str | None = Field(default=None, max_length=60)
    af_officer: str | None = Field(default=None, max_length=60)
    # The person (optional, editable; every change is an audit event: cases/person.py).
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    given_key: str | None = Field(default=None, max_length=100, description="given name folded for search")
    family_key: str | None = Field(default=None, max_length=100, description="family name folded for search")
    language: str | None = Field(default=None, max_length=40, description="preferred language")
    interpreter: bool = Field(default=False, description="needs an interpreter")
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)
    registered_late: bool = Field(default=False, description="the establishment time was already over at "
                                                             "registration")
    transferred_from: str | None = Field(default=None, max_length=4, description="the municipality of the "
                                                                                 "last transfer in")
    transferred_at: date | None = Field(default=None, description="the Stockholm date of the last transfer in")
    active: bool = True
    last_seq: int = 0
    last_hash: str = Field(default="", max_length=64)
    last_event_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    version: int = Field(default=1, sa_column=_CASE_VERSION)


class Measure(SQLModel, table=True):
    """A measure (insats) in module 2, or a component of a local job track in module 3.

    Its own small lifecycle: planned → ongoing → completed | cancelled (with a reason).
    """

    __tablename__ = "measures"
    __table_args__ = (Index("ix_measures_open_due", "state", "due"),)
    __mapper_args__ = {"version_id_col": _MEASURE_VERSION}

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False, index=True))
    type: str = Field(max_length=40)
    module: str = Field(max_length=10)
    component: str | None = Field(default=None, max_length=120)
    state: str = Field(default="planned", max_length=12)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    due: date
    reason: str | None = Field(default=None, max_length=40)
    version: int = Field(default=1, sa_column=_MEASURE_VERSION)
