"""Legal holds (gallringsstopp, bevarande): a case under a hold is not erased by gallring
(cases/retention.py) until the hold is released, e.g. while a complaint, an appeal, a
request for the documents or a supervisory matter concerns it.

Placing and releasing are casework events on the case's audit chain (`legal_hold`,
`release_legal_hold`: the state is unchanged), the reason required and kept as the
event's note (a justification: itself erased with the case's justifications once the
hold is released and the period has passed). Coordinators and admins may do either, for
a case in their scope, ended or not.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from etablera.access.principal import Principal
from etablera.access.scope import check_case, refusals_logged, write_access
from etablera.cases.journal import append, event_time, load_case
from etablera.models.database import transaction
from etablera.models.retention import LegalHold
from etablera.models.timestamps import show
from etablera.statemachine.errors import BadInput, Forbidden, NotPermitted
from etablera.statemachine.fields import check_text
from etablera.statemachine.process import CASEWORK

HOLDS = LegalHold
MAX_REASON = 2_000
ROLES = ("coordinator", "admin")


def _reason(reason) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise BadInput("hold_reason_missing", field="reason")
    if len(reason) > MAX_REASON:
        raise BadInput("text_too_long", field="reason", max=MAX_REASON)
    check_text(reason, "reason")
    return reason.strip()


def _event(case, trigger: str, at: datetime, actor: str, reason: str) -> dict:
    return {"at": at, "actor": actor, "trigger": trigger, "from_state": case["state"], "to_state": case["state"],
            "municipality": case["municipality"], "reason": None, "note": reason, "skipped": [], "data": {}}


def _check_role(who: Principal) -> None:
    if who.role not in ROLES:
        exc = Forbidden("hold_role", field="role")
        exc.denied = f"role {who.role} may not place or release a legal hold"
        raise exc


def place(engine: Engine, who: Principal, case_id: int, reason: str, *, at: datetime | None = None) -> dict:
    """`who` places a legal hold on the case, saying why. Returns the hold."""
    with refusals_logged(engine, who, case_id, CASEWORK.legal_hold):
        reason = _reason(reason)
        with transaction(engine) as conn:
            case = load_case(conn, case_id)
            check_case(who, case, change=True)
            _check_role(who)
            if conn.execute(select(HOLDS.c.case_id).where(HOLDS.c.case_id == case_id)).first() is not None:
                raise NotPermitted("hold_exists", field="id", case=case_id)
            at = event_time(at, case["last_event_at"])
            stored = append(conn, case, {}, _event(case, CASEWORK.legal_hold, at, who.id, reason))
            conn.execute(insert(HOLDS).values(case_id=case_id, seq=stored["seq"], since=at, placed_by=who.id))
            write_access(conn, who, case_id, CASEWORK.legal_hold)
    return {"case": case_id, "held": True, "since": show(at), "by": who.id, "seq": stored["seq"]}


def release(engine: Engine, who: Principal, case_id: int, reason: str, *, at: datetime | None = None) -> dict:
    """`who` releases the case's legal hold, saying why."""
    with refusals_logged(engine, who, case_id, CASEWORK.release_legal_hold):
        reason = _reason(reason)
        with transaction(engine) as conn:
            case = load_case(conn, case_id)
            check_case(who, case, change=True)
            _check_role(who)
            if conn.execute(delete(HOLDS).where(HOLDS.c.case_id == case_id)).rowcount != 1:
                raise NotPermitted("hold_missing", field="id", case=case_id)
            at = event_time(at, case["last_event_at"])
            stored = append(conn, case, {}, _event(case, CASEWORK.release_legal_hold, at, who.id, reason))
            write_access(conn, who, case_id, CASEWORK.release_legal_hold)
    return {"case": case_id, "held": False, "released": show(at), "by": who.id, "seq": stored["seq"]}
