"""A gallring run's speed (issue 16: 1,000,000 cases with 50,000 due in at most 60 s).

    .venv/bin/python -m benchmarks gallring [--scale 0.1]        # in the table, SQLite
    .venv/bin/python -m benchmarks.bench_gallring [--cases 100000] [--due 5000]
        [--workdir var/bench-gallring] [--postgres SERVER_URL] [--seed 20000] [--access-rows 5]

Builds a synthetic cohort (demo/bulk.write_cohort: names, registration notes and
justifications as the engine writes them), gives every category one period chosen so that
the `--due` oldest ended cases are due (5 % of the cases by default), and times a dry run
and the apply (which includes SQLite's WAL checkpoint or PostgreSQL's VACUUM). The apply
erases, so each run builds its cohort anew: on SQLite in the work directory, on
PostgreSQL in a database of its own (`etablera_bench_gallring`, created on the server of
SERVER_URL and dropped afterwards). In the table the default is 100,000 cases (× --scale):
the issue's million takes over an hour to build here with the bulk writer alone, about six
minutes with `--seed 20000` (the rest copied in SQL). The bulk writer writes no journal
notes or documents; `--access-rows` adds access-log rows.

    .venv/bin/python -m benchmarks.bench_gallring --cases 1000000 --due 50000 --seed 20000 --access-rows 5
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from sqlalchemy import func, select



def measure(cases: int, due: int, workdir: Path, postgres: str | None = None, seed: int | None = None,
            access_rows: int = 0) -> dict:
    """Seconds of the dry run and the apply, and what they erased. `seed`: build that many
    cases with the bulk writer and copy them in SQL up to `cases` (benchmarks/copies.py:
    the cases, their measures and events, so every copy of an ended case is erased as its
    seed would be), instead of building them all. `access_rows`: that many access-log rows
    per case besides (views by an officer), which gallring deletes with the case's data."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["ETABLERA_AUDIT_KEY_FILE"] = str((workdir / "audit.key").absolute())
    os.environ["ETABLERA_DOCUMENTS_DIR"] = str((workdir / "documents").absolute())


    from etablera.cases import retention
    from etablera.cases.audit import CASES
    from etablera.demo.bulk import write_cohort
    from benchmarks.databases import fresh_engine
    from etablera.models.database import transaction, upgrade
    from etablera.models.retention import CATEGORIES, RetentionFile, retention_rules
    from etablera.models.timestamps import local_date, utcnow

    with fresh_engine(workdir, "gallring", postgres) as engine:
        upgrade(engine)
        started = time.perf_counter()
        write_cohort(engine, seed or cases, seed=11)
        if seed:
            from benchmarks.copies import copy_cohort
            cases = copy_cohort(engine, cases)
        if access_rows:
            _views(engine, access_rows)
        built = time.perf_counter() - started
        with transaction(engine, write=False) as conn:
            ended = conn.execute(select(CASES.c.state_since).where(CASES.c.active.is_(False))
                                 .order_by(CASES.c.state_since).offset(due - 1).limit(1)).scalar()
            total_ended = conn.execute(select(func.count()).where(CASES.c.active.is_(False))).scalar()
        today = local_date(utcnow())
        days = (today - local_date(ended)).days
        rules = retention_rules().model_dump()
        for name in CATEGORIES:
            rules[name]["period"] = f"P{days}D"
        rules = RetentionFile.model_validate(rules)
        out = {"cases": cases, "ended": total_ended, "period": f"P{days}D", "built": built}
        for dry in (True, False):
            started = time.perf_counter()
            doc = retention.run(engine, now=today, dry_run=dry, rules=rules, actor="bench")
            out["dry" if dry else "apply"] = {"seconds": time.perf_counter() - started, "cases": doc["cases"],
                                             "items": {r["category"]: r["items"] for r in doc["categories"]}}
        return out


def _views(engine, per_case: int) -> None:
    """`per_case` access-log rows for every case, in one INSERT ... SELECT."""
    from sqlalchemy import text

    from etablera.models.database import transaction

    sqlite = engine.dialect.name == "sqlite"
    series = ("WITH RECURSIVE ks(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM ks WHERE k < :n) " if sqlite
              else "WITH ks AS (SELECT generate_series(1, :n) AS k) ")
    with transaction(engine) as conn:
        conn.execute(text(f"{series}INSERT INTO access_log (at, actor, role, organisation, case_id, action, detail) "
                          "SELECT c.state_since, 'h0581-01', 'officer', 'kommun', c.id, 'show', NULL "
                          "FROM cases c, ks"), {"n": per_case})
    if not sqlite:              # as autovacuum would have by the time a table grew so large
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE access_log")


def run(options) -> list:
    """The benchmark table's rows (SQLite): 100,000 cases × --scale, 5 % due."""
    from benchmarks import Result

    cases = max(1000, int(100_000 * options.scale))
    found = measure(cases, cases // 20, Path(options.workdir) / "gallring")
    note = f"{cases} cases, {found['apply']['cases']} due; the goal is for 1,000,000 / 50,000"
    return [Result("gallring dry run", found["dry"]["seconds"], "s", note=note),
            Result("gallring apply", found["apply"]["seconds"], "s", goal="≤ 60 s at 1M",
                   met=None, note=note)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=5_000)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench-gallring"))
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server's URL (a database of its own is made)")
    parser.add_argument("--access-rows", type=int, default=0, help="access-log rows per case besides")
    parser.add_argument("--seed", type=int, default=None,
                        help="build this many cases and copy them in SQL up to --cases (the million in minutes)")
    args = parser.parse_args()
    found = measure(args.cases, args.due, args.workdir, args.postgres, args.seed, args.access_rows)
    print(f"cohort: {found['cases']} cases in {found['built']:.0f} s; {found['ended']} ended; period {found['period']}")
    for phase in ("dry", "apply"):
        step = found[phase]
        print(f"{'dry run' if phase == 'dry' else 'apply'}: {step['cases']} cases in {step['seconds']:.1f} s "
              f"({step['cases'] / step['seconds']:.0f} cases/s); items {step['items']}")


if __name__ == "__main__":
    main()
