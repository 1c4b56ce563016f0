"""Checking a row of an import (cases/importing.py) and building its path: each row
validated as a registration and the path through the process that leads to its current
state would be, the errors by line, column and reason.

A row names where the person is now (`state`, and `state_since`: the day the state was
entered). The path there is read off the process table (`PATHS`): the shortest way from
registration along routes that skip nothing and set nothing aside (no pause, close or
transfer), each trigger given the data the table says it needs: a choice its route
matches, the row's plan or track, the participants a list must include, and a note saying
the step was imported. The steps are dated from the registration (the reception date, else
the permit date) to `state_since`, evenly, at 09:00 Stockholm time and a minute apart, so
the current stage's clock starts on the day the row gives. Every event of an imported case
carries `data.imported = true`.

Only cases in progress are imported (the active states); a closed case, or one on hold,
is refused with a reason: its outcome and reasons belong to the source system.

The rows are built by the engine's own pure functions (cases/rows.py: clean_data, decide,
link, track_measures, new_measure), so what is written is what the engine would have
written had an officer taken each step on its day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from etablera.access.principal import Principal
from etablera.access.scope import check_municipality
from etablera.cases.import_reading import COLUMN, COLUMNS
from etablera.cases.rows import CaseRows
from etablera.cases.service import EARLIEST_PERMIT
from etablera.models.agreements import AgreementBook
from etablera.models.configuration import Config
from etablera.models.identity import IdentityError, parse_identity
from etablera.models.timestamps import utcnow
from etablera.statemachine.errors import BadInput, EtableraError
from etablera.statemachine.fields import clean_data, storable
from etablera.statemachine.messages import Code, render
from etablera.statemachine.person import DETAILS
from etablera.statemachine.process import (ACTIVE, ASIDE, CASE_TRIGGERS, INITIAL, MEASURE_STATES, REGISTER, STATE,
                                           Route, Trigger)

IMPORT_NOTE = "Importerat från befintligt ärende: steget återskapat vid import."
MAX_REF = 100
STEP_TIME = time(9, 0)
STOCKHOLM = ZoneInfo("Europe/Stockholm")
_REGISTER_KEYS = tuple(f.name for f in REGISTER.fields)


# --------------------------------------------------------------------------- the path to a state

@dataclass(frozen=True)
class Step:
    trigger: Trigger
    route: Route


def _paths() -> dict[str, tuple[Step, ...]]:
    """Each active state's shortest way from registration, read off the table: breadth first
    over the routes that skip nothing, set nothing aside and do not need the case's own
    facts (resume's `paused_from`)."""
    paths: dict[str, tuple[Step, ...]] = {INITIAL: ()}
    queue = [INITIAL]
    while queue:
        state = queue.pop(0)
        for trigger in CASE_TRIGGERS:
            if trigger.offer == ASIDE:
                continue
            for candidate in trigger.routes:
                dest = candidate.dest
                if (state not in candidate.sources or dest is None or dest in paths or candidate.skips
                        or candidate.effects.clock or STATE[dest].terminal
                        or (candidate.match and candidate.match[0] not in {f.name for f in trigger.fields})):
                    continue
                paths[dest] = paths[state] + (Step(trigger, candidate),)
                queue.append(dest)
    return paths


PATHS = _paths()
IMPORTABLE = tuple(s for s in ACTIVE if s in PATHS)


def _step_data(step: Step, row: dict) -> dict:
    """What `step.trigger` is given on an imported path: from the table (the route's match,
    a list's required members, the import note for a note it needs) and from the row (a
    plan, a track)."""
    data: dict = {}
    for spec in step.trigger.fields:
        if step.route.match and spec.name == step.route.match[0]:
            data[spec.name] = step.route.match[1]
        elif spec.name in row and row[spec.name]:
            data[spec.name] = row[spec.name]
        elif spec.kind == "list" and spec.must_include:
            data[spec.name] = list(spec.must_include)
        elif spec.source == "note" and spec.required:
            data[spec.name] = IMPORT_NOTE
    return data


# --------------------------------------------------------------------------- checking a row

@dataclass(frozen=True)
class RowError:
    line: int
    column: str                    # the column's key; `header(lang)` is its name in the template
    code: str
    params: dict = field(default_factory=dict, compare=False)

    def header(self) -> str:
        return COLUMN[self.column].sv if self.column in COLUMN else self.column

    def text(self, lang: str = "sv") -> str:
        return render(self.code, self.params, lang)

    def as_dict(self, lang: str = "sv") -> dict:
        return {"line": self.line, "column": self.header(), "code": self.code, "message": self.text(lang)}


def _refusal(line: int, exc: EtableraError, default_column: str) -> RowError:
    column = exc.field if exc.field in COLUMN else ("measures" if exc.field == "type" else default_column)
    return RowError(line, column, exc.code, exc.params)


@dataclass
class Prepared:
    """A row that passed every check: the rows to write, built with provisional ids."""
    line: int
    ref: str
    person: str
    municipality: str
    register: dict
    path: tuple[Step, ...]
    data: list[dict]
    measures: list[str]
    times: list[datetime]


def _at(day: date, minute: int) -> datetime:
    return datetime.combine(day, STEP_TIME, STOCKHOLM) + timedelta(minutes=minute)


def _yes(value: str) -> bool:
    return value.strip().lower() in ("1", "ja", "j", "yes", "y", "true", "x")


def _normalise(row: dict) -> dict:
    """What Excel does to numbers undone: a municipality code or a 10-digit identity
    number that lost its leading zero."""
    row = dict(row)
    code = row.get("municipality", "")
    if code.isdigit() and len(code) < 4:
        row["municipality"] = code.zfill(4)
    person = row.get("person", "")
    if person.isdigit() and len(person) == 9:
        row["person"] = person.zfill(10)
    return row


class Checker:
    """Checks rows one by one (pure but for the reads it is given): the errors of a row,
    or the row `Prepared`. Remembers the references and people seen, to refuse a second
    row of either."""

    def __init__(self, who: Principal, config: Config, today: date, build_path: bool = True):
        self.who, self.config, self.today, self.build_path = who, config, today, build_path
        self.refs: dict[str, int] = {}
        self.people: dict[str, int] = {}

    def check(self, line: int, row: dict) -> tuple[Prepared | None, list[RowError]]:
        row = _normalise(row)
        errors: list[RowError] = []
        for c in COLUMNS:
            if c.required and not row.get(c.key):
                errors.append(RowError(line, c.key, "import_value_missing"))
        for key, value in row.items():
            if not storable(value):
                errors.append(RowError(line, key, "text_not_storable"))
        if errors:
            return None, errors
        ref = row["external_ref"]
        if len(ref) > MAX_REF:
            errors.append(RowError(line, "external_ref", "text_too_long", {"max": MAX_REF}))
        elif ref in self.refs:
            errors.append(RowError(line, "external_ref", "import_ref_twice", {"line": self.refs[ref]}))
        else:
            self.refs[ref] = line
        register, person = self._registration(line, row, errors)
        state, since = self._state(line, row, register, errors)
        measures = self._measures(line, row, state, errors)
        if errors:
            return None, errors
        if person in self.people:
            return None, [RowError(line, "person", "import_person_twice", {"line": self.people[person]})]
        path = PATHS[state]
        data = [_step_data(step, row) for step in path]
        start = register["reception_date"] or register["permit_date"] if path else since
        days = [start] + [start + timedelta(days=(since - start).days * i // len(path)) for i in range(1, len(path))]
        times = [_at(day, minute) for minute, day in enumerate(days + [since] if path else [since])]
        prepared = Prepared(line, ref, person, register["municipality"], register, path, data, measures, times)
        if self.build_path:     # every rule the engine applies on the way (a track's agreement, ...)
            try:
                build(prepared, 0, 0, utcnow(), self.config, b"\0" * 32, self.who.id)
            except EtableraError as exc:
                return None, [_refusal(line, exc, "state")]
        self.people[person] = line
        return prepared, []

    def _registration(self, line: int, row: dict, errors: list[RowError]) -> tuple[dict, str]:
        raw = {key: row[key] for key in _REGISTER_KEYS if row.get(key)}
        for flag in ("no_upper_secondary", "interpreter"):
            if flag in raw:
                raw[flag] = _yes(raw[flag])
        try:
            data = clean_data(REGISTER, {k: v for k, v in raw.items() if v not in (None, False, "")}, self.config)
        except BadInput as exc:
            errors.append(_refusal(line, exc, "person"))
            return {}, ""
        try:
            check_municipality(self.who, data["municipality"])
        except EtableraError as exc:
            errors.append(_refusal(line, exc, "municipality"))
        try:
            identity = parse_identity(row["person"], on=self.today)
        except IdentityError as exc:
            errors.append(RowError(line, "person", exc.code))
            return {}, ""
        permit = date.fromisoformat(data["permit_date"])
        reception = date.fromisoformat(data["reception_date"]) if "reception_date" in data else None
        if permit > self.today:
            errors.append(RowError(line, "permit_date", "after_registration"))
        elif permit < EARLIEST_PERMIT:
            errors.append(RowError(line, "permit_date", "permit_date_too_early", {"earliest": EARLIEST_PERMIT}))
        if reception is not None and reception > self.today:
            errors.append(RowError(line, "reception_date", "after_registration"))
        elif reception is not None and reception < permit:
            errors.append(RowError(line, "reception_date", "reception_before_permit"))
        register = {name: data.get(name) for name in ("municipality", "kommun_officer", "af_officer")}
        register.update({name: data[name] for name in DETAILS if name in data})
        register.update(person=row["person"], no_upper_secondary=bool(data.get("no_upper_secondary")),
                        permit_date=permit, reception_date=reception)
        return register, identity.digits

    def _state(self, line: int, row: dict, register: dict, errors: list[RowError]) -> tuple[str | None, date | None]:
        state = row["state"].strip()
        if state not in STATE:
            errors.append(RowError(line, "state", "import_state_unknown", {"choices": [Code(s) for s in IMPORTABLE]}))
            return None, None
        if state not in PATHS:
            errors.append(RowError(line, "state", "import_state_not_active", {"state": state}))
            return None, None
        text_since = row.get("state_since", "")
        if not text_since:
            if state != INITIAL:
                errors.append(RowError(line, "state_since", "import_value_missing"))
                return state, None
            start = (register["reception_date"] or register["permit_date"]) if register else None
            if start is None:
                return state, None
            text_since = start.isoformat()
        try:
            since = date.fromisoformat(text_since)
        except (TypeError, ValueError):
            errors.append(RowError(line, "state_since", "not_a_date"))
            return state, None
        if since > self.today:
            errors.append(RowError(line, "state_since", "import_date_future"))
        elif register:
            start = register["reception_date"] or register["permit_date"]
            if since < start:
                errors.append(RowError(line, "state_since", "import_before_registration", {"registered": start}))
        return state, since

    def _measures(self, line: int, row: dict, state: str | None, errors: list[RowError]) -> list[str]:
        names = [m.strip() for m in row.get("measures", "").replace(",", ";").split(";") if m.strip()]
        if not names:
            return []
        unknown = [n for n in names if n not in self.config.measure_types]
        if unknown:
            errors.append(RowError(line, "measures", "unknown_measure_type",
                                   {"value": Code(unknown[0]), "choices": list(self.config.measure_types)}))
        elif state is not None and state not in MEASURE_STATES:
            errors.append(RowError(line, "measures", "import_measures_not_here", {"state": state}))
        return names


def build(prepared: Prepared, case_id: int, measure_ids, recorded_at: datetime, config: Config, key: bytes,
          actor: str, agreements: AgreementBook | None = None) -> CaseRows:
    """The case's rows: registered at the first time, each step of the path at the next,
    the open measures added on the state's day. `agreements`: the book in force (read
    once for many rows), by default read now."""
    rows = CaseRows(case_id, measure_ids, recorded_at, config, key, agreements)
    rows.marks = {"imported": True}
    times = iter(prepared.times)
    rows.register(next(times), actor, prepared.register)
    for step, data in zip(prepared.path, prepared.data):
        rows.advance(next(times), actor, step.trigger.name, data)
    last = prepared.times[-1]
    for minute, measure_type in enumerate(prepared.measures, start=1):
        rows.add_measure(last + timedelta(minutes=minute), actor, measure_type)
    return rows
