"""Dates and times as people type them (CLI options, form fields, query parameters), read
the same way by every interface. A value that is not one is `BadInput` naming the field;
an absent or empty value is None."""

from __future__ import annotations

from datetime import date, datetime

from etablera.statemachine.errors import BadInput

DATETIME_HINT = "use YYYY-MM-DD or YYYY-MM-DDTHH:MM"


def parse_at(text: str | None, field: str = "at") -> datetime | None:
    """An event time: a datetime (Stockholm time unless a zone is given) or a bare date."""
    if not text:
        return None
    from etablera.models.timestamps import parse_moment
    try:
        return parse_moment(text)
    except Exception:
        raise BadInput("not_a_datetime", field=field) from None


def parse_bound(text: str | None, field: str) -> datetime | None:
    """A period bound (since, until): a bare date is the start of that day in Stockholm
    (not midday, as for an event time), so `since 2025-03-05` includes the whole day."""
    if not text:
        return None
    from etablera.models.timestamps import day_start
    try:
        return day_start(date.fromisoformat(text.strip()))
    except ValueError:
        return parse_at(text, field)


def parse_day(text: str | None, field: str) -> date | None:
    """A calendar date (YYYY-MM-DD)."""
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput("not_a_date", field=field) from None
