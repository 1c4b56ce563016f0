"""Queues and lists of cases: "mine", "unassigned in my municipalities", "overdue",
"awaiting joint assessment", "follow-up due" and "transferred in", each with its count on
the start page, and the one scoped listing behind the worklist, the API's case list, the
CSV export, a user's saved filters and the report's figures (reports/links.py).

A list is a `ListQuery`: a queue and the filters beside it (state or module, municipality,
overdue, and the report's own: a rung of the reminder ladder, ended or registered in a
period, running / ended / all, a target group, a local track's stays by how they ended, the
transfers of a period, the follow-ups due in a period, a rung of the ladder reached by an
open measure), a whitelisted sort with the case id as the tie-break, and
a page (limit, offset). Every value in it is a code or a date, never personal data, so it
travels in URLs and is stored as a saved filter. The list covers the principal's
municipalities only; asking for one outside them is refused (403) and logged.

The statement of one combination of filters and sort is built once (the values are bound
parameters). The start page's counts are one statement of scalar subqueries, each an
indexed range (migrations 0001-0007), each of the six queues one range of one index
and nothing else (0010).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from sqlalchemy import and_, bindparam, exists, false, func, or_, select, text
from sqlalchemy.engine import Engine

from etablera.access import scope
from etablera.access.principal import Principal
from etablera.cases import filters
from etablera.cases.audit import CASES, EVENTS
from etablera.cases.followup import DUE_WINDOW_DAYS
from etablera.cases.worklist import LIST_COLUMNS, LADDER_STEPS, MAX_LIMIT
from etablera.models import FollowUp
from etablera.models.case import FOLLOWED_UP_SQL
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.followup import FOLLOWUP_DAYS, FOLLOWUP_STATUSES
from etablera.models.timestamps import day_start, local_date, show, utcnow
from etablera.reports.scope import BEGINNING
from etablera.reports.sql import day_number
from etablera.statemachine.errors import BadInput, EtableraError
from etablera.statemachine.messages import Code, Words
from etablera.statemachine.process import (FOLLOWED_UP, OPEN_MEASURE_STATES, STAGE_OF, STATE, STATES, TRACK_STAGE,
                                           TRANSFER, state_label)

TRANSFERRED_DAYS = 30                 # "transferred in": within the last 30 days
AWAITING_ASSESSMENT = tuple(s.name for s in STATES if s.stage == "assessment")
RUNNING = tuple(STAGE_OF)             # running in a stage: not on hold, not ended (the report's "overdue")
QUEUE_WORDS = {
    "mine": Words("Mina ärenden", "My cases"),
    "unassigned": Words("Ej tilldelade i mina kommuner", "Unassigned in my municipalities"),
    "overdue": Words("Försenade", "Overdue"),
    "assessment": Words("Väntar på gemensam bedömning", "Awaiting joint assessment"),
    "followup": Words("Uppföljning att göra", "Follow-up due"),
    "transferred": Words(f"Inflyttade senaste {TRANSFERRED_DAYS} dagarna", f"Transferred in, last {TRANSFERRED_DAYS} days"),
}
QUEUES = tuple(QUEUE_WORDS)
LISTED = "list"                 # the access log's action for a case a list showed by name
SORT_KEYS = ("due", "id", "state", "municipality", "name")
SORTS = SORT_KEYS + tuple(f"-{k}" for k in SORT_KEYS)
STATUSES = ("active", "ended", "all")
LADDER = ("late",)                    # + the ladder's steps: a window of the report's "overdue now"
# The query's keys as URLs and saved filters spell them; a saved filter keeps the first five.
SAVED_KEYS = ("queue", "state", "municipality", "overdue", "sort")
KEYS = SAVED_KEYS + ("status", "ladder", "ended_from", "ended_to", "registered_from", "registered_to",
                     "registered_in", "target_group", "track", "track_end", "track_in", "track_from", "track_to",
                     TRANSFER, "transfer_at", "transfer_from", "transfer_to", "followup_day", "followup_status",
                     "followup_from", "followup_to", "measure_ladder")
# How a stay in a local track ended (the report's columns, reports/outcomes.TRACK_ENDS): "left" is
# every stay that ended, "ongoing" every stay going on now; the others by the state it led to.
TRACK_END_STATES = {**{STATE[s].exit: (s,) for s in FOLLOWED_UP}, "dropped": ("module2.extended",),
                    "closed": ("closed",)}
TRACK_ENDS = ("left", "ongoing") + tuple(TRACK_END_STATES)
TRANSFER_WAYS = ("in", "out")
FOLLOWUP_KINDS = ("due", "recorded", "missing") + tuple(FOLLOWUP_STATUSES)
_TRACK_ID = re.compile(r"[\w.-]{1,60}")
_EXTRA = (CASES.c.given_name, CASES.c.family_name, CASES.c.transferred_at, CASES.c.active)
_LISTED = tuple(LIST_COLUMNS) + tuple(c for c in _EXTRA if c.name not in {col.name for col in LIST_COLUMNS})


@dataclass(frozen=True)
class ListQuery:
    """Which cases a list holds and in which order (no page): codes and dates only."""
    queue: str | None = None
    state: str | None = None
    municipalities: tuple[str, ...] = ()
    overdue: bool = False
    sort: str = "due"
    status: str | None = None           # active (default) | ended | all; a state filter decides by itself
    ladder: str | None = None           # a step of the stage ladder, or "late": every step that is overdue
    ended_from: date | None = None
    ended_to: date | None = None
    registered_from: date | None = None
    registered_to: date | None = None
    registered_in: str | None = None    # the municipality the case was registered in (it may have moved since)
    target_group: str | None = None
    track: str | None = None            # a local job track's id: the case has a stay in it (module 3) that ...
    track_end: str | None = None        # ... ended as this (TRACK_ENDS; default "left": ended at all)
    track_in: str | None = None         # ... ended in this municipality (ongoing: is in it now)
    track_from: date | None = None      # ... ended in this period
    track_to: date | None = None
    transfer: str | None = None         # in | out: the case moved in or out (not corrected) ...
    transfer_at: str | None = None      # ... into / out of this municipality (default: the list's)
    transfer_from: date | None = None   # ... in this period
    transfer_to: date | None = None
    followup_day: int | None = None     # established cases whose follow-up of this day (90, 180, 360) ...
    followup_status: str | None = None  # ... is: due (all), recorded, missing, or recorded with this status
    followup_from: date | None = None   # ... fell due in this period (never after today)
    followup_to: date | None = None
    measure_ladder: str | None = None   # running cases with an open measure whose due date is in this ladder window

    def params(self) -> dict[str, str | list[str]]:
        """The query as URL parameters / a saved filter's JSON (only what is set)."""
        out: dict = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "municipalities":
                if value:
                    out["municipality"] = value[0] if len(value) == 1 else list(value)
            elif f.name == "sort":
                if value != "due":
                    out["sort"] = value
            elif value is True:
                out[f.name] = "1"
            elif value:
                out[f.name] = value.isoformat() if isinstance(value, date) else value
        return out


def parse_query(values: dict, *, keys: tuple[str, ...] = KEYS, strict: bool = False,
                config: Config | None = None) -> ListQuery:
    """A ListQuery from URL parameters or a saved filter (each value checked; `strict`:
    a key outside `keys` is refused instead of ignored). Municipalities are checked
    against the principal's scope where the list is read (`list_cases`)."""
    from etablera.cases.parsing import parse_day
    unknown = [k for k in values if k not in keys]
    if strict and unknown:
        raise BadInput("list_filter_unknown_key", field=unknown[0], choices=[Code(k) for k in keys])
    get = {k: values.get(k) for k in keys}
    places = get.get("municipality") or ()
    places = (places,) if isinstance(places, str) else tuple(places)
    ladder_steps = LADDER + _ladder_steps()
    return ListQuery(
        queue=filters.one_of(get.get("queue") or None, QUEUES, field="queue"),
        state=filters.state(get.get("state") or None),
        municipalities=tuple(dict.fromkeys(filters.municipality(m, config=config) for m in places if m)),
        overdue=_flag(get.get("overdue"), "overdue"),
        sort=filters.one_of(get.get("sort") or None, SORTS, field="sort") or "due",
        status=filters.one_of(get.get("status") or None, STATUSES, field="status"),
        ladder=filters.one_of(get.get("ladder") or None, ladder_steps, field="ladder"),
        ended_from=parse_day(get.get("ended_from") or None, "ended_from"),
        ended_to=parse_day(get.get("ended_to") or None, "ended_to"),
        registered_from=parse_day(get.get("registered_from") or None, "registered_from"),
        registered_to=parse_day(get.get("registered_to") or None, "registered_to"),
        registered_in=filters.municipality(get.get("registered_in") or None, field="registered_in", config=config),
        target_group=filters.one_of(get.get("target_group") or None,
                                    [g.code for g in (config or get_config()).target_groups], field="target_group"),
        track=_code(get.get("track"), "track"),
        track_end=filters.one_of(get.get("track_end") or None, TRACK_ENDS, field="track_end"),
        track_in=filters.municipality(get.get("track_in") or None, field="track_in", config=config),
        track_from=parse_day(get.get("track_from") or None, "track_from"),
        track_to=parse_day(get.get("track_to") or None, "track_to"),
        transfer=filters.one_of(get.get(TRANSFER) or None, TRANSFER_WAYS, field=TRANSFER),
        transfer_at=filters.municipality(get.get("transfer_at") or None, field="transfer_at", config=config),
        transfer_from=parse_day(get.get("transfer_from") or None, "transfer_from"),
        transfer_to=parse_day(get.get("transfer_to") or None, "transfer_to"),
        followup_day=_followup_day(get.get("followup_day")),
        followup_status=filters.one_of(get.get("followup_status") or None, FOLLOWUP_KINDS, field="followup_status"),
        followup_from=parse_day(get.get("followup_from") or None, "followup_from"),
        followup_to=parse_day(get.get("followup_to") or None, "followup_to"),
        measure_ladder=filters.one_of(get.get("measure_ladder") or None, ladder_steps, field="measure_ladder"))


def _code(value, field: str) -> str | None:
    """A local track's id as the report shows it (a code, never a name)."""
    if value in (None, ""):
        return None
    value = str(value)
    if not _TRACK_ID.fullmatch(value):         # as statemachine/fields.py checks a track
        raise BadInput("track_id_format", field=field)
    return value


def _followup_day(value) -> int | None:
    if value in (None, ""):
        return None
    if str(value) not in {str(d) for d in FOLLOWUP_DAYS}:
        raise BadInput("unknown_choice", field="followup_day", choices=[Code(str(d)) for d in FOLLOWUP_DAYS])
    return int(value)


def _flag(value, field: str) -> bool:
    if value in (None, "", "0", False, "false"):
        return False
    if value in ("1", True, "true", "on"):
        return True
    raise BadInput("unknown_choice", field=field, choices=[Code("0"), Code("1")])


def _ladder_steps() -> tuple[str, ...]:
    return tuple(step for step, *_ in _levels(local_date(utcnow())))


def _levels(today: date):
    from etablera.reports.overdue import _ladder_levels
    return _ladder_levels(today)


# --- the statements ----------------------------------------------------------------------

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


def _window(ladder: str, today: date) -> tuple[date | None, date | None]:
    """The due dates of a ladder window (after, up to] as the report counts them."""
    levels = _levels(today)
    if ladder == "late":
        late = [upto for _, _, upto, is_overdue in levels if is_overdue]
        return None, max(late) if late else None
    step = next(level for level in levels if level[0] == ladder)
    return step[1], step[2]


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
        where.append(c.transferred_at >= bindparam(p + "transferred_since"))
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
        v = ReportVisit.__table__.c
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
        e, x = EVENTS.c, Correction.__table__.c
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
            f = FollowUp.__table__.c
            recorded = [f.case_id == c.id, f.day == bindparam(p + "followup_day")]
            if s.followup in FOLLOWUP_STATUSES:
                recorded.append(f.status == bindparam(p + "followup_status"))
            found = exists(select(f.case_id).where(*recorded))
            where.append(~found if s.followup == "missing" else found)
    if s.measure_ladder:
        # reports/overdue.overdue: open measures of running cases, by the window their due date is in
        m = Measure.__table__.c
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
    c, f = CASES.c, FollowUp.__table__.c

    def due(n: int) -> list:
        recorded = select(func.count()).select_from(FollowUp.__table__).where(f.case_id == c.id, f.day == n)
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


@lru_cache(maxsize=128)
def _counts(shapes: tuple[_Shape, ...]):
    """One statement: the count of each list, `q0`, `q1`, ... (each an indexed read)."""
    return select(*(_count(s, f"q{i}_").scalar_subquery().label(f"q{i}") for i, s in enumerate(shapes)))


def _values(q: ListQuery, who: Principal, places: tuple[str, ...] | None, today: date, p: str = "") -> dict:
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
    return {p + k: v for k, v in values.items()}


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


# --- the use cases -----------------------------------------------------------------------

def places_of(engine: Engine, who: Principal, q: ListQuery, action: str = "list") -> tuple[str, ...] | None:
    """The municipalities a list covers: those asked for (each in scope) or all of the
    principal's. One outside is refused (403) and the attempt logged."""
    try:
        return scope.scoped_municipalities(who, q.municipalities)
    except EtableraError:
        outside = [m for m in q.municipalities if not who.sees(m)]
        scope.log(engine, who, None, f"denied:{action}", f"municipality {','.join(outside)} outside the user's")
        raise


def list_cases(engine: Engine, who: Principal, q: ListQuery, *, limit: int = 50, offset: int = 0,
               today: date | None = None, lang: str = "sv", config: Config | None = None,
               counted: tuple[ListQuery, ...] | list[ListQuery] = ()) -> dict:
    """One page of a list, with its total (the same filters counted) and the offsets of the
    next and previous pages. `counted`: more lists to count beside it (the start page's
    queues and saved filters), as `count_lists` counts them, in the same statement as the
    total (under "counts"); a list equal to `q` is counted once.

    The rows and the counts are read in one snapshot. Each case shown by name is in the
    access log before the page is returned; on SQLite that row is written after the read,
    in a transaction of its own, so that the writers' lock, which every view of a case
    takes in turn, is held for the INSERT only and not for the list's reads."""
    config = config or get_config()
    today = today or local_date(utcnow())
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput("limit_range", field="limit", max=MAX_LIMIT)
    if offset < 0:
        raise BadInput("offset_negative", field="offset")
    places = places_of(engine, who, q)
    dialect = engine.dialect.name
    shape = _shape(q, who, places, dialect, today)
    values = _values(q, who, places, today)
    lists = list(dict.fromkeys([q, *counted]))          # q first: its count is the total
    counting, count_values, slots = _counting(who, lists, dialect, today)
    apart = dialect == "sqlite" and not q.track
    with transaction(engine, write=not apart) as conn:
        if q.track:               # the stays are the report's derived table: up to date with the trail first
            from etablera.reports.facts import refresh_in
            refresh_in(conn)
        rows = conn.execute(_listing(shape, q.sort), {**values, "limit": limit + 1, "offset": offset}).mappings().all()
        counts = _counted(conn.execute(counting, count_values).one(), slots)
        # A row with a name shows personal data: each such case shown is in the access log.
        shown = [r["id"] for r in rows[:limit] if r["given_name"] or r["family_name"]]
        if not apart:
            scope.shown(conn, who, shown, LISTED)
    if apart and shown:
        with transaction(engine) as conn:
            scope.shown(conn, who, shown, LISTED)
    more = len(rows) > limit
    page = {"today": today.isoformat(), "queue": q.queue, "mine": q.queue == "mine", "sort": q.sort,
            "query": q.params(), "limit": limit, "offset": offset, "total": counts[0],
            "next_offset": offset + limit if more else None,
            "prev_offset": max(offset - limit, 0) if offset > 0 else None,
            "items": [item(r, today, config, lang) for r in rows[:limit]]}
    if counted:
        page["counts"] = [counts[lists.index(c)] for c in counted]
    return page


def item(r, today: date, config: Config, lang: str) -> dict:
    """A listed case as the worklist shows it (the person's name where the case has one)."""
    late = (today - r["due"]).days if r["due"] else 0
    step = LADDER_STEPS.get(r["ladder"])
    return {"id": r["id"], "municipality": r["municipality"],
            "municipality_name": config.municipalities.get(r["municipality"]),
            "target_group": r["target_group"], "state": r["state"], "state_label": state_label(r["state"], lang),
            "state_since": show(r["state_since"]), "due": r["due"].isoformat() if r["due"] else None,
            "establishment_due": r["establishment_due"].isoformat(), "overdue": late > 0,
            "days_late": late if late > 0 else 0, "reminder": step, "escalated": step == "escalation",
            "track": r["track"], "kommun_officer": r["kommun_officer"], "af_officer": r["af_officer"],
            "given_name": r["given_name"], "family_name": r["family_name"],
            "transferred_at": r["transferred_at"].isoformat() if r["transferred_at"] else None,
            "active": bool(r["active"]), "version": r["version"]}


def count_lists(engine: Engine, who: Principal, lists: list[ListQuery], today: date | None = None) -> list[int | None]:
    """The count of each list in one statement; None for a list outside the principal's
    scope now (a saved filter whose municipality is no longer theirs)."""
    counting, values, slots = _counting(who, lists, engine.dialect.name, today or local_date(utcnow()))
    if counting is None:
        return [None] * len(lists)
    with transaction(engine, write=False, single=True) as conn:
        return _counted(conn.execute(counting, values).one(), slots)


def _counting(who: Principal, lists: list[ListQuery], dialect: str, today: date):
    """The statement that counts `lists` (None if none is in scope), its values, and where
    each list's count is in its row (None: out of scope)."""
    shapes, values, slots = [], {}, []
    for q in lists:
        try:
            places = scope.scoped_municipalities(who, q.municipalities)
        except EtableraError:
            slots.append(None)
            continue
        p = f"q{len(shapes)}_"
        slots.append(len(shapes))
        shapes.append(_shape(q, who, places, dialect, today))
        values.update(_values(q, who, places, today, p))
    return (_counts(tuple(shapes)) if shapes else None), values, slots


def _counted(row, slots: list[int | None]) -> list[int | None]:
    return [None if slot is None else row[slot] for slot in slots]


def queue_counts(engine: Engine, who: Principal, today: date | None = None) -> dict[str, int]:
    """The start page's queues and their counts, within the principal's municipalities."""
    counts = count_lists(engine, who, [ListQuery(queue=name) for name in QUEUES], today)
    return dict(zip(QUEUES, counts))


def queue_label(name: str, lang: str) -> str:
    words = QUEUE_WORDS[name]
    return words.en if lang == "en" else words.sv


__all__ = ["KEYS", "ListQuery", "QUEUES", "SAVED_KEYS", "SORTS", "count_lists", "item", "list_cases", "parse_query",
           "places_of", "queue_counts", "queue_label"]
