"""Retention and erasure (gallring): erase what the rules (config/retention.toml) say is
due, leave each case as a pseudonymous record, and write a protocol of the run.

Which cases: those that ended (not active: a final state) on or before the rule's cut-off
date, as Stockholm dates, and are under no legal hold (cases/holds.py), for each category
not erased before. Nothing of an active case is ever erased.

What erasure does, per category (the values are removed, not hidden):
- identity: the case row's number (set to the empty placeholder), names, their search keys,
  language, interpreter, phone and e-mail; in the audit chain the registration's details
  and each change of them, each replaced by its commitment (cases/sealing.py);
- justifications: each event's note (a step's, a skip's, a correction's, a hold's reason),
  replaced by its commitment;
- notes: the journal notes' text (the row and its SHA-256 stay: `audit verify` knows an
  erased note);
- documents: the files (overwritten, then deleted from the document store) and their names;
- access_log: the access log's rows about the case;
- reminders: the reminders about the case and their deliveries.

The case row keeps every column the reports read (state, dates, municipality, target
group, track, measures, follow-ups), so the report's figures are the same before and
after; `audit verify` still passes, because the chain's hashes covered the commitments
and the replay knows an erased value's column is empty.

That the freed bytes do not keep the text: on SQLite the erasing transactions run with
`PRAGMA secure_delete=ON` (freed cells and pages are overwritten with zeros) and the WAL
is checkpointed and truncated after the run; on PostgreSQL the run ends with `VACUUM` of
the tables it touched, which frees the dead row versions for reuse (their bytes stay in
the table's free space until overwritten, in the WAL until its segments are recycled and
in backups until they expire: see the README's section on gallring).

A dry run reads the same work the apply would do and writes nothing. An apply writes a
protocol (gallringsprotokoll): the run (id, as-of date, when, by whom, how many cases)
and per category the rule, the period, the cut-off date and how many cases and items.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Connection, delete, exists, insert, select, update
from sqlalchemy.engine import Engine

from etablera.cases.audit import CASES, EVENTS
from etablera.cases.document_store import store_for
from etablera.cases.sealing import ERASED_PERSON, UPDATE_PERSON, REGISTER, erased
from etablera.models import AccessLog, Document, Note, Reminder, ReminderDelivery
from etablera.models.database import transaction
from etablera.models.retention import (CATEGORIES, Erasure, LegalHold, ProtocolRow, RetentionFile, RetentionRun,
                                       retention_rules)
from etablera.models.timeframes import Frame
from etablera.models.timestamps import day_start, local_date, show, utcnow
from etablera.statemachine.errors import BadInput
from etablera.statemachine.person import DETAILS, KEYS

HOLDS, RUNS, PROTOCOL, ERASURES = (LegalHold, RetentionRun, ProtocolRow,
                                   Erasure)
NOTES, DOCUMENTS, ACCESS = Note, Document, AccessLog
REMINDERS, DELIVERIES = Reminder, ReminderDelivery
BATCH = 1000
# The case row once its identity is erased.
ERASED_ROW = {"person": ERASED_PERSON, **{name: None for name in DETAILS}, "interpreter": False,
              **{key: None for key in KEYS.values()}}
IN_CHAIN = {"identity", "justifications"}
# The tables a run may change (PostgreSQL vacuums them after an apply).
TOUCHED = ("cases", "audit_events", "notes", "documents", "access_log", "reminder_deliveries", "reminders")


def cutoff(frame: Frame, today: date) -> date:
    """The last end date whose period is over by `today`: the largest d with
    frame.due(d) <= today (due is monotonic in d)."""
    lo, hi = today - timedelta(days=366 * 200), today
    if frame.due(hi) <= today:
        return hi
    while hi - lo > timedelta(days=1):
        mid = lo + (hi - lo) // 2
        if frame.due(mid) <= today:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass
class Due:
    """One category's due cases by its rule."""
    category: str
    rule: str
    period: str
    ended_before: date           # ended on or before this Stockholm date
    case_ids: list[int]
    items: int = 0


def plan(conn: Connection, rules: RetentionFile, today: date) -> list[Due]:
    """Each category's due cases (ids ascending)."""
    dues = []
    for category, rule in rules.rules().items():
        last = cutoff(rule.period, today)
        if category == "access_log":          # rows written since (a view of the ended case) are due too
            left = exists().where(ACCESS.c.case_id == CASES.c.id)
        else:                                 # not erased since the case's last event
            left = ~exists().where(ERASURES.c.case_id == CASES.c.id, ERASURES.c.category == category,
                                   ERASURES.c.last_seq >= CASES.c.last_seq)
        query = (select(CASES.c.id)
                 .where(CASES.c.active.is_(False), CASES.c.state_since < day_start(last + timedelta(days=1)),
                        ~exists().where(HOLDS.c.case_id == CASES.c.id), left))
        # sorted here, not ORDER BY id: SQLite would walk every case in id order instead of ix_cases_ended
        dues.append(Due(category, rule.rule, str(rule.period), last, sorted(r[0] for r in conn.execute(query))))
    return dues


@dataclass
class Work:
    """What erasing a batch of cases changes (computed the same way for a dry run)."""
    categories: dict[int, set[str]]                          # case -> categories due
    last_seq: dict[int, int]                                 # case -> its last event's seq
    events: list[dict] = field(default_factory=list)         # (id, note, data, salts) to store
    items: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    notes: list[int] = field(default_factory=list)
    documents: list[tuple[int, str]] = field(default_factory=list)      # (id, storage key)
    reminders: list[int] = field(default_factory=list)

    def cases_of(self, category: str) -> list[int]:
        return [case for case, categories in self.categories.items() if category in categories]


def _eligible(conn: Connection, case_ids: list[int], lock: bool) -> dict[int, int]:
    """Of `case_ids`, those still ended and under no hold, with their last event's seq
    (locked on PostgreSQL against a hold placed meanwhile: placing one updates the case
    row, which waits for this run)."""
    query = select(CASES.c.id, CASES.c.last_seq).where(CASES.c.id.in_(case_ids), CASES.c.active.is_(False),
                                                       ~exists().where(HOLDS.c.case_id == CASES.c.id))
    if lock:
        query = query.with_for_update(of=CASES)
    return dict(conn.execute(query).all())


def _work(conn: Connection, categories: dict[int, set[str]], last_seq: dict[int, int]) -> Work:
    work = Work(categories, last_seq)
    chained = [case for case, cats in categories.items() if cats & IN_CHAIN]
    if chained:
        rows = conn.execute(select(EVENTS.c.id, EVENTS.c.case_id, EVENTS.c.trigger, EVENTS.c.note, EVENTS.c.data,
                                   EVENTS.c.salts)
                            .where(EVENTS.c.case_id.in_(chained),
                                   EVENTS.c.note.is_not(None) | EVENTS.c.trigger.in_((REGISTER, UPDATE_PERSON)))
                            .order_by(EVENTS.c.id)).mappings()
        for row in rows:
            event = dict(row)
            new, changed = erased(event, categories[event["case_id"]] & IN_CHAIN)
            if changed:
                work.events.append({"_id": event["id"], "note": new["note"], "data": new["data"],
                                    "salts": new["salts"]})
                if new["note"] != event["note"]:
                    work.items["justifications"] += 1
    work.items["identity"] = len(work.cases_of("identity"))
    if ids := work.cases_of("notes"):
        work.notes = [r[0] for r in conn.execute(select(NOTES.c.id).where(NOTES.c.case_id.in_(ids),
                                                                           NOTES.c.text.is_not(None)))]
        work.items["notes"] = len(work.notes)
    if ids := work.cases_of("documents"):
        work.documents = [(r[0], r[1]) for r in conn.execute(
            select(DOCUMENTS.c.id, DOCUMENTS.c.storage_key).where(DOCUMENTS.c.case_id.in_(ids),
                                                                  DOCUMENTS.c.erased_at.is_(None)))]
        work.items["documents"] = len(work.documents)
    if ids := work.cases_of("access_log"):
        work.items["access_log"] = len(conn.execute(select(ACCESS.c.id).where(ACCESS.c.case_id.in_(ids))).all())
    if ids := work.cases_of("reminders"):
        work.reminders = [r[0] for r in conn.execute(select(REMINDERS.c.id).where(REMINDERS.c.case_id.in_(ids)))]
        work.items["reminders"] = len(work.reminders)
    return work


def _apply(conn: Connection, work: Work, run_id: str) -> None:
    """Erase `work` inside the run's transaction, the audit trail's and access log's
    triggers let through by the run's `erasing` mark (migration 0013)."""
    from sqlalchemy import bindparam

    conn.execute(update(RUNS).where(RUNS.c.run_id == run_id).values(erasing=True))
    if work.events:
        conn.execute(update(EVENTS).where(EVENTS.c.id == bindparam("_id"))
                     .values(note=bindparam("note"), data=bindparam("data"), salts=bindparam("salts")), work.events)
    if ids := work.cases_of("identity"):
        conn.execute(update(CASES).where(CASES.c.id.in_(ids)).values(**ERASED_ROW))
    if work.notes:
        conn.execute(update(NOTES).where(NOTES.c.id.in_(work.notes)).values(text=None))
    if work.documents:
        conn.execute(update(DOCUMENTS).where(DOCUMENTS.c.id.in_([d for d, _ in work.documents]))
                     .values(filename=None, erased_at=utcnow()))
    if ids := work.cases_of("access_log"):
        conn.execute(delete(ACCESS).where(ACCESS.c.case_id.in_(ids)))
    if work.reminders:
        conn.execute(delete(DELIVERIES).where(DELIVERIES.c.reminder_id.in_(work.reminders)))
        conn.execute(delete(REMINDERS).where(REMINDERS.c.id.in_(work.reminders)))
    for category in CATEGORIES:               # erased again: the latest erasure's record replaces the earlier
        if ids := work.cases_of(category):
            conn.execute(delete(ERASURES).where(ERASURES.c.category == category, ERASURES.c.case_id.in_(ids)))
    conn.execute(insert(ERASURES), [{"case_id": case, "category": category, "run_id": run_id,
                                     "last_seq": work.last_seq[case]}
                                    for case, categories in work.categories.items() for category in categories])
    conn.execute(update(RUNS).where(RUNS.c.run_id == run_id).values(erasing=False))


def _shred(path) -> None:
    """Overwrite a document's file with zeros, then delete it (on a copy-on-write or
    flash file system the old blocks may survive the overwrite: the README says so)."""
    try:
        size = os.path.getsize(path)
        with open(path, "r+b") as fh:
            remaining = size
            while remaining > 0:
                step = min(remaining, 1 << 20)
                fh.write(b"\0" * step)
                remaining -= step
            fh.flush()
            os.fsync(fh.fileno())
        os.unlink(path)
    except FileNotFoundError:
        pass


def _today(now: date | None) -> date:
    today = local_date(utcnow())
    if now is None:
        return today
    if now > today:
        raise BadInput("gallring_now_future", field="now")
    return now


def run(engine: Engine, *, now: date | None = None, dry_run: bool = False, actor: str = "gallring",
        rules: RetentionFile | None = None, batch: int = BATCH) -> dict:
    """Erase what is due as of `now` (today by default; never later), or with `dry_run`
    only say what would be erased. Returns the protocol: the run, each category's rule,
    cut-off date, cases and items, and the cases erased (pseudonymous ids)."""
    today = _today(now)
    rules = rules or retention_rules()
    with transaction(engine, write=False) as conn:
        dues = plan(conn, rules, today)
    wanted: dict[int, set[str]] = {}
    for due in dues:
        for case_id in due.case_ids:
            wanted.setdefault(case_id, set()).add(due.category)
    ordered = sorted(wanted)
    run_id = None if dry_run else str(uuid.uuid4())
    started = utcnow()
    postgres = engine.dialect.name == "postgresql"
    if run_id:
        with transaction(engine) as conn:
            conn.execute(insert(RUNS).values(run_id=run_id, as_of=today, started_at=started, actor=actor[:60],
                                             cases=0, erasing=False))
    done: dict[int, set[str]] = {}
    items = dict.fromkeys(CATEGORIES, 0)
    store = store_for(engine)
    for start in range(0, len(ordered), batch):
        chunk = ordered[start:start + batch]
        with transaction(engine, write=not dry_run) as conn:
            if run_id and not postgres:
                conn.exec_driver_sql("PRAGMA secure_delete=ON")
            eligible = _eligible(conn, chunk, lock=bool(run_id) and postgres)
            work = _work(conn, {case: wanted[case] for case in chunk if case in eligible}, eligible)
            if run_id and work.categories:
                _apply(conn, work, run_id)
        for category, count in work.items.items():
            items[category] += count
        done.update(work.categories)
        if run_id:
            for _, key in work.documents:
                _shred(store.path_of(key))
    protocol = []
    for due in dues:
        cases = sum(1 for categories in done.values() if due.category in categories)
        protocol.append({"category": due.category, "rule": due.rule, "period": due.period,
                         "ended_before": due.ended_before.isoformat(), "cases": cases, "items": items[due.category]})
    finished = utcnow()
    if run_id:
        with transaction(engine) as conn:
            conn.execute(insert(PROTOCOL), [{**row, "run_id": run_id,
                                             "ended_before": date.fromisoformat(row["ended_before"])}
                                            for row in protocol])
            conn.execute(update(RUNS).where(RUNS.c.run_id == run_id).values(finished_at=finished, cases=len(done)))
        _scrub(engine, postgres)
    return {"run": run_id, "dry_run": dry_run, "as_of": today.isoformat(), "started_at": show(started),
            "finished_at": show(finished), "actor": actor, "cases": len(done), "categories": protocol,
            "case_ids": {category: sorted(c for c, cats in done.items() if category in cats)
                         for category in CATEGORIES}}


def _scrub(engine: Engine, postgres: bool) -> None:
    """After an apply: the freed bytes. SQLite: the WAL's frames written into the file and
    the WAL truncated (secure_delete already zeroed the freed cells and pages). PostgreSQL:
    VACUUM of the touched tables (dead row versions freed for reuse)."""
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(TOUCHED)}")
        return
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def protocols(engine: Engine, limit: int = 20) -> list[dict]:
    """The latest runs' protocols, newest first."""
    with transaction(engine, write=False) as conn:
        runs = conn.execute(select(RUNS).order_by(RUNS.c.started_at.desc()).limit(limit)).mappings().all()
        rows = conn.execute(select(PROTOCOL).where(PROTOCOL.c.run_id.in_([r["run_id"] for r in runs]))
                            .order_by(PROTOCOL.c.id)).mappings().all()
    out = []
    for r in runs:
        out.append({"run": r["run_id"], "as_of": r["as_of"].isoformat(), "started_at": show(r["started_at"]),
                    "finished_at": show(r["finished_at"]), "actor": r["actor"], "cases": r["cases"],
                    "categories": [{"category": p["category"], "rule": p["rule"], "period": p["period"],
                                    "ended_before": p["ended_before"].isoformat(), "cases": p["cases"],
                                    "items": p["items"]}
                                   for p in rows if p["run_id"] == r["run_id"]]})
    return out
