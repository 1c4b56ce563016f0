"""The statements of a list of cases (cases/queues.py runs them): the scoped selection of
a `ListQuery` (cases/list_query.py), its WHERE, its order and its bound values, and the
counts of the start page's queues and saved filters.

The statement of one combination of filters and sort is built once (the values are bound
parameters). The start page's counts are one statement of scalar subqueries, each an
indexed range (migrations 0001-0007), each of the six queues one range of one index
and nothing else (0010).
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, exists, false, func, or_, select, text

from etablera.access.principal import Principal
from etablera.cases.audit import CASES, EVENTS
from etablera.cases.followup import DUE_WINDOW_DAYS
from etablera.cases.list_query import TRACK_END_STATES, TRANSFERRED_DAYS, ListQuery, _window
from etablera.cases.worklist import LIST_COLUMNS
from etablera.models import FollowUp
from etablera.models.case import FOLLOWED_UP_SQL
from etablera.models.followup import FOLLOWUP_DAYS, FOLLOWUP_STATUSES
from etablera.models.timestamps import day_start
from etablera.reports.scope import BEGINNING
from etablera.reports.sql import day_number
from etablera.statemachine.process import (FOLLOWED_UP, OPEN_MEASURE_STATES, STAGE_OF, STATE, STATES, TRACK_STAGE,
                                           TRANSFER)

AWAITING_ASSESSMENT = tuple(s.name for s in STATES if s.stage == "assessment")
RUNNING = tuple(STAGE_OF)             # running in a stage: not on hold, not ended (the report's "overdue")
_EXTRA = (CASES.c.given_name, CASES.c.family_name, CASES.c.transferred_at, CASES.c.active)
_LISTED = tuple(LIST_COLUMNS) + tuple(c for c in _EXTRA if c.name not in {col.name for col in LIST_COLUMNS})


@dataclass(frozen=True)
class _Shape:
    """What a statement's text depends on (the values are bound parameters)."""
    dialect: str
    queue: str | None
    officer: str                    # the principal's officer column: kommun_officer | af_officer
    places: str | None              # None: every municipality; one; many
    matching: str | None            # the state filter: exact | module
    overdue: bool
    status: str                     # active | ended | all
    ladder: tuple[bool, bool] | None    # (a lower bound, an upper bound) of the due date
    ended: bool
    registered: bool
    registered_in: bool
    target_group: bool = False
    track: str | None = None            # the stay's end (TRACK_ENDS)
    track_in: bool = False
    track_period: tuple[bool, bool] = (False, False)
    transfer: str | None = None         # in | out
    transfer_at: str | None = None      # one | places (the list's) | None (anywhere)
    followup: str | None = None         # FOLLOWUP_KINDS
    followup_since: bool = False
    measure_ladder: tuple[bool, bool] | None = None


def _shape(q: ListQuery, who: Principal, places: tuple[str, ...] | None, dialect: str, today: date) -> _Shape:
    if q.queue == "followup":
        status = "all"                  # exited cases: the queue's own condition says which
    elif q.queue:
        status = "active"               # the other queues are work on running cases
    elif q.state:
        status = "all"                  # a state says by itself whether the case has ended
    elif q.track or q.transfer or q.followup_day:
        status = q.status or "all"      # the stay, the move or the follow-up says which cases
    else:
        status = q.status or ("ended" if q.ended_from or q.ended_to else "active")
    window = measure_window = None
    if q.ladder:
        after, upto = _window(q.ladder, today)
        window = (after is not None, upto is not None)
    if q.measure_ladder:
        after, upto = _window(q.measure_ladder, today)
        measure_window = (after is not None, upto is not None)
    report = dict(
        target_group=bool(q.target_group), track=(q.track_end or "left") if q.track else None,
        track_in=bool(q.track and q.track_in), track_period=(bool(q.track_from), bool(q.track_to)),
        transfer=q.transfer, transfer_at=None if not q.transfer else "one" if q.transfer_at
        else None if places is None else "places",
        followup=(q.followup_status or "due") if q.followup_day else None, followup_since=bool(q.followup_from),
        measure_ladder=measure_window)
    return _Shape(dialect, q.queue, "af_officer" if who.organisation == "af" else "kommun_officer",
                  None if places is None else "one" if len(places) == 1 else "many",
                  None if not q.state else "exact" if q.state in STATE else "module", q.overdue, status, window,
                  bool(q.ended_from or q.ended_to), bool(q.registered_from or q.registered_to), bool(q.registered_in),
                  **report)


def _conditions(s: _Shape, p: str = "", window: int | None = None) -> list:
    """The WHERE of a list; `p` prefixes the parameters' names (several lists in one
    statement: the start page's counts); `window`: of the follow-up queue, only the cases
    whose follow-up of that day is due (see `_count`)."""
    c = CASES.c
    where = []
    if s.places == "one":
        where.append(c.municipality == bindparam(p + "municipality"))
    elif s.places == "many":
        where.append(c.municipality.in_(bindparam(p + "municipalities", expanding=True)))
    if s.status == "active":
        where += [c.active, c.due.is_not(None)]
    elif s.status == "ended":
        where.append(c.active == false())
    if s.queue == "mine":
        where.append(c[s.officer] == bindparam(p + "officer"))
    elif s.queue == "unassigned":
        where.append(c[s.officer].is_(None))
    elif s.queue == "overdue":
        where.append(c.due < bindparam(p + "today"))
    elif s.queue == "assessment":
        where.append(c.state.in_(AWAITING_ASSESSMENT))
    elif s.queue == "transferred":
        # the last TRANSFERRED_DAYS days, both bounds said: PostgreSQL guesses an open range of
        # an unknown bound at a third of the rows, a closed one at 0.5 %. This count is in
        # every start page's statement, and with the open range its generic plan looked half
        # again as dear as a custom one, so every view planned it anew (0.45 ms at a million)
        where += [c.transferred_at >= bindparam(p + "transferred_since"), c.transferred_at <= bindparam(p + "today")]
    elif s.queue == "followup":
        where += _followup_due(p, window)
    if s.matching == "exact":
        where.append(c.state == bindparam(p + "state"))
    elif s.matching == "module":
        where.append(c.state.like(bindparam(p + "state")))
    if s.overdue:
        where.append(c.due < bindparam(p + "today"))
    if s.ladder:
        where.append(c.state.in_(RUNNING))
        if s.ladder[0]:
            where.append(c.due > bindparam(p + "ladder_after"))
        if s.ladder[1]:
            where.append(c.due <= bindparam(p + "ladder_upto"))
    if s.ended:
        where += [c.state_since >= bindparam(p + "ended_start"), c.state_since < bindparam(p + "ended_end")]
    if s.registered or s.registered_in:
        e = EVENTS.c
        registration = [e.case_id == c.id, e.seq == 1]
        if s.registered:
            registration += [e.at >= bindparam(p + "registered_start"), e.at < bindparam(p + "registered_end")]
        if s.registered_in:
            registration.append(e.municipality == bindparam(p + "registered_in"))
        where.append(exists(select(e.case_id).where(*registration)))
    return where + _report_conditions(s, p)


def _report_conditions(s: _Shape, p: str) -> list:
    """The filters behind the report's figures that count stays, transfers, follow-ups and
    measures: each the same condition the report's statement counts by (reports/*.py)."""
    from etablera.models import FollowUp, Measure, ReportVisit
    from etablera.models.casework import Correction
    c, where = CASES.c, []
    if s.target_group:
        where.append(c.target_group == bindparam(p + "target_group"))
    if s.track:
        # reports/outcomes.track_outcomes: the stays in module 3 (report_visits) by track,
        # where the case was when the stay ended and how, or going on now
        v = ReportVisit.c
        stay = [v.case_id == c.id, v.stage == TRACK_STAGE, v.track == bindparam(p + "track")]
        if s.track_in:
            stay.append(v.municipality == bindparam(p + "track_in"))
        if s.track == "ongoing":
            stay.append(v.end_day.is_(None))
        else:
            stay.append(v.end_day.is_not(None))
            if s.track_period[0]:
                stay.append(v.end_day >= bindparam(p + "track_first"))
            if s.track_period[1]:
                stay.append(v.end_day <= bindparam(p + "track_last"))
            if s.track != "left":
                stay.append(v.end_state.in_(TRACK_END_STATES[s.track]))
        where.append(exists(select(v.case_id).where(*stay)))
    if s.transfer:
        # reports/flow.flow: transfer events of the period, not corrected, between two municipalities
        e, x = EVENTS.c, Correction.c
        origin = e.data["from_municipality"].as_string()
        moved = [e.case_id == c.id, e.trigger == TRANSFER,
                 e.at >= bindparam(p + "transfer_start"), e.at < bindparam(p + "transfer_end"),
                 ~exists(select(x.case_id).where(x.case_id == e.case_id,
                                                 or_(x.corrected_seq == e.seq, x.correction_seq == e.seq)))]
        end = e.municipality if s.transfer == "in" else origin
        moved.append(or_(origin.is_(None), origin != e.municipality) if s.transfer == "in"
                     else origin != e.municipality)
        if s.transfer_at == "one":
            moved.append(end == bindparam(p + "transfer_at"))
        elif s.transfer_at == "places":
            moved.append(end.in_(bindparam(p + "transfer_places", expanding=True)))
        where.append(exists(select(e.case_id).where(*moved)))
    if s.followup:
        # reports/followups.followups: established exits whose follow-up day fell in the period
        where.append(c.state.in_(FOLLOWED_UP))
        if s.followup_since:
            where.append(c.state_since >= bindparam(p + "followup_start"))
        where.append(c.state_since < bindparam(p + "followup_end"))
        if s.followup != "due":
            f = FollowUp.c
            recorded = [f.case_id == c.id, f.day == bindparam(p + "followup_day")]
            if s.followup in FOLLOWUP_STATUSES:
                recorded.append(f.status == bindparam(p + "followup_status"))
            found = exists(select(f.case_id).where(*recorded))
            where.append(~found if s.followup == "missing" else found)
    if s.measure_ladder:
        # reports/overdue.overdue: open measures of running cases, by the window their due date is in
        m = Measure.c
        held = [m.case_id == c.id, m.state.in_(OPEN_MEASURE_STATES)]
        if s.measure_ladder[0]:
            held.append(m.due > bindparam(p + "measure_after"))
        if s.measure_ladder[1]:
            held.append(m.due <= bindparam(p + "measure_upto"))
        where += [c.state.in_(RUNNING), exists(select(m.case_id).where(*held))]
    return where


def _followup_due(p: str, window: int | None = None) -> list:
    """The follow-up queue: exited cases with a follow-up whose day has come and that is
    not recorded (as cases/followup.py's due list, within its window). A case's follow-up
    of day n is due while its exit's Stockholm day + n is within the last DUE_WINDOW_DAYS
    days up to today; the day is a monotonic function of the exit's instant, so each window
    is a range of `state_since` between the UTC instants that begin its first and end its
    last day (`_values`), read from the partial index of the followed-up exits
    (ix_cases_queue_followup, migration 0010: the IN list must be its WHERE as written),
    over the windows' span, each recorded follow-up looked up by (case, day). The windows
    of one case never overlap (90 days apart, 60 long), so a case is in one at most, and
    the queue is the sum of its `window`s (one index range each).

    "Not recorded" is a count of the case's follow-ups of the day that is 0, not NOT EXISTS:
    PostgreSQL turns NOT EXISTS into a hash anti-join that reads every follow-up of that day
    in the country (22,000 rows, 6 ms a window, growing with the years recorded), while a
    scalar subquery stays one probe of (case_id, day) per exit in the window (1 µs each)."""
    c, f = CASES.c, FollowUp.c

    def due(n: int) -> list:
        recorded = select(func.count()).select_from(FollowUp).where(f.case_id == c.id, f.day == n)
        return [c.state_since >= bindparam(f"{p}fu_from_{n}"), c.state_since < bindparam(f"{p}fu_until_{n}"),
                recorded.scalar_subquery() == 0]
    if window is not None:
        return [text(f"cases.{FOLLOWED_UP_SQL}"), *due(window)]
    return [text(f"cases.{FOLLOWED_UP_SQL}"), c.state_since >= bindparam(f"{p}fu_first"),
            c.state_since < bindparam(f"{p}fu_last"), or_(*(and_(*due(n)) for n in FOLLOWUP_DAYS))]


def _order(sort: str, nullable_due: bool) -> list:
    c = CASES.c
    key, descending = sort.lstrip("-"), sort.startswith("-")
    columns = {"due": [c.due], "id": [], "state": [c.state], "municipality": [c.municipality],
               "name": [c.family_key, c.given_key]}[key]
    out = []
    for column in columns:
        ordered = column.desc() if descending else column.asc()
        # NULLs last on both databases (SQLite puts them first by default): one order everywhere
        out.append(ordered.nulls_last() if column is not c.due or nullable_due else ordered)
    return out + [c.id.desc() if descending and key == "id" else c.id.asc()]


@lru_cache(maxsize=256)
def _listing(shape: _Shape, sort: str):
    query = select(*_LISTED).where(*_conditions(shape))
    return (query.order_by(*_order(sort, shape.status != "active"))
            .limit(bindparam("limit")).offset(bindparam("offset")))


@lru_cache(maxsize=256)
def _count(shape: _Shape, p: str = ""):
    if shape.queue == "followup":
        # the windows' counts added: each one range of the follow-up index, read alone (an OR
        # of the three makes PostgreSQL read the table's rows through a bitmap of them)
        windows = [select(func.count()).select_from(CASES).where(*_conditions(shape, p, n)).scalar_subquery()
                   for n in FOLLOWUP_DAYS]
        return select(functools.reduce(operator.add, windows))
    return select(func.count()).select_from(CASES).where(*_conditions(shape, p))


@lru_cache(maxsize=256)
def bound(shape: _Shape) -> frozenset[str]:
    """The names of the values a list's count reads (its other values, such as the
    officer's id in a municipality's queue, do not change it)."""
    return frozenset(_count(shape).compile().params)


def _count_columns(shapes: tuple[_Shape, ...]) -> list:
    """The count of each list as a column, `q0`, `q1`, ... (each an indexed read; its
    parameters prefixed `q0_`, `q1_`, ...)."""
    return [_count(s, f"q{i}_").scalar_subquery().label(f"q{i}") for i, s in enumerate(shapes)]


@lru_cache(maxsize=128)
def _counts(shapes: tuple[_Shape, ...]):
    """One statement: the count of each list (`_count_columns`)."""
    return select(*_count_columns(shapes))


@lru_cache(maxsize=256)
def _listing_counted(shape: _Shape, sort: str, shapes: tuple[_Shape, ...]):
    """The list's rows, each carrying the counts of `shapes` (`_count_columns`): one
    statement, so one snapshot without a transaction. The counts do not depend on the row,
    and PostgreSQL computes each once for the statement (an InitPlan)."""
    return _listing(shape, sort).add_columns(*_count_columns(shapes))


def _values(q: ListQuery, who: Principal, places: tuple[str, ...] | None, today: date) -> dict:
    values = {"officer": who.id, "today": today, "transferred_since": today - timedelta(days=TRANSFERRED_DAYS)}
    if places is not None:
        values.update(municipality=places[0], municipalities=list(places))
    if q.state:
        values["state"] = q.state if q.state in STATE else f"{q.state}.%"
    if q.ladder:
        values["ladder_after"], values["ladder_upto"] = _window(q.ladder, today)
    if q.ended_from or q.ended_to:
        values["ended_start"] = day_start(q.ended_from or date(1900, 1, 1))
        values["ended_end"] = day_start((q.ended_to or today) + timedelta(days=1))
    if q.registered_from or q.registered_to:
        values["registered_start"] = day_start(q.registered_from or date(1900, 1, 1))
        values["registered_end"] = day_start((q.registered_to or today) + timedelta(days=1))
    if q.registered_in:
        values["registered_in"] = q.registered_in
    values.update(_report_values(q, places, today))
    if q.queue == "followup":
        # day n's window: exits on the Stockholm days today - n - DUE_WINDOW_DAYS + 1 ... today - n
        for n in FOLLOWUP_DAYS:
            values[f"fu_from_{n}"] = day_start(today - timedelta(days=n + DUE_WINDOW_DAYS - 1))
            values[f"fu_until_{n}"] = day_start(today - timedelta(days=n - 1))
        values["fu_first"] = min(values[f"fu_from_{n}"] for n in FOLLOWUP_DAYS)
        values["fu_last"] = max(values[f"fu_until_{n}"] for n in FOLLOWUP_DAYS)
    return values


def _report_values(q: ListQuery, places: tuple[str, ...] | None, today: date) -> dict:
    values: dict = {}
    if q.target_group:
        values["target_group"] = q.target_group
    if q.track:
        values.update(track=q.track, track_in=q.track_in,
                      track_first=day_number(q.track_from) if q.track_from else BEGINNING,
                      track_last=day_number(q.track_to or today))
    if q.transfer:
        values.update(transfer_at=q.transfer_at, transfer_places=list(places or ()),
                      transfer_start=day_start(q.transfer_from or date(1900, 1, 1)),
                      transfer_end=day_start((q.transfer_to or today) + timedelta(days=1)))
    if q.followup_day:
        # the follow-up's day is the exit's day + followup_day: the exits of a period moved back
        back = timedelta(days=q.followup_day)
        last = min(q.followup_to or today, today)
        values.update(followup_day=q.followup_day, followup_status=q.followup_status,
                      followup_start=day_start((q.followup_from or date(1900, 1, 1)) - back),
                      followup_end=day_start(last - back + timedelta(days=1)))
    if q.measure_ladder:
        values["measure_after"], values["measure_upto"] = _window(q.measure_ladder, today)
    return values
