"""The worklist (arbetslista): a user's running cases in due-date order, the overdue and
escalated ones marked. No personal data: case ids, places, states and dates only.

"Mine" means the cases the user is responsible for (cases.kommun_officer for a municipal
user, cases.af_officer for an AF user); otherwise every running case in the user's
municipalities. Cases without a stage due date are left out (the terminal ones: a running
case always has one). Each listing is one indexed range read (indexes of migration 0004),
plus one read of the reminders recorded for the page's cases.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.engine import Engine

from models import Reminder
from models.configuration import Config, get_config
from models.database import transaction
from models.timestamps import local_date, show, utcnow
from statemachine.audit import CASES
from statemachine.errors import BadInput
from statemachine.process import STATE, state_label
from statemachine.scope import Principal

REMINDERS = Reminder.__table__
LADDER_ORDER = {"warning": 1, "overdue": 2, "escalation": 3}
MAX_LIMIT = 200
_COLUMNS = (CASES.c.id, CASES.c.municipality, CASES.c.target_group, CASES.c.state, CASES.c.state_since,
            CASES.c.due, CASES.c.establishment_due, CASES.c.stage_seq, CASES.c.track, CASES.c.kommun_officer,
            CASES.c.af_officer, CASES.c.version)


def worklist(engine: Engine, who: Principal, *, mine: bool = True, state: str | None = None,
             municipalities: tuple[str, ...] | None = None, overdue: bool = False, limit: int = 50,
             offset: int = 0, today: date | None = None, lang: str = "sv", config: Config | None = None) -> dict:
    """One page of the worklist. `municipalities` must already be within the principal's
    scope (see scope.scoped_municipalities); None: all of theirs."""
    config = config or get_config()
    today = today or local_date(utcnow())
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput("limit", f"between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise BadInput("offset", "0 or more")
    c = CASES.c
    query = select(*_COLUMNS).where(c.active, c.due.is_not(None))
    scope = municipalities if municipalities is not None else who.municipalities
    if scope is not None:
        query = query.where(c.municipality == scope[0] if len(scope) == 1 else c.municipality.in_(scope))
    if mine:
        query = query.where((c.af_officer if who.organisation == "af" else c.kommun_officer) == who.id)
    if state:
        if state in STATE:
            query = query.where(c.state == state)
        elif state in {s.split(".")[0] for s in STATE if "." in s}:
            query = query.where(c.state.like(f"{state}.%"))
        else:
            raise BadInput("state", f"unknown state {state!r}")
    if overdue:
        query = query.where(c.due < today)
    query = query.order_by(c.due, c.id).limit(limit + 1).offset(offset)
    with transaction(engine, write=False) as conn:
        rows = conn.execute(query).mappings().all()
        more = len(rows) > limit
        rows = rows[:limit]
        steps = _reminder_steps(conn, rows)
    items = []
    for r in rows:
        late = (today - r["due"]).days
        step = steps.get((r["id"], r["stage_seq"]))
        items.append({
            "id": r["id"], "municipality": r["municipality"],
            "municipality_name": config.municipalities.get(r["municipality"]),
            "target_group": r["target_group"], "state": r["state"], "state_label": state_label(r["state"], lang),
            "state_since": show(r["state_since"]), "due": r["due"].isoformat(),
            "establishment_due": r["establishment_due"].isoformat(), "overdue": late > 0,
            "days_late": late if late > 0 else 0, "reminder": step, "escalated": step == "escalation",
            "track": r["track"], "kommun_officer": r["kommun_officer"], "af_officer": r["af_officer"],
            "version": r["version"]})
    return {"today": today.isoformat(), "mine": mine, "limit": limit, "offset": offset,
            "next_offset": offset + limit if more else None, "items": items}


def _reminder_steps(conn, rows) -> dict[tuple[int, int], str]:
    """(case id, stage visit) -> the highest step of the ladder recorded for that visit."""
    if not rows:
        return {}
    found: dict[tuple[int, int], str] = {}
    query = select(REMINDERS.c.case_id, REMINDERS.c.visit, REMINDERS.c.step).where(
        REMINDERS.c.kind == "stage", REMINDERS.c.case_id.in_([r["id"] for r in rows]))
    for case_id, visit, step in conn.execute(query):
        key = (case_id, visit)
        if LADDER_ORDER.get(step, 0) > LADDER_ORDER.get(found.get(key), 0):
            found[key] = step
    return found
