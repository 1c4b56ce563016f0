"""Writing a synthetic cohort fast: the cohort's scripts turned into rows by the engine's
own pure functions, inserted in batches, in parallel worker processes.

Nothing here decides anything about the process: validation is `clean_data`, the step is
`decide` (the process table's routes, effects and rules), the chain is `journal.link`,
measures are `new_measure` / `moved_measure` / `follow`, track components are
`track_measures` (statemachine/measures.py), through cases/rows.py's `CaseRows`. Only the I/O
differs from the engine: ids are assigned up front (cases from the current maximum, measures
in a block per chunk) and rows go in with executemany on SQLite and COPY on PostgreSQL
(cases/rows.insert_many), one transaction per chunk.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from etablera.models import AuditEvent, Case, Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import make_engine, settle, transaction
from etablera.demo import cohort
from etablera.cases.audit_key import load_key
from etablera.cases.rows import CaseRows, insert_many
from etablera.statemachine.process import REGISTER

CASES, MEASURES, EVENTS = Case, Measure, AuditEvent
CHUNK = 5_000
MEASURE_IDS_PER_CASE = 32          # an id block per case: more than any script adds


def build(plan: cohort.Script, case_id: int, measure_base: int, recorded_at: datetime, config: Config,
          key: bytes) -> CaseRows:
    rows = CaseRows(case_id, measure_base, recorded_at, config, key)
    added: list[int] = []            # measure positions as the script counts them (add order)
    for action in plan.actions:
        if action.kind == REGISTER.name:
            rows.register(action.at, plan.actor, action.args)
        elif action.kind == "advance":
            before = len(rows.measures)
            rows.advance(action.at, plan.actor, action.args["trigger"], dict(action.args["raw"]))
            added += range(before, len(rows.measures))
        elif action.kind == "add_measure":
            added.append(len(rows.measures))
            rows.add_measure(action.at, plan.actor, action.args["type"])
        else:
            rows.change_measure(action.at, plan.actor, added[action.args["position"]], action.args["action"],
                                action.args.get("reason"))
    return rows


def _write_chunk(job: tuple) -> tuple[int, int, int]:
    url, first_index, count, seed, now, case_base, measure_base = job
    engine = make_engine(url)
    config = get_config()
    book_scripts = cohort.scripts(count, seed, now, first_index=first_index, config=config)
    recorded_at = datetime.now(timezone.utc)
    key = load_key(engine, create=True)          # write_cohort created it: the same file for every worker
    cases, events, measures = [], [], []
    for offset, plan in enumerate(book_scripts):
        rows = build(plan, case_base + offset, measure_base + offset * MEASURE_IDS_PER_CASE, recorded_at, config,
                     key)
        cases.append(rows.case)
        events += rows.events
        measures += rows.measures
    with transaction(engine) as conn:
        for table, rows in ((CASES, cases), (MEASURES, measures), (EVENTS, events)):
            insert_many(conn, table, rows)
    engine.dispose()
    return len(cases), len(events), len(measures)


def write_cohort(engine: Engine, count: int, *, seed: int = 1, workers: int | None = None,
                 now: datetime | None = None, progress: Callable[[int, int], None] | None = None) -> dict:
    """Create `count` synthetic cases after those already there. Returns counts and time.
    `progress(done, total)` is called as each chunk of cases is written (the CLI's bar)."""
    started = time.perf_counter()
    now = now or datetime.now(timezone.utc)
    cohort.register_officers(engine)                  # the officers the cases name
    load_key(engine, create=True)                     # before the workers, which read it
    with transaction(engine, write=False) as conn:
        case_base = (conn.execute(select(func.max(CASES.c.id))).scalar() or 0) + 1
        measure_base = (conn.execute(select(func.max(MEASURES.c.id))).scalar() or 0) + 1
    url = engine.url.render_as_string(hide_password=False)
    jobs = []
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        jobs.append((url, case_base + start, size, seed, now, case_base + start,
                     measure_base + start * MEASURE_IDS_PER_CASE))
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    totals = [0, 0, 0]
    if workers <= 1 or len(jobs) == 1:
        results = map(_write_chunk, jobs)
    else:
        pool = multiprocessing.get_context("spawn").Pool(workers)
        results = pool.imap_unordered(_write_chunk, jobs)
    for result in results:
        totals = [a + b for a, b in zip(totals, result)]
        if progress is not None:
            progress(result[0], count)
    if workers > 1 and len(jobs) > 1:
        pool.close()
        pool.join()
    if engine.dialect.name == "postgresql":
        with transaction(engine) as conn:
            for table in ("cases", "measures"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {table}))"))
    settle(engine)
    return {"cases": totals[0], "events": totals[1], "measures": totals[2],
            "seconds": time.perf_counter() - started}
