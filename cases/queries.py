"""Reading cases and histories, as JSON-able documents with Swedish or English labels.

Reading a case's personal data is logged (who, when, which case) in the same transaction.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from functools import cache

from sqlalchemy import Date, bindparam, func, literal_column, select
from sqlalchemy.engine import Engine

from etablera.access.principal import OUTSIDE, Principal
from etablera.models import Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.prepared import Prepared
from etablera.models.timestamps import UTCDateTime, show
from etablera.cases import filters
from etablera.cases.audit import CASES, EVENTS
from etablera.cases.corrections import EVENT_REASONS, corrections_pending, with_corrections
from etablera.cases.journal import load_case, log_access
from etablera.cases.notes import journal_pending, with_journal
from etablera.cases.sealing import is_sealed
from etablera.statemachine.process import MEASURE_REASONS, REASONED, STATE, module_of, state_label, trigger_label
from etablera.cases.tracks import track_pending, track_status
from etablera.statemachine.errors import NotFound
from etablera.statemachine.person import DETAILS

MEASURES = Measure
MAX_LIST = 100_000         # cases in one list_cases answer
HISTORY_COLUMNS = ("seq", "at", "actor", "trigger", "from_state", "to_state", "municipality", "reason", "note",
                   "skipped", "data")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def measure_doc(row, config: Config, lang: str) -> dict:
    kind = config.measure_types.get(row["type"])
    state = config.measure_states.get(row["state"])
    return {"id": row["id"], "type": row["type"], "type_label": kind.label(lang) if kind else row["type"],
            "module": row["module"], "component": row["component"], "state": row["state"],
            "state_label": state(lang) if state else row["state"], "due": _day(row["due"]),
            "created_at": show(row["created_at"]), "started_at": show(row["started_at"]),
            "ended_at": show(row["ended_at"]), "reason": row["reason"], "version": row["version"]}


def case_doc(case, measures, config: Config, lang: str) -> dict:
    group = next((g for g in config.target_groups if g.code == case["target_group"]), None)
    return {
        "id": case["id"], "person": case["person"], "municipality": case["municipality"],
        **{name: case[name] for name in DETAILS},             # the person's name, language, contact
        "municipality_name": config.municipalities.get(case["municipality"]),
        "target_group": case["target_group"], "target_group_label": group.label(lang) if group else None,
        "no_upper_secondary": case["no_upper_secondary"],
        "permit_date": _day(case["permit_date"]), "reception_date": _day(case["reception_date"]),
        "state": case["state"], "state_label": state_label(case["state"], lang),
        "module": module_of(case["state"]), "state_since": show(case["state_since"]),
        "stage_started": _day(case["stage_started"]), "due": _day(case["due"]),
        "establishment_due": _day(case["establishment_due"]), "registered_late": case["registered_late"],
        "paused_from": case["paused_from"], "plan": case["plan"], "track": case["track"],
        "kommun_officer": case["kommun_officer"], "af_officer": case["af_officer"], "active": case["active"],
        "measures": [measure_doc(m, config, lang) for m in measures], "version": case["version"],
    }


# Built once, the case id a parameter, and run on the driver (models/prepared.py): the case
# page reads both on every view, and SQLAlchemy's execution of each cost 50-115 µs more of
# the web worker's CPU than the statement's own run (PostgreSQL, each read of 353 cases).
_MEASURES_OF = Prepared(select(MEASURES).where(MEASURES.c.case_id == bindparam("case_id")).order_by(MEASURES.c.id))
_EVENTS_OF = Prepared(select(*(EVENTS.c[name] for name in HISTORY_COLUMNS))
                      .where(EVENTS.c.case_id == bindparam("case_id")).order_by(EVENTS.c.seq))


# On PostgreSQL the case, its measures and its history come in one statement, the two lists
# as JSON arrays beside the case's columns: a statement is a snapshot by itself, so the
# read needs no transaction around it. Its three statements, BEGIN and COMMIT were five of
# a case page's seven round trips, each some 0.1 ms of the web worker's CPU and as much of
# the server's (the client's work falls from 0.44-0.57 to 0.14-0.17 ms, the server's from
# 0.26-0.32 to 0.13-0.17, in a loop of the raw statements). SQLite reads in process: its
# three statements cost little and stay.
def _json_list(table, names: tuple[str, ...], order):
    """The rows of `table` (columns `names`) of the case, as one JSON array in `order`."""
    from sqlalchemy.dialects.postgresql import aggregate_order_by     # loaded with the engine; not on SQLite's path
    columns = [table.c[name] for name in names]
    pairs = [part for column in columns for part in (literal_column(f"'{column.key}'"), column)]
    return (select(func.json_agg(aggregate_order_by(func.json_build_object(*pairs), order)))
            .where(table.c.case_id == CASES.c.id).scalar_subquery())


_MEASURE_COLUMNS = tuple(c.key for c in MEASURES.c)


@cache
def _view(history: bool) -> Prepared:
    """The statement: the case's columns, its measures and (if `history`) its events."""
    lists = [_json_list(MEASURES, _MEASURE_COLUMNS, MEASURES.c.id).label("measures")]
    if history:
        lists.append(_json_list(EVENTS, HISTORY_COLUMNS, EVENTS.c.seq).label("events"))
    return Prepared(select(*CASES.c, *lists).where(CASES.c.id == bindparam("case_id")))


def _from_json(table, names: tuple[str, ...]):
    """A row of `table` as `_json_list` gives it, with the values its columns' types give
    when the row is read as a row: an instant (JSON's text, any offset) in UTC, a date."""
    readers = [(name, _utc_instant if isinstance(table.c[name].type, UTCDateTime) else date.fromisoformat)
               for name in names if isinstance(table.c[name].type, (UTCDateTime, Date))]

    def read(row: dict) -> dict:
        for name, convert in readers:
            value = row[name]
            if value is not None:
                row[name] = convert(value)
        return row
    return read


def _utc_instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


_MEASURE_ROW = _from_json(MEASURES, _MEASURE_COLUMNS)
_EVENT_ROW = _from_json(EVENTS, HISTORY_COLUMNS)


def _read_rows(conn, case_id: int, history: bool) -> tuple[dict, list, list]:
    """The case row, its measures' rows and (if `history`) its events' rows."""
    if conn.dialect.name == "postgresql":
        case = _view(history).first(conn, {"case_id": case_id})
        if case is None:
            raise NotFound("no_such_case", field="id", case=case_id)
        measures = [_MEASURE_ROW(row) for row in case.pop("measures") or ()]
        events = [_EVENT_ROW(row) for row in case.pop("events", None) or ()]
        return case, measures, events
    case = load_case(conn, case_id)
    return (case, _MEASURES_OF.all(conn, {"case_id": case_id}),
            _EVENTS_OF.all(conn, {"case_id": case_id}) if history else [])


def _reads_more(case, events: list) -> bool:
    """Whether the documents of these rows read more of the database (whether the track
    still holds; the notes, documents and corrections of the history)."""
    return bool(track_pending(case) or journal_pending(events) or corrections_pending(events))


def read_case(conn, case, measures: list, event_rows: list, config: Config, lang: str, *,
              history: bool = False) -> tuple[dict, list[dict]]:
    """The document of a case row read in `conn` with its measures' rows (and whether its
    track still holds where it now is), and its history's from `event_rows` if asked for."""
    doc = {**case_doc(case, measures, config, lang), **track_status(conn, case, lang)}
    return doc, _events(conn, case["id"], event_rows, config, lang) if history else []


def view_case(engine: Engine, who: Principal, case_id: int, *, lang: str = "sv", history: bool = False,
              only_history: bool = False, config: Config | None = None) -> tuple[dict, list[dict]]:
    """The case (and its history) for `who` to look at: checked and read in one snapshot,
    so what is shown is what was checked, and the view logged before it is returned. A
    case outside their municipalities is NotFound, like a missing one, and the attempt is
    logged.

    On PostgreSQL the rows are one statement (`_view`), outside a transaction; a case whose
    documents read more (a track's standing, notes, corrections) is read again inside one,
    with the rest, in one snapshot. The log row has a write transaction of its own, after
    the reads: on SQLite a write transaction holds the one writers' lock of the database
    for every process, and the reads and the documents built from them took most of its time."""
    config = config or get_config()
    actions = ("history",) if only_history else ("show", "history") if history else ("show",)
    want = history or only_history
    one_statement = engine.dialect.name == "postgresql"
    with transaction(engine, write=False, single=one_statement) as conn:
        visible, found = _shown(conn, who, case_id, want, config, lang, alone=one_statement)
    if visible and found is None:       # read again with what its documents read, in one snapshot
        with transaction(engine, write=False) as conn:
            visible, found = _shown(conn, who, case_id, want, config, lang, alone=False)
    logged = actions if visible else (f"denied:{actions[0]}",)
    with transaction(engine, single=True) as conn:
        log_access(conn, actor=who.id, case_id=case_id, action=logged[0], also=logged[1:], role=who.role,
                   organisation=who.organisation, detail=None if visible else OUTSIDE)
    if not visible:
        raise NotFound("no_such_case", field="id", case=case_id)
    return found


def _shown(conn, who: Principal, case_id: int, history: bool, config: Config, lang: str, *,
           alone: bool) -> tuple[bool, tuple[dict, list[dict]] | None]:
    """Whether `who` sees the case, and its document and history as `read_case` makes them;
    `alone`: `conn` is outside a transaction, so a case whose documents read more gives
    None (`_reads_more`: those reads must see the snapshot of its rows)."""
    case, measures, rows = _read_rows(conn, case_id, history)
    if not who.sees(case["municipality"]):
        return False, None
    if alone and _reads_more(case, rows):
        return True, None
    return True, read_case(conn, case, measures, rows, config, lang, history=history)


def show_case(engine: Engine, who: Principal, case_id: int, *, lang: str = "sv", config: Config | None = None) -> dict:
    """A case with the person and its measures, for `who` (the view is access-logged)."""
    return view_case(engine, who, case_id, lang=lang, config=config)[0]


def event_doc(row, config: Config, lang: str) -> dict:
    doc = {k: row[k] for k in HISTORY_COLUMNS}
    if is_sealed(doc["note"]):            # erased by gallring (cases/retention.py): nothing left to show
        doc["note"] = None
    doc["at"] = show(row["at"])
    doc["trigger_label"] = trigger_label(row["trigger"], lang)
    doc["to_state_label"] = state_label(row["to_state"], lang)
    doc["from_state_label"] = state_label(row["from_state"], lang) if row["from_state"] else None
    doc["reason_label"] = reason_label(config, row["trigger"], row["reason"], lang)
    return doc


def reason_label(config: Config, trigger: str, reason: str | None, lang: str) -> str | None:
    if not reason:
        return None
    category = MEASURE_REASONS.get(trigger) or REASONED.get(trigger) or EVENT_REASONS.get(trigger, "skip")
    label = config.reasons.get(category, {}).get(reason)
    return label(lang) if label else reason


def _events(conn, case_id: int, rows: list, config: Config, lang: str) -> list[dict]:
    docs = with_journal(conn, case_id, [event_doc(r, config, lang) for r in rows])    # notes, documents
    return with_corrections(conn, case_id, docs, lang)       # a corrected step and its correction marked


def history(engine: Engine, who: Principal, case_id: int, *, lang: str = "sv",
            config: Config | None = None) -> list[dict]:
    """The case's audit trail, for `who` (the view is access-logged)."""
    return view_case(engine, who, case_id, lang=lang, only_history=True, config=config)[1]


def list_cases(engine: Engine, *, municipality: str | None = None, state: str | None = None,
               limit: int = 1000, lang: str = "sv") -> list[dict]:
    """Cases without personal data (no identity numbers), newest first. `state`: a state or
    a module (module2); a filter that matches nothing by its spelling is refused."""
    municipality, state = filters.municipality(municipality), filters.state(state)
    limit = filters.limit(limit, maximum=MAX_LIST)
    query = select(CASES.c.id, CASES.c.municipality, CASES.c.target_group, CASES.c.state, CASES.c.state_since,
                   CASES.c.due, CASES.c.track, CASES.c.version).order_by(CASES.c.id.desc()).limit(limit)
    if municipality:
        query = query.where(CASES.c.municipality == municipality)
    if state:
        if state in STATE:
            query = query.where(CASES.c.state == state)
        else:
            query = query.where(CASES.c.state.like(f"{state}.%"))
    with transaction(engine, write=False) as conn:
        rows = conn.execute(query).mappings().all()
    return [{"id": r["id"], "municipality": r["municipality"], "target_group": r["target_group"],
             "state": r["state"], "state_label": state_label(r["state"], lang), "state_since": show(r["state_since"]),
             "due": _day(r["due"]), "track": r["track"], "version": r["version"]} for r in rows]
