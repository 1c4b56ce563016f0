"""A newcomer's case (ärende) and its measures (insatser)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, ForeignKey, Integer, String, Table, func, literal_column, text

from etablera.models.metadata import Index, metadata
from etablera.models.timestamps import UTCDateTime

_ACTIVE = {"sqlite_where": text("active = 1"), "postgresql_where": text("active")}
# The exits followed up after 90, 180 and 360 days (statemachine/process.FOLLOWED_UP), as the
# follow-up queue's condition and its partial index both spell it: SQLite uses a partial
# index only for a query holding the index's WHERE term itself (a test checks it is the
# process table's list).
FOLLOWED_UP_SQL = "state IN ('exited.work', 'exited.own_business', 'exited.studies')"

# One individual's way through the module process in one municipality.
#
# `state` is a dotted state of the process table (statemachine/process.py). `due` is
# the current stage's due date, fixed when the case entered the stage and moved only by
# time on hold. `version` refuses concurrent changes (optimistic locking: the code
# updates a case only where its version is still the one it read, cases/journal.py).
Case = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True),
    Column("person", String(12), nullable=False),         # personal identity or coordination number, 12 digits
    Column("municipality", String(4), nullable=False),
    Column("target_group", String(1), nullable=False),
    Column("no_upper_secondary", Boolean, nullable=False, default=False),
    Column("permit_date", Date, nullable=False),
    Column("reception_date", Date),
    Column("state", String(40), nullable=False),
    Column("state_since", UTCDateTime, nullable=False),
    Column("stage_started", Date, nullable=False),        # the Stockholm date the current stage began
    Column("stage_seq", Integer, nullable=False, default=1),   # seq of the event that entered the current
                                                               # stage: identifies the stage visit
    Column("due", Date),
    Column("establishment_due", Date, nullable=False),
    Column("paused_from", String(40)),
    Column("paused_at", UTCDateTime),
    Column("plan", String(20)),
    Column("track", String(60)),
    Column("kommun_officer", String(60)),
    Column("af_officer", String(60)),
    # The person (optional, editable; every change is an audit event: cases/person.py).
    Column("given_name", String(100)),
    Column("family_name", String(100)),
    Column("given_key", String(100)),                     # given name folded for search
    Column("family_key", String(100)),                    # family name folded for search
    Column("language", String(40)),                       # preferred language
    Column("interpreter", Boolean, nullable=False, default=False),        # needs an interpreter
    Column("phone", String(40)),
    Column("email", String(200)),
    Column("registered_late", Boolean, nullable=False, default=False),    # the establishment time was
                                                                          # already over at registration
    Column("transferred_from", String(4)),                # the municipality of the last transfer in
    Column("transferred_at", Date),                       # the Stockholm date of the last transfer in
    Column("active", Boolean, nullable=False, default=True),
    Column("last_seq", Integer, nullable=False, default=0),
    Column("last_hash", String(64), nullable=False, default=""),
    Column("last_event_at", UTCDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # One active case per person: the engine checks first, the index makes it true
    # (its WHERE as each database's check spells it, so the check reads it: 0016).
    Index("uq_cases_active_person", "person", unique=True, **_ACTIVE),
    Index("ix_cases_municipality_state", "municipality", "state"),
    # The worklists: one officer's cases (in a municipality), or a municipality's, by due date (0005).
    Index("ix_cases_worklist_kommun", "kommun_officer", "municipality", "due", "id"),
    Index("ix_cases_worklist_af", "af_officer", "due", "id"),
    Index("ix_cases_worklist_municipality", "municipality", "due", "id"),
    Index("ix_cases_person", "person"),
    # Name search: a prefix of the folded given or family name (cases/search.py).
    Index("ix_cases_given_key", "given_key", postgresql_ops={"given_key": "varchar_pattern_ops"}),
    Index("ix_cases_family_key", "family_key", postgresql_ops={"family_key": "varchar_pattern_ops"}),
    # ... within the user's municipalities (migration 0009), and by the name's head, below.
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

# Name search within the user's municipalities (cases/search.py; migration 0018): each
# case under the first NAME_HEAD characters of its folded given and family name, newest
# last, so that a search for "ahm" reads the newest matches of its municipality and stops
# at the page's 21st, where (municipality, key) holds the prefix's thousands of cases in
# name order, all read to keep the newest. The expression is spelt as the statements
# spell it (literal 1 and 3: a database uses an expression index only for the same
# expression); on PostgreSQL text_pattern_ops, so that a shorter word's LIKE 'oz%' reads
# one range of it too.
NAME_HEAD = 3


def name_head(column):
    """The first NAME_HEAD characters of a folded name key, as its index holds them."""
    return func.substr(column, literal_column("1"), literal_column(str(NAME_HEAD)))


for _key in ("given", "family"):
    Index(f"ix_cases_municipality_{_key}_head", Case.c.municipality,
          name_head(Case.c[f"{_key}_key"]).label(f"{_key}_head"), Case.c.id,
          postgresql_ops={f"{_key}_head": "text_pattern_ops"})


# A measure (insats) in module 2, or a component of a local job track in module 3.
#
# Its own small lifecycle: planned → ongoing → completed | cancelled (with a reason).
# `version` refuses concurrent changes, as the case's does.
Measure = Table(
    "measures", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False, index=True),
    Column("type", String(40), nullable=False),
    Column("module", String(10), nullable=False),
    Column("component", String(120)),
    Column("state", String(12), nullable=False, default="planned"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime),
    Column("ended_at", UTCDateTime),
    Column("due", Date, nullable=False),
    Column("reason", String(40)),
    Column("version", Integer, nullable=False),
    Index("ix_measures_open_due", "state", "due"),
)
