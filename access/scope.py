"""Who may see and change which cases (behörighet), and the access log of every attempt.

A `Principal` is a logged-in user (or an API token's user) with the municipalities they
may work in: a municipal officer or coordinator their municipality; an AF officer the
municipalities of their AF office (config/af_offices.toml); an auditor everything (or
their municipality), read-only; an admin everything. Every interface asks here before it
calls a use case, and every view of a case's personal data, every change and every
refused attempt lands in the append-only access log (who, role, organisation, when,
which case, what).

A case outside the principal's municipalities is answered exactly like a case that does
not exist (404, the same message): its existence is itself personal data.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine

from etablera.models import Measure
from etablera.models.database import transaction
from etablera.models.timestamps import utcnow
from etablera.access.accounts import role_words
from etablera.cases.audit import CASES
from etablera.statemachine.errors import EtableraError, Forbidden, NotFound
from etablera.statemachine.messages import Code, Words
from etablera.statemachine.process import REGISTER
from etablera.cases.journal import log_access, log_accesses
from etablera.access.principal import (AUDITING_ROLES, CHANGING_ROLES, OUTSIDE, Principal,  # noqa: F401 (re-exported)
                                      empty_scope_refusal, principal_for)

MEASURES = Measure


def log(engine: Engine, who: Principal, case_id: int | None, action: str, detail: str | None = None) -> None:
    """One access-log row in a transaction of its own (a view or change the use case did
    not log itself, a refusal, a search)."""
    with transaction(engine) as conn:
        log_access(conn, actor=who.id, case_id=case_id, action=action[:40], role=who.role,
                   organisation=who.organisation, detail=detail)


class Attempt:
    """What a use case is attempting, for the access log: the case becomes known once a
    measure is read (`attempt.case_id = ...`). The context manager `refusals_logged` gives."""
    __slots__ = ("case_id", "action", "_engine", "_who")

    def __init__(self, case_id: int | None, action: str, engine: Engine, who: Principal):
        self.case_id, self.action, self._engine, self._who = case_id, action, engine, who

    def __enter__(self) -> "Attempt":
        return self

    def __exit__(self, kind, exc, _traceback) -> bool:
        if kind is not None and issubclass(kind, EtableraError):
            action, who = self.action, self._who
            denied = getattr(exc, "denied", None)
            if denied is not None:
                log(self._engine, who, self.case_id, f"denied:{action}", denied)
            elif exc.code not in ("no_such_case", "no_such_measure"):     # nothing there to log against
                log(self._engine, who, self.case_id, action,
                    getattr(exc, "logged", None) or f"refused ({type(exc).__name__}, {exc.http_status})")
        return False


def refusals_logged(engine: Engine, who: Principal, case_id: int | None, action: str) -> Attempt:
    """Around a use case's transaction: a refusal, whose transaction rolled back with
    everything it wrote, is logged in a transaction of its own (a refusal of scope as
    `denied:<action>`, saying why; any other as `<action>`, refused, or with the words the
    use case gave the exception as `logged`: what was attempted). A class, not a
    generator: every use case opens one."""
    return Attempt(case_id, action, engine, who)


def check_case(who: Principal, case, *, change: bool) -> None:
    """Inside a use case's transaction: `who` may see (and, with `change`, change) the case
    just read. A case outside their municipalities is NotFound, exactly like a missing one."""
    if not who.sees(case["municipality"]):
        exc = NotFound("no_such_case", field="id", case=case["id"])
        exc.denied = OUTSIDE
        raise exc
    if change and not who.can_change:
        exc = Forbidden("role_read_only", field="role", role=role_words(who.role))
        exc.denied = f"role {who.role} may not change cases"
        raise exc


def check_municipality(who: Principal, municipality: str) -> None:
    """For a new case: `who` may change cases in `municipality`."""
    if not who.can_change:
        exc = Forbidden("role_read_only", field="role", role=role_words(who.role))
        exc.denied = f"role {who.role} may not change cases"
        raise exc
    if not who.sees(municipality):
        exc = Forbidden("outside_municipalities", field="municipality", municipalities=[Code(municipality)],
                        yours=[Code(m) for m in who.municipalities or ()])
        exc.denied = f"municipality {municipality} is outside the user's"
        raise exc


def write_access(conn, who: Principal, case_id: int | None, action: str) -> None:
    """The access-log row of what `who` did, in the use case's own transaction: the change
    and the record of who made it commit together or not at all."""
    log_access(conn, **access_row(who, case_id, action))


def access_row(who: Principal, case_id: int | None, action: str) -> dict:
    """The access-log row of what `who` did now (for journal.append, which writes it with
    the change and its event)."""
    return {"at": utcnow(), "actor": who.id, "role": who.role, "organisation": who.organisation,
            "case_id": case_id, "action": action[:40], "detail": "done"}


def shown(conn, who: Principal, case_ids, action: str, detail: str | None = None) -> None:
    """One access-log row per case whose personal data `who` was shown (a list, a search,
    an export), in the read's own transaction: no view of a name goes unrecorded."""
    case_ids = list(case_ids)
    if case_ids:
        log_accesses(conn, actor=who.id, role=who.role, organisation=who.organisation, case_ids=case_ids,
                     action=action[:40], detail=detail)


def case_municipality(engine: Engine, case_id: int) -> str | None:
    with transaction(engine, write=False, single=True) as conn:
        return conn.execute(select(CASES.c.municipality).where(CASES.c.id == case_id)).scalar()


def require_case(engine: Engine, who: Principal, case_id: int, action: str, *, change: bool = False) -> str:
    """The case's municipality if `who` may `action` it; otherwise NotFound (no such case,
    or outside their municipalities) or Forbidden (their role may not change cases). A
    refusal of an existing case is logged."""
    municipality = case_municipality(engine, case_id)
    if municipality is None:
        raise NotFound("no_such_case", field="id", case=case_id)
    if not who.sees(municipality):
        log(engine, who, case_id, f"denied:{action}", OUTSIDE)
        raise NotFound("no_such_case", field="id", case=case_id)
    if change and not who.can_change:
        log(engine, who, case_id, f"denied:{action}", f"role {who.role} may not change cases")
        raise Forbidden("role_read_only", field="role", role=role_words(who.role))
    return municipality


def require_measure(engine: Engine, who: Principal, measure_id: int, action: str) -> int:
    """The case id of a measure `who` may change (as `require_case`)."""
    with transaction(engine, write=False) as conn:
        case_id = conn.execute(select(MEASURES.c.case_id).where(MEASURES.c.id == measure_id)).scalar()
    if case_id is None:
        raise NotFound("no_such_measure", field="measure", measure=measure_id)
    try:
        require_case(engine, who, case_id, action, change=True)
    except NotFound:
        raise NotFound("no_such_measure", field="measure", measure=measure_id) from None
    return case_id


# What a role may be refused, by the action's name, inside a sentence.
ACTION_WORDS = {
    REGISTER.name: Words("skriva in ärenden", "register cases"),
    "skips": Words("läsa granskningen av överhoppningar", "read the skip audit"),
    "access_log": Words("läsa åtkomstloggen", "read the access log"),
    "access_extract": Words("ta fram en persons registerutdrag", "produce a person's log extract"),
}


def require_role(engine: Engine, who: Principal, allowed: bool, action: str, what: str | None = None) -> None:
    """Refuse (Forbidden) unless `allowed`; `action` names what was refused (ACTION_WORDS)."""
    if not allowed:
        log(engine, who, None, f"denied:{action}", f"role {who.role}")
        raise Forbidden("role_may_not", field="role", role=role_words(who.role),
                        what=ACTION_WORDS.get(action, Words(what or action, what or action)))


def scoped_municipalities(who: Principal, asked: list[str] | tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """The municipalities a listing covers: those asked for (each must be in scope), or all
    of the principal's. None: every municipality. Raises Forbidden for one outside, and
    for an empty scope (which must never widen to every municipality)."""
    if who.scope_empty:
        raise empty_scope_refusal(who)
    asked = tuple(dict.fromkeys(a for a in asked if a))
    outside = [a for a in asked if not who.sees(a)]
    if outside:
        raise Forbidden("outside_municipalities", field="municipality", municipalities=[Code(m) for m in outside],
                        yours=[Code(m) for m in who.municipalities or ()])
    return asked or who.municipalities
