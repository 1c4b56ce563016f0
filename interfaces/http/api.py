"""The JSON API (/api/v1): the same use cases as the CLI, behind logins and scopes.

Every handler checks the caller's scope (statemachine/scope.py), calls one use case of
the service layer, and logs what it showed or changed in the access log. No rule of the
process is written here.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials

from etablera.interfaces.http import schemas as s
from etablera.interfaces.http.auth import api_principal, bearer, engine_of
from etablera.access import log as access_log, scope
from etablera.cases import measures, queries, service, worklist
from etablera.reminders import outbox as reminders
from etablera.statemachine.errors import BadInput
from etablera.statemachine.messages import Code
from etablera.cases.parsing import parse_at, parse_bound, parse_day
from etablera.cases.agreements import agreement_book
from etablera.statemachine.process import TRIGGER
from etablera.access.scope import Principal, require_case, require_role

ERRORS = {code: {"model": s.ErrorDoc, "description": text} for code, text in (
    (400, "bad input; `field` names the field (CLI exit code 2)"),
    (401, "not logged in: send `Authorization: Bearer <token>`"),
    (403, "not allowed for your role, or outside your municipalities"),
    (404, "no such case (or not one of yours: the answer is the same)"),
    (409, "not permitted in the case's state or refused by a rule (exit 3), or the case changed "
          "concurrently: reload (exit 4)"))}


def caller(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    return api_principal(request, credentials)


Who = Annotated[Principal, Depends(caller)]
MAX_ID = 2_147_483_647          # ids are 32-bit integers on PostgreSQL
CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="the case id")]
MeasureId = Annotated[int, Path(ge=1, le=MAX_ID, description="the measure id")]
Lang = Annotated[str, Query(pattern="^(sv|en)$", description="language of labels")]
router = APIRouter(responses=ERRORS, tags=["etablera"])


def track_choices(municipality: str, lang: str, on: date | None = None) -> dict[str, str]:
    """The open local tracks of the agreement valid in `municipality` (for the decision form)."""
    from etablera.models.timestamps import local_date, utcnow
    agreement = agreement_book().agreement_for(municipality, on or local_date(utcnow()))
    if agreement is None:
        return {}
    return {t.id: t.label(lang) for t in agreement.open_tracks}


def permitted_with_tracks(engine, case_id: CaseId, municipality: str, lang: str) -> dict:
    return with_tracks(service.permitted_events(engine, case_id, lang), municipality, lang)


def with_tracks(doc: dict, municipality: str, lang: str) -> dict:
    """The permitted events with the open tracks of `municipality` as the track field's choices."""
    for event in doc["events"]:
        for field in event["fields"]:
            if field["kind"] == "track":
                field["choices"] = track_choices(municipality, lang)
    return doc


@router.get("/me", response_model=s.Me, summary="Who you are and where you may work")
def me(who: Who):
    return who.as_dict()


@router.get("/cases", response_model=s.Worklist, summary="The worklist: running cases by due date")
def list_cases(request: Request, who: Who, lang: Lang = "sv",
               mine: Annotated[bool, Query(description="only the cases you are responsible for")] = False,
               state: Annotated[str | None, Query(max_length=40)] = None,
               municipality: Annotated[list[str], Query(max_length=10)] = [],   # noqa: B006 (FastAPI copies it)
               overdue: bool = False,
               limit: Annotated[int, Query(ge=1, le=worklist.MAX_LIMIT)] = 50,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0):
    codes = scope.scoped_municipalities(who, municipality)
    return worklist.worklist(engine_of(request), who, mine=mine, state=state or None, municipalities=codes,
                             overdue=overdue, limit=limit, offset=offset, lang=lang)


@router.post("/cases", response_model=s.Created, status_code=201, summary="Register a newcomer (new case)")
def register(request: Request, who: Who, body: s.RegisterRequest):
    engine = engine_of(request)
    scope.require_municipality(engine, who, body.municipality, "register", change=True)
    case_id = scope.logged_change(engine, who, None, "register", lambda access: service.register(
        engine, person=body.person, municipality=body.municipality, permit_date=body.permit_date,
        reception_date=body.reception_date, no_upper_secondary=body.no_upper_secondary,
        kommun_officer=body.kommun_officer, af_officer=body.af_officer, actor=who.id, note=body.note, access=access))
    return {"id": case_id}


@router.get("/cases/{case_id}", response_model=s.CaseDoc, summary="A case, with the person and its measures")
def show_case(request: Request, who: Who, case_id: CaseId, lang: Lang = "sv"):
    engine = engine_of(request)
    require_case(engine, who, case_id, "show")
    return queries.show_case(engine, case_id, actor=who.id, lang=lang, role=who.role, organisation=who.organisation)


@router.get("/cases/{case_id}/history", response_model=list[s.EventDoc], summary="The case's audit trail")
def history(request: Request, who: Who, case_id: CaseId, lang: Lang = "sv"):
    engine = engine_of(request)
    require_case(engine, who, case_id, "history")
    return queries.history(engine, case_id, actor=who.id, lang=lang, role=who.role, organisation=who.organisation)


@router.get("/cases/{case_id}/events", response_model=s.PermittedEvents,
            summary="The triggers permitted now, with the fields each needs")
def events(request: Request, who: Who, case_id: CaseId, lang: Lang = "sv"):
    engine = engine_of(request)
    municipality = require_case(engine, who, case_id, "events")
    return permitted_with_tracks(engine, case_id, municipality, lang)


@router.post("/cases/{case_id}/events", response_model=s.AdvanceResult,
             summary="Fire a trigger (needs the version you read: 409 'reload' if the case changed)")
def advance(request: Request, who: Who, case_id: CaseId, body: s.AdvanceRequest, lang: Lang = "sv"):
    engine = engine_of(request)
    require_case(engine, who, case_id, f"advance:{body.trigger}", change=True)
    if body.trigger not in TRIGGER:
        raise BadInput("unknown_trigger", field="trigger", name=Code(body.trigger),
                       choices=[Code(t) for t in TRIGGER])
    at = parse_at(body.at)
    event = scope.logged_change(engine, who, case_id, f"advance:{body.trigger}",
                                lambda access: service.advance(engine, case_id, body.trigger, dict(body.data),
                                                               actor=who.id, at=at, expect_version=body.expect_version,
                                                               access=access))
    from etablera.models.configuration import get_config
    return {"case": case_id, "version": body.expect_version + 1,
            "event": queries.event_doc(event, get_config(), lang)}


@router.post("/cases/{case_id}/measures", response_model=s.MeasureResult, status_code=201,
             summary="Add a measure (insats) to a case in module 2 or 3")
def add_measure(request: Request, who: Who, case_id: CaseId, body: s.MeasureRequest):
    engine = engine_of(request)
    require_case(engine, who, case_id, "add_measure", change=True)
    due = parse_day(body.due, "due")
    measure_id = scope.logged_change(engine, who, case_id, f"add_measure:{body.type}",
                                     lambda access: measures.add_measure(engine, case_id, body.type, actor=who.id,
                                                                         due=due, access=access))
    return {"id": measure_id, "case": case_id, "state": "planned"}


@router.post("/measures/{measure_id}", response_model=s.MeasureResult,
             summary="Start, complete or cancel a measure")
def change_measure(request: Request, who: Who, measure_id: MeasureId, body: s.MeasureAction):
    engine = engine_of(request)
    case_id = scope.require_measure(engine, who, measure_id, f"{body.action}_measure"[:40])
    state = scope.logged_change(engine, who, case_id, f"{body.action}_measure:{measure_id}",
                                lambda access: measures.change_measure(engine, measure_id, body.action, actor=who.id,
                                                                       reason=body.reason or None, note=body.note,
                                                                       access=access))
    return {"id": measure_id, "case": case_id, "state": state}


@router.get("/cases/{case_id}/reminders", response_model=list[s.ReminderDoc], summary="A case's reminders")
def case_reminders(request: Request, who: Who, case_id: CaseId, lang: Lang = "sv"):
    engine = engine_of(request)
    require_case(engine, who, case_id, "reminders")
    return reminders.list_reminders(engine, case_id=case_id, lang=lang)


@router.get("/reminders", response_model=list[s.ReminderDoc],
            summary="Reminders in your municipalities, newest first")
def all_reminders(request: Request, who: Who, lang: Lang = "sv",
                  status: Annotated[str | None, Query(pattern="^(pending|sent|failed|dead)$")] = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 200):
    rows = reminders.list_reminders(engine_of(request), status=status, limit=5000, lang=lang)
    return [r for r in rows if who.sees(r["municipality"])][:limit]


@router.get("/skips", response_model=list[s.SkipDoc],
            summary="The skip audit: who skipped which module, when and why")
def skips(request: Request, who: Who, lang: Lang = "sv",
          municipality: Annotated[str | None, Query(max_length=4)] = None,
          since: Annotated[str | None, Query(max_length=40)] = None,
          until: Annotated[str | None, Query(max_length=40)] = None,
          module: Annotated[str | None, Query(pattern="^[23]$")] = None):
    engine = engine_of(request)
    require_role(engine, who, who.sees_skip_audit, "skips", "read the skip audit")
    return skip_rows(engine, who, municipality, parse_bound(since, "since"), parse_bound(until, "until"), module, lang)


def skip_rows(engine, who: Principal, municipality, since, until, module, lang) -> list[dict]:
    codes = scope.scoped_municipalities(who, [municipality] if municipality else [])
    if codes is None:
        return queries.skips(engine, since=since, until=until, module=module, lang=lang)
    rows = [r for code in codes for r in queries.skips(engine, municipality=code, since=since, until=until,
                                                       module=module, lang=lang)]
    return sorted(rows, key=lambda r: (r["at"] or "", r["case_id"]))


@router.get("/agreements", summary="Local agreements and their job tracks")
def agreements(who: Who, lang: Lang = "sv", municipality: Annotated[str | None, Query(max_length=4)] = None):
    book = agreement_book()
    found = book.agreements_for(municipality) if municipality else list(book.agreements)
    return [a.as_dict(lang) for a in found]


@router.get("/report", summary="The follow-up report (uppföljning) for your municipalities")
def report(request: Request, who: Who, lang: Lang = "sv",
           municipality: Annotated[list[str], Query(max_length=10)] = [],   # noqa: B006
           start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
           end: Annotated[str | None, Query(alias="to", max_length=10)] = None):
    from etablera.reports.report import build_report, make_scope
    codes = scope.scoped_municipalities(who, municipality) or ()
    return build_report(engine_of(request),
                        make_scope(codes, parse_day(start, "from"), parse_day(end, "to"), lang=lang))


@router.get("/access-log", response_model=list[s.AccessEntry], summary="Search the access log (auditors)")
def access(request: Request, who: Who, case_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
           actor: Annotated[str | None, Query(max_length=60)] = None,
           action: Annotated[str | None, Query(max_length=40)] = None,
           since: Annotated[str | None, Query(max_length=40)] = None,
           until: Annotated[str | None, Query(max_length=40)] = None,
           limit: Annotated[int, Query(ge=1, le=access_log.MAX_ROWS)] = 500):
    engine = engine_of(request)
    require_role(engine, who, who.can_audit, "access_log", "read the access log")
    scope.log(engine, who, case_id, "access_log_search", f"actor={actor or ''} action={action or ''}"[:200])
    return access_log.search(engine, case_id=case_id, actor=actor, action=action, since=parse_bound(since, "since"),
                             until=parse_bound(until, "until"), municipalities=who.municipalities, limit=limit)


@router.post("/access-log/person", response_model=s.PersonExtract,
             summary="A person's own log extract: every access to their cases (auditors)")
def person_extract(request: Request, who: Who, body: s.PersonQuery):
    engine = engine_of(request)
    require_role(engine, who, who.can_audit, "access_extract", "produce a person's log extract")
    return access_log.person_extract(engine, body.person, actor=who.id, role=who.role,
                                     organisation=who.organisation, municipalities=who.municipalities)
