"""A case's rows built in memory by the engine's own pure functions, for writers that insert
many cases at once: the synthetic cohort (demo/bulk.py) and the import of an existing
caseload (cases/importing.py).

Nothing here decides anything about the process: validation is `clean_data`, the step is
`decide` (the process table's routes, effects and rules), the chain is `journal.link`,
measures are `new_measure` / `moved_measure` / `follow`, track components are
`track_measures` (statemachine/measures.py). The ids are the caller's (a case id, a first
measure id): the rows go in with the writer's own statements.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import count
from operator import itemgetter

from etablera.cases.agreements import agreement_book
from etablera.cases.audit import GENESIS
from etablera.cases.journal import link
from etablera.models.agreements import AgreementBook
from etablera.models.configuration import Config
from etablera.models.identity import parse_identity
from etablera.models.prepared import bind_processor
from etablera.models.timestamps import local_date
from etablera.statemachine.case import Case as CaseView
from etablera.statemachine.corrections import measures_before
from etablera.statemachine.decide import decide, new_case, registration_event
from etablera.statemachine.fields import clean_data
from etablera.statemachine.measures import added_event, changed_event, follow, moved_measure, new_measure, track_measures
from etablera.statemachine.person import DETAILS, NO_DETAILS
from etablera.statemachine.process import TRIGGER


class CaseRows:
    """One case's rows, built the way the engine's use cases build them."""

    def __init__(self, case_id: int, measure_base: int | Iterable[int], recorded_at: datetime, config: Config,
                 key: bytes, agreements: AgreementBook | None = None):
        """`measure_base`: the first of consecutive measure ids, or the ids themselves;
        `agreements`: the book in force (read once for many cases), by default read now."""
        self.case_id, self.recorded_at, self.config = case_id, recorded_at, config
        self.agreements = agreements or agreement_book()
        self.measure_ids = iter(count(measure_base) if isinstance(measure_base, int) else measure_base)
        self.key = key                  # the audit key: the number's HMAC on the registration event
        self.case: dict = {}
        self.events: list[dict] = []
        self.measures: list[dict] = []
        self.marks: dict = {}           # added to every event's data (an import's `imported`)

    def _chain(self, changes: dict, event: dict) -> None:
        if self.marks:
            event["data"] = {**event["data"], **self.marks}
        stored, values = link(self.case, changes, event, self.recorded_at)
        self.case.update(values)
        self.events.append(stored)

    def _new_measure(self, row: dict) -> int:
        row = {**row, "id": next(self.measure_ids)}
        self.measures.append(row)
        return row["id"]

    def register(self, at: datetime, actor: str, args: dict, note: str | None = None) -> None:
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
        self._chain({}, registration_event(row, at, actor, note, key=self.key))

    def advance(self, at: datetime, actor: str, trigger: str, raw: dict) -> None:
        data = clean_data(TRIGGER[trigger], raw, self.config)
        decision = decide(CaseView.of(self.case), trigger, data, at, self.config, actor=actor,
                          agreements=self.agreements)
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


def insert_many(conn, table, rows: list[dict]) -> None:
    """The rows into `table` straight on the driver, each value converted by the column
    type's own bind processor: the stored bytes are what an ORM insert would store, at a
    fraction of the per-row cost. Only the columns that have a processor are visited, and
    on SQLite a date or an instant is written as models.prepared.bind_processor writes it,
    the same text SQLAlchemy's processors write (tests/test_rows.py compares them).

    SQLite takes them by executemany. PostgreSQL takes them by COPY ... FROM STDIN in
    text form, where psycopg writes each value as its text (a JSON column's value is the
    processor's JSON text, stored as it is). executemany pipelined an INSERT per row: a
    chunk of the cohort (5,000 cases, 55,000 events) took 2.2 s and 1.24 s of the
    writer's CPU that way, 1.8 s and 0.85 s by COPY."""
    if not rows:
        return
    columns = list(rows[0])
    convert = [(i, p) for i, p in enumerate(bind_processor(table.c[c].type, conn.dialect) for c in columns) if p]
    values = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    params = []
    for row in rows:
        param = list(values(row))
        for i, process in convert:
            param[i] = process(param[i])
        params.append(param)
    cursor = conn.connection.driver_connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for param in params:
                    copy.write_row(param)
        else:
            marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            cursor.executemany(f"INSERT INTO {table.name} ({', '.join(columns)}) "
                               f"VALUES ({', '.join([marker] * len(columns))})", params)
    finally:
        cursor.close()
