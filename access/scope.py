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

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from etablera.models import Measure
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.cases import queries
from etablera.access.accounts import af_offices, role_words
from etablera.cases.audit import CASES
from etablera.statemachine.errors import EtableraError, Forbidden, NotFound
from etablera.statemachine.messages import Code, Words
from etablera.cases.journal import Access, load_case, log_access

MEASURES = Measure.__table__
OUTSIDE = "outside the user's municipalities"
CHANGING_ROLES = ("officer", "coordinator", "admin")
AUDITING_ROLES = ("auditor", "admin")


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    role: str
    organisation: str
    municipalities: tuple[str, ...] | None      # None: every municipality
    home: str | None = None                     # the user's own municipality, if any
    office: str | None = None
    via: str = "session"                        # session | token

    @property
    def can_change(self) -> bool:
        return self.role in CHANGING_ROLES

    @property
    def can_audit(self) -> bool:
        return self.role in AUDITING_ROLES

    @property
    def sees_skip_audit(self) -> bool:
        return self.role in AUDITING_ROLES + ("coordinator",)

    def sees(self, municipality: str | None) -> bool:
        return self.municipalities is None or municipality in self.municipalities

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role, "organisation": self.organisation,
                "municipalities": None if self.municipalities is None else list(self.municipalities),
                "municipality": self.home, "office": self.office, "can_change": self.can_change,
                "can_audit": self.can_audit}


def principal_for(user: dict, via: str = "session") -> Principal:
    """The scope of a user (a `user_doc`), from their role, organisation and office."""
    role, org, home = user["role"], user["organisation"], user["municipality"]
    if role == "admin" or (role == "auditor" and not home and not user["office"]):
        scope = None
    elif org == "af" and user["office"]:
        office = af_offices().get(user["office"])
        codes = office.municipalities if office else ()
        scope = tuple(dict.fromkeys(codes + ((home,) if home else ())))
    else:
        scope = (home,) if home else ()
    return Principal(user["id"], user["name"], role, org, scope, home, user["office"], via)


def log(engine: Engine, who: Principal, case_id: int | None, action: str, detail: str | None = None) -> None:
    """One access-log row in a transaction of its own (a view or change the use case did
    not log itself, a refusal, a search)."""
    with transaction(engine) as conn:
        log_access(conn, actor=who.id, case_id=case_id, action=action[:40], role=who.role,
                   organisation=who.organisation, detail=detail)


def logged_change(engine: Engine, who: Principal, case_id: int | None, action: str, change):
    """Run `change(access)`, a use case that writes `access` (who did what) to the access
    log in its own transaction; a refusal, whose transaction rolled back, is logged here."""
    try:
        return change(Access(who.id, who.role, who.organisation, action))
    except EtableraError as exc:
        log(engine, who, case_id, action, f"refused ({type(exc).__name__}, {exc.http_status})")
        raise


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


def view_case(engine: Engine, who: Principal, case_id: int, *, lang: str = "sv", history: bool = False,
              config: Config | None = None) -> tuple[dict, list[dict]]:
    """The case (and its history) for `who` to look at: checked and read in one snapshot,
    so what is shown is what was checked, and the view logged before it is returned. A
    case outside their municipalities is NotFound, like a missing one, and the attempt is
    logged.

    The log row has a write transaction of its own, after the reads: on SQLite a write
    transaction holds the one writers' lock of the database for every process, and the
    reads and the documents built from them took most of its time."""
    config = config or get_config()
    actions = ("show", "history") if history else ("show",)
    with transaction(engine, write=False) as conn:
        case = load_case(conn, case_id)
        visible = who.sees(case["municipality"])
        if visible:
            doc, events = queries.read_case(conn, case, config, lang, history=history)
    logged = actions if visible else (f"denied:{actions[0]}",)
    with transaction(engine, single=True) as conn:
        log_access(conn, actor=who.id, case_id=case_id, action=logged[0], also=logged[1:], role=who.role,
                   organisation=who.organisation, detail=None if visible else OUTSIDE)
    if not visible:
        raise NotFound("no_such_case", field="id", case=case_id)
    return doc, events


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


def require_municipality(engine: Engine, who: Principal, municipality: str, action: str, *,
                         change: bool = False) -> None:
    """For a new case: `who` may work in `municipality` (and change cases)."""
    if change and not who.can_change:
        log(engine, who, None, f"denied:{action}", f"role {who.role} may not change cases")
        raise Forbidden("role_read_only", field="role", role=role_words(who.role))
    if not who.sees(municipality):
        log(engine, who, None, f"denied:{action}", f"municipality {municipality} is outside the user's")
        raise Forbidden("outside_municipalities", field="municipality", municipalities=[Code(municipality)],
                        yours=[Code(m) for m in who.municipalities or ()])


# What a role may be refused, by the action's name, inside a sentence.
ACTION_WORDS = {
    "register": Words("skriva in ärenden", "register cases"),
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
    of the principal's. None: every municipality. Raises Forbidden for one outside."""
    asked = tuple(dict.fromkeys(a for a in asked if a))
    outside = [a for a in asked if not who.sees(a)]
    if outside:
        raise Forbidden("outside_municipalities", field="municipality", municipalities=[Code(m) for m in outside],
                        yours=[Code(m) for m in who.municipalities or ()])
    return asked or who.municipalities
