"""A large count of a list is used again for a few seconds (cases/recent_counts.py): the
start page at a million cases does not count 33,000 overdue cases on every view. What must
hold, on SQLite and PostgreSQL (LARGE lowered so that a few cases make a large count):
- a large count is not counted again within SECONDS: no count statement is sent, and a
  change in that time is not in it; after SECONDS it is counted afresh;
- a small count is always counted afresh, so a change shows at once;
- the list's rows are always read now, whatever its total;
- counts are kept apart by database, scope and the values they read (the day where it
  counts; not the officer's id in a municipality's queue), and at most KEPT of them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

import kit
from identities import pnr
from statements import sent_by
from etablera.access.principal import Principal
from etablera.cases import list_query, queues, recent_counts
from etablera.models.database import make_engine, upgrade

OFFICER = Principal("h0581", "Handläggare", "officer", "kommun", ("0581",), "0581")
ELSEWHERE = Principal("h0580", "Handläggare", "officer", "kommun", ("0580",), "0580")
TODAY = date(2026, 3, 2)


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(recent_counts, "clock", lambda: now[0])
    monkeypatch.setattr(recent_counts, "LARGE", 3)
    return now


def _register(engine, serial: int, municipality: str = "0581", **fields) -> int:
    return kit.register(engine, pnr("19850101", serial), municipality, TODAY - timedelta(days=30),
                        f"{TODAY - timedelta(days=20)}T10:00", **fields)


def _unassigned(engine, who=OFFICER, today=TODAY) -> int:
    return queues.count_lists(engine, who, [list_query.ListQuery(queue="unassigned")], today)[0]


def _counting(sent: list[str]) -> list[str]:
    return [s for s in sent if "count(" in s.lower()]


def test_a_large_count_is_used_again_until_it_is_too_old(keyed_engine, clock):
    for serial in range(1, 4):
        _register(keyed_engine, serial)
    assert _unassigned(keyed_engine) == 3                       # counted, and large: kept
    _register(keyed_engine, 4)
    with sent_by(keyed_engine) as sent:
        assert _unassigned(keyed_engine) == 3                   # the kept count: the new case is not in it
    assert not _counting(sent)
    clock[0] += recent_counts.SECONDS - 0.5
    assert _unassigned(keyed_engine) == 3
    clock[0] += 0.5                                             # SECONDS old: counted again
    with sent_by(keyed_engine) as sent:
        assert _unassigned(keyed_engine) == 4
    assert _counting(sent)


def test_a_small_count_is_counted_every_time(keyed_engine, clock):
    for serial in range(1, 3):
        _register(keyed_engine, serial)
    assert _unassigned(keyed_engine) == 2                       # under LARGE: not kept
    _register(keyed_engine, 3)
    with sent_by(keyed_engine) as sent:
        assert _unassigned(keyed_engine) == 3                   # the change shows at once
    assert _counting(sent)
    _register(keyed_engine, 4)
    assert _unassigned(keyed_engine) == 3                       # 3 was large: kept


def test_the_list_is_read_now_and_its_total_may_be_kept(keyed_engine, clock):
    for serial in range(1, 4):
        _register(keyed_engine, serial)
    q = list_query.ListQuery(queue="unassigned")
    first = queues.list_cases(keyed_engine, OFFICER, q, today=TODAY)
    assert first["total"] == 3 and len(first["items"]) == 3
    new = _register(keyed_engine, 4)
    again = queues.list_cases(keyed_engine, OFFICER, q, today=TODAY, counted=[list_query.ListQuery(queue="mine")])
    assert again["total"] == 3                                  # the kept count
    assert new in [item["id"] for item in again["items"]]        # the rows: read now
    assert again["counts"] == [0]


def test_counts_are_kept_apart_by_scope_day_and_database(keyed_engine, clock, tmp_path, monkeypatch):
    for serial in range(1, 4):
        _register(keyed_engine, serial)
    assert _unassigned(keyed_engine) == 3
    _register(keyed_engine, 4)
    assert _unassigned(keyed_engine, today=TODAY + timedelta(days=1)) == 3     # it does not read the day
    assert _unassigned(keyed_engine, who=ELSEWHERE) == 0                       # another municipality
    monkeypatch.setattr(recent_counts, "LARGE", 0)                             # every count kept
    overdue = [list_query.ListQuery(queue="overdue")]
    assert queues.count_lists(keyed_engine, OFFICER, overdue, TODAY) == [0]
    later = TODAY + timedelta(days=400)                                       # every step overdue by then
    assert queues.count_lists(keyed_engine, OFFICER, overdue, later) == [4]   # another day: its own count
    assert queues.count_lists(keyed_engine, OFFICER, [list_query.ListQuery(queue="unassigned",
                                                                       municipalities=("0580",))]) == [None]
    other = make_engine(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    try:
        upgrade(other)
        assert _unassigned(other) == 0                           # another database: its own counts
    finally:
        other.dispose()


def test_the_officers_of_a_municipality_share_its_count_but_not_their_own(keyed_engine, clock):
    colleague = Principal("h0581-2", "Handläggare", "officer", "kommun", ("0581",), "0581")
    for serial in range(1, 4):
        _register(keyed_engine, serial)
    assert _unassigned(keyed_engine) == 3
    with sent_by(keyed_engine) as sent:
        assert _unassigned(keyed_engine, who=colleague) == 3    # the same count: not counted again
    assert not _counting(sent)
    kit.officer(keyed_engine, OFFICER.id)
    for serial in range(4, 7):
        _register(keyed_engine, serial, kommun_officer=OFFICER.id)
    mine = [list_query.ListQuery(queue="mine")]
    assert queues.count_lists(keyed_engine, OFFICER, mine, TODAY) == [3]     # large: kept, as OFFICER's
    with sent_by(keyed_engine) as sent:                         # "mine" reads the officer's id: counted
        assert queues.count_lists(keyed_engine, colleague, mine, TODAY) == [0]
    assert _counting(sent)


def test_at_most_kept_counts_are_kept_the_oldest_dropped_first(keyed_engine, clock, monkeypatch):
    monkeypatch.setattr(recent_counts, "KEPT", 2)
    for name in ("a", "b", "c"):
        recent_counts.remember(keyed_engine, (name,), 10)
    assert recent_counts.recent(keyed_engine, ("a",)) is None
    assert recent_counts.recent(keyed_engine, ("b",)) == 10 and recent_counts.recent(keyed_engine, ("c",)) == 10
    recent_counts.remember(keyed_engine, ("b",), 1)             # now small: forgotten
    assert recent_counts.recent(keyed_engine, ("b",)) is None
