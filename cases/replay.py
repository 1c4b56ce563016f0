"""Replaying a case's audit chain: what its events say the case row and its measures must
hold now, to compare with what the database holds (`audit verify`, cases/audit.py).

The replay reads only the events, never the configuration: where a step's value came from
the configuration (a stage's due date) the event recorded it (`data.due`); everything else
follows from the process table's route for the step (statemachine/process.py: Effects),
exactly as `decide` applied it, with the values the event holds.

The case columns the events determine, and from what:

- `state` (the last event's `to_state`), `municipality` (the last event's `municipality`:
  every event records where the case was after it), `last_event_at` (the last event's
  `at`), `version` (one more than the number of events: every event is one write);
- `person` through `data.person_hmac` of the registration (the number's HMAC under the
  audit key, statemachine/binding.py), `target_group`, `permit_date`, `reception_date`,
  `registered_late` and `no_upper_secondary` from the registration's data (the last only
  on events that record it: those with `person_hmac`);
- `state_since`, `stage_started`, `stage_seq`, `due`, `establishment_due`, `paused_from`,
  `paused_at`, `plan`, `track`, `active`, `transferred_from`, `transferred_at` from each
  step's route (the clock, the stage entered, the columns set, cleared, carried and dated,
  `data.due` and `data.paused_days`), a correction's `data.restored` and a recompute's
  `data.{column}.to`;
- `kommun_officer`, `af_officer` from the registration, a transfer's data and each
  `assign` event (`org`, `to`);
- the person's details (`given_name`, `family_name`, `language`, `interpreter`, `phone`,
  `email`) and the name keys derived from them, from the registration's `data.details`
  and each `update_person` event's `changes` (a value erased by gallring, its commitment
  `sealed:…` in the event, stands for the column's erased form: empty, `interpreter` false);
- `last_seq` and `last_hash` are the chain's own head (checked with the chain).

Nothing else is left in the row. After an event the replay does not know (a kind added by
a later version), only state, municipality, last_event_at and version are compared: what
such an event did to the other columns is not known here (verify says so in a note).

Measures: a measure's `state`, `reason`, `started_at`, `ended_at` and `created_at` follow
from its add, start, complete and cancel events and from the steps and corrections that
ended, reopened or moved it (`data.measures`, `cancelled_measures`, `measures_before`,
`reopened_measures`); `type`, `module`, `component` and `due` are known for a measure an
officer added (`add_measure` records type and due, the module is the case's then) and
`due` again after each step that moved it, but not for a local track's components
(a step records only their ids: their type, component and due came from the agreement).
Its `version` counts writes (concurrency control) and is not compared.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from etablera.cases.sealing import is_sealed
from etablera.statemachine.corrections import CORRECTED, restored
from etablera.statemachine.decide import route_columns
from etablera.statemachine.person import DETAILS, key_of, KEYS
from etablera.statemachine.process import (CASEWORK, INITIAL, LEFT_MODULE, MEASURE_ACTION, REGISTER, STATE,
                                           TRIGGER, module_of, route)
from etablera.models.timestamps import local_date

# Columns every event determines, whatever it is (and so compared even after an event the
# replay does not know).
ALWAYS = ("state", "municipality", "last_event_at", "version")
# The case columns the replay compares (when it knows them), in the order reported.
COLUMNS = ("state", "municipality", "person", "target_group", "permit_date", "reception_date", "no_upper_secondary",
           "registered_late", "active", "state_since", "stage_started", "stage_seq", "due", "establishment_due",
           "paused_from", "paused_at", "plan", "track", "kommun_officer", "af_officer", "transferred_from",
           "transferred_at", *DETAILS, *KEYS.values(), "last_event_at", "version")
# Columns whose values are personal data: a mismatch names the column, never the values.
PERSONAL = frozenset({"person", *DETAILS, *KEYS.values()})
MEASURE_COLUMNS = ("state", "reason", "created_at", "started_at", "ended_at", "type", "module", "component", "due")
OFFICER_OF = {"kommun": "kommun_officer", "af": "af_officer"}
MEASURE_EVENTS = {"add_measure", *(f"{name}_measure" for name in MEASURE_ACTION)}
# Events that change nothing but the chain.
INERT = {CASEWORK.add_note, CASEWORK.add_document, "followup", CASEWORK.legal_hold, CASEWORK.release_legal_hold}
# A detail's column once erased (gallring, cases/retention.py): empty, `interpreter` false.
ERASED_DETAILS = {name: None for name in DETAILS} | {"interpreter": False}
RECOMPUTE = "recompute_due"


class Diverged(Exception):
    """The process table does not take the step the event records (from its from_state by
    its trigger, with its data, to its to_state), or it does not start where the replay
    stands: the history cannot be replayed past it."""

    def __init__(self, seq: int, trigger: str, state: str | None):
        super().__init__(seq, trigger, state)
        self.seq, self.trigger, self.state = seq, trigger, state


def _day(value) -> date | None:
    return date.fromisoformat(value) if value else None


def _instant(value) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class Replay:
    """One case's chain applied event by event (`apply`, in seq order)."""

    def __init__(self) -> None:
        self.case: dict = {}
        self.known: set[str] = set()             # the columns the replay still determines
        self.measures: dict[int, dict] = {}      # measure id -> the columns known of it
        self.steps: dict[int, dict] = {}         # seq -> data of each step (what a correction reads)
        self.person_hmac: str | None = None
        self.unknown: list[str] = []             # triggers of events the replay does not know
        self.events = 0

    # --- the events -------------------------------------------------------------------

    def apply(self, event) -> None:
        trigger, data, at, seq = event["trigger"], event["data"] or {}, event["at"], event["seq"]
        self.events += 1
        if trigger == REGISTER.name or not self.case:
            if trigger != REGISTER.name or seq != 1 or self.case:
                raise Diverged(seq, trigger, self.case.get("state"))
            self._register(event, data, at)
        elif event["from_state"] != self.case["state"]:
            raise Diverged(seq, trigger, self.case["state"])
        elif trigger == CASEWORK.correct:
            self._correct(event, data, at)
        elif trigger in TRIGGER and trigger != REGISTER.name:
            self._step(event, data, at, seq)
        elif trigger in MEASURE_EVENTS:
            self._measure(event, data, at)
        elif trigger == CASEWORK.assign:
            column = OFFICER_OF.get(data.get("org"))
            if column is None:
                self._unknown(trigger)
            else:
                self.case[column] = data.get("to")
        elif trigger == CASEWORK.update_person:
            for name, change in (data.get("changes") or {}).items():
                self._detail(name, change.get("new"))
        elif trigger == RECOMPUTE:
            for column in ("due", "establishment_due"):
                if isinstance(data.get(column), dict):
                    self.case[column] = _day(data[column].get("to"))
        elif trigger not in INERT:
            self._unknown(trigger)
        self.case.update(state=event["to_state"], municipality=event["municipality"], last_event_at=at,
                         version=self.events + 1)

    def _unknown(self, trigger: str) -> None:
        self.unknown.append(trigger)
        self.known &= set(ALWAYS)

    def _register(self, event, data: dict, at: datetime) -> None:
        self.person_hmac = data.get("person_hmac")
        details = data.get("details") or {}
        self.case = {
            "state": event["to_state"], "municipality": event["municipality"],
            "target_group": data.get("target_group"), "permit_date": _day(data.get("permit_date")),
            "reception_date": _day(data.get("reception_date")),
            "registered_late": bool(data.get("registered_late", False)),
            "no_upper_secondary": data.get("no_upper_secondary"),
            "active": True, "state_since": at, "stage_started": local_date(at), "stage_seq": 1,
            "due": _day(data.get("due")), "establishment_due": _day(data.get("establishment_due")),
            "paused_from": None, "paused_at": None, "plan": None, "track": None,
            "kommun_officer": data.get("kommun_officer"), "af_officer": data.get("af_officer"),
            "transferred_from": None, "transferred_at": None,
            **{name: None for name in DETAILS}, "interpreter": False, **{key: None for key in KEYS.values()},
        }
        for name, value in details.items():
            self._detail(name, value)
        self.known = set(COLUMNS) - {"person"}
        if "no_upper_secondary" not in data:            # recorded since the number was bound
            self.known.discard("no_upper_secondary")
        if event["to_state"] != INITIAL:
            raise Diverged(event["seq"], event["trigger"], None)

    def _detail(self, name: str, value) -> None:
        if name not in DETAILS:
            self._unknown(CASEWORK.update_person)
            return
        if is_sealed(value):              # erased (gallring): the row holds the column's erased form
            value = ERASED_DETAILS.get(name)
        self.case[name] = value
        if name in KEYS:
            self.case[KEYS[name]] = key_of(value)

    def _step(self, event, data: dict, at: datetime, seq: int) -> None:
        """A trigger of the process, as `decide` applied it (statemachine/decide.py)."""
        case, source, trigger = self.case, event["from_state"], event["trigger"]
        chosen = route(source, trigger, {**data, "paused_from": case["paused_from"]})
        if source != case["state"] or chosen is None or (chosen.dest or source) != event["to_state"]:
            raise Diverged(seq, trigger, case["state"])
        effects, dest, today = chosen.effects, chosen.dest or source, local_date(at)
        changes: dict = {}
        if dest != source:
            changes.update(state=dest, state_since=at)
        if effects.clock == "restart":
            shift = timedelta(days=int(data.get("paused_days") or 0))
            for column in ("due", "establishment_due"):
                if case[column] is not None:
                    changes[column] = case[column] + shift
            changes.update(paused_from=None, paused_at=None)
        elif effects.clock == "stop":
            changes.update(paused_from=source, paused_at=at)
        if chosen.enters_stage(source):
            changes.update(stage_started=today, stage_seq=seq, due=_day(data.get("due")))
        changes.update(route_columns(effects, data, case.__getitem__, today, STATE[dest].terminal))
        case.update(changes)
        self.steps[seq] = data
        # What the step did to measures.
        for measure_id in data.get("measures", ()):          # a track's components, laid out now
            self.measures[measure_id] = {"state": "planned", "reason": None, "created_at": at, "started_at": None,
                                         "ended_at": None, "module": "module3"}
        cancelled = set(data.get("cancelled_measures", ()))
        shift = int(data.get("paused_days") or 0)
        for before in data.get("measures_before", ()):
            known = self.measures.setdefault(before["id"], {})
            if before["id"] in cancelled:           # ended because the case left its module
                known.update(state="cancelled", reason=LEFT_MODULE, ended_at=at, due=_day(before.get("due")))
            elif before.get("due"):                 # moved by the time on hold
                known["due"] = _day(before["due"]) + timedelta(days=shift)

    def _correct(self, event, data: dict, at: datetime) -> None:
        """A correction puts back what its step recorded as before (statemachine/corrections.py)."""
        self.case.update(restored(data.get("restored") or {}))
        step = self.steps.get(data.get("corrects"), {})
        for measure_id in data.get("cancelled_measures", ()):
            self.measures.setdefault(measure_id, {}).update(state="cancelled", reason=CORRECTED, ended_at=at)
        reopened = set(data.get("reopened_measures", ()))
        for before in step.get("measures_before", ()):
            known = self.measures.setdefault(before["id"], {})
            known["due"] = _day(before.get("due"))
            if before["id"] in reopened:
                known.update(state=before.get("state"), reason=before.get("reason"),
                             ended_at=_instant(before.get("ended_at")))

    def _measure(self, event, data: dict, at: datetime) -> None:
        measure_id = data.get("measure")
        if measure_id is None:
            self._unknown(event["trigger"])
            return
        known = self.measures.setdefault(measure_id, {})
        if event["trigger"] == "add_measure":
            known.update(state=data.get("to"), reason=None, created_at=at, started_at=None, ended_at=None,
                         type=data.get("type"), module=module_of(self.case["state"]), component=None,
                         due=_day(data.get("due")))
            return
        action = MEASURE_ACTION[event["trigger"].removesuffix("_measure")]
        known.update(state=data.get("to"), reason=event["reason"])
        known[action.stamp] = at
        if data.get("type") is not None:
            known["type"] = data["type"]

    # --- the comparison ---------------------------------------------------------------

    def column_differences(self, row) -> list[str]:
        """The compared columns where the case row differs from the replay (person aside)."""
        return [column for column in COLUMNS
                if column in self.known and column in row and row[column] != self.case.get(column)]

    def measure_differences(self, measure_id: int, row) -> list[str]:
        known = self.measures.get(measure_id, {})
        return [column for column in MEASURE_COLUMNS if column in known and row[column] != known[column]]
