"""The import's speed (issue 16: 100,000 rows in at most 60 s on SQLite), beside its floor.

    .venv/bin/python -m benchmarks import [--scale 0.1] [--rounds 3]
    .venv/bin/python -m benchmarks.bench_import [--rows 100000] [--rounds 1] [--postgres SERVER_URL]

Each round writes a caseload file (demo/caseload.py: every importable state in turn) and
imports it into a fresh database with `cases.importing.import_file`, as `etablera import`
does: every row checked, its path built by the engine's decide, its history hash-chained,
BATCH rows to a transaction. The floor, in the same round: the very rows that import wrote
(cases, events, measures, import records, access log), read back and inserted into another
fresh database with plain executemany (PostgreSQL: COPY) in one transaction: what writing
them costs with nothing checked or computed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from benchmarks import Result
from benchmarks.rounds import interleaved, print_load, ratios, spread

TABLES = ("cases", "imported_cases", "measures", "audit_events", "access_log")


def _import(workdir: Path, rows: int, postgres: str | None, kept: dict) -> float:
    from benchmarks.databases import fresh_engine
    from etablera.access.principal import operator
    from etablera.cases.importing import import_file
    from etablera.demo.caseload import OFFICERS, write_caseload
    from etablera.demo.cohort import register_officers
    from etablera.models.database import upgrade
    from etablera.models.timestamps import local_date, utcnow

    file = write_caseload(workdir / "caseload.csv", rows, local_date(utcnow()))
    with fresh_engine(workdir, "import", postgres) as engine:
        upgrade(engine)
        register_officers(engine, OFFICERS)
        started = time.perf_counter()
        result = import_file(engine, operator("bench", via="benchmark"), file)
        seconds = time.perf_counter() - started
        assert result.written == rows and not result.errors, result.as_dict("en")["errors"][:3]
        kept["rows"] = _read_back(engine)
    return seconds


def _read_back(engine) -> dict[str, tuple[list[str], list[tuple]]]:
    from sqlalchemy import MetaData

    from etablera.models.database import transaction

    meta = MetaData()
    meta.reflect(engine, only=TABLES)
    out = {}
    with transaction(engine, write=False) as conn:
        for name in TABLES:
            table = meta.tables[name]
            columns = [c.name for c in table.c if c.name != "txid"]
            raw = conn.exec_driver_sql(f"SELECT {', '.join(columns)} FROM {name}")
            out[name] = (columns, [tuple(r) for r in raw])
    return out


def _floor(workdir: Path, postgres: str | None, kept: dict) -> float:
    """The rows of the last import, inserted with executemany on the driver in one
    transaction (the schema's triggers and indexes in place); on PostgreSQL copied in with
    COPY, as the import's bulk writer does there."""
    from benchmarks.databases import fresh_engine
    from etablera.demo.caseload import OFFICERS
    from etablera.demo.cohort import register_officers
    from etablera.models.database import upgrade

    with fresh_engine(workdir, "import-floor", postgres) as engine:
        upgrade(engine)
        register_officers(engine, OFFICERS)
        raw = engine.raw_connection()
        try:
            marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
            cursor = raw.cursor()
            started = time.perf_counter()
            if engine.dialect.name == "sqlite":
                cursor.execute("BEGIN")             # the engine's connections run the driver in autocommit
            for name in TABLES:
                columns, rows = kept["rows"][name]
                if engine.dialect.name == "postgresql":     # as the import writes them there
                    from psycopg.types.json import Json     # a JSON column's value, read back as a dict or list
                    with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row([Json(v) if isinstance(v, (dict, list)) else v for v in row])
                    continue
                cursor.executemany(f"INSERT INTO {name} ({', '.join(columns)}) "
                                   f"VALUES ({', '.join([marker] * len(columns))})", rows)
            raw.commit()
            return time.perf_counter() - started
        finally:
            raw.close()


def measure(rows: int, rounds: int, workdir: Path, postgres: str | None = None) -> dict[str, list[float]]:
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["ETABLERA_AUDIT_KEY_FILE"] = str((workdir / "audit.key").absolute())
    kept: dict = {}
    # the first round imports first; later rounds' floors write the rows of the latest import
    return interleaved({"import": lambda r: _import(workdir, rows, postgres, kept),
                        "floor": lambda r: _floor(workdir, postgres, kept) if kept else float("nan")}, rounds)


def _result(label: str, rows: int, found: dict[str, list[float]]) -> Result:
    values = found["import"]
    floors = [f for f in found["floor"] if f == f]
    scaled = statistics.median(values) * 100_000 / rows
    return Result(f"import of {rows:,} rows, {label}", statistics.median(values), "s",
                  floor=statistics.median(floors) if floors else None,
                  ratio=statistics.median(ratios(values, found["floor"])) if floors else None,
                  goal="≤ 60 s at 100,000 (SQLite)", met=scaled <= 60 if label == "SQLite" else None,
                  note=f"{len(values)} rounds, min/median/max {spread(values)} s "
                       f"({rows / statistics.median(values):,.0f} rows/s; {scaled:.0f} s per 100,000); "
                       f"floor: the same rows by {'COPY' if label == 'PostgreSQL' else 'executemany'}, one transaction")


def run(options) -> list[Result]:
    """The benchmark table's rows: 100,000 rows × --scale on SQLite."""
    rows = max(1000, int(100_000 * options.scale))
    return [_result("SQLite", rows, measure(rows, options.rounds, Path(options.workdir) / "import"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench-import"))
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server's URL (a database of its own is made)")
    args = parser.parse_args()
    print_load()
    found = measure(args.rows, args.rounds, args.workdir, args.postgres)
    print(_result("PostgreSQL" if args.postgres else "SQLite", args.rows, found).row())


if __name__ == "__main__":
    main()
