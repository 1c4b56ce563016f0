"""Follow-up (uppföljning): the follow-ups recorded after an exit, and the two tables the
report reads instead of the whole audit trail.

`FollowUp` is recorded by an officer 90, 180 and 360 days after a case left for work, own
business or studies: is the person still there? One per case and day.

`ReportVisit` and `ReportCase` are *derived* (härledda): every value in them is computed
by SQL from `audit_events` and `cases` (reports/facts.py) and can be rebuilt
from them at any time. A visit (besök) is one stay of a case in one time-frame stage,
from the event that entered the stage to the event that left it, with the days on hold
counted apart. `ReportCase.seq` is the case's `last_seq` the rows were computed from: a
case whose `last_seq` has moved on is recomputed before the next report. Days are
Stockholm calendar days counted from 1970-01-01 (integers, the same on every database).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from etablera.models.case import Case, Measure
from etablera.models.timestamps import UTCDateTime

FOLLOWUP_DAYS = (90, 180, 360)
FOLLOWUP_STATUSES = ("work", "own_business", "studies", "unemployed", "unknown")


class FollowUp(SQLModel, table=True):
    """Where a person who left the process is `day` days after the exit (uppföljning)."""

    __tablename__ = "followups"
    __table_args__ = (
        UniqueConstraint("case_id", "day", name="uq_followup_case_day"),
        Index("ix_followups_day_status", "day", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(sa_column=Column(Integer, ForeignKey("cases.id"), nullable=False))
    day: int = Field(description="90, 180 or 360 days after the exit")
    status: str = Field(max_length=20, description="work | own_business | studies | unemployed | unknown")
    exit_state: str = Field(max_length=40, description="the case's terminal state when recorded")
    municipality: str = Field(max_length=4)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    actor: str = Field(max_length=60)
    seq: int = Field(description="the audit event that records it")


class ReportVisit(SQLModel, table=True):
    """One stay of a case in one stage (derived from the audit trail)."""

    __tablename__ = "report_visits"
    __table_args__ = (
        # Covering, in the order the report groups by: one index scan, no sort, no table.
        Index("ix_report_visits_stage_muni_days", "stage", "municipality", "days", "end_day", "paused_days"),
        Index("ix_report_visits_module3", "stage", "end_day", "municipality", "track", "end_state"),
        Index("ix_report_visits_skips", "end_day", "municipality", "skipped", "reason",
              sqlite_where="skipped <> '[]'", postgresql_where="skipped <> '[]'"),
    )

    case_id: int = Field(primary_key=True)
    visit: int = Field(primary_key=True, description="seq of the event that entered the stage")
    stage: str = Field(max_length=20, description="module1 | module2.preparing | module2.extended | "
                                                  "assessment | module3")
    track: str | None = Field(default=None, max_length=60, description="the local job track (module3)")
    start_day: int
    start_municipality: str = Field(max_length=4)
    end_day: int | None = Field(default=None, description="None while the case is still in the stage")
    municipality: str = Field(max_length=4, description="where the case was when it left (or is now)")
    end_state: str | None = Field(default=None, max_length=40, description="where the leaving event led")
    end_trigger: str | None = Field(default=None, max_length=40)
    decision: str | None = Field(default=None, max_length=20, description="the joint assessment's decision")
    skipped: str = Field(default="[]", max_length=60, description="modules the leaving event skipped (JSON)")
    reason: str | None = Field(default=None, max_length=40, description="the leaving event's reason code")
    days: int | None = Field(default=None, description="days in the stage, days on hold excluded")
    paused_days: int = 0


class ReportCase(SQLModel, table=True):
    """One case's registration and exit, for the report (derived)."""

    __tablename__ = "report_cases"
    __table_args__ = (
        # Covering: the starters' figures and the exits' figures each read one index.
        Index("ix_report_cases_registered", "registered_day", "start_municipality", "exit_state", "exit_day",
              "permit_day", "establishment_due_day"),
        Index("ix_report_cases_exit", "exit_day", "exit_municipality", "exit_state", "permit_day", "target_group"),
    )

    case_id: int = Field(primary_key=True)
    seq: int = Field(description="the case's last_seq these rows were computed from")
    target_group: str = Field(max_length=1)
    permit_day: int
    establishment_due_day: int
    registered_day: int
    start_municipality: str = Field(max_length=4)
    exit_state: str | None = Field(default=None, max_length=40)
    exit_day: int | None = None
    exit_municipality: str | None = Field(default=None, max_length=4)
    exit_track: str | None = Field(default=None, max_length=60)


# Indexes on the core tables that only the report and the follow-ups use (created by
# migration 0003): finding cases changed since the derived rows were computed, counting
# overdue stages and measures without reading the tables, finding exits for follow-up.
_C = Case.__table__.c
_M = Measure.__table__.c
ix_cases_report = Index("ix_cases_report", _C.id, _C.last_seq, _C.state, _C.municipality)
ix_cases_due_report = Index("ix_cases_due_report", _C.due, _C.state, _C.municipality)
ix_cases_state_since = Index("ix_cases_state_since", _C.state, _C.state_since)
ix_measures_open_due_case = Index("ix_measures_open_due_case", _M.state, _M.due, _M.case_id, _M.type)
