"""A synthetic caseload file for `etablera import`: one valid row per person, every
importable state in turn, in Norrköping (whose agreement has local tracks) or Stockholm,
with the officers `demo.cohort.register_officers` can register. Used by the import's
tests and its benchmark (benchmarks/bench_import.py)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Iterable

from etablera.cases.import_checking import IMPORTABLE
from etablera.cases.import_reading import COLUMNS
from etablera.demo.cohort import FAMILY_NAMES, synthetic_person
from etablera.statemachine.process import INITIAL

HEADERS = [c.sv for c in COLUMNS]
OFFICERS = [("h0581-01", "kommun", "0581"), ("af0581-01", "af", "0581"), ("h0180-01", "kommun", "0180")]


def caseload_row(index: int, today: date, state: str | None = None) -> dict:
    """Row `index` of the caseload, by the template's Swedish headers."""
    state = state or IMPORTABLE[index % len(IMPORTABLE)]
    person, _ = synthetic_person(index, today, coordination=index % 7 == 0)
    permit = today - timedelta(days=300 + index % 200)
    module3 = state == "module3.in_track"
    municipality = "0581" if module3 or index % 2 else "0180"
    return {
        "extern_referens": f"KS-{index}", "personnummer": person, "förnamn": "Özlem",
        "efternamn": FAMILY_NAMES[index % len(FAMILY_NAMES)],
        "kommun": municipality, "uppehållstillstånd": permit.isoformat(),
        "kommunmottagande": (permit + timedelta(days=20)).isoformat(), "läge": state,
        "sedan": "" if state == INITIAL else (today - timedelta(days=60 + index % 50)).isoformat(),
        "plan": "" if state.startswith("module1") else "etableringsplan",
        "jobbspår": "industri" if module3 else "",
        "handläggare_kommun": f"h{municipality}-01", "handläggare_af": "af0581-01" if municipality == "0581" else "",
        "pågående_insatser": "sfi;internship" if state.startswith("module2") else "",
    }


def write_caseload(path: str | Path, count: int, today: date,
                   change: Callable[[int, dict], dict] | None = None) -> Path:
    """A CSV file (semicolons, as Swedish Excel writes it) of `count` rows; `change(index,
    row)` may return another row in its place (a test's broken rows)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, HEADERS, delimiter=";")
        writer.writeheader()
        writer.writerows(_rows(count, today, change))
    return path


def _rows(count: int, today: date, change) -> Iterable[dict]:
    for index in range(count):
        row = caseload_row(index, today)
        yield change(index, row) if change is not None else row
