"""What one trigger does to a case: a pure function of the process table, no database.

`decide` takes the case as it is (a `Case`), the trigger, its (already cleaned) data and
the moment, finds the route the table gives, runs the route's named rules, and returns a
`Decision`: the changes to the case row, the audit event to append, and what the step
does to the case's measures. It branches on no trigger name: everything it does is read
from the route's `Effects` and the states' flags. The engine (cases/service.py) wraps it
in a transaction; the synthetic cohort (demo/bulk.py) calls the very same function, which
is why its histories are exactly what the engine would have written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from etablera.models.agreements import AgreementBook, Track
from etablera.models.configuration import Config
from etablera.models.timestamps import local_date
from etablera.statemachine.binding import person_hmac
from etablera.statemachine.case import Case
from etablera.statemachine.corrections import before_values
from etablera.statemachine.errors import NotPermitted
from etablera.statemachine.person import DETAILS, with_keys
from etablera.statemachine.process import (FIRST_STAGE, INITIAL, REGISTER, STATE, TRACK_STAGE, Route, permitted, route)
from etablera.statemachine.rules import RULES

# Where a step's data goes on the event: the reason code and the note have columns of their own.
_OWN_COLUMNS = ("reason", "note")


@dataclass
class Decision:
    to_state: str
    changes: dict                              # case column -> new value
    event: dict                                # audit event columns (no seq / hashes yet)
    route: Route
    shift_days: int = 0                        # open measures' due dates move by this much
    entered_stage: str | None = None
    ends_measures: tuple[str, ...] = ()        # modules whose open measures end
    track: Track | None = None                 # the local track entered: its components become measures


def stage_due(config: Config, stage: str, target_group: str, start: date, track: Track | None = None) -> date | None:
    """The due date of a stage entered on `start`: a track's own estimated length in
    module 3, the configured time frame otherwise."""
    if stage == TRACK_STAGE and track is not None and track.estimated_frame is not None:
        return track.estimated_frame.due(start)
    frame = config.stage_frame(stage, target_group)
    return frame.due(start) if frame else None


def decide(case: Case, trigger: str, data: dict, at: datetime, config: Config, *, actor: str,
           agreements: AgreementBook | None = None) -> Decision:
    """Fire `trigger` on `case` with `data` at `at`: the Decision, or NotPermitted naming
    the state and what is permitted (nothing is written by this function)."""
    state = case.state
    chosen = route(state, trigger, {**data, "paused_from": case.paused_from})
    if chosen is None:
        raise not_permitted(state, trigger)
    effects = chosen.effects
    today = local_date(at)
    track = None
    audit: dict = {}
    for name in effects.rules:
        found = RULES[name](case, data, today, agreements)
        track = found.track or track
        audit.update(found.audit)

    dest = chosen.dest or state
    target = STATE[dest]
    changes: dict = {}
    shift = 0
    if dest != state:
        changes["state"] = dest
        changes["state_since"] = at
    if effects.clock == "restart":
        shift = (today - local_date(case.paused_at)).days
        for column in ("due", "establishment_due"):
            if getattr(case, column) is not None:
                changes[column] = getattr(case, column) + timedelta(days=shift)
        changes["paused_from"] = None
        changes["paused_at"] = None
    elif effects.clock == "stop":
        changes["paused_from"] = state
        changes["paused_at"] = at
    entered = chosen.enters_stage(state)
    if entered:
        changes["stage_started"] = today
        changes["stage_seq"] = case.last_seq + 1      # the seq this event will get
        changes["due"] = stage_due(config, entered, case.target_group, today, track)
    changes.update(route_columns(effects, data, lambda column: getattr(case, column), today, target.terminal))

    event_data = {k: v for k, v in data.items() if k not in _OWN_COLUMNS}
    for key, column in effects.records:
        event_data[key] = getattr(case, column)
    event_data.update(audit)
    if shift:
        event_data["paused_days"] = shift
    if changes.get("due") is not None:
        event_data["due"] = changes["due"].isoformat()
    event_data["before"] = before_values(case, changes)      # what a correction puts back
    event = {
        "at": at, "actor": actor, "trigger": trigger, "from_state": state, "to_state": dest,
        "municipality": changes.get("municipality", case.municipality),
        "reason": data.get("reason"), "note": data.get("note"),
        "skipped": list(chosen.skips), "data": event_data,
    }
    return Decision(dest, changes, event, chosen, shift, entered, effects.ends_measures,
                    track if effects.starts_track else None)


def next_state(state: str, trigger: str, facts: dict) -> str:
    """Where `trigger` leads from `state` given its data and the case's facts (paused_from),
    or NotPermitted: the route lookup alone, without the rules."""
    chosen = route(state, trigger, facts)
    if chosen is None:
        raise not_permitted(state, trigger)
    return chosen.dest or state


def not_permitted(state: str, trigger: str) -> NotPermitted:
    """The refusal of a trigger that may not fire in `state`, naming what may."""
    return NotPermitted("trigger_not_permitted", field="trigger", trigger=trigger, state=state,
                        permitted=[t.name for t in permitted(state)])


def route_columns(effects, data: dict, old, today: date, terminal: bool) -> dict:
    """The case columns a route's effects set, beyond its state and clock: a terminal
    destination ends the case; then the columns cleared, set from the step's data, carried
    from the case's old values (`old(column)`) and dated `today`. One place, for deciding a
    step (`decide`) and for replaying it (cases/replay.py)."""
    changes: dict = {}
    if terminal:
        changes.update(active=False, due=None, paused_from=None, paused_at=None)
    for column in effects.clears:
        changes[column] = None
    for column, source in effects.sets:
        if source in data:
            changes[column] = data[source]
    for column, source in effects.carries:
        changes[column] = old(source)
    for column in effects.dates:
        changes[column] = today
    return changes


def new_case(*, person: str, municipality: str, target_group: str, no_upper_secondary: bool,
             permit_date: date, reception_date: date | None, kommun_officer: str | None,
             af_officer: str | None, at: datetime, config: Config, details: dict | None = None) -> dict:
    """The row of a freshly registered case (without id and chain head); `details`: the
    person's cleaned details given at registration (statemachine/person.py), with their
    search keys."""
    today = local_date(at)
    anchor = max(permit_date, reception_date or permit_date)
    establishment_due = config.establishment_frame.due(anchor)
    return {
        "person": person, "municipality": municipality, "target_group": target_group,
        "no_upper_secondary": no_upper_secondary, "permit_date": permit_date, "reception_date": reception_date,
        "state": INITIAL, "state_since": at, "stage_started": today, "stage_seq": 1,
        "due": stage_due(config, FIRST_STAGE, target_group, today),
        "establishment_due": establishment_due,
        "paused_from": None, "paused_at": None, "plan": None, "track": None,
        "kommun_officer": kommun_officer, "af_officer": af_officer, "active": True,
        # The establishment time was already over: allowed, warned, and reminded (reminders/deadlines.py).
        "registered_late": establishment_due < today,
        **with_keys(details or {}),
    }


def registration_event(case: dict, at: datetime, actor: str, note: str | None = None, *, key: bytes) -> dict:
    """The first event of every case (from no state to the initial one). `key`: the audit
    key (cases/audit_key.py), under which the identity number is bound into the chain as
    `person_hmac` (statemachine/binding.py): the number itself is never on the event."""
    data = {"permit_date": case["permit_date"].isoformat(), "target_group": case["target_group"],
            "due": case["due"].isoformat() if case["due"] else None,
            "establishment_due": case["establishment_due"].isoformat(),
            "no_upper_secondary": bool(case["no_upper_secondary"]),
            "person_hmac": person_hmac(key, case["person"])}
    if case.get("reception_date"):
        data["reception_date"] = case["reception_date"].isoformat()
    if case.get("registered_late"):
        data["registered_late"] = True
    for officer in ("kommun_officer", "af_officer"):
        if case.get(officer):
            data[officer] = case[officer]
    details = {name: case[name] for name in DETAILS if name in case}      # those given (new_case's row)
    if details:
        data["details"] = details
    return {"at": at, "actor": actor, "trigger": REGISTER.name, "from_state": None, "to_state": case["state"],
            "municipality": case["municipality"], "reason": None, "note": note, "skipped": [], "data": data}


__all__ = ["Decision", "decide", "next_state", "not_permitted", "new_case", "registration_event", "route_columns",
           "stage_due"]
