"""models.timestamps.utc_digits writes an instant's UTC digits without isoformat: the text
must be isoformat's, byte for byte, for every instant and zone (microsecond 0, years below
1000, the edges of the range), since one layout is stored (SQLite's DATETIME text) and the
other is hashed into the audit chain (cases/audit._instant)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings, strategies as st

from etablera.cases.audit import _instant
from etablera.models.timestamps import UTC_ISO, UTC_TEXT, utc_digits

ZONES = st.sampled_from([timezone.utc, ZoneInfo("Europe/Stockholm"), timezone(timedelta(hours=-5, minutes=-30)),
                         timezone(timedelta(hours=14))])
MOMENTS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES)


@settings(max_examples=1000, deadline=None)
@given(MOMENTS)
@example(datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc))                      # microsecond 0
@example(datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc))       # a three-digit year
@example(datetime(2026, 10, 25, 2, 30, 0, 5, tzinfo=ZoneInfo("Europe/Stockholm")))
def test_both_layouts_are_isoformats_digits_in_utc(moment):
    utc = moment.astimezone(timezone.utc)
    assert utc_digits(moment, UTC_ISO) == utc.isoformat(timespec="microseconds")
    assert utc_digits(moment, UTC_TEXT) == utc.replace(tzinfo=None).isoformat(" ", "microseconds")


@settings(max_examples=300, deadline=None)
@given(MOMENTS)
def test_the_audit_chain_hashes_the_instant_as_before(moment):
    assert _instant(moment) == moment.astimezone(timezone.utc).isoformat(timespec="microseconds")
