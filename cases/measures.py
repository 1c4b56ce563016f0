"""The use cases on measures (insatser): add one, start, complete or cancel it.

What a change does is decided by the pure functions of statemachine/measures.py (the
lifecycle is declared in the process table); here each use case is one transaction that
writes the measure row and its event on the case's audit chain together.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from etablera.cases.journal import Access, append, event_time, load_case
from etablera.models import Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.statemachine.errors import ConcurrentChange, NotFound
from etablera.statemachine.measures import measure_event, moved_measure, new_measure

MEASURES = Measure.__table__


def add_measure(engine: Engine, case_id: int, measure_type: str, *, actor: str, due: date | None = None,
                at: datetime | None = None, access: Access | None = None, config: Config | None = None) -> int:
    """Add a measure to a case in module 2 or 3; its due date comes from the type's
    typical duration unless given. Returns the measure id. `access`: as service.advance."""
    config = config or get_config()
    with transaction(engine) as conn:
        case = load_case(conn, case_id)
        at = event_time(at, case["last_event_at"])
        row = new_measure(case, measure_type, at, due, config)
        measure_id = conn.execute(insert(MEASURES).values(**row)).inserted_primary_key[0]
        append(conn, case, {}, measure_event(case, "add_measure", at, actor, {
            "measure": measure_id, "type": measure_type, "to": "planned", "due": row["due"].isoformat()}))
        if access:
            access.write(conn, case_id)
        return measure_id


def change_measure(engine: Engine, measure_id: int, action: str, *, actor: str, reason: str | None = None,
                   note: str | None = None, at: datetime | None = None, access: Access | None = None,
                   config: Config | None = None) -> str:
    """start | complete | cancel a measure. Returns its new state. `access`: as service.advance."""
    config = config or get_config()
    with transaction(engine) as conn:
        measure = conn.execute(select(MEASURES).where(MEASURES.c.id == measure_id)).mappings().first()
        if measure is None:
            raise NotFound("no_such_measure", field="measure", measure=measure_id)
        case = load_case(conn, measure["case_id"])
        at = event_time(at, case["last_event_at"])
        values = moved_measure(measure, action, at, reason, config)
        result = conn.execute(update(MEASURES).where(MEASURES.c.id == measure_id,
                                                     MEASURES.c.version == measure["version"]).values(**values))
        if result.rowcount != 1:
            raise ConcurrentChange("measure_changed", measure=measure_id)
        append(conn, case, {}, measure_event(case, f"{action}_measure", at, actor, {
            "measure": measure_id, "type": measure["type"], "from": measure["state"], "to": values["state"]},
            reason=reason, note=note))
        if access:
            access.write(conn, case["id"])
        return values["state"]
