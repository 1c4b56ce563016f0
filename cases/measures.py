"""The use cases on measures (insatser): add one, start, complete or cancel it.

What a change does is decided by the pure functions of statemachine/measures.py (the
lifecycle is declared in the process table); here each use case is one transaction that
writes the measure row and its event on the case's audit chain together.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from etablera.access.principal import Principal
from etablera.access.scope import access_row, check_case, refusals_logged
from etablera.cases.journal import append, event_time, load_case
from etablera.models import Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.statemachine.errors import ConcurrentChange, NotFound
from etablera.statemachine.measures import added_event, changed_event, moved_measure, new_measure
from etablera.statemachine.fields import check_text

MEASURES = Measure


def add_measure(engine: Engine, who: Principal, case_id: int, measure_type: str, *, due: date | None = None,
                at: datetime | None = None, config: Config | None = None) -> int:
    """`who` adds a measure to a case in module 2 or 3; its due date comes from the type's
    typical duration unless given. Returns the measure id."""
    config = config or get_config()
    with refusals_logged(engine, who, case_id, "add_measure"):
        with transaction(engine) as conn:
            case = load_case(conn, case_id)
            check_case(who, case, change=True)
            at = event_time(at, case["last_event_at"])
            row = new_measure(case, measure_type, at, due, config)
            measure_id = conn.execute(insert(MEASURES).values(**row)).inserted_primary_key[0]
            append(conn, case, {}, added_event(case, measure_id, row, at, who.id),
                   access=access_row(who, case_id, f"add_measure:{measure_type}"))
            return measure_id


def change_measure(engine: Engine, who: Principal, measure_id: int, action: str, *, reason: str | None = None,
                   note: str | None = None, at: datetime | None = None, config: Config | None = None) -> dict:
    """`who` starts, completes or cancels a measure. Returns the measure's id, its case and
    its new state."""
    config = config or get_config()
    check_text(reason or "", "reason")
    check_text(note or "", "note")
    with refusals_logged(engine, who, None, f"{action}_measure"[:40]) as attempt:
        with transaction(engine) as conn:
            measure = conn.execute(select(MEASURES).where(MEASURES.c.id == measure_id)).mappings().first()
            if measure is None:
                raise NotFound("no_such_measure", field="measure", measure=measure_id)
            attempt.case_id = measure["case_id"]
            case = load_case(conn, measure["case_id"])
            try:
                check_case(who, case, change=True)
            except NotFound as exc:       # a measure of a case they may not see does not exist for them
                hidden = NotFound("no_such_measure", field="measure", measure=measure_id)
                hidden.denied = exc.denied
                raise hidden from None
            at = event_time(at, case["last_event_at"])
            values = moved_measure(measure, action, at, reason, config)
            result = conn.execute(update(MEASURES).where(MEASURES.c.id == measure_id,
                                                         MEASURES.c.version == measure["version"]).values(**values))
            if result.rowcount != 1:
                raise ConcurrentChange("measure_changed", measure=measure_id)
            append(conn, case, {}, changed_event(case, measure, values, action, at, who.id, reason, note),
                   access=access_row(who, case["id"], f"{action}_measure:{measure_id}"))
            return {"id": measure_id, "case": case["id"], "state": values["state"]}
