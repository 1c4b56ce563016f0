"""Reading cases and histories, as JSON-able documents with Swedish or English labels.

Reading a case's personal data is logged (who, when, which case) in the same transaction.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine

from etablera.access.principal import OUTSIDE, Principal
from etablera.models import Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.prepared import Prepared
from etablera.models.timestamps import show
from etablera.cases import filters
from etablera.cases.audit import CASES, EVENTS
from etablera.cases.corrections import EVENT_REASONS, with_corrections
from etablera.cases.journal import load_case, log_access
from etablera.cases.notes import with_journal
from etablera.cases.sealing import is_sealed
from etablera.statemachine.process import MEASURE_REASONS, REASONED, STATE, module_of, state_label, trigger_label
from etablera.cases.tracks import track_status
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


def read_case(conn, case, config: Config, lang: str, *, history: bool = False) -> tuple[dict, list[dict]]:
    """The document of a case row read in `conn` (with its measures and whether its track
    still holds where it now is), and its history if asked for."""
    measures = _MEASURES_OF.all(conn, {"case_id": case["id"]})
    doc = {**case_doc(case, measures, config, lang), **track_status(conn, case, lang)}
    return doc, _events(conn, case["id"], config, lang) if history else []


def view_case(engine: Engine, who: Principal, case_id: int, *, lang: str = "sv", history: bool = False,
              only_history: bool = False, config: Config | None = None) -> tuple[dict, list[dict]]:
    """The case (and its history) for `who` to look at: checked and read in one snapshot,
    so what is shown is what was checked, and the view logged before it is returned. A
    case outside their municipalities is NotFound, like a missing one, and the attempt is
    logged.

    The log row has a write transaction of its own, after the reads: on SQLite a write
    transaction holds the one writers' lock of the database for every process, and the
    reads and the documents built from them took most of its time."""
    config = config or get_config()
    actions = ("history",) if only_history else ("show", "history") if history else ("show",)
    with transaction(engine, write=False) as conn:
        case = load_case(conn, case_id)
        visible = who.sees(case["municipality"])
        if visible:
            doc, events = read_case(conn, case, config, lang, history=history or only_history)
    logged = actions if visible else (f"denied:{actions[0]}",)
    with transaction(engine, single=True) as conn:
        log_access(conn, actor=who.id, case_id=case_id, action=logged[0], also=logged[1:], role=who.role,
                   organisation=who.organisation, detail=None if visible else OUTSIDE)
    if not visible:
        raise NotFound("no_such_case", field="id", case=case_id)
    return doc, events


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


def _events(conn, case_id: int, config: Config, lang: str) -> list[dict]:
    rows = _EVENTS_OF.all(conn, {"case_id": case_id})      # one fetch, not one per row
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
