"""Writing to a case inside an open transaction: the one place where a change to the case
row and its audit event are made together.

`append` updates the case only if its version is still the one that was read (optimistic
locking) and appends the event chained to the previous one. Use cases call it inside
`models.database.transaction`, so the case row, the event and anything else the use case
wrote commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import ARRAY, Connection, bindparam, func, insert, select, update

from etablera.models import AccessLog, Case
from etablera.models.prepared import Prepared
from etablera.models.timestamps import show, utcnow
from etablera.cases.audit import CASES, EVENTS, event_hash
from etablera.cases.sealing import new_salts
from etablera.statemachine.case import FIELDS as CASE_FIELDS
from etablera.statemachine.errors import BadInput, ConcurrentChange, NotFound

FUTURE_TOLERANCE_SECONDS = 60


# The statements of every change to a case, compiled once and run on the driver
# (models/prepared.py): SQLAlchemy's execution of them cost more than the database's work.
_SELECT_CASE = Prepared(select(CASES).where(CASES.c.id == bindparam("case_id")))
# A step needs a third fewer columns than the row has (not the person's details, the name
# keys, the permit and reception dates): reading and converting them was a third of
# reading the case.
_SELECT_STEP = Prepared(select(*(CASES.c[name] for name in (*CASE_FIELDS, "last_hash")))
                        .where(CASES.c.id == bindparam("case_id")))
_UPDATE_CASE = Prepared(update(CASES).where(CASES.c.id == bindparam("_id"),
                                            CASES.c.version == bindparam("_version")))
_INSERT_EVENT = Prepared(insert(EVENTS))
ACCESS = AccessLog
_INSERT_ACCESS = Prepared(insert(ACCESS))
_INSERT_ACCESSES = insert(ACCESS)             # many rows, one executemany (SQLite: in process, cheap)
# On PostgreSQL several rows of one moment go in as one INSERT ... SELECT over unnest of
# their case ids and actions. psycopg's executemany pipelines a statement per row: 50 rows
# (a worklist's page) cost 0.8-1.0 ms of the web worker's CPU that way, about a quarter of
# the page's, and 0.19 ms this way; a case page's two rows (show, history) cost 0.04 ms
# more by SQLAlchemy's insertmanyvalues. The rows go in the given order (their ids follow
# it), as executemany writes them.
_ACCESS_COLUMNS = ("at", "actor", "role", "organisation", "detail")
_ROWS = func.unnest(bindparam("case_ids", type_=ARRAY(ACCESS.c.case_id.type)),
                    bindparam("actions", type_=ARRAY(ACCESS.c.action.type))).table_valued(
    "case_id", "action", with_ordinality="position").render_derived()
_INSERT_ACCESSES_UNNEST = Prepared(insert(ACCESS).from_select(
    [*_ACCESS_COLUMNS, "case_id", "action"],
    select(*(bindparam(name, type_=ACCESS.c[name].type) for name in _ACCESS_COLUMNS), _ROWS.c.case_id,
           _ROWS.c.action).order_by(_ROWS.c.position)))
# SQLite: with RETURNING, SQLAlchemy sends several rows as one INSERT ... VALUES (...), (...)
# ("insertmanyvalues"): one statement, so one transaction by itself.
_INSERT_ACCESSES_RETURNING = insert(AccessLog).returning(AccessLog.c.id)


def load_case(conn: Connection, case_id: int, *, for_step: bool = False):
    """The case row (NotFound if there is none). `for_step`: only what a step reads, the
    fields of `decide`'s Case and the chain head (`_SELECT_STEP`)."""
    row = (_SELECT_STEP if for_step else _SELECT_CASE).first(conn, {"case_id": case_id})
    if row is None:
        raise NotFound("no_such_case", field="id", case=case_id)
    return row


def event_time(at: datetime | None, last_event_at: datetime | None) -> datetime:
    """The event's time: now unless given; never in the future, never before the case's
    last event (past events may be recorded, but history is not rewritten)."""
    now = utcnow()
    if at is None:
        at = now
    if at.tzinfo is None:
        raise BadInput("at_needs_zone", field="at")
    if (at - now).total_seconds() > FUTURE_TOLERANCE_SECONDS:
        raise BadInput("at_in_future", field="at")
    if last_event_at is not None and at < last_event_at:
        raise BadInput("at_before_last_event", field="at", last=show(last_event_at))
    return at


def check_version(case, expect_version: int | None) -> None:
    if expect_version is not None and case["version"] != expect_version:
        raise ConcurrentChange("case_version_changed", case=case["id"], expected=expect_version,
                               actual=case["version"])


def link(case, changes: dict, event: dict, recorded_at: datetime) -> tuple[dict, dict]:
    """Chain `event` to the case (pure but for the salts' randomness): returns the stored
    event row (with `salts`) and the case's new column values (changes, version, chain head)."""
    seq = case["last_seq"] + 1
    stored = {**event, "case_id": case["id"], "seq": seq, "recorded_at": recorded_at}
    stored["salts"] = new_salts(stored)         # each erasable value's own salt (cases/sealing.py)
    digest = event_hash(case["last_hash"], stored)
    stored.update(prev_hash=case["last_hash"], hash=digest)
    values = {**changes, "version": case["version"] + 1, "last_seq": seq, "last_hash": digest,
              "last_event_at": event["at"]}
    return stored, values


def append(conn: Connection, case, changes: dict, event: dict, *, access: dict | None = None) -> dict:
    """Apply `changes` to the case and append `event`; returns the stored event. `access`:
    the access-log row of who did it (access/scope.access_row), written with them. On
    PostgreSQL the three go in one statement, one round trip instead of three (`_together`).
    The event is recorded at the access-log row's moment, when there is one: one instant,
    read once, in both."""
    stored, values = link(case, changes, event, access["at"] if access is not None else utcnow())
    if access is not None and conn.dialect.name == "postgresql":
        params = {"_id": case["id"], "_version": case["version"], **{f"c_{k}": v for k, v in values.items()},
                  **{f"e_{k}": v for k, v in stored.items()}, **{f"a_{k}": v for k, v in access.items()}}
        written = _together(tuple(values), tuple(stored), tuple(access)).rowcount(conn, params)
    else:
        written = _UPDATE_CASE.rowcount(conn, {**values, "_id": case["id"], "_version": case["version"]})
        if written == 1:
            _INSERT_EVENT.rowcount(conn, stored)
            if access is not None:
                _INSERT_ACCESS.rowcount(conn, access)
    if written != 1:
        raise ConcurrentChange("case_changed", case=case["id"])
    stored.pop("salts")                         # the salts stay in the database
    return stored


@lru_cache(maxsize=256)
def _together(case_columns: tuple[str, ...], event_columns: tuple[str, ...], access_columns: tuple[str, ...]):
    """WITH updated AS (UPDATE cases ... WHERE id AND version RETURNING id), logged AS
    (INSERT INTO access_log SELECT ... FROM updated) INSERT INTO audit_events SELECT ... FROM
    updated: the event and the access-log row are written only if the version check let the
    update through, and the statement's row count says whether it did. Built once per set
    of columns; parameters c_*, e_*, a_* (typed by their columns)."""
    updated = (update(CASES).where(CASES.c.id == bindparam("_id"), CASES.c.version == bindparam("_version"))
               .values({name: bindparam(f"c_{name}", type_=CASES.c[name].type) for name in case_columns})
               .returning(CASES.c.id).cte("updated"))

    def values_of(table, prefix: str, columns: tuple[str, ...]):
        return select(*[bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in columns]).select_from(updated)

    logged = insert(ACCESS).from_select(list(access_columns), values_of(ACCESS, "a_", access_columns)).cte("logged")
    return Prepared(insert(EVENTS).from_select(list(event_columns), values_of(EVENTS, "e_", event_columns))
                    .add_cte(updated).add_cte(logged))


def log_access(conn: Connection, *, actor: str, case_id: int | None, action: str, role: str | None = None,
               organisation: str | None = None, detail: str | None = None, also: tuple[str, ...] = (),
               at: datetime | None = None) -> None:
    """One row of the access log (at `at`, by default now); `also`: more actions of the same
    moment, in the same statement (so that it may run as a transaction of its own:
    transaction(single=True))."""
    row = {"at": at or utcnow(), "actor": actor, "role": role, "organisation": organisation, "case_id": case_id,
           "action": action, "detail": detail}
    if not also:
        _INSERT_ACCESS.rowcount(conn, row)
    elif conn.dialect.name == "postgresql":
        _insert_rows(conn, row, [case_id] * (1 + len(also)), [action, *also])
    else:
        conn.execute(_INSERT_ACCESSES_RETURNING, [row] + [{**row, "action": name} for name in also]).all()


def log_accesses(conn: Connection, *, actor: str, role: str | None, organisation: str | None, case_ids: list[int],
                 action: str, detail: str | None = None) -> None:
    """One access-log row per case of `case_ids`, the same moment, in one statement."""
    at = utcnow()
    if conn.dialect.name == "postgresql":
        _insert_rows(conn, {"at": at, "actor": actor, "role": role, "organisation": organisation, "detail": detail},
                     list(case_ids), [action] * len(case_ids))
        return
    conn.execute(_INSERT_ACCESSES, [{"at": at, "actor": actor, "role": role, "organisation": organisation,
                                   "case_id": case_id, "action": action, "detail": detail} for case_id in case_ids])


def _insert_rows(conn: Connection, common: dict, case_ids: list, actions: list[str]) -> None:
    """PostgreSQL: access-log rows alike but for their case ids and actions, in one statement."""
    _INSERT_ACCESSES_UNNEST.rowcount(conn, {**{name: common[name] for name in _ACCESS_COLUMNS},
                                            "case_ids": case_ids, "actions": actions})


__all__ = ["Case", "append", "link", "check_version", "event_time", "load_case", "log_access", "log_accesses"]
