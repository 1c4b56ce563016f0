"""A case registered when its establishment time was already over (item 8 of the casework
issue): registering it is allowed, the case is marked (`cases.registered_late`, set by
statemachine/decide.new_case), the answer carries a warning, and the next deadline check
records the step of the establishment ladder its due date has reached
(reminders/deadlines.py), however long ago that was.

`register` keeps returning the new case's id: the interfaces ask for the warnings of the
case they registered here, from the case document they read anyway (the CLI, the case
page) or with `registration_warnings_of` (the API, which reads nothing else).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from etablera.access.principal import Principal
from etablera.access.scope import check_case
from etablera.cases.audit import CASES
from etablera.models.database import transaction
from etablera.statemachine.errors import NotFound
from etablera.statemachine.messages import render

LATE = "registered_late"


def registration_warnings(case, lang: str = "sv") -> list[dict]:
    """The warnings of a registration, as [{code, message}] (a case row or document)."""
    if not case[LATE]:
        return []
    return [{"code": LATE, "message": render(LATE, {"due": case["establishment_due"]}, lang)}]


def registration_warnings_of(engine: Engine, who: Principal, case_id: int, lang: str = "sv") -> list[dict]:
    """The warnings of the case `who` has just registered. Reads a flag and a date, no
    personal data, so the read is not in the access log (the registration is)."""
    with transaction(engine, write=False) as conn:
        case = conn.execute(select(CASES.c.id, CASES.c.municipality, CASES.c.registered_late,
                                   CASES.c.establishment_due).where(CASES.c.id == case_id)).mappings().first()
        if case is None:
            raise NotFound("no_such_case", field="id", case=case_id)
        check_case(who, case, change=False)
    return registration_warnings(case, lang)


__all__ = ["LATE", "registration_warnings", "registration_warnings_of"]
