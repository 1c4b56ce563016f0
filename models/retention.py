"""Retention and erasure (gallring): the rules (config/retention.toml), legal holds, and the
protocol of each run (gallringsprotokoll).

A rule says how long after a case ended one category of its data is kept. The case row
itself stays (pseudonymous: no number, no name, no contact details), so the reports'
figures stay what they were; cases/retention.py does the erasing.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field as Described
from sqlalchemy import Boolean, Column, Date, ForeignKey, Integer, String, Table

from etablera.models.config_files import FrameText, Section, Text, Where, as_search, load
from etablera.models.ladder import Cron, Zone
from etablera.models.metadata import metadata
from etablera.models.timestamps import UTCDateTime

# The categories of data a rule erases, in the order a protocol lists them.
CATEGORIES = ("identity", "notes", "documents", "justifications", "access_log", "reminders")


class RetentionRule(Section):
    """How long one category of a case's data is kept after the case ended."""
    period: FrameText = Described(description="how long after the case ended (the instant it reached a final "
                                              "state, as a Stockholm date): \"P2Y\", \"P6M\", \"P90D\"")
    rule: Text = Described(description="where the period comes from (the document management plan's item, a "
                                       "decision), written into every protocol")


class RetentionSchedule(Section):
    """When `etablera serve` runs the monthly gallring (flows/gallring.py)."""
    cron: Cron = "0 3 2 * *"
    timezone: Zone = "Europe/Stockholm"


class RetentionFile(Section):
    """retention.toml: one rule per category of data (documented examples, not law)."""
    schedule: RetentionSchedule = Described(default_factory=RetentionSchedule,
                                            description="when the monthly run starts (cron, time zone)")
    identity: RetentionRule = Described(description="identity number, names, language, interpreter, phone, e-mail")
    notes: RetentionRule = Described(description="the journal notes' text")
    documents: RetentionRule = Described(description="attached documents: the files and their names")
    justifications: RetentionRule = Described(description="free-text justifications on the case's events "
                                                          "(steps, skips, corrections, holds)")
    access_log: RetentionRule = Described(description="the access log's rows about the case")
    reminders: RetentionRule = Described(description="the reminders about the case and their deliveries")

    def rules(self) -> dict[str, RetentionRule]:
        return {name: getattr(self, name) for name in CATEGORIES}


def retention_rules(directory: Where = None) -> RetentionFile:
    """The rules in force: retention.toml from the configuration's search path (or `directory`)."""
    return _load(as_search(directory))


@lru_cache(maxsize=8)
def _load(search: tuple) -> RetentionFile:
    return load(RetentionFile, "retention.toml", search)[0]


# A legal hold (bevarande, gallringsstopp) on a case: nothing of it is erased while it
# stands. Placing and releasing are audit events on the case (the reason is the note).
LegalHold = Table(
    "legal_holds", metadata,
    Column("case_id", Integer, ForeignKey("cases.id"), primary_key=True),
    Column("seq", Integer, nullable=False),               # the audit event that placed it
    Column("since", UTCDateTime, nullable=False),
    Column("placed_by", String(60), nullable=False),
)

# One gallring run (dry runs leave none): when, by whom, as of which date.
RetentionRun = Table(
    "gallring_runs", metadata,
    Column("run_id", String(36), primary_key=True),
    Column("as_of", Date, nullable=False),                # the date the periods were counted to (--now)
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("actor", String(60), nullable=False),
    Column("cases", Integer, nullable=False, default=0),
    # True only inside the run's own erasing transaction: the audit trail's and the access
    # log's triggers (migration 0013) let it change what they otherwise refuse.
    Column("erasing", Boolean, nullable=False, default=False),
)

# One category of one run: which rule, how many cases and items were erased.
ProtocolRow = Table(
    "gallring_protocol", metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(36), ForeignKey("gallring_runs.run_id"), nullable=False, index=True),
    Column("category", String(20), nullable=False),
    Column("rule", String, nullable=False),
    Column("period", String(40), nullable=False),
    Column("ended_before", Date, nullable=False),         # cases that ended on or before this date were due
    Column("cases", Integer, nullable=False, default=0),
    Column("items", Integer, nullable=False, default=0),
)

# A category of a case erased, by which run, and the case's last event then (the case
# ids are pseudonymous). An event added since (a note, a change of the person, a hold's
# reason) makes the category due again.
Erasure = Table(
    "gallring_erasures", metadata,
    Column("case_id", Integer, ForeignKey("cases.id"), primary_key=True),
    Column("category", String(20), primary_key=True),
    Column("run_id", String(36), ForeignKey("gallring_runs.run_id"), nullable=False),
    Column("last_seq", Integer, nullable=False),          # the case's last audit event when it was erased
)
