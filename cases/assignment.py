"""Responsibility (ansvar): the responsible officer of a case at the municipality and at AF,
and the use cases that change it.

An active case has at most one responsible officer per organisation: the columns
`cases.kommun_officer` and `cases.af_officer`. An officer id is valid for a column when it
is an active user with role officer or coordinator (users are also the reminders'
recipients: `etablera officer add` registers one without a password) of that column's
organisation, serving the case's municipality (a municipal user: their municipality; an
AF user: the municipalities of their AF office and their own). `check_officer` is asked at registration and at
a transfer (for the new municipality: cases/service.py) and by every use case here.

- `assign`: a coordinator (or an admin) assigns, reassigns or unassigns, on an active case
  of their municipalities;
- `take`: an officer takes an unassigned active case of their municipality for their own
  organisation ("Ta ärendet");
- `reassign_all`: a coordinator moves all of one officer's active cases in their
  municipalities to another officer, or round-robin over several; first as a preview
  (nothing written), then for real. The real run is ONE transaction for all the cases: the
  coordinator confirmed one list, so either that whole list moves or nothing does (a
  refused target or a case that changed since the preview leaves no half-moved caseload to
  untangle), and each case still gets its own audit event on its own chain.

Every change is an audit event `assign` on the case's chain (data: org, from, to) and an
access-log row, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, or_, select, true
from sqlalchemy.engine import Engine

from etablera.access.accounts import af_offices, role_words
from etablera.access.principal import Principal, principal_for
from etablera.access.scope import check_case, log, refusals_logged, write_access
from etablera.cases.audit import CASES
from etablera.cases.journal import append, check_version, event_time, load_case
from etablera.models import User
from etablera.models.database import transaction
from etablera.statemachine.errors import BadInput, ConcurrentChange, Forbidden, NotPermitted
from etablera.statemachine.fields import _OFFICER
from etablera.statemachine.messages import Code, Words
from etablera.statemachine.process import CASEWORK

USERS = User
# The case column of each organisation's responsible officer.
OFFICER_FIELDS = {"kommun_officer": "kommun", "af_officer": "af"}
FIELD_OF = {org: field for field, org in OFFICER_FIELDS.items()}
ORG_WORDS = {"kommun": Words("kommunen", "the municipality"),
             "af": Words("Arbetsförmedlingen", "Arbetsförmedlingen (AF)")}
ASSIGNING_ROLES = ("coordinator", "admin")
TAKING_ROLES = ("officer", "coordinator")
KEEP = object()         # `assign`'s default: the column stays as it is


# --------------------------------------------------------------------------- validation

def _registrations(conn: Connection, officer_id: str) -> list[tuple[str, tuple[str, ...]]]:
    """(organisation, municipalities served) of the id as an active user with role
    officer or coordinator (none: an empty list)."""
    found = []
    user = conn.execute(select(USERS.c.id, USERS.c.role, USERS.c.organisation, USERS.c.municipality,
                               USERS.c.office)
                        .where(USERS.c.id == officer_id, USERS.c.active == true(),
                               USERS.c.role.in_(TAKING_ROLES))).mappings().first()
    if user is not None:
        scope = principal_for({**user, "name": user["id"]})
        found.append((user["organisation"], scope.municipalities or ()))
    return found


def check_officer(conn: Connection, officer_id: str, org: str, municipality: str, field: str) -> None:
    """`officer_id` may be the responsible officer of organisation `org` (kommun | af) for
    a case in `municipality`; otherwise BadInput naming `field`. Inside the use case's
    transaction."""
    if not _OFFICER.match(officer_id or ""):
        raise BadInput("officer_id_format", field=field)
    found = _registrations(conn, officer_id)
    if not found:
        raise BadInput("officer_unknown", field=field)
    if any(o == org and municipality in served for o, served in found):
        return
    if not any(o == org for o, _ in found):
        raise BadInput("officer_wrong_organisation", field=field, officer=Code(officer_id),
                       actual=ORG_WORDS.get(found[0][0], Code(found[0][0])), wanted=ORG_WORDS[org])
    raise BadInput("officer_other_municipality", field=field, officer=Code(officer_id),
                   municipality=Code(municipality))


def check_officers(conn: Connection, data: dict, municipality: str) -> None:
    """Each officer given in `data` (kommun_officer, af_officer) is valid for its column
    in `municipality` (registration, a transfer's new municipality)."""
    for field, org in OFFICER_FIELDS.items():
        if data.get(field):
            check_officer(conn, data[field], org, municipality, field)


def candidates(engine: Engine, municipality: str) -> dict[str, list[str]]:
    """The ids that may be made responsible for a case in `municipality`, per column (for
    the assign form's suggestions). Only the users whose scope can hold the municipality
    are read: their own municipality is it, or they are AF officers of an office that
    covers it (a taking role is never scoped to everything); `principal_for` decides for
    each of those, as for a login. Reading and scoping every user was 3.9 ms of a
    coordinator's case page with 313 users."""
    out: dict[str, set[str]] = {field: set() for field in OFFICER_FIELDS}
    offices = af_offices()
    covering = [code for code, office in offices.items() if municipality in office.municipalities]
    with transaction(engine, write=False, single=True) as conn:      # one statement: no BEGIN, COMMIT
        for user in conn.execute(select(USERS.c.id, USERS.c.role, USERS.c.organisation, USERS.c.municipality,
                                        USERS.c.office)
                                 .where(USERS.c.active == true(), USERS.c.role.in_(TAKING_ROLES),
                                        USERS.c.organisation.in_(list(FIELD_OF)),
                                        or_(USERS.c.municipality == municipality,
                                            and_(USERS.c.organisation == "af", USERS.c.office.in_(covering)))
                                        )).mappings():
            if principal_for({**user, "name": user["id"]}, offices=offices).sees(municipality):
                out[FIELD_OF[user["organisation"]]].add(user["id"])
    return {field: sorted(ids) for field, ids in out.items()}


# --------------------------------------------------------------------------- writing

def _write(conn: Connection, who: Principal, case, targets: dict, at: datetime | None, action: str):
    """Set each column in `targets` (field -> officer id or None) that changes, one audit
    event per organisation, and the access-log row. Returns (what changed, the case row)."""
    at = event_time(at, case["last_event_at"])
    changed = []
    for field, new in targets.items():
        old = case[field]
        if old == new:
            continue
        org = OFFICER_FIELDS[field]
        append(conn, case, {field: new}, {
            "at": at, "actor": who.id, "trigger": CASEWORK.assign, "from_state": case["state"],
            "to_state": case["state"], "municipality": case["municipality"], "reason": None, "note": None,
            "skipped": [], "data": {"org": org, "from": old, "to": new}})
        case = load_case(conn, case["id"])
        changed.append({"org": org, "from": old, "to": new})
    if changed:
        write_access(conn, who, case["id"], action)
    return changed, case


def _result(case, changed: list[dict]) -> dict:
    return {"case": case["id"], "kommun_officer": case["kommun_officer"], "af_officer": case["af_officer"],
            "version": case["version"], "changed": changed}


def _refuse_role(exc: Forbidden, who: Principal) -> Forbidden:
    exc.denied = f"role {who.role} may not do this"
    return exc


def _check_active(case) -> None:
    if not case["active"]:
        raise NotPermitted("case_not_active", field="id", case=case["id"])


def assign(engine: Engine, who: Principal, case_id: int, *, kommun_officer=KEEP, af_officer=KEEP,
           expect_version: int | None = None, at: datetime | None = None) -> dict:
    """A coordinator (or an admin) makes `kommun_officer` / `af_officer` responsible for the
    case (None or "": nobody; left out: unchanged). Returns the case's officers, its
    version and what changed."""
    given = {field: value for field, value in (("kommun_officer", kommun_officer), ("af_officer", af_officer))
             if value is not KEEP}
    with refusals_logged(engine, who, case_id, "assign"):
        if not given:
            raise BadInput("assign_nothing", field="kommun_officer")
        targets = {field: (str(value).strip() or None) if value is not None else None
                   for field, value in given.items()}
        with transaction(engine) as conn:
            case = load_case(conn, case_id)
            check_case(who, case, change=True)
            if who.role not in ASSIGNING_ROLES:
                raise _refuse_role(Forbidden("assign_needs_coordinator", field="role", role=role_words(who.role)),
                                   who)
            check_version(case, expect_version)
            _check_active(case)
            for field, officer in targets.items():
                if officer:
                    check_officer(conn, officer, OFFICER_FIELDS[field], case["municipality"], field)
            changed, case = _write(conn, who, case, targets, at, "assign")
            return _result(case, changed)


def take(engine: Engine, who: Principal, case_id: int, *, expect_version: int | None = None,
         at: datetime | None = None) -> dict:
    """An officer takes an unassigned active case of their municipality for their own
    organisation ("Ta ärendet")."""
    with refusals_logged(engine, who, case_id, "take"):
        with transaction(engine) as conn:
            case = load_case(conn, case_id)
            check_case(who, case, change=True)
            if who.role not in TAKING_ROLES or who.organisation not in FIELD_OF:
                raise _refuse_role(Forbidden("take_needs_officer", field="role", role=role_words(who.role)), who)
            check_version(case, expect_version)
            _check_active(case)
            field = FIELD_OF[who.organisation]
            if case[field]:
                raise NotPermitted("case_already_assigned", field=field, case=case_id,
                                   org=ORG_WORDS[who.organisation], officer=Code(case[field]))
            check_officer(conn, who.id, who.organisation, case["municipality"], field)
            changed, case = _write(conn, who, case, {field: who.id}, at, "take")
            return _result(case, changed)


def reassign_all(engine: Engine, who: Principal, from_officer: str, to: str | list[str], *, preview: bool,
                 expect: list[int] | None = None, at: datetime | None = None) -> dict:
    """A coordinator moves every active case in their municipalities that `from_officer`
    is responsible for to `to` (one id, or several: round-robin in case order). With
    `preview` nothing is written: the answer is the list of cases and where each would
    go. `expect`: the case ids the preview showed; if the cases to move are no longer
    exactly those, nothing is written (ConcurrentChange)."""
    targets = list(dict.fromkeys(t.strip() for t in ([to] if isinstance(to, str) else to or []) if t and t.strip()))
    from_officer = (from_officer or "").strip()
    action = "reassign_preview" if preview else "reassign"
    with refusals_logged(engine, who, None, action):
        if who.role not in ASSIGNING_ROLES or not who.can_change:
            raise _refuse_role(Forbidden("assign_needs_coordinator", field="role", role=role_words(who.role)), who)
        if not _OFFICER.match(from_officer):
            raise BadInput("officer_id_format", field="from")
        if not targets:
            raise BadInput("reassign_no_target", field="to")
        if from_officer in targets:
            raise BadInput("reassign_same_officer", field="to", officer=Code(from_officer))
        with transaction(engine, write=not preview) as conn:
            plan = _plan(conn, who, from_officer, targets)
            if expect is not None and sorted(set(expect)) != sorted({item["case"] for item in plan}):
                raise ConcurrentChange("reassign_changed")
            if not preview:
                for item in plan:
                    case = load_case(conn, item["case"])
                    if case[item["field"]] != from_officer:        # changed since the plan was read
                        raise ConcurrentChange("reassign_changed")
                    _write(conn, who, case, {item["field"]: item["to"]}, at, "reassign")
    if preview:
        log(engine, who, None, action, f"{len(plan)} cases")
    return {"from": from_officer, "to": targets, "preview": preview, "count": len(plan), "cases": plan}


def _plan(conn: Connection, who: Principal, from_officer: str, targets: list[str]) -> list[dict]:
    """The active cases of `who`'s municipalities that `from_officer` is responsible for,
    in case order, each with its new officer (round-robin over `targets`), every target
    checked against the case's municipality."""
    c = CASES.c
    query = (select(c.id, c.municipality, c.kommun_officer, c.af_officer)
             .where(c.active == true(), or_(c.kommun_officer == from_officer, c.af_officer == from_officer))
             .order_by(c.id))
    if who.municipalities is not None:
        query = query.where(c.municipality.in_(who.municipalities))
    plan, checked = [], set()
    for row in conn.execute(query).mappings():
        for field, org in OFFICER_FIELDS.items():
            if row[field] != from_officer:
                continue
            target = targets[len(plan) % len(targets)]
            if (target, org, row["municipality"]) not in checked:
                check_officer(conn, target, org, row["municipality"], "to")
                checked.add((target, org, row["municipality"]))
            plan.append({"case": row["id"], "municipality": row["municipality"], "field": field, "org": org,
                         "from": from_officer, "to": target})
    return plan


__all__ = ["KEEP", "OFFICER_FIELDS", "assign", "candidates", "check_officer", "check_officers", "reassign_all",
           "take"]
