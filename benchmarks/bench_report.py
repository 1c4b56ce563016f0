"""The full national follow-up report (JSON) over the synthetic cohort: ≤ 5 s on SQLite,
≤ 2 × its raw floor (issue 17) and ≤ 500 MB peak memory at 1,000,000 cases
(options.scale scales the cohort).

The cohort database is cached under options.workdir, keyed by size and seed
(`report-cohort-{n}-seed{seed}.sqlite3`): creating a million cases takes many minutes, a
rerun reuses it. It is built under a `.partial` name and renamed when complete.

Printed:
- the one-off build of the derived tables (report_visits, report_cases) from the audit
  trail, the first time a database is reported on;
- the report itself in a fresh process (so its peak memory is its own), including the
  check for changed cases and the JSON encoding, beside the raw floor: the bare
  aggregate queries over the same rows in plain sqlite3 (GROUP BY over the cases, the
  visits and the case facts the report reads);
- the refresh after 1,000 cases changed (what a report pays after a day's work).

The report and its floor run --rounds times (at least 3), interleaved, the order turning
each round; so does the refresh (no floor: touching the cases is not timed).
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import Result
from benchmarks.rounds import interleaved, ratios, result

SEED = 1
CASES = 1_000_000
ROOT = Path(__file__).resolve().parent.parent

REPORT = """
import json, resource, sys, time
from etablera.models.database import make_engine
from etablera.reports.report import build_report
from etablera.reports.scope import make_scope
engine = make_engine(sys.argv[1])
started = time.perf_counter()
doc = build_report(engine, make_scope())
body = json.dumps(doc, ensure_ascii=False)
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "bytes": len(body), "refreshed": doc["refreshed_cases"], "cases": doc["states_now"]["total"]}))
"""

FLOOR = (
    "SELECT municipality, state, COUNT(*) FROM cases GROUP BY municipality, state",
    "SELECT stage, municipality, days, COUNT(*) FROM report_visits WHERE days IS NOT NULL "
    "GROUP BY stage, municipality, days",
    "SELECT start_municipality, registered_day, COUNT(*) FROM report_cases GROUP BY start_municipality, registered_day",
    "SELECT exit_municipality, exit_state, exit_day - permit_day, COUNT(*) FROM report_cases "
    "WHERE exit_day IS NOT NULL GROUP BY exit_municipality, exit_state, exit_day - permit_day",
    "SELECT COUNT(*) FROM cases c LEFT JOIN report_cases f ON f.case_id = c.id WHERE f.case_id IS NULL "
    "OR f.seq <> c.last_seq",
)


def cohort_db(options, n: int) -> Path:
    from etablera.models.database import make_engine, upgrade
    from etablera.demo.bulk import write_cohort

    workdir = Path(options.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"report-cohort-{n}-seed{SEED}.sqlite3"
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        for leftover in workdir.glob(partial.name + "*"):
            leftover.unlink()
        engine = make_engine(f"sqlite:///{partial}")
        upgrade(engine)
        started = time.perf_counter()
        stats = write_cohort(engine, n, seed=SEED)
        engine.dispose()
        print(f"# cohort of {stats['cases']:,} cases, {stats['events']:,} events built in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        con = sqlite3.connect(partial)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        partial.rename(path)
    return path


def floor_seconds(path: Path) -> float:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    started = time.perf_counter()
    for sql in FLOOR:
        con.execute(sql).fetchall()
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def report_in_fresh_process(url: str) -> dict:
    done = subprocess.run([sys.executable, "-c", REPORT, url], cwd=ROOT, capture_output=True, text=True,
                          timeout=3600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def touch_cases(url: str, count: int) -> None:
    """Make `count` cases look changed (as a day's work would), without writing history:
    their derived rows' seq no longer matches, so the next refresh recomputes them."""
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    con.execute("UPDATE report_cases SET seq = seq - 1 WHERE case_id IN "
                "(SELECT case_id FROM report_cases ORDER BY case_id DESC LIMIT ?)", (count,))
    con.commit()
    con.close()


def run(options) -> list[Result]:
    from etablera.models.database import make_engine, upgrade
    from etablera.reports.facts import refresh

    n = max(1000, int(CASES * options.scale))
    path = cohort_db(options, n)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    built = refresh(engine).cases
    build_seconds = time.perf_counter() - started
    engine.dispose()
    results = []
    if built:
        results.append(Result(f"report: derive visits for {built:,} cases (one-off)", build_seconds, "s",
                              note="first report on a database; afterwards only changed cases"))
    rounds = max(3, getattr(options, "rounds", 3))
    report_in_fresh_process(url)                 # warm the page cache the way a second run finds it
    reports = []

    def report(_round: int) -> float:
        reports.append(report_in_fresh_process(url))
        return reports[-1]["seconds"]

    figures = interleaved({"report": report, "floor": lambda r: floor_seconds(path)}, rounds)
    last = reports[-1]
    median = statistics.median(figures["report"])
    ratio = statistics.median(ratios(figures["report"], figures["floor"]))
    results.append(result(f"report: national JSON, {last['cases']:,} cases", figures["report"], figures["floor"], "s",
                          goal="≤ 5 s, ≤ 2× floor", met=median <= 5.0 and ratio <= 2.0,
                          note=f"{last['bytes'] / 1024:.0f} kB JSON"))
    peak = max(r["peak_mb"] for r in reports)
    results.append(Result("report: peak memory (fresh process)", peak, "MB", goal="≤ 500 MB", met=peak <= 500,
                          note=f"the largest of {len(reports)} runs"))
    engine = make_engine(url)
    refreshes, redone = [], 0
    for _ in range(rounds):
        touch_cases(url, 1000)
        started = time.perf_counter()
        redone = refresh(engine).cases
        refreshes.append(time.perf_counter() - started)
    results.append(result(f"report: refresh after {redone:,} cases changed", refreshes, None, "s",
                          note="what the next report pays for a day's changes"))
    engine.dispose()
    return results
