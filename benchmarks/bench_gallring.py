"""A gallring run's speed (issue 16: 1,000,000 cases with 50,000 due in at most 60 s).

    .venv/bin/python -m benchmarks.bench_gallring [--cases 100000] [--due 5000]
        [--workdir var/bench-gallring] [--postgres URL]

Builds a synthetic cohort (demo/bulk.write_cohort: names, notes and justifications as the
engine writes them) unless the work directory already holds one of that size, then gives
every category one period chosen so that the `--due` oldest ended cases are due, and times
a dry run and the apply (which includes SQLite's WAL checkpoint or PostgreSQL's VACUUM).
The apply erases: the next run builds the cohort again. Prints seconds and cases per second.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from sqlalchemy import func, select


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=5_000)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench-gallring"))
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL instead of SQLite (its schema is reset)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.environ["ETABLERA_AUDIT_KEY_FILE"] = str((args.workdir / "audit.key").absolute())
    os.environ["ETABLERA_DOCUMENTS_DIR"] = str((args.workdir / "documents").absolute())

    from etablera.cases import retention
    from etablera.cases.audit import CASES
    from etablera.demo.bulk import write_cohort
    from etablera.models.database import make_engine, transaction, upgrade
    from etablera.models.retention import RetentionFile, retention_rules
    from etablera.models.timestamps import local_date, utcnow

    if args.postgres:
        engine = make_engine(args.postgres)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    else:
        database = args.workdir / "gallring.sqlite3"
        for suffix in ("", "-wal", "-shm", "-writers.lock"):
            Path(str(database) + suffix).unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    started = time.perf_counter()
    write_cohort(engine, args.cases, seed=11)
    print(f"cohort: {args.cases} cases in {time.perf_counter() - started:.0f} s")
    with transaction(engine, write=False) as conn:
        ended = conn.execute(select(CASES.c.state_since).where(CASES.c.active.is_(False))
                             .order_by(CASES.c.state_since).offset(args.due - 1).limit(1)).scalar()
        total_ended = conn.execute(select(func.count()).where(CASES.c.active.is_(False))).scalar()
    today = local_date(utcnow())
    days = (today - local_date(ended)).days
    rules = retention_rules().model_dump()
    for name in ("identity", "notes", "documents", "justifications", "access_log", "reminders"):
        rules[name]["period"] = f"P{days}D"
    rules = RetentionFile.model_validate(rules)
    print(f"ended cases: {total_ended}; period P{days}D (ended by {local_date(ended)})")

    for dry in (True, False):
        started = time.perf_counter()
        doc = retention.run(engine, now=today, dry_run=dry, rules=rules, actor="bench")
        seconds = time.perf_counter() - started
        items = {row["category"]: row["items"] for row in doc["categories"]}
        print(f"{'dry run' if dry else 'apply'}: {doc['cases']} cases in {seconds:.1f} s "
              f"({doc['cases'] / seconds:.0f} cases/s); items {items}")
    engine.dispose()


if __name__ == "__main__":
    main()
