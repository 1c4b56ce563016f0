"""What happens to measures (insatser), as pure functions of the process table.

Any number per case, each with the small lifecycle declared at the end of process.py
(planned → ongoing → completed | cancelled with a reason). They belong in rows, not in
parallel regions of the process: their number varies. Every change is also an event on
the case's audit chain (`measure_event`). The engine (cases/measures.py, cases/service.py)
and the synthetic cohort's bulk writer (demo/bulk.py) both use these, which is why the
cohort's rows are exactly what the engine would write.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from etablera.models.agreements import Track, component_plan
from etablera.models.configuration import Config
from etablera.models.timestamps import local_date
from etablera.statemachine.errors import BadInput, NotPermitted
from etablera.statemachine.process import (LEFT_MODULE, MEASURE_ACTION, MEASURE_ACTIONS, MEASURE_INITIAL,
                                           MEASURE_STATES, OPEN_MEASURE_STATES, module_of)

# A track component's kind, as the measure type it is tracked as.
COMPONENT_MEASURE_TYPE = {"sfi": "sfi", "internship": "internship", "validation": "validation",
                          "course": "labour_market_training", "employment": "other", "other": "other"}


def new_measure(case, measure_type: str, at: datetime, due: date | None, config: Config) -> dict:
    """The row of a measure added to `case` at `at` (no id yet)."""
    kind = config.measure_types.get(measure_type)
    if kind is None:
        raise BadInput("unknown_measure_type", field="type", value=measure_type, choices=list(config.measure_types))
    if case["state"] not in MEASURE_STATES:
        raise NotPermitted("measure_not_in_module", case=case["id"], state=case["state"])
    start = local_date(at)
    if due is not None and due < start:
        raise BadInput("due_before_added", field="due")
    return {"case_id": case["id"], "type": measure_type, "module": module_of(case["state"]), "component": None,
            "state": MEASURE_INITIAL, "created_at": at, "started_at": None, "ended_at": None,
            "due": due or kind.frame.due(start), "reason": None, "version": 1}


def track_measures(case_id: int, track: Track, at: datetime) -> list[dict]:
    """The rows of a chosen track's components as module-3 measures, due as the plan lays
    them out from the decision day."""
    return [{"case_id": case_id, "type": COMPONENT_MEASURE_TYPE.get(component.kind, "other"), "module": "module3",
             "component": component.name, "state": MEASURE_INITIAL, "created_at": at, "started_at": None,
             "ended_at": None, "due": due, "reason": None, "version": 1}
            for component, due in component_plan(track, local_date(at))]


def moved_measure(measure, action: str, at: datetime, reason: str | None, config: Config) -> dict:
    """The new column values of a measure after `action`, or NotPermitted/BadInput."""
    spec = MEASURE_ACTION.get(action)
    if spec is None:
        raise BadInput("unknown_measure_action", field="action", value=action,
                       choices=[a.name for a in MEASURE_ACTIONS])
    if spec.reasons:
        codes = config.reasons[spec.reasons]
        if not reason:
            raise BadInput("cancel_needs_reason", field="reason", choices=list(codes))
        if reason not in codes:
            raise BadInput("unknown_reason", field="reason", value=reason, choices=list(codes))
    elif reason:
        raise BadInput("takes_no_reason", field="reason", action=action)
    if measure["state"] not in spec.sources:
        raise NotPermitted("measure_action_not_permitted", field="action", action=action, measure=measure["id"],
                           measure_state=config.measure_states[measure["state"]])
    return {"state": spec.dest, "reason": reason, "version": measure["version"] + 1, spec.stamp: at}


def measure_event(case, trigger: str, at: datetime, actor: str, data: dict, reason=None, note=None) -> dict:
    """The audit event of a measure change, on the case's chain (the case's state is unchanged)."""
    return {"at": at, "actor": actor, "trigger": trigger, "from_state": case["state"], "to_state": case["state"],
            "municipality": case["municipality"], "reason": reason, "note": note, "skipped": [], "data": data}


def added_event(case, measure_id: int, row: dict, at: datetime, actor: str) -> dict:
    """The audit event of a measure added to the case (`row` as new_measure made it)."""
    return measure_event(case, "add_measure", at, actor, {
        "measure": measure_id, "type": row["type"], "to": row["state"], "due": row["due"].isoformat()})


def changed_event(case, measure, values: dict, action: str, at: datetime, actor: str, reason=None, note=None) -> dict:
    """The audit event of `action` on a measure (`values`: what moved_measure returned)."""
    return measure_event(case, f"{action}_measure", at, actor, {
        "measure": measure["id"], "type": measure["type"], "from": measure["state"], "to": values["state"]},
        reason=reason, note=note)


def shifted(measure, days: int) -> dict:
    """Time on hold does not count: an open measure's due date moves by the paused days."""
    return {"due": measure["due"] + timedelta(days=days), "version": measure["version"] + 1}


def follow(decision, measures, at: datetime, config: Config) -> tuple[dict[int, dict], list[int]]:
    """What a step does to the case's measures (rows with id, module, state, due,
    version): their new column values by id, and the ids cancelled because the case left
    their module (reason `case_left_module`, so no reminder is sent for work nobody will
    do)."""
    changes: dict[int, dict] = {}
    cancelled: list[int] = []
    for measure in measures:
        if measure["state"] not in OPEN_MEASURE_STATES:
            continue
        if measure["module"] in decision.ends_measures:
            changes[measure["id"]] = moved_measure(measure, "cancel", at, LEFT_MODULE, config)
            cancelled.append(measure["id"])
        elif decision.shift_days:
            changes[measure["id"]] = shifted(measure, decision.shift_days)
    return changes, cancelled
