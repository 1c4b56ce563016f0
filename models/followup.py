"""Follow-up (uppföljning): the follow-ups recorded after an exit, and the derived tables
the report reads instead of the whole audit trail.

`FollowUp` is recorded by an officer 90, 180 and 360 days after a case left for work, own
business or studies: is the person still there? One per case and day.

`ReportVisit`, `ReportCase`, `ReportMeasure` and `ReportTransfer` are *derived*
(härledda): every value in them is computed by SQL from `audit_events`, `cases` and
`measures` (reports/facts.py) and can be rebuilt from them at any time. A visit (besök)
is one stay of a case in one time-frame stage, from the event that entered the stage to
the event that left it, with the days on hold counted apart. `ReportCase.seq` is the case's `last_seq` the rows were computed from: a
case whose `last_seq` has moved on is recomputed before the next report. Days are
Stockholm calendar days counted from 1970-01-01 (integers, the same on every database).
"""

from __future__ import annotations

from sqlalchemy import Column, Date, ForeignKey, Integer, String, Table, UniqueConstraint, text

from etablera.models.case import Case, Measure
from etablera.models.metadata import Index, metadata
from etablera.models.timestamps import UTCDateTime

FOLLOWUP_DAYS = (90, 180, 360)
FOLLOWUP_STATUSES = ("work", "own_business", "studies", "unemployed", "unknown")

# Where a person who left the process is `day` days after the exit (uppföljning).
FollowUp = Table(
    "followups", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("day", Integer, nullable=False),               # 90, 180 or 360 days after the exit
    Column("status", String(20), nullable=False),         # work | own_business | studies | unemployed | unknown
    Column("exit_state", String(40), nullable=False),     # the case's terminal state when recorded
    Column("municipality", String(4), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(60), nullable=False),
    Column("seq", Integer, nullable=False),               # the audit event that records it
    UniqueConstraint("case_id", "day", name="uq_followup_case_day"),
    Index("ix_followups_day_status", "day", "status"),
)

# One stay of a case in one stage (derived from the audit trail).
ReportVisit = Table(
    "report_visits", metadata,
    Column("case_id", Integer, primary_key=True),
    Column("visit", Integer, primary_key=True),           # seq of the event that entered the stage
    Column("stage", String(20), nullable=False),          # module1 | module2.preparing | module2.extended |
                                                          # assessment | module3
    Column("track", String(60)),                          # the local job track (module3)
    Column("start_day", Integer, nullable=False),
    Column("start_municipality", String(4), nullable=False),
    Column("end_day", Integer),                           # None while the case is still in the stage
    Column("municipality", String(4), nullable=False),    # where the case was when it left (or is now)
    Column("end_state", String(40)),                      # where the leaving event led
    Column("end_trigger", String(40)),
    Column("decision", String(20)),                       # the joint assessment's decision
    Column("skipped", String(60), nullable=False, default="[]"),     # modules the leaving event skipped (JSON)
    Column("reason", String(40)),                         # the leaving event's reason code
    Column("days", Integer),                              # days in the stage, days on hold excluded
    Column("paused_days", Integer, nullable=False, default=0),
    # Covering, in the order the report groups by: one index scan, no sort, no table.
    Index("ix_report_visits_stage_muni_days", "stage", "municipality", "days", "end_day", "paused_days"),
    Index("ix_report_visits_module3", "stage", "end_day", "municipality", "track", "end_state"),
    # The stays that skipped a module, in the order their figures are grouped by; the stays
    # with days on hold (a few in a hundred), for the days they paused.
    Index("ix_report_visits_skips", "municipality", "skipped", "reason", "end_day",
          sqlite_where=text("skipped <> '[]'"), postgresql_where=text("skipped <> '[]'")),
    Index("ix_report_visits_paused", "stage", "municipality", "end_day", "days", "paused_days",
          sqlite_where=text("paused_days > 0"), postgresql_where=text("paused_days > 0")),
)

# One case's registration and exit, for the report (derived).
ReportCase = Table(
    "report_cases", metadata,
    Column("case_id", Integer, primary_key=True),
    Column("seq", Integer, nullable=False),               # the case's last_seq these rows were computed from
    Column("target_group", String(1), nullable=False),
    Column("permit_day", Integer, nullable=False),
    Column("establishment_due_day", Integer, nullable=False),
    Column("registered_day", Integer, nullable=False),
    Column("start_municipality", String(4), nullable=False),
    Column("exit_state", String(40)),
    Column("exit_day", Integer),
    Column("exit_municipality", String(4)),
    Column("exit_track", String(60)),
    Column("exit_days", Integer),                         # exit_day - permit_day (None while running)
    # Covering, in the order the report groups by: the period's starters and the period's
    # exits are each counted in one scan of an index, with no sort (reports/report.py).
    Index("ix_report_cases_starters", "start_municipality", "exit_state", "exit_days", "registered_day",
          "exit_day", "establishment_due_day"),
    Index("ix_report_cases_exits", "exit_municipality", "exit_state", "target_group", "exit_days", "exit_day",
          "permit_day", sqlite_where=text("exit_day IS NOT NULL"), postgresql_where=text("exit_day IS NOT NULL")),
    # A range of days: the export's cases by registration, the follow-ups by exit.
    Index("ix_report_cases_registered", "registered_day", "start_municipality", "exit_state", "exit_day",
          "permit_day", "establishment_due_day"),
    Index("ix_report_cases_exit", "exit_day", "exit_municipality", "exit_state", "permit_day", "target_group"),
)

# An open measure of a running case, with the case's municipality now (derived from
# `measures` and `cases`, recomputed with its case's other rows: every change of a measure
# or of its case's state or municipality is an event of the case). The report counts the
# overdue measures from these, by municipality and type, in one scan of the index in that
# order, where the live tables needed a lookup of each open measure's case.
ReportMeasure = Table(
    "report_measures", metadata,
    Column("case_id", Integer, primary_key=True),
    Column("measure_id", Integer, primary_key=True),
    Column("municipality", String(4), nullable=False),
    Column("type", String(40), nullable=False),
    Column("due", Date, nullable=False),
    Index("ix_report_measures_due", "municipality", "type", "due"),
)

# A transfer of a case to another municipality (derived from its audit event; a corrected
# transfer and its correction are left out, as everywhere in the report). The report counts
# the period's transfers from these by day, where the audit trail needed each transfer
# event's row, data and all, to read where it came from.
ReportTransfer = Table(
    "report_transfers", metadata,
    Column("case_id", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("day", Integer, nullable=False),               # the Stockholm day of the transfer
    Column("municipality", String(4), nullable=False),    # where the case went
    Column("from_municipality", String(4)),
    Index("ix_report_transfers_day", "day", "municipality", "from_municipality"),
)


# Indexes on the core tables that only the report and the follow-ups use (created by
# migration 0003): finding cases changed since the derived rows were computed, counting
# overdue stages and measures without reading the tables, finding exits for follow-up.
_C = Case.c
_M = Measure.c
ix_cases_report = Index("ix_cases_report", _C.id, _C.last_seq, _C.state, _C.municipality)
ix_cases_due_report = Index("ix_cases_due_report", _C.due, _C.state, _C.municipality)
ix_cases_state_since = Index("ix_cases_state_since", _C.state, _C.state_since)
ix_measures_open_due_case = Index("ix_measures_open_due_case", _M.state, _M.due, _M.case_id, _M.type)
