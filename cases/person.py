"""Changing the person's details on a case (name, preferred language, interpreter, phone,
e-mail): one use case, one transaction.

Each change is one audit event `update_person` on the case's chain, whose data holds, per
changed detail, its old and new value; the folded search keys of the names
(`given_key`/`family_key`, statemachine/person.py `fold`) change with the names. The
details are personal data: they go in the audit trail and the case's documents, never in a
URL, a reminder or a log line.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from etablera.access.principal import Principal
from etablera.access.scope import check_case, refusals_logged, write_access
from etablera.cases.journal import append, check_version, event_time, load_case
from etablera.models.database import transaction
from etablera.statemachine.errors import BadInput
from etablera.statemachine.person import clean_details, with_keys
from etablera.statemachine.process import CASEWORK


def update_person(engine: Engine, who: Principal, case_id: int, changes: dict, expect_version: int | None = None,
                  *, at: datetime | None = None) -> dict:
    """`who` changes the person's details in `changes` (detail -> new value; a blank text
    clears it). Returns the case id, its version after the change and the details changed
    (old and new); a change to what is already stored writes nothing."""
    with refusals_logged(engine, who, case_id, CASEWORK.update_person):
        with transaction(engine) as conn:
            case = load_case(conn, case_id)
            check_case(who, case, change=True)
            if not changes:
                raise BadInput("person_nothing_given", field="changes")
            clean = clean_details(changes)
            check_version(case, expect_version)
            changed = {name: {"old": case[name], "new": value} for name, value in clean.items()
                       if case[name] != value}
            if not changed:
                return {"case": case_id, "version": case["version"], "changed": {}}
            at = event_time(at, case["last_event_at"])
            event = {"at": at, "actor": who.id, "trigger": CASEWORK.update_person, "from_state": case["state"],
                     "to_state": case["state"], "municipality": case["municipality"], "reason": None, "note": None,
                     "skipped": [], "data": {"changes": changed}}
            append(conn, case, with_keys({name: change["new"] for name, change in changed.items()}), event)
            write_access(conn, who, case_id, CASEWORK.update_person)
            return {"case": case_id, "version": case["version"] + 1, "changed": changed}
