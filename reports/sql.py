"""The few SQL expressions that SQLite and PostgreSQL spell differently, for the report
(and for the follow-ups' due dates in the deadline check).

Everything else in the report's SQL is standard (CTEs, window functions, CASE) and runs
unchanged on both. Days are integers: Stockholm calendar days since 1970-01-01, so a
difference of two days is a number of days on every database, and the percentiles are
computed on the same integers everywhere.

SQLite has no time zones: it stores our instants as UTC text ("YYYY-MM-DD HH:MM:SS.ffffff",
models.timestamps.UTCDateTime). The Stockholm date of an instant is computed there with
the EU summer-time rule (since 1996: from 01:00 UTC on the last Sunday of March to 01:00
UTC on the last Sunday of October, UTC+2; otherwise UTC+1). A test compares it with
Python's zoneinfo over years of instants around every switch.
"""

from __future__ import annotations

from datetime import date

EPOCH = date(1970, 1, 1)
_SQLITE_SUMMER = ("({at} >= datetime(substr({at}, 1, 4) || '-03-25', 'weekday 0', '+1 hours') AND "
                  "{at} < datetime(substr({at}, 1, 4) || '-10-25', 'weekday 0', '+1 hours'))")


def day_number(day: date) -> int:
    """A date as the report's day number."""
    return (day - EPOCH).days


def from_day_number(n: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + n)


class Dialect:
    """SQL fragments for one database (`sqlite` or `postgresql`)."""

    def __init__(self, name: str):
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"the report supports SQLite and PostgreSQL, not {name}")
        self.name = name

    @property
    def sqlite(self) -> bool:
        return self.name == "sqlite"

    def local_day(self, at: str) -> str:
        """The Stockholm calendar day (day number) of a stored instant."""
        if self.sqlite:
            summer = _SQLITE_SUMMER.format(at=at)
            return (f"CAST(julianday({at}, CASE WHEN {summer} THEN '+2 hours' ELSE '+1 hours' END) "
                    f"- 2440587.5 AS INTEGER)")
        return f"(CAST(({at} AT TIME ZONE 'Europe/Stockholm') AS DATE) - DATE '1970-01-01')"

    def date_of_day(self, number: str) -> str:
        """A day number as a DATE (SQLite: 'YYYY-MM-DD' text, as SQLAlchemy stores dates)."""
        if self.sqlite:
            return f"date({number} + 2440587.5)"
        return f"(DATE '1970-01-01' + CAST({number} AS INTEGER))"

    def day_of_date(self, column: str) -> str:
        """A DATE column as a day number."""
        if self.sqlite:
            return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"
        return f"({column} - DATE '1970-01-01')"

    def json_text(self, column: str, key: str) -> str:
        """A top-level text member of a JSON column (NULL when absent)."""
        if self.sqlite:
            return f"json_extract({column}, '$.{key}')"
        return f"({column} ->> '{key}')"

    def indexed_by(self, index: str) -> str:
        """A plan hint after a table name: SQLite's planner has no statistics to tell a
        range over 20 % of a million rows from one over 2 %; PostgreSQL's has, and needs none."""
        return f" INDEXED BY {index}" if self.sqlite else ""

    def unindexed(self, column: str) -> str:
        """A column whose index SQLite's planner must not choose for a condition on it (unary
        plus: SQLite's way to say so). Without statistics it takes an equality on the first
        column of any index as equally narrow, and may read a case's events through the
        index of their trigger instead of the one of their case."""
        return f"+{column}" if self.sqlite else column

    def true(self, column: str) -> str:
        """A boolean column is true, as a partial index over it spells it (models/case.py)."""
        return f"{column} = 1" if self.sqlite else column

    def as_text(self, column: str) -> str:
        return f"CAST({column} AS TEXT)"
