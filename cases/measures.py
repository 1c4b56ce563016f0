"""Measures (insatser): any number per case, each with its own small lifecycle.

planned → ongoing → completed | cancelled (with a reason). The lifecycle is a flat
`transitions` Machine of its own, built once, because a case's measures vary in number
and belong in rows, not in parallel regions of the process machine. Every change is
also an event on the case's audit chain.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from transitions import MachineError
from transitions.extensions import HierarchicalMachine

from etablera.models import Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.timestamps import local_date
from etablera.statemachine.errors import BadInput, ConcurrentChange, NotFound, NotPermitted
from etablera.cases.journal import Access, append, event_time, load_case
from etablera.statemachine.process import MEASURE_STATES, module_of, state_label

MEASURES = Measure.__table__
LIFECYCLE = (
    {"trigger": "start", "source": "planned", "dest": "ongoing"},
    {"trigger": "complete", "source": "ongoing", "dest": "completed"},
    {"trigger": "cancel", "source": ["planned", "ongoing"], "dest": "cancelled"},
)
MEASURE_MACHINE = HierarchicalMachine(model=None, states=["planned", "ongoing", "completed", "cancelled"],
                          transitions=list(LIFECYCLE), initial="planned", auto_transitions=False)
ACTIONS = tuple(t["trigger"] for t in LIFECYCLE)
LEFT_MODULE = "case_left_module"     # the cancel reason when the case leaves the measures' module


class _Token:
    __slots__ = ("state",)

    def __init__(self, state: str):
        self.state = state


@lru_cache(maxsize=64)
def lifecycle_step(state: str, action: str) -> str | None:
    """Where `action` takes a measure in `state` (None: not allowed). The machine answers
    each distinct question once; its answer depends on nothing else."""
    token = _Token(state)
    try:
        MEASURE_MACHINE.trigger_event(token, action)
    except MachineError:
        return None
    return token.state


def new_measure(case, measure_type: str, at: datetime, due: date | None, config: Config) -> dict:
    """The row of a measure added to `case` at `at` (pure; no id yet)."""
    kind = config.measure_types.get(measure_type)
    if kind is None:
        raise BadInput("type", f"unknown measure type {measure_type!r}; types: {', '.join(config.measure_types)}")
    if case["state"] not in MEASURE_STATES:
        raise NotPermitted(f"measures can be added only in module 2 or 3; case {case['id']} is in "
                           f"{case['state']} ({state_label(case['state'], 'en')})",
                           sv=f"insatser kan bara läggas till i modul 2 eller 3; ärende {case['id']} är i läget "
                              f"{state_label(case['state'], 'sv').lower()}")
    start = local_date(at)
    if due is not None and due < start:
        raise BadInput("due", "is before the day the measure is added", sv="ligger före dagen insatsen läggs till")
    return {"case_id": case["id"], "type": measure_type, "module": module_of(case["state"]), "component": None,
            "state": "planned", "created_at": at, "started_at": None, "ended_at": None,
            "due": due or kind.frame.due(start), "reason": None, "version": 1}


def moved_measure(measure, action: str, at: datetime, reason: str | None, config: Config) -> dict:
    """The new column values of a measure after `action` (pure), or NotPermitted/BadInput."""
    if action not in ACTIONS:
        raise BadInput("action", f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")
    if action == "cancel":
        codes = config.reasons["cancel_measure"]
        if not reason:
            raise BadInput("reason", f"cancelling a measure needs a reason (--reason CODE; one of: {', '.join(codes)})",
                           sv="att avbryta en insats kräver ett skäl")
        if reason not in codes:
            raise BadInput("reason", f"unknown cancel reason {reason!r}; choose from: {', '.join(codes)}")
    elif reason:
        raise BadInput("reason", f"{action} takes no reason")
    new_state = lifecycle_step(measure["state"], action)
    if new_state is None:
        raise NotPermitted(f"cannot {action} measure {measure['id']}: it is {measure['state']}",
                           sv=f"insats {measure['id']} kan inte ändras så: den är "
                              f"{config.measure_states[measure['state']]('sv').lower()}")
    stamp = "started_at" if action == "start" else "ended_at"
    return {"state": new_state, "reason": reason, "version": measure["version"] + 1, stamp: at}


def measure_event(case, trigger: str, at: datetime, actor: str, data: dict, reason=None, note=None) -> dict:
    """The audit event of a measure change, on the case's chain (the case's state is unchanged)."""
    return {"at": at, "actor": actor, "trigger": trigger, "from_state": case["state"], "to_state": case["state"],
            "municipality": case["municipality"], "reason": reason, "note": note, "skipped": [], "data": data}


def add_measure(engine: Engine, case_id: int, measure_type: str, *, actor: str, due: date | None = None,
                at: datetime | None = None, access: Access | None = None, config: Config | None = None) -> int:
    """Add a measure to a case in module 2 or 3; its due date comes from the type's
    typical duration unless given. Returns the measure id. `access`: as service.advance."""
    config = config or get_config()
    with transaction(engine) as conn:
        case = load_case(conn, case_id)
        at = event_time(at, case["last_event_at"])
        row = new_measure(case, measure_type, at, due, config)
        measure_id = conn.execute(insert(MEASURES).values(**row)).inserted_primary_key[0]
        append(conn, case, {}, measure_event(case, "add_measure", at, actor, {
            "measure": measure_id, "type": measure_type, "to": "planned", "due": row["due"].isoformat()}))
        if access:
            access.write(conn, case_id)
        return measure_id


def change_measure(engine: Engine, measure_id: int, action: str, *, actor: str, reason: str | None = None,
                   note: str | None = None, at: datetime | None = None, access: Access | None = None,
                   config: Config | None = None) -> str:
    """start | complete | cancel a measure. Returns its new state. `access`: as service.advance."""
    config = config or get_config()
    with transaction(engine) as conn:
        measure = conn.execute(select(MEASURES).where(MEASURES.c.id == measure_id)).mappings().first()
        if measure is None:
            raise NotFound("measure", f"no measure with id {measure_id}")
        case = load_case(conn, measure["case_id"])
        at = event_time(at, case["last_event_at"])
        values = moved_measure(measure, action, at, reason, config)
        result = conn.execute(update(MEASURES).where(MEASURES.c.id == measure_id,
                                                     MEASURES.c.version == measure["version"]).values(**values))
        if result.rowcount != 1:
            raise ConcurrentChange(f"measure {measure_id} was changed at the same time; reload and try again")
        append(conn, case, {}, measure_event(case, f"{action}_measure", at, actor, {
            "measure": measure_id, "type": measure["type"], "from": measure["state"], "to": values["state"]},
            reason=reason, note=note))
        if access:
            access.write(conn, case["id"])
        return values["state"]
