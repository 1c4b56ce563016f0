"""The skip audit a page at a time: who skipped which module, when and why, filtered by
module, reason, period and the municipality where the case was at the skip, sorted by a
whitelisted key with (case, event) as the tie-break, with its total. The report's
"skipped modules by reason" links here (reports/links.py).

A skip is shown only to a user whose scope holds its case NOW (where the case is, not
where it was at the skip: after a transfer the old municipality no longer reads its
justifications; auditors and admins without a municipality see all), and every case a
page shows is in the access log (action `skips`), written in the read's own transaction.
A skip whose step was later corrected (the `corrections` table) is left out, as the
report leaves it out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, exists, func, insert, select, text
from sqlalchemy.engine import Engine

from etablera.access import scope
from etablera.access.principal import Principal
from etablera.cases import filters
from etablera.cases.audit import CASES, EVENTS, events_in
from etablera.cases.queries import reason_label
from etablera.cases.sealing import shown
from etablera.models import AccessLog, Correction
from etablera.models.audit import SKIPPED_MODULE_SQL, SKIPPED_SQL
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.timestamps import show, utcnow
from etablera.statemachine.errors import BadInput, Forbidden
from etablera.statemachine.process import state_label

MAX_LIMIT = 1000
SORT_KEYS = ("at", "case", "municipality", "actor", "reason")
SORTS = SORT_KEYS + tuple(f"-{k}" for k in SORT_KEYS)
_SORT_COLUMNS = {"at": EVENTS.c.at, "case": None, "municipality": EVENTS.c.municipality, "actor": EVENTS.c.actor,
                 "reason": EVENTS.c.reason}
_COLUMNS = (EVENTS.c.case_id, EVENTS.c.seq, EVENTS.c.at, EVENTS.c.actor, EVENTS.c.trigger, EVENTS.c.from_state,
            EVENTS.c.to_state, EVENTS.c.municipality, EVENTS.c.reason, EVENTS.c.note, EVENTS.c.skipped, EVENTS.c.data)


ACTION = "skips"                 # the access-log action of a case the skip audit showed
_LOG = AccessLog
_CORRECTIONS = Correction
# A step's `skipped` holds the names of the modules it skipped ([] for none): the events that
# skipped any, and those that skipped one module, each spelled as its partial indexes have it
# (models/audit.py; SQLite needs the term itself, not a parameter).
_SKIPPED = text(SKIPPED_SQL)
_SKIPPED_MODULE = {module: text(term) for module, term in SKIPPED_MODULE_SQL.items()}
_CORRECTED = exists().where(and_(_CORRECTIONS.c.case_id == EVENTS.c.case_id,
                                 _CORRECTIONS.c.corrected_seq == EVENTS.c.seq))


def _where(query, scope_now, places, module: str | None, reason: str | None, since, until):
    """`scope_now`: the municipalities the user's scope holds (None: all), matched against
    where each case is now; `places`: the municipalities asked for, where it was at the skip."""
    # On the skipping events' indexes (ix_audit_skips*), or on the module's own. The module's
    # term alone: beside the other, PostgreSQL took both for independent and expected a
    # thirtieth of the rows, and planned a view as for a few (a heap read of all of them).
    query = query.where(_SKIPPED_MODULE[module] if module else _SKIPPED, ~_CORRECTED)
    if scope_now is not None:
        query = query.where(EVENTS.c.case_id.in_(
            select(CASES.c.id).where(CASES.c.municipality.in_(bindparam("now", list(scope_now), expanding=True)))))
    if places:
        query = query.where(EVENTS.c.municipality.in_(bindparam("places", list(places), expanding=True)))
    if reason:
        query = query.where(EVENTS.c.reason == reason)
    return events_in(query, None, since, until)


def skip_page(engine: Engine, who: Principal, *, municipality: str | None = None, module: str | None = None,
              reason: str | None = None, since: datetime | None = None, until: datetime | None = None,
              sort: str = "at", limit: int = 100, offset: int = 0, lang: str = "sv",
              config: Config | None = None) -> dict:
    """One page of the skip audit and its total. A municipality outside the principal's
    is refused (403) and logged."""
    config = config or get_config()
    municipality = filters.municipality(municipality, config=config)
    module = filters.one_of(module, filters.SKIPPABLE_MODULES, field="module")
    reason = filters.one_of(reason, tuple(config.reasons.get("skip", {})), field="reason")
    sort = filters.one_of(sort, SORTS, field="sort") or "at"
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput("limit_range", field="limit", max=MAX_LIMIT)
    if offset < 0:
        raise BadInput("offset_negative", field="offset")
    try:
        scope.scoped_municipalities(who, [municipality] if municipality else [])     # in scope, never empty
    except Forbidden:
        scope.log(engine, who, None, "denied:skips", f"municipality {municipality} outside the user's")
        raise
    key, descending = sort.lstrip("-"), sort.startswith("-")
    column = _SORT_COLUMNS[key]
    order = [] if column is None else [column.desc() if descending else column.asc()]
    ties = [EVENTS.c.case_id.desc(), EVENTS.c.seq.desc()] if descending and key == "case" \
        else [EVENTS.c.case_id, EVENTS.c.seq]
    scope_now, places = who.municipalities, [municipality] if municipality else []
    # The page's events are found by their keys first, from an index alone where one holds
    # every column the filters and the order read (ix_audit_skips*), and only they are read
    # from the table: sorted by one of the other columns, every event of a module was read
    # whole to be sorted.
    keys = [EVENTS.c.case_id, EVENTS.c.seq, *([] if column is None else [column])]
    page = (_where(select(*keys), scope_now, places, module, reason, since, until).order_by(*order, *ties)
            .limit(limit + 1).offset(offset).subquery("page"))
    query = (select(*_COLUMNS).join_from(EVENTS, page, and_(EVENTS.c.case_id == page.c.case_id,
                                                            EVENTS.c.seq == page.c.seq))
             .order_by(*order, *ties))
    counted = _where(select(func.count()).select_from(EVENTS), scope_now, places, module, reason, since, until)
    with transaction(engine) as conn:
        rows = conn.execute(query).mappings().all()
        total = conn.execute(counted).scalar_one()
        _log_shown(conn, who, rows[:limit])
    more = len(rows) > limit
    return {"total": total, "limit": limit, "offset": offset, "sort": sort,
            "next_offset": offset + limit if more else None,
            "prev_offset": max(offset - limit, 0) if offset > 0 else None,
            "items": [_doc(r, config, lang) for r in rows[:limit]]}


def _log_shown(conn, who: Principal, rows) -> None:
    """One access-log row per case the page shows (its justifications are personal data)."""
    at = utcnow()
    cases = list(dict.fromkeys(r["case_id"] for r in rows))
    if cases:
        conn.execute(insert(_LOG), [{"at": at, "actor": who.id, "role": who.role, "organisation": who.organisation,
                                     "case_id": case_id, "action": ACTION, "detail": "shown in the skip audit"}
                                    for case_id in cases])


def _doc(r, config: Config, lang: str) -> dict:
    return {"case_id": r["case_id"], "seq": r["seq"], "at": show(r["at"]), "actor": r["actor"],
            "trigger": r["trigger"], "from_state": r["from_state"], "to_state": r["to_state"],
            "to_state_label": state_label(r["to_state"], lang), "municipality": r["municipality"],
            "skipped": r["skipped"], "reason": r["reason"],
            "reason_label": reason_label(config, "skip", r["reason"], lang), "justification": shown(r["note"]),
            "decision": r["data"].get("decision"), "participants": r["data"].get("participants")}


__all__ = ["ACTION", "MAX_LIMIT", "SORTS", "skip_page"]
