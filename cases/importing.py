"""Import of an existing caseload (`etablera import FILE`): one row per person, from a CSV
file or an Excel workbook, each row validated as a registration and the path through the
process that leads to its current state would be, then written as a case whose backdated
history replays through the machine. The file is read in cases/import_reading.py; a row is
checked and its path built in cases/import_checking.py; this module writes them, and the
empty template workbook (`etablera import --template`).

A dry run does everything but write. The apply writes the valid rows (each its case, events,
measures, the import record and an access-log row) `BATCH` rows to a transaction, a
statement per table, and reports the others; with `max_errors`, a file with more refused
rows than that writes nothing. `imported_cases` keeps which row of which file made each
case: a row whose external reference was imported before is left alone, so importing the
same file again changes nothing.
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
from etablera.access.scope import shown
from etablera.cases.agreements import agreement_book
from etablera.cases.assignment import check_officers
from etablera.cases.audit_key import load_key
from etablera.cases.import_checking import IMPORTABLE, Checker, Prepared, RowError, _refusal, build
from etablera.cases.import_reading import COLUMNS, read_file
from etablera.cases.rows import insert_many
from etablera.models import AuditEvent, Case, ImportedCase, Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import settle, transaction
from etablera.models.timestamps import local_date, utcnow
from etablera.models.wal import checkpoints_in_background
from etablera.statemachine.errors import EtableraError, NotPermitted
from etablera.statemachine.process import state_label

CASES, EVENTS, MEASURES, IMPORTED = (Case, AuditEvent, Measure,
                                     ImportedCase)
ACTION = "import"
BATCH = 1000                   # rows per transaction (built before the writers' lock is taken)


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
    refused), write the valid rows, `BATCH` rows to a transaction (each row whole or not at all). A file that cannot be read as a
    whole raises FileRefused (BadInput: nothing written). `progress(done, total)` is called
    as rows are written.

    A row imported before (its external reference is known) is left alone unchecked. The
    path of a row is built once: before anything is written when every error must be known
    first (a dry run, `max_errors`), otherwise as the row is written (a refusal then leaves
    that row out of its batch)."""
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
    with checkpoints_in_background(engine):
        for start in range(0, len(fresh), BATCH):
            batch = fresh[start:start + BATCH]
            try:
                written = _write_batch(engine, who, batch, path.name, key, config, result)
            except _conflicts(engine):             # a row imported or a person registered meanwhile
                written = [_write_one(engine, who, ready, path.name, key, config, result) for ready in batch]
            result.case_ids += [case_id for case_id in written if case_id is not None]
            if progress is not None:
                progress(len(batch), len(fresh))
    result.written = len(result.case_ids)
    if result.written:
        settle(engine)
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


def _write_batch(engine: Engine, who: Principal, batch: list[Prepared], source: str, key: bytes, config: Config,
                 result: ImportResult) -> list[int]:
    """The rows of `batch` in one transaction, every table's rows in one statement. Each
    row's history is built before the writers' lock is taken, with the ids free then (a row
    the machine refuses is reported and left out); should another writer have taken those
    ids meanwhile (SQLite), the batch is built again inside. IntegrityError (a reference
    imported or a person given an active case by someone else meanwhile) rolls the whole
    batch back, for `_write_one` to write row by row."""
    with transaction(engine, write=False) as conn:
        ids = _Ids(conn, len(batch))
        built, refused = _build(batch, ids, key, config, who)
    with transaction(engine) as conn:
        if not ids.still_free(conn):
            built, refused = _build(batch, _Ids(conn, len(batch)), key, config, who)
        if built:
            _insert(conn, who, built, source)
    for ready, exc in refused:
        _refused(result, ready, exc)
    return [rows.case["id"] for _, rows in built]


def _build(batch: list[Prepared], ids: _Ids, key: bytes, config: Config, who: Principal) -> tuple[list, list]:
    """(ready, its rows) for each row the machine takes; (ready, refusal) for the others."""
    built, refused = [], []
    agreements = agreement_book()
    for ready in batch:
        try:
            built.append((ready, build(ready, next(ids.cases), ids.measures, utcnow(), config, key, who.id,
                                       agreements=agreements)))
        except EtableraError as exc:
            refused.append((ready, exc))
    return built, refused


def _write_one(engine: Engine, who: Principal, ready: Prepared, source: str, key: bytes, config: Config,
               result: ImportResult) -> int | None:
    """One row in its own transaction; None if it was refused, or imported meanwhile by a
    concurrent import (the reference is the import table's key, so the second insert fails
    and the row's transaction rolls back: counted as imported before)."""
    try:
        written = _write_batch(engine, who, [ready], source, key, config, result)
    except _conflicts(engine):
        with transaction(engine, write=False) as conn:
            if _imported(conn, [ready.ref]):
                result.already += 1
                return None
        _refused(result, ready, NotPermitted("import_active_case", field="person"))
        return None
    return written[0] if written else None


def _conflicts(engine: Engine) -> tuple[type[Exception], ...]:
    """A unique key broken: SQLAlchemy's, or the driver's own from `insert_many`'s cursor."""
    return IntegrityError, engine.dialect.dbapi.IntegrityError


def _refused(result: ImportResult, ready: Prepared, exc: EtableraError) -> None:
    result.errors.append(_refusal(ready.line, exc, "state"))
    result.valid -= 1


def _insert(conn: Connection, who: Principal, built: list, source: str) -> None:
    """The cases, their import records, measures, events and access-log rows, a statement each."""
    at = utcnow()
    insert_many(conn, CASES, [rows.case for _, rows in built])
    conn.execute(insert(IMPORTED), [{"external_ref": ready.ref, "case_id": rows.case["id"], "source": source[:200],
                                     "line": ready.line, "actor": who.id, "imported_at": at}
                                    for ready, rows in built])
    insert_many(conn, MEASURES, [m for _, rows in built for m in rows.measures])
    insert_many(conn, EVENTS, [e for _, rows in built for e in rows.events])
    shown(conn, who, [rows.case["id"] for _, rows in built], ACTION, detail="done")     # as write_access writes


class _Ids:
    """Case and measure ids as the rows need them: on SQLite the maxima's successors (free
    as long as nobody else writes, which `still_free` checks under the writers' lock); on
    PostgreSQL they come from the sequences, a block at a time, as other writers' do (an id
    taken and not used is a gap, as in any sequence)."""

    def __init__(self, conn: Connection, cases: int):
        self.top: tuple[int, int] | None = None
        if conn.dialect.name == "postgresql":
            self.cases, self.measures = _sequence(conn, "cases", cases), _sequence(conn, "measures", 100)
        else:
            self.top = _top(conn)
            self.cases, self.measures = count(self.top[0] + 1), count(self.top[1] + 1)

    def still_free(self, conn: Connection) -> bool:
        return self.top is None or _top(conn) == self.top


def _top(conn: Connection) -> tuple[int, int]:
    return (conn.execute(select(func.max(CASES.c.id))).scalar() or 0,
            conn.execute(select(func.max(MEASURES.c.id))).scalar() or 0)


def _sequence(conn: Connection, table: str, block: int) -> Iterator[int]:
    query = text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)")
    while True:
        yield from conn.execute(query, {"n": block}).scalars().all()


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
