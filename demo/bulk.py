"""Writing a synthetic cohort fast: the cohort's scripts turned into rows by the engine's
own pure functions, inserted in batches, in parallel worker processes.

Nothing here decides anything about the process: validation is `clean_data`, the step is
`decide` (the process table's routes, effects and rules), the chain is `journal.link`,
measures are `new_measure` / `moved_measure` / `follow`, track components are
`track_measures` (statemachine/measures.py). Only the I/O differs from the engine: ids are assigned up
front (cases from the current maximum, measures in a block per chunk) and rows go in
with executemany, one transaction per chunk.
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
from etablera.models.database import make_engine, transaction
from etablera.models.timestamps import local_date
from etablera.demo import cohort
from etablera.cases.agreements import agreement_book
from etablera.cases.audit import GENESIS
from etablera.cases.audit_key import load_key
from etablera.cases.journal import link
from etablera.statemachine.case import Case as CaseView
from etablera.statemachine.corrections import measures_before
from etablera.statemachine.decide import decide, new_case, registration_event
from etablera.statemachine.fields import clean_data
from etablera.statemachine.person import DETAILS, with_keys
from etablera.statemachine.measures import (added_event, changed_event, follow, moved_measure, new_measure,
                                            track_measures)
from etablera.statemachine.process import REGISTER, TRIGGER

CASES, MEASURES, EVENTS = Case.__table__, Measure.__table__, AuditEvent.__table__
CHUNK = 5_000
MEASURE_IDS_PER_CASE = 32          # an id block per case: more than any script adds
# Every case row carries every detail column (one INSERT for many rows needs the same keys):
# what a script did not give is as the database defaults it.
NO_DETAILS = {**with_keys({name: None for name in DETAILS}), "interpreter": False}


class CaseRows:
    """One case's rows, built the way the engine's use cases build them."""

    def __init__(self, case_id: int, measure_base: int, recorded_at: datetime, config: Config, key: bytes):
        self.case_id, self.next_measure, self.recorded_at, self.config = case_id, measure_base, recorded_at, config
        self.key = key                  # the audit key: the number's HMAC on the registration event
        self.case: dict = {}
        self.events: list[dict] = []
        self.measures: list[dict] = []

    def _chain(self, changes: dict, event: dict) -> None:
        stored, values = link(self.case, changes, event, self.recorded_at)
        self.case.update(values)
        self.events.append(stored)

    def _new_measure(self, row: dict) -> int:
        row = {**row, "id": self.next_measure}
        self.next_measure += 1
        self.measures.append(row)
        return row["id"]

    def register(self, at: datetime, actor: str, args: dict) -> None:
        from etablera.models.identity import parse_identity
        from etablera.cases.service import _target_group

        identity = parse_identity(args["person"], on=local_date(at))
        group = _target_group(self.config, identity.age_on(local_date(at)), bool(args["no_upper_secondary"]))
        row = new_case(person=identity.digits, municipality=args["municipality"], target_group=group,
                       no_upper_secondary=bool(args["no_upper_secondary"]), permit_date=args["permit_date"],
                       reception_date=args["reception_date"], kommun_officer=args["kommun_officer"],
                       af_officer=args["af_officer"], at=at, config=self.config,
                       details={name: args[name] for name in DETAILS if name in args})
        self.case = {**NO_DETAILS, **row, "id": self.case_id, "last_seq": 0, "last_hash": GENESIS, "last_event_at": at,
                     "version": 1, "transferred_from": None, "transferred_at": None}
        self._chain({}, registration_event(row, at, actor, key=self.key))

    def advance(self, at: datetime, actor: str, trigger: str, raw: dict) -> None:
        data = clean_data(TRIGGER[trigger], raw, self.config)
        decision = decide(CaseView.of(self.case), trigger, data, at, self.config, actor=actor,
                          agreements=agreement_book())
        if decision.track is not None:
            decision.event["data"]["measures"] = [self._new_measure(row) for row in
                                                  track_measures(self.case_id, decision.track, at)]
        if decision.ends_measures or decision.shift_days:
            changed, cancelled = follow(decision, self.measures, at, self.config)
            touched = measures_before(self.measures, changed)
            for measure in self.measures:
                measure.update(changed.get(measure["id"], {}))
            if cancelled:
                decision.event["data"]["cancelled_measures"] = cancelled
            if changed:
                decision.event["data"]["measures_before"] = touched
        self._chain(decision.changes, decision.event)

    def add_measure(self, at: datetime, actor: str, measure_type: str) -> None:
        row = new_measure(self.case, measure_type, at, None, self.config)
        measure_id = self._new_measure(row)
        self._chain({}, added_event(self.case, measure_id, row, at, actor))

    def change_measure(self, at: datetime, actor: str, position: int, action: str, reason: str | None) -> None:
        measure = self.measures[position]
        values = moved_measure(measure, action, at, reason, self.config)
        event = changed_event(self.case, measure, values, action, at, actor, reason)
        measure.update(values)
        self._chain({}, event)


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


def _insert(conn, table, rows: list[dict]) -> None:
    """executemany straight on the driver, each value converted by the column type's own
    bind processor: the stored bytes are what an ORM insert would store, at a fraction
    of the per-row cost."""
    if not rows:
        return
    columns = list(rows[0])
    processors = [table.c[c].type._cached_bind_processor(conn.dialect) for c in columns]
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join([marker] * len(columns))})")
    pairs = list(zip(columns, processors))
    params = [tuple(p(row[c]) if p else row[c] for c, p in pairs) for row in rows]
    cursor = conn.connection.driver_connection.cursor()
    cursor.executemany(sql, params)
    cursor.close()


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
            _insert(conn, table, rows)
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
    return {"cases": totals[0], "events": totals[1], "measures": totals[2],
            "seconds": time.perf_counter() - started}
