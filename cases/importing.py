"""Import of an existing caseload (`etablera import FILE`): one row per person, from a CSV
file or an Excel workbook, each row validated as a registration and the path through the
process that leads to its current state would be, then written as a case whose backdated
history replays through the machine.

A row names where the person is now (`state`, and `state_since`: the day the state was
entered). The path there is read off the process table (`PATHS`): the shortest way from
registration along routes that skip nothing and set nothing aside (no pause, close or
transfer), each trigger given the data the table says it needs: a choice its route
matches, the row's plan or track, the participants a list must include, and a note saying
the step was imported. The steps are dated from the registration (the reception date, else
the permit date) to `state_since`, evenly, at 09:00 Stockholm time and a minute apart, so
the current stage's clock starts on the day the row gives. Every event of an imported case
carries `data.imported = true`; `imported_cases` keeps which row of which file made it.

Only cases in progress are imported (the active states); a closed case, or one on hold,
is refused with a reason: its outcome and reasons belong to the source system.

The rows are built by the engine's own pure functions (cases/rows.py: clean_data, decide,
link, track_measures, new_measure), so what is written is what the engine would have
written had an officer taken each step on its day. A dry run does everything but write.
The apply writes each valid row in its own transaction (its case, events, measures, the
import record and an access-log row), and reports the others; with `max_errors`, a file
with more refused rows than that writes nothing. A row whose external reference was
imported before is left alone: importing the same file again changes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import count
from pathlib import Path
from typing import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from etablera.access.principal import Principal
from etablera.access.scope import check_municipality, write_access
from etablera.cases.assignment import check_officers
from etablera.cases.audit_key import load_key
from etablera.cases.rows import CaseRows, insert_many
from etablera.cases.service import EARLIEST_PERMIT
from etablera.models import AuditEvent, Case, ImportedCase, Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.identity import IdentityError, parse_identity
from etablera.models.timestamps import local_date, utcnow
from etablera.statemachine.errors import BadInput, EtableraError, NotPermitted
from etablera.statemachine.fields import clean_data, storable
from etablera.statemachine.messages import Code, render
from etablera.statemachine.person import DETAILS
from etablera.statemachine.process import (ACTIVE, ASIDE, CASE_TRIGGERS, INITIAL, MEASURE_STATES, REGISTER, STATE,
                                           Route, Trigger, state_label)

CASES, EVENTS, MEASURES, IMPORTED = (Case.__table__, AuditEvent.__table__, Measure.__table__,
                                     ImportedCase.__table__)
ACTION = "import"
IMPORT_NOTE = "Importerat från befintligt ärende: steget återskapat vid import."
MAX_REF = 100
STEP_TIME = time(9, 0)
STOCKHOLM = ZoneInfo("Europe/Stockholm")


# --------------------------------------------------------------------------- the columns

@dataclass(frozen=True)
class Column:
    key: str            # the engine's name for it (a register field, or the import's own)
    sv: str             # the header in Swedish (the template's)
    required: bool
    help_sv: str
    help_en: str


COLUMNS = (
    Column("external_ref", "extern_referens", True, "Ärendets nyckel i källsystemet (unik; samma fil importerad "
           "igen ändrar inget)", "The case's key in the source system (unique: importing the file again changes "
           "nothing)"),
    Column("person", "personnummer", True, "Person- eller samordningsnummer, 10 eller 12 siffror",
           "Personal identity or coordination number, 10 or 12 digits"),
    Column("given_name", "förnamn", False, "Förnamn", "Given name"),
    Column("family_name", "efternamn", False, "Efternamn", "Family name"),
    Column("municipality", "kommun", True, "Kommunkod, fyra siffror (0180)", "Municipality code, four digits"),
    Column("permit_date", "uppehållstillstånd", True, "Datum för uppehållstillstånd (ÅÅÅÅ-MM-DD)",
           "Residence permit date (YYYY-MM-DD)"),
    Column("reception_date", "kommunmottagande", False, "Datum för kommunmottagande; inskrivningsdagen",
           "Municipal reception date; the registration day"),
    Column("no_upper_secondary", "saknar_gymnasieutbildning", False, "ja om fullständig gymnasieutbildning saknas",
           "yes if no completed upper-secondary education"),
    Column("state", "läge", True, "Var i processen personen är nu: " + ", ".join(ACTIVE),
           "Where in the process the person is now: " + ", ".join(ACTIVE)),
    Column("state_since", "sedan", False, "Dagen läget började (ÅÅÅÅ-MM-DD); krävs utom i module1.registered",
           "The day the state was entered (YYYY-MM-DD); required except in module1.registered"),
    Column("plan", "plan", False, "handlingsplan eller etableringsplan; krävs från modul 2",
           "handlingsplan or etableringsplan; required from module 2 on"),
    Column("track", "jobbspår", False, "Det lokala jobbspårets id; krävs i module3.in_track",
           "The local job track's id; required in module3.in_track"),
    Column("kommun_officer", "handläggare_kommun", False, "Handläggarens id i kommunen",
           "The municipality's case officer's id"),
    Column("af_officer", "handläggare_af", False, "Handläggarens id på Arbetsförmedlingen", "AF's case officer's id"),
    Column("measures", "pågående_insatser", False, "Pågående insatser, insatstyper åtskilda med ; (modul 2 och 3)",
           "Open measures, measure types separated by ; (modules 2 and 3)"),
    Column("language", "språk", False, "Föredraget språk (ISO 639, t.ex. ar)", "Preferred language (ISO 639)"),
    Column("interpreter", "tolk", False, "ja om tolk behövs", "yes if an interpreter is needed"),
    Column("phone", "telefon", False, "Telefon", "Phone"),
    Column("email", "epost", False, "E-post", "E-mail"),
)
COLUMN = {c.key: c for c in COLUMNS}
# A header as the file may spell it (Swedish, English, any case, spaces for underscores).
_HEADER = {name: c.key for c in COLUMNS for name in (c.sv, c.key)}
_REGISTER_KEYS = tuple(f.name for f in REGISTER.fields)


def _header_key(header: str) -> str | None:
    return _HEADER.get(str(header or "").strip().lower().replace(" ", "_").replace("-", "_"))


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


# --------------------------------------------------------------------------- reading the file

class FileRefused(BadInput):
    """The file as a whole cannot be imported (its type, its columns): nothing is read further."""


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _csv_rows(path: Path) -> Iterator[list[str]]:
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        content = raw.decode("cp1252")          # Excel's "CSV" on Windows
    first = content.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(first, delimiters=";,\t")
    except csv.Error:
        dialect = csv.excel
    yield from csv.reader(io.StringIO(content, newline=""), dialect)


def _xlsx_rows(path: Path) -> Iterator[list]:
    from openpyxl import load_workbook
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 — a file openpyxl cannot read, whatever the reason
        raise FileRefused("import_file_unreadable", field="file", reason=Code(type(exc).__name__)) from None
    try:
        yield from book.worksheets[0].iter_rows(values_only=True)
    finally:
        book.close()


def read_file(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column key: text}) of each row that is not empty; the header is line 1."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise FileRefused("import_file_type", field="file")
    if not path.is_file():
        raise FileRefused("import_file_missing", field="file")
    rows = _csv_rows(path) if suffix == ".csv" else _xlsx_rows(path)
    header = next(rows, None)
    if header is None:
        raise FileRefused("import_file_empty", field="file")
    keys = []
    for name in header:
        key = _header_key(_cell(name))
        if key is None and _cell(name):
            raise FileRefused("import_column_unknown", field="file", column=Code(_cell(name)[:40]),
                              columns=[c.sv for c in COLUMNS])
        keys.append(key)
    missing = [c.sv for c in COLUMNS if c.required and c.key not in keys]
    if missing:
        raise FileRefused("import_columns_missing", field="file", columns=missing)
    for line, values in enumerate(rows, start=2):
        row = {key: _cell(value) for key, value in zip(keys, values) if key}
        if any(row.values()):
            yield line, row


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
          actor: str) -> CaseRows:
    """The case's rows: registered at the first time, each step of the path at the next,
    the open measures added on the state's day."""
    rows = CaseRows(case_id, measure_ids, recorded_at, config, key)
    rows.marks = {"imported": True}
    times = iter(prepared.times)
    rows.register(next(times), actor, prepared.register)
    for step, data in zip(prepared.path, prepared.data):
        rows.advance(next(times), actor, step.trigger.name, data)
    last = prepared.times[-1]
    for minute, measure_type in enumerate(prepared.measures, start=1):
        rows.add_measure(last + timedelta(minutes=minute), actor, measure_type)
    return rows


# --------------------------------------------------------------------------- the import

@dataclass
class ImportResult:
    rows: int = 0
    valid: int = 0
    written: int = 0
    already: int = 0                   # imported before (the same external reference): left alone
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    refused: bool = False              # more refused rows than max_errors: nothing written
    max_errors: int | None = None
    case_ids: list[int] = field(default_factory=list)

    @property
    def refused_rows(self) -> int:
        return len({e.line for e in self.errors})

    def as_dict(self, lang: str = "sv") -> dict:
        return {"rows": self.rows, "valid": self.valid, "written": self.written, "already_imported": self.already,
                "refused_rows": self.refused_rows, "dry_run": self.dry_run, "refused": self.refused,
                "max_errors": self.max_errors, "errors": [e.as_dict(lang) for e in self.errors]}


def import_file(engine: Engine, who: Principal, path: str | Path, *, dry_run: bool = False,
                max_errors: int | None = None, config: Config | None = None, now: datetime | None = None,
                progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Check every row of the file; unless `dry_run` (or more than `max_errors` rows are
    refused), write each valid row in its own transaction. A file that cannot be read as a
    whole raises FileRefused (BadInput: nothing written). `progress(done, total)` is called
    as rows are written.

    A row imported before (its external reference is known) is left alone unchecked. The
    path of a row is built once: before anything is written when every error must be known
    first (a dry run, `max_errors`), otherwise as the row is written (a refusal then rolls
    back that row's transaction only)."""
    config = config or get_config()
    path = Path(path)
    checker = Checker(who, config, local_date(now or utcnow()), build_path=dry_run or max_errors is not None)
    result = ImportResult(dry_run=dry_run, max_errors=max_errors)
    rows = list(read_file(path))
    result.rows = len(rows)
    prepared: list[Prepared] = []
    with transaction(engine, write=False) as conn:
        imported = _imported(conn, [row.get("external_ref", "") for _, row in rows])
        for line, row in rows:
            ref = row.get("external_ref", "")
            if ref in imported and ref not in checker.refs:
                checker.refs[ref] = line
                result.already += 1
                continue
            ready, errors = checker.check(line, row)
            result.errors += errors
            if ready is not None:
                prepared.append(ready)
        active = _active(conn, [p.person for p in prepared])
        officers = _OfficerCheck(conn)
        fresh = []
        for ready in prepared:
            if ready.person in active:
                result.errors.append(RowError(ready.line, "person", "import_active_case"))
            elif (refusal := officers.refusal(ready)) is not None:
                result.errors.append(refusal)
            else:
                fresh.append(ready)
    result.valid = len(fresh)
    if dry_run or (max_errors is not None and result.refused_rows > max_errors):
        result.refused = not dry_run
        result.errors.sort(key=lambda e: e.line)
        return result
    key = load_key(engine, create=True)
    for ready in fresh:
        try:
            case_id = _write(engine, who, ready, path.name, key, config)
        except EtableraError as exc:            # the path refused as the row was written, or a race
            result.errors.append(_refusal(ready.line, exc, "state"))
            result.valid -= 1
            continue
        if case_id is None:
            result.already += 1
        else:
            result.written += 1
            result.case_ids.append(case_id)
        if progress is not None:
            progress(1, len(fresh))
    result.errors.sort(key=lambda e: e.line)
    return result


def _present(conn: Connection, column, values: list, *conditions) -> set:
    """Those of `values` that `column` holds (where `conditions` hold), 500 at a time."""
    found: set = set()
    for start in range(0, len(values), 500):
        found.update(conn.execute(select(column).where(column.in_(values[start:start + 500]), *conditions))
                     .scalars())
    return found


def _imported(conn: Connection, refs: list[str]) -> set[str]:
    return _present(conn, IMPORTED.c.external_ref, refs)


def _active(conn: Connection, people: list[str]) -> set[str]:
    return _present(conn, CASES.c.person, people, CASES.c.active)


class _OfficerCheck:
    """`check_officers` once per officer, organisation and municipality of the file."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.seen: dict[tuple, EtableraError | None] = {}

    def refusal(self, ready: Prepared) -> RowError | None:
        key = (ready.register.get("kommun_officer"), ready.register.get("af_officer"), ready.municipality)
        if key not in self.seen:
            try:
                check_officers(self.conn, ready.register, ready.municipality)
                self.seen[key] = None
            except EtableraError as exc:
                self.seen[key] = exc
        exc = self.seen[key]
        return None if exc is None else _refusal(ready.line, exc, "kommun_officer")


def _write(engine: Engine, who: Principal, ready: Prepared, source: str, key: bytes, config: Config) -> int | None:
    """One row in its own transaction; None if its reference was imported meanwhile (by a
    concurrent import: the reference is the import table's key, so the second insert fails
    and the row's transaction rolls back)."""
    try:
        with transaction(engine) as conn:
            case_id, measure_ids = _ids(conn)
            rows = build(ready, case_id, measure_ids, utcnow(), config, key, who.id)
            insert_many(conn, CASES, [rows.case])
            conn.execute(insert(IMPORTED).values(external_ref=ready.ref, case_id=case_id, source=source[:200],
                                                 line=ready.line, actor=who.id, imported_at=utcnow()))
            insert_many(conn, MEASURES, rows.measures)
            insert_many(conn, EVENTS, rows.events)
            write_access(conn, who, case_id, ACTION)
    except IntegrityError:
        with transaction(engine, write=False) as conn:
            if _imported(conn, [ready.ref]):
                return None
        raise NotPermitted("import_active_case", field="person") from None
    return case_id


def _ids(conn: Connection) -> tuple[int, Iterator[int]]:
    """A case id and the measure ids as the rows need them, inside the writing transaction:
    on SQLite the writers' lock is held, so the next ids are the maxima's successors; on
    PostgreSQL they come from the sequences, as other writers' do."""
    if conn.dialect.name == "postgresql":
        case_id = conn.execute(text("SELECT nextval(pg_get_serial_sequence('cases', 'id'))")).scalar()
        nextval = text("SELECT nextval(pg_get_serial_sequence('measures', 'id'))")
        return case_id, iter(lambda: conn.execute(nextval).scalar(), None)
    case_id = (conn.execute(select(func.max(CASES.c.id))).scalar() or 0) + 1
    return case_id, count((conn.execute(select(func.max(MEASURES.c.id))).scalar() or 0) + 1)


# --------------------------------------------------------------------------- the template

def write_template(path: str | Path, lang: str = "sv") -> Path:
    """An empty workbook with the columns (Swedish headers; English as well in the
    explanation sheet), cells formatted as text where Excel would eat leading zeros."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    path = Path(path)
    book = Workbook()
    sheet = book.active
    sheet.title = "Ärenden" if lang != "en" else "Cases"
    sheet.append([c.sv for c in COLUMNS])
    for index, c in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        letter = cell.column_letter
        sheet.column_dimensions[letter].width = max(14, len(c.sv) + 2)
        for row in range(2, 1002):
            sheet.cell(row=row, column=index).number_format = "@"
    states = DataValidation(type="list", formula1='"' + ",".join(IMPORTABLE) + '"', allow_blank=False)
    sheet.add_data_validation(states)
    states.add(f"{sheet.cell(row=1, column=[c.key for c in COLUMNS].index('state') + 1).column_letter}2:"
               f"{sheet.cell(row=1, column=[c.key for c in COLUMNS].index('state') + 1).column_letter}1001")
    notes = book.create_sheet("Förklaring" if lang != "en" else "Explanation")
    notes.append(["kolumn", "column", "krävs / required", "förklaring", "explanation"])
    for c in COLUMNS:
        notes.append([c.sv, c.key, "ja / yes" if c.required else "", c.help_sv, c.help_en])
    notes.append([])
    notes.append(["läge / state", "", "", "", ""])
    for state in IMPORTABLE:
        notes.append([state, "", "", state_label(state, "sv"), state_label(state, "en")])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDE", (26, 20, 16, 60, 60)):
        notes.column_dimensions[letter].width = width
    book.save(path)
    return path


def error_lines(errors: Iterable[RowError], lang: str = "sv") -> list[str]:
    """`line 12, kommun: ...` for each refused value, in file order."""
    word = "rad" if lang != "en" else "line"
    return [f"{word} {e.line}, {e.header()}: {e.text(lang)}" for e in errors]
