"""The audit trail (AuditEvent) and the access log (AccessLog).

Both are append-only: the application never updates or deletes a row, and the migration
installs database triggers that refuse UPDATE and DELETE on them. Each audit event
carries a SHA-256 hash over its own content and the previous event's hash of the same
case, so a changed, removed or reordered event breaks the chain (`etablera audit verify`).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Integer, String, Table, UniqueConstraint, text

from etablera.models.metadata import Index, metadata
from etablera.models.timestamps import UTCDateTime

# The events that skipped a module (a step's `skipped` holds the modules' names, [] for
# none), as the skip audit's condition and its partial index both spell it: SQLite uses a
# partial index only for a query holding the index's WHERE term itself. A few in a hundred
# events skip; without it every view of the skip audit read the whole trail.
SKIPPED_SQL = "CAST(skipped AS VARCHAR) != '[]'"
# The events that skipped one module (the skip audit's module filter), spelled as their
# indexes have it, for each module the process table can skip (tests/test_skip_audit_indexes.py
# holds the two together).
SKIPPED_MODULE_SQL = {module: f"CAST(skipped AS VARCHAR) LIKE '%\"module{module}\"%'" for module in ("2", "3")}


def _where(term: str) -> dict:
    return {"sqlite_where": text(term), "postgresql_where": text(term)}


# The skip audit's indexes (cases/skip_audit.py): the skipping events, and each module's,
# in each order the page offers, then case and step (its tie-break), then every other
# column it filters or sorts by, so that a page's events and its count are found from an
# index alone whatever the filters; only the page's own events are read from the table.
# Sorted by where the case was, who or why, or filtered to a module or a reason and a
# municipality, a view read every skipping event from the table (at 300,000 cases 220-660
# ms of PostgreSQL).
_SKIP_COLUMNS = ("at", "municipality", "actor", "reason")


def _skip_index(name: str, order: tuple[str, ...], term: str) -> Index:
    leading = (*order, "case_id", "seq")
    return Index(name, *leading, *(c for c in _SKIP_COLUMNS if c not in leading), **_where(term))


_SKIP_INDEXES = (
    *(_skip_index(f"ix_audit_skips{suffix}", order, SKIPPED_SQL)
      for suffix, order in (("", ("at",)), ("_case", ()), *((f"_{key}", (key,)) for key in _SKIP_COLUMNS[1:]))),
    *(_skip_index(f"ix_audit_skips_module{module}{suffix}", order, term)
      for module, term in SKIPPED_MODULE_SQL.items() for suffix, order in (("", ("at",)), ("_case", ()))),
)

# One thing that happened to a case: a transition, a measure change, a transfer.
AuditEvent = Table(
    "audit_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("actor", String(60), nullable=False),
    Column("trigger", String(40), nullable=False),
    Column("from_state", String(40)),
    Column("to_state", String(40), nullable=False),
    Column("municipality", String(4), nullable=False),    # where the case was when this happened
    Column("reason", String(40)),
    Column("note", String),
    Column("skipped", JSON, nullable=False),
    Column("data", JSON, nullable=False),
    # Each erasable value's salt, outside the hash (cases/sealing.py); none once erased.
    Column("salts", JSON(none_as_null=True), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # The writing transaction's id on PostgreSQL (the database sets it; 0 on SQLite), for
    # the event feed's order (cases/feed.py). Never written by the application.
    Column("txid", BigInteger, nullable=False, server_default=text("0")),
    UniqueConstraint("case_id", "seq", name="uq_audit_case_seq"),
    Index("ix_audit_trigger_at", "trigger", "at"),
    Index("ix_audit_feed", "txid", "id"),
    *_SKIP_INDEXES,
)

# Who looked at or changed which case's personal data, when (append-only).
AccessLog = Table(
    "access_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(60), nullable=False),
    Column("role", String(20)),
    Column("organisation", String(40)),
    Column("case_id", Integer),                           # (by case: ix_access_case_at)
    Column("action", String(40), nullable=False),
    Column("detail", String),
    Index("ix_access_case_at", "case_id", "at"),
    Index("ix_access_actor_at", "actor", "at"),            # one user's reads (0004)
)
