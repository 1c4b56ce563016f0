"""Statements run on the driver (models/prepared.py) read and write exactly what SQLAlchemy's
own execution reads and writes, raise SQLAlchemy's errors without the parameters, and
refuse a statement that would need a Python-side default. The SQLite writers' lock kept
open per thread still excludes other threads, and follows a lock file that was replaced."""

from __future__ import annotations

import os
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import Date, bindparam, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

import kit
from etablera.cases.audit import CASES, EVENTS
from etablera.models.database import writers_queue, make_engine, transaction, upgrade
from etablera.models.prepared import Prepared, bind_processor, result_processor
from etablera.models.timestamps import UTCDateTime
from identities import pnr

DIALECT = sqlite.dialect()
ZONES = st.sampled_from([timezone.utc, ZoneInfo("Europe/Stockholm"), timezone(timedelta(hours=-5, minutes=-30))])
SELECT_CASE = select(CASES).where(CASES.c.id == bindparam("case_id"))
SELECT_EVENTS = select(EVENTS).where(EVENTS.c.case_id == bindparam("case_id")).order_by(EVENTS.c.seq)


@pytest.fixture
def engine(keyed_engine):
    return keyed_engine


def _first_event(engine, case_id: int) -> dict:
    """The case's registration event as a row to insert again (without its id and txid)."""
    with transaction(engine, write=False) as conn:
        event = dict(conn.execute(SELECT_EVENTS, {"case_id": case_id}).mappings().first())
    event.pop("id"), event.pop("txid")
    return event


def test_a_case_and_its_events_read_on_the_driver_are_what_sqlalchemy_reads(engine):
    case_id = kit.register(engine, pnr("19840915", 11), "0581", "2026-01-10")
    kit.advance(engine, case_id, "hold_talk")
    kit.advance(engine, case_id, "pause", reason="illness")
    events = Prepared(SELECT_EVENTS)
    with transaction(engine, write=False) as conn:
        theirs = dict(conn.execute(SELECT_CASE, {"case_id": case_id}).mappings().one())
        ours = Prepared(SELECT_CASE).first(conn, {"case_id": case_id})
        their_events = [dict(row) for row in conn.execute(SELECT_EVENTS, {"case_id": case_id}).mappings()]
        first_event = events.first(conn, {"case_id": case_id})
        all_events = events.all(conn, {"case_id": case_id})
        assert Prepared(SELECT_CASE).first(conn, {"case_id": case_id + 1000}) is None
        assert events.all(conn, {"case_id": case_id + 1000}) == []
    assert ours == theirs
    assert all_events == their_events and [e["seq"] for e in all_events] == [1, 2, 3]
    assert [{k: type(v) for k, v in e.items()} for e in all_events] == \
        [{k: type(v) for k, v in e.items()} for e in their_events]
    assert {k: type(v) for k, v in ours.items()} == {k: type(v) for k, v in theirs.items()}
    assert ours["paused_at"].tzinfo is not None and isinstance(ours["permit_date"], date)
    assert first_event == their_events[0] and first_event["data"] == their_events[0]["data"]


def test_an_insert_on_the_driver_stores_what_sqlalchemy_stores(engine):
    case_id = kit.register(engine, pnr("19900101", 22), "0581", "2026-01-10")
    event = _first_event(engine, case_id)
    copies = [{**event, "seq": 100, "data": {"å": [1, 2.5, None]}, "salts": None},
              {**event, "seq": 101, "data": {"å": [1, 2.5, None]}, "salts": None}]
    with transaction(engine) as conn:
        assert Prepared(insert(EVENTS)).rowcount(conn, copies[0]) == 1
        conn.execute(insert(EVENTS), copies[1])
    with transaction(engine, write=False) as conn:
        raw = conn.exec_driver_sql(f"SELECT at, recorded_at, data, salts, skipped FROM audit_events "
                                   f"WHERE case_id = {case_id} AND seq >= 100 ORDER BY seq").all()
    assert raw[0] == raw[1]


def test_a_driver_error_is_sqlalchemys_error_without_the_values(engine):
    person = pnr("19700101", 33)
    case_id = kit.register(engine, person, "0581", "2026-01-10")
    event = _first_event(engine, case_id)
    event["note"] = person                      # a value that must not reach the message
    with pytest.raises(IntegrityError) as raised:
        with transaction(engine) as conn:
            Prepared(insert(EVENTS)).rowcount(conn, event)          # (case_id, seq) taken
    assert person not in str(raised.value) and "hidden" in str(raised.value)
    with transaction(engine, write=False) as conn:                  # nothing half-written, the pool still works
        assert len(conn.execute(SELECT_EVENTS, {"case_id": case_id}).all()) == 1


def test_a_statement_that_needs_a_python_default_is_refused(engine):
    with transaction(engine, write=False) as conn:
        with pytest.raises(ValueError, match="no_upper_secondary"):
            Prepared(insert(CASES)).rowcount(conn, {"person": "x"})


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES))
def test_an_instant_reads_back_as_sqlalchemy_reads_it(moment):
    text = bind_processor(UTCDateTime(), DIALECT)(moment)
    ours, theirs = result_processor(UTCDateTime(), DIALECT), UTCDateTime()._cached_result_processor(DIALECT, None)
    assert ours is not theirs
    assert ours(text) == theirs(text)          # (a moment in a DST gap reads back as the instant stored)


@settings(max_examples=300, deadline=None)
@given(st.dates())
def test_a_day_reads_back_as_sqlalchemy_reads_it(day):
    text = bind_processor(Date(), DIALECT)(day)
    assert result_processor(Date(), DIALECT)(text) == Date()._cached_result_processor(DIALECT, None)(text) == day


def test_text_written_otherwise_goes_to_sqlalchemys_reader():
    instant, day = result_processor(UTCDateTime(), DIALECT), result_processor(Date(), DIALECT)
    assert instant("2026-03-04 10:00:00") == datetime(2026, 3, 4, 10, 0, tzinfo=timezone.utc)
    for broken in ("2026-03-04 00:00:00.000000", "4 March"):
        with pytest.raises(ValueError):
            Date()._cached_result_processor(DIALECT, None)(broken)
        with pytest.raises(ValueError):
            day(broken)


def _hold(engine, entered: threading.Event, leave: threading.Event, log: list, name: str) -> None:
    with writers_queue(engine, True):          # the lock alone (SQLite's own would serialize a transaction)
        log.append(f"{name} in")
        entered.set()
        leave.wait(5)
        time.sleep(0.05)
        log.append(f"{name} out")


def test_the_writers_lock_kept_per_thread_excludes_other_threads_and_follows_a_replaced_file(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.sqlite3'}")
    upgrade(engine)
    with transaction(engine):                   # this thread now keeps its lock file open
        pass
    lock = Path(f"{tmp_path / 'lock.sqlite3'}-writers.lock")
    for replaced in (None, "removed", "renamed over"):
        if replaced == "removed":
            lock.unlink()                       # a new file at the path: the kept descriptor's is gone
        elif replaced == "renamed over":
            other_file = lock.with_name("elsewhere")
            other_file.touch()
            os.replace(other_file, lock)        # the kept descriptor's file has no name left
        log, entered, leave = [], threading.Event(), threading.Event()
        other = threading.Thread(target=_hold, args=(engine, entered, leave, log, "other"))
        other.start()
        assert entered.wait(5)
        leave.set()
        with writers_queue(engine, True):
            log.append("main in")
        other.join(5)
        assert log == ["other in", "other out", "main in"], replaced
    engine.dispose()


def test_cursor_execute_listeners_see_what_runs_on_the_driver(engine):
    """Tracing hooked on SQLAlchemy's cursor events (and the query-plan test's recorder) sees
    the prepared statements, with their values, before and after they run."""
    from sqlalchemy import event

    case_id = kit.register(engine, pnr("19840915", 11), "0581", "2026-01-10")
    seen = []

    def before(_conn, _cursor, statement, parameters, context, _many):
        context.started = True
        seen.append(("before", statement, parameters))

    def after(_conn, _cursor, statement, _parameters, context, _many):
        seen.append(("after", statement, context.started))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        with transaction(engine, write=False) as conn:
            Prepared(SELECT_CASE).first(conn, {"case_id": case_id})
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    (_, statement, parameters), (_, statement_after, started) = [s for s in seen if "FROM cases" in s[1]]
    assert case_id in (parameters.values() if isinstance(parameters, dict) else parameters)
    assert statement_after == statement and started is True


def test_an_expanding_in_parameter_is_refused(engine):
    statement = select(CASES.c.id).where(CASES.c.municipality.in_(bindparam("places", expanding=True)))
    with transaction(engine, write=False) as conn:
        with pytest.raises(ValueError, match="places"):
            Prepared(statement).first(conn, {"places": ["0581"]})


def test_a_json_value_orjson_refuses_is_still_written(engine):
    """JSON columns are written by orjson; an integer beyond 64 bits, which it refuses, by the
    standard library's encoder, and reads back the same."""
    case_id = kit.register(engine, pnr("19900101", 22), "0581", "2026-01-10")
    event = _first_event(engine, case_id)
    event.update(seq=50, data={"huge": 2 ** 70, 3: "å"}, salts=None)
    with transaction(engine) as conn:
        Prepared(insert(EVENTS)).rowcount(conn, event)
    with transaction(engine, write=False) as conn:
        stored = conn.execute(select(EVENTS.c.data).where(EVENTS.c.case_id == case_id, EVENTS.c.seq == 50)).scalar()
    assert stored == {"huge": 2 ** 70, "3": "å"}


def test_a_value_the_statement_carries_itself_is_sent_with_the_given_ones(engine):
    case_id = kit.register(engine, pnr("19840915", 11), "0581", "2026-01-10")
    statement = select(CASES.c.id, CASES.c.state).where(CASES.c.id == bindparam("case_id"),
                                                        CASES.c.municipality == "0581")
    with transaction(engine, write=False) as conn:
        assert Prepared(statement).first(conn, {"case_id": case_id}) == {"id": case_id, "state": "module1.registered"}
        elsewhere = statement.where(CASES.c.municipality == "0180")
        assert Prepared(elsewhere).first(conn, {"case_id": case_id}) is None
