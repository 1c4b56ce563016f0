"""The bulk writers' insert (cases/rows.insert_many) stores exactly what SQLAlchemy's own
bind processors store: on SQLite its faster conversions of dates and instants write the
same text, and refuse what SQLAlchemy's refuse."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import Date
from sqlalchemy.dialects import sqlite

from etablera.models.prepared import bind_processor
from etablera.models import AuditEvent, Case
from etablera.models.timestamps import UTCDateTime

DIALECT = sqlite.dialect()
ZONES = st.sampled_from([timezone.utc, ZoneInfo("Europe/Stockholm"), timezone(timedelta(hours=-5, minutes=-30))])


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES))
def test_an_instant_is_written_as_sqlalchemy_writes_it(moment):
    ours, theirs = bind_processor(UTCDateTime(), DIALECT), UTCDateTime()._cached_bind_processor(DIALECT)
    assert ours is not theirs
    assert ours(moment) == theirs(moment)


@settings(max_examples=300, deadline=None)
@given(st.dates())
def test_a_day_is_written_as_sqlalchemy_writes_it(day):
    ours, theirs = bind_processor(Date(), DIALECT), Date()._cached_bind_processor(DIALECT)
    assert ours(day) == theirs(day)


def test_none_other_values_and_naive_instants_go_to_sqlalchemys_processor():
    instant, day = bind_processor(UTCDateTime(), DIALECT), bind_processor(Date(), DIALECT)
    assert instant(None) is None and day(None) is None
    assert day(datetime(2025, 3, 4, 10, 0)) == Date()._cached_bind_processor(DIALECT)(datetime(2025, 3, 4, 10, 0))
    with pytest.raises(ValueError, match="naive"):
        instant(datetime(2025, 3, 4, 10, 0))


def test_every_date_and_instant_column_of_the_bulk_tables_takes_the_faster_conversion():
    for table in (Case, AuditEvent):
        for column in table.c:
            if isinstance(column.type, (UTCDateTime, Date)):
                assert bind_processor(column.type, DIALECT) is not column.type._cached_bind_processor(DIALECT)
