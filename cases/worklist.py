"""The worklist (arbetslista): a user's running cases in due-date order, the overdue and
escalated ones marked: the person's name (so a row says who it is), case ids, places, states
and dates; no identity numbers.

"Mine" means the cases the user is responsible for (cases.kommun_officer for a municipal
user, cases.af_officer for an AF user); otherwise every running case in the user's
municipalities. Cases without a stage due date are left out (the terminal ones: a running
case always has one). Each listing is one indexed range read (indexes of migration 0005),
with the highest rung of the reminder ladder reached in each case's current stage visit
read beside it (one indexed lookup per listed case, in the same statement).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.engine import Engine

from etablera.models import Reminder
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.timestamps import local_date, show, utcnow
from etablera.cases import filters
from etablera.cases.audit import CASES
from etablera.statemachine.errors import BadInput
from etablera.statemachine.process import STATE, state_label
from etablera.access.scope import Principal

REMINDERS = Reminder.__table__
LADDER_ORDER = {"warning": 1, "overdue": 2, "escalation": 3}
LADDER_STEPS = {rank: step for step, rank in LADDER_ORDER.items()}
MAX_LIMIT = 200
_COLUMNS = (CASES.c.id, CASES.c.municipality, CASES.c.target_group, CASES.c.state, CASES.c.state_since,
            CASES.c.due, CASES.c.establishment_due, CASES.c.stage_seq, CASES.c.track, CASES.c.kommun_officer,
            CASES.c.af_officer, CASES.c.version, CASES.c.given_name, CASES.c.family_name,
            # The highest rung recorded for the current visit to the stage (uq_reminder_key).
            select(func.max(case(*((REMINDERS.c.step == step, rank) for step, rank in LADDER_ORDER.items()),
                                 else_=0)))
            .where(REMINDERS.c.kind == "stage", REMINDERS.c.target_id == CASES.c.id,
                   REMINDERS.c.visit == CASES.c.stage_seq)
            .scalar_subquery().label("ladder"))


def worklist(engine: Engine, who: Principal, *, mine: bool = True, state: str | None = None,
             municipalities: tuple[str, ...] | None = None, overdue: bool = False, limit: int = 50,
             offset: int = 0, today: date | None = None, lang: str = "sv", config: Config | None = None) -> dict:
    """One page of the worklist. `municipalities` must already be within the principal's
    scope (see scope.scoped_municipalities); None: all of theirs."""
    config = config or get_config()
    today = today or local_date(utcnow())
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput("limit_range", field="limit", max=MAX_LIMIT)
    if offset < 0:
        raise BadInput("offset_negative", field="offset")
    scope = municipalities if municipalities is not None else who.municipalities
    state = filters.state(state)
    officer = ("af_officer" if who.organisation == "af" else "kommun_officer") if mine else None
    places = None if scope is None else "one" if len(scope) == 1 else "many"
    matching = None if not state else "exact" if state in STATE else "module"
    query = _listing(officer, places, matching, overdue)
    params = {"officer": who.id, "municipality": scope[0] if places == "one" else None,
              "municipalities": list(scope or ()), "state": state if matching == "exact" else f"{state}.%",
              "today": today, "limit": limit + 1, "offset": offset}
    with transaction(engine, write=False, single=True) as conn:
        rows = conn.execute(query, params).mappings().all()
    more = len(rows) > limit
    items = []
    for r in rows[:limit]:
        late = (today - r["due"]).days
        step = LADDER_STEPS.get(r["ladder"])
        items.append({
            "id": r["id"], "given_name": r["given_name"], "family_name": r["family_name"],
            "municipality": r["municipality"],
            "municipality_name": config.municipalities.get(r["municipality"]),
            "target_group": r["target_group"], "state": r["state"], "state_label": state_label(r["state"], lang),
            "state_since": show(r["state_since"]), "due": r["due"].isoformat(),
            "establishment_due": r["establishment_due"].isoformat(), "overdue": late > 0,
            "days_late": late if late > 0 else 0, "reminder": step, "escalated": step == "escalation",
            "track": r["track"], "kommun_officer": r["kommun_officer"], "af_officer": r["af_officer"],
            "version": r["version"]})
    return {"today": today.isoformat(), "mine": mine, "limit": limit, "offset": offset,
            "next_offset": offset + limit if more else None, "items": items}


@lru_cache(maxsize=64)
def _listing(officer: str | None, places: str | None, matching: str | None, overdue: bool):
    """The worklist's statement for one combination of filters, built once (the values
    are parameters): building and keying a statement per request cost more than the
    indexed read itself."""
    c = CASES.c
    query = select(*_COLUMNS).where(c.active, c.due.is_not(None))
    if places == "one":
        query = query.where(c.municipality == bindparam("municipality"))
    elif places == "many":
        query = query.where(c.municipality.in_(bindparam("municipalities", expanding=True)))
    if officer:
        query = query.where(c[officer] == bindparam("officer"))
    if matching == "exact":
        query = query.where(c.state == bindparam("state"))
    elif matching == "module":
        query = query.where(c.state.like(bindparam("state")))
    if overdue:
        query = query.where(c.due < bindparam("today"))
    return query.order_by(c.due, c.id).limit(bindparam("limit")).offset(bindparam("offset"))
