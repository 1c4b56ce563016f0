"""The JSON API (/api/v1): the same use cases as the CLI, behind logins and scopes.

Every handler calls one use case with the caller (a `Principal`); the use case checks the
caller's scope and logs what it showed or changed in the access log. No rule of the
process or of access is written here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials

from etablera.interfaces.http import schemas as s
from etablera.interfaces.http.auth import api_principal, bearer, engine_of
from etablera.access import log as access_log, scope
from etablera.cases import measures, queries, queues, service, skip_audit, worklist
from etablera.cases.list_query import KEYS, parse_query
from etablera.reminders import outbox as reminders
from etablera.cases.parsing import parse_at, parse_bound, parse_day
from etablera.cases.late_registration import registration_warnings_of
from etablera.cases.agreements import agreement_book
from etablera.models.configuration import get_config
from etablera.statemachine.process import MEASURE_INITIAL
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


@router.get("/me", response_model=s.Me, summary="Who you are and where you may work")
def me(who: Who):
    return who.as_dict()


@router.get("/cases", response_model=s.Worklist,
            summary="A list of cases: a queue or filter, sorted, a page at a time, with its total")
def list_cases(request: Request, who: Who, lang: Lang = "sv",
               mine: Annotated[bool, Query(description="only the cases you are responsible for (queue=mine)")] = False,
               queue: Annotated[str | None, Query(description="mine, unassigned, overdue, assessment, followup, "
                                                              "transferred")] = None,
               state: Annotated[str | None, Query(max_length=40)] = None,
               municipality: Annotated[list[str], Query(max_length=10)] = [],   # noqa: B006 (FastAPI copies it)
               overdue: bool = False,
               sort: Annotated[str | None, Query(description="due, id, state, municipality, name; -key: "
                                                             "descending")] = None,
               limit: Annotated[int, Query(ge=1, le=worklist.MAX_LIMIT)] = 50,
               offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0):
    q = parse_query(list_query(request, queue or ("mine" if mine else None)))
    return queues.list_cases(engine_of(request), who, q, limit=limit, offset=offset, lang=lang)


def list_query(request: Request, queue: str | None) -> dict:
    """A list's query from the query string (the report's filters too: cases/list_query.KEYS)."""
    params = request.query_params
    query = {k: params.get(k) for k in KEYS if params.get(k)}
    query.update(municipality=params.getlist("municipality"), overdue="1" if params.get("overdue") in
                 ("1", "true", "True") else "", queue=queue or "")
    return query


@router.post("/cases", response_model=s.Registered, status_code=201,
             summary="Register a newcomer (new case); `warnings`: e.g. the establishment time already over")
def register(request: Request, who: Who, body: s.RegisterRequest, lang: Lang = "sv"):
    case_id = service.register(
        engine_of(request), who, person=body.person, municipality=body.municipality, permit_date=body.permit_date,
        reception_date=body.reception_date, no_upper_secondary=body.no_upper_secondary,
        kommun_officer=body.kommun_officer, af_officer=body.af_officer, note=body.note,
        given_name=body.given_name, family_name=body.family_name, language=body.language,
        interpreter=body.interpreter, phone=body.phone, email=body.email)
    return {"id": case_id, "warnings": registration_warnings_of(engine_of(request), who, case_id, lang)}


@router.get("/cases/{case_id}", response_model=s.CaseDoc, summary="A case, with the person and its measures")
def show_case(request: Request, who: Who, case_id: CaseId, lang: Lang = "sv"):
    return queries.show_case(engine_of(request), who, case_id, lang=lang)


@router.get("/cases/{case_id}/history", response_model=list[s.EventDoc], summary="The case's audit trail")
def history(request: Request, who: Who, case_id: CaseId, lang: Lang = "sv"):
    return queries.history(engine_of(request), who, case_id, lang=lang)


@router.get("/cases/{case_id}/events", response_model=s.PermittedEvents,
            summary="The triggers permitted now, with the fields each needs")
def events(request: Request, who: Who, case_id: CaseId, lang: Lang = "sv"):
    return service.permitted_events(engine_of(request), who, case_id, lang)


@router.post("/cases/{case_id}/events", response_model=s.AdvanceResult,
             summary="Fire a trigger (needs the version you read: 409 'reload' if the case changed)")
def advance(request: Request, who: Who, case_id: CaseId, body: s.AdvanceRequest, lang: Lang = "sv"):
    event = service.advance(engine_of(request), who, case_id, body.trigger, dict(body.data), at=parse_at(body.at),
                            expect_version=body.expect_version)
    return {"case": case_id, "version": body.expect_version + 1, "event": queries.event_doc(event, get_config(), lang)}


@router.post("/cases/{case_id}/measures", response_model=s.MeasureResult, status_code=201,
             summary="Add a measure (insats) to a case in module 2 or 3")
def add_measure(request: Request, who: Who, case_id: CaseId, body: s.MeasureRequest):
    measure_id = measures.add_measure(engine_of(request), who, case_id, body.type, due=parse_day(body.due, "due"))
    return {"id": measure_id, "case": case_id, "state": MEASURE_INITIAL}


@router.post("/measures/{measure_id}", response_model=s.MeasureResult,
             summary="Start, complete or cancel a measure")
def change_measure(request: Request, who: Who, measure_id: MeasureId, body: s.MeasureAction):
    return measures.change_measure(engine_of(request), who, measure_id, body.action, reason=body.reason or None,
                                   note=body.note)


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
            summary="The skip audit: who skipped which module, when and why, a page at a time "
                    "(the total in X-Total-Count, the next page in Link)")
def skips(request: Request, response: Response, who: Who, lang: Lang = "sv",
          municipality: Annotated[str | None, Query(max_length=4)] = None,
          since: Annotated[str | None, Query(max_length=40)] = None,
          until: Annotated[str | None, Query(max_length=40)] = None,
          module: Annotated[str | None, Query(pattern="^[23]$")] = None,
          reason: Annotated[str | None, Query(max_length=40)] = None,
          sort: Annotated[str | None, Query(description="at, case, municipality, actor, reason; -key: "
                                                        "descending")] = None,
          limit: Annotated[int, Query(ge=1, le=skip_audit.MAX_LIMIT)] = skip_audit.MAX_LIMIT,
          offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0):
    engine = engine_of(request)
    require_role(engine, who, who.sees_skip_audit, "skips", "read the skip audit")
    page = skip_audit.skip_page(engine, who, municipality=municipality, module=module, reason=reason,
                                since=parse_bound(since, "since"), until=parse_bound(until, "until"),
                                sort=sort or "at", limit=limit, offset=offset, lang=lang)
    response.headers["X-Total-Count"] = str(page["total"])
    if page["next_offset"] is not None:
        following = request.url.include_query_params(offset=page["next_offset"])
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return page["items"]


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
    from etablera.reports.report import build_report
    from etablera.reports.scope import make_scope
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
    access_log.check_filters(actor, action)
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
