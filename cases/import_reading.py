"""Reading the file of an import (`etablera import FILE`, cases/importing.py): the columns a
row may have (a Swedish header, or the engine's name, as the template spells them), a file
header mapped to them, and the rows of a CSV file or an Excel workbook as text by column.
A file that cannot be read as a whole (its type, its columns) is `FileRefused`.

openpyxl is imported only when an .xlsx is read: importing this module does not load it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Iterator

from etablera.statemachine.errors import BadInput
from etablera.statemachine.messages import Code
from etablera.statemachine.process import ACTIVE


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


def _header_key(header: str) -> str | None:
    return _HEADER.get(str(header or "").strip().lower().replace(" ", "_").replace("-", "_"))


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
