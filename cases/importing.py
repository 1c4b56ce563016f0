"""Import of an existing caseload (`etablera import FILE`): one row per person, from a CSV
file or an Excel workbook, each row validated as a registration and the path through the
process that leads to its current state would be, then written as a case whose backdated
history replays through the machine. The file is read in cases/import_reading.py; a row is
checked and its path built in cases/import_checking.py; this module writes them, and the
empty template workbook (`etablera import --template`).

A dry run does everything but write. The apply writes each valid row in its own transaction
(its case, events, measures, the import record and an access-log row), and reports the
others; with `max_errors`, a file with more refused rows than that writes nothing.
`imported_cases` keeps which row of which file made each case: a row whose external
reference was imported before is left alone, so importing the same file again changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Callable, Iterable, Iterator

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from etablera.access.principal import Principal
from etablera.access.scope import write_access
from etablera.cases.assignment import check_officers
from etablera.cases.audit_key import load_key
from etablera.cases.import_checking import IMPORTABLE, Checker, Prepared, RowError, _refusal, build
from etablera.cases.import_reading import COLUMNS, read_file
from etablera.cases.rows import insert_many
from etablera.models import AuditEvent, Case, ImportedCase, Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.timestamps import local_date, utcnow
from etablera.statemachine.errors import EtableraError, NotPermitted
from etablera.statemachine.process import state_label

CASES, EVENTS, MEASURES, IMPORTED = (Case.__table__, AuditEvent.__table__, Measure.__table__,
                                     ImportedCase.__table__)
ACTION = "import"


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
