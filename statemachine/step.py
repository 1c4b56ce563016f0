"""What one trigger does to a case: a pure function, no database.

`step` takes the case as it is, the trigger, its (already cleaned) data and the moment,
asks the machine where it leads, and returns the changes to the case row and the audit
event to append. The engine (service.py) wraps it in a transaction; the synthetic cohort
(cohort.py) calls the very same function, which is why its histories are exactly what
the engine would have written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from etablera.models.configuration import Config
from etablera.models.timeframes import Frame
from etablera.models.timestamps import local_date
from etablera.statemachine.machine import next_state
from etablera.statemachine.process import ON_HOLD, STATE, TRIGGER


@dataclass(frozen=True)
class Context:
    """What the engine looked up for this step beyond the case row itself."""
    track_frame: Frame | None = None          # the chosen local track's estimated length
    track: object | None = None               # the chosen local track (models.agreements.Track)
    audit: dict = field(default_factory=dict)  # what the guards found that the event must record


@dataclass
class Step:
    to_state: str
    changes: dict                              # column -> new value on the case
    event: dict                                # audit event columns (no seq / hashes yet)
    shift_days: int = 0                        # move open measures' due dates by this much
    entered_stage: str | None = None
    extra: dict = field(default_factory=dict)


def stage_due(config: Config, stage: str, target_group: str, start: date, context: Context) -> date | None:
    if stage == "module3" and context.track_frame is not None:
        return context.track_frame.due(start)
    frame = config.stage_frame(stage, target_group)
    return frame.due(start) if frame else None


def step(case: dict, trigger: str, data: dict, at: datetime, actor: str, config: Config,
         context: Context = Context()) -> Step:
    state = case["state"]
    facts = {**data, "paused_from": case.get("paused_from")}
    dest = next_state(state, trigger, facts)
    route = TRIGGER[trigger].route_for(state, facts)
    changes: dict = {}
    shift = 0
    entered = None
    today = local_date(at)

    if dest != state:
        changes["state"] = dest
        changes["state_since"] = at
    target = STATE[dest]
    if trigger == "resume":
        shift = (today - local_date(case["paused_at"])).days
        for column in ("due", "establishment_due"):
            if case.get(column) is not None:
                changes[column] = case[column] + timedelta(days=shift)
        changes["paused_from"] = None
        changes["paused_at"] = None
    elif trigger == "pause":
        changes["paused_from"] = state
        changes["paused_at"] = at
    elif target.stage and target.stage != STATE[state].stage:
        entered = target.stage
        changes["stage_started"] = today
        changes["stage_seq"] = case["last_seq"] + 1      # the seq this event will get
        changes["due"] = stage_due(config, target.stage, case["target_group"], today, context)
    if target.terminal:
        changes["active"] = False
        changes["due"] = None
        changes["paused_from"] = None
        changes["paused_at"] = None

    if trigger == "establish_plan":
        changes["plan"] = data["plan"]
    elif trigger == "decide" and data["decision"] == "local_track":
        changes["track"] = data["track"]
    elif trigger == "drop_track":
        changes["track"] = None
    elif trigger == "transfer":
        changes["municipality"] = data["municipality"]
        for officer in ("kommun_officer", "af_officer"):
            if officer in data:
                changes[officer] = data[officer]

    event_data = {k: v for k, v in data.items() if k not in ("reason", "note")}
    if trigger == "transfer":
        event_data["from_municipality"] = case["municipality"]
    event_data.update(context.audit)
    if shift:
        event_data["paused_days"] = shift
    if "due" in changes and changes["due"] is not None:
        event_data["due"] = changes["due"].isoformat()
    event = {
        "at": at,
        "actor": actor,
        "trigger": trigger,
        "from_state": state,
        "to_state": dest,
        "municipality": changes.get("municipality", case["municipality"]),
        "reason": data.get("reason"),
        "note": data.get("note"),
        "skipped": list(route.skips),
        "data": event_data,
    }
    return Step(to_state=dest, changes=changes, event=event, shift_days=shift, entered_stage=entered)


def registration_event(case: dict, at: datetime, actor: str, note: str | None = None) -> dict:
    """The first event of every case (from no state to module1.registered)."""
    data = {"permit_date": case["permit_date"].isoformat(), "target_group": case["target_group"],
            "due": case["due"].isoformat() if case["due"] else None,
            "establishment_due": case["establishment_due"].isoformat()}
    if case.get("reception_date"):
        data["reception_date"] = case["reception_date"].isoformat()
    for officer in ("kommun_officer", "af_officer"):
        if case.get(officer):
            data[officer] = case[officer]
    return {"at": at, "actor": actor, "trigger": "register", "from_state": None, "to_state": case["state"],
            "municipality": case["municipality"], "reason": None, "note": note, "skipped": [], "data": data}


def new_case(*, person: str, municipality: str, target_group: str, no_upper_secondary: bool,
             permit_date: date, reception_date: date | None, kommun_officer: str | None,
             af_officer: str | None, at: datetime, config: Config) -> dict:
    """The row of a freshly registered case (without id and chain head)."""
    today = local_date(at)
    anchor = max(permit_date, reception_date or permit_date)
    return {
        "person": person, "municipality": municipality, "target_group": target_group,
        "no_upper_secondary": no_upper_secondary, "permit_date": permit_date, "reception_date": reception_date,
        "state": "module1.registered", "state_since": at, "stage_started": today, "stage_seq": 1,
        "due": stage_due(config, "module1", target_group, today, Context()),
        "establishment_due": config.establishment_frame.due(anchor),
        "paused_from": None, "paused_at": None, "plan": None, "track": None,
        "kommun_officer": kommun_officer, "af_officer": af_officer, "active": True,
    }


__all__ = ["Context", "Step", "step", "new_case", "registration_event", "stage_due", "ON_HOLD"]
