"""The audit pages: the skip audit, the access log and a person's extract from it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from etablera.access import log as access_log, scope
from etablera.access.scope import require_role
from etablera.cases.parsing import parse_bound
from etablera.interfaces.http.api import MAX_ID, skip_rows
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.common import checked_form, lang_of, render, web_message
from etablera.models.configuration import get_config
from etablera.statemachine.errors import BadInput

router = APIRouter(include_in_schema=False)


@router.get("/skips", response_class=HTMLResponse)
def skips_page(request: Request, municipality: str = "", module: str = "", since: str = "", until: str = ""):
    who = page_principal(request)
    engine = engine_of(request)
    require_role(engine, who, who.sees_skip_audit, "skips", "read the skip audit")
    rows = skip_rows(engine, who, municipality or None, parse_bound(since, "since"), parse_bound(until, "until"),
                     module if module in ("2", "3") else None, lang_of(request))
    config = get_config()
    places = sorted(who.municipalities or config.municipalities.keys())
    return render(request, "skips.html", {"rows": rows, "municipality": municipality, "module": module,
                                          "since": since, "until": until,
                                          "places": [(c, config.municipalities.get(c, c)) for c in places]})


@router.get("/access-log", response_class=HTMLResponse)
def access_page(request: Request, case_id: str = "", actor: str = "", action: str = ""):
    who = page_principal(request)
    engine = engine_of(request)
    require_role(engine, who, who.can_audit, "access_log", "read the access log")
    number = None
    if case_id.strip():
        if not case_id.strip().isdigit():
            raise BadInput("case_id_not_a_number", field="case_id")
        number = int(case_id)
        if number > MAX_ID:
            raise BadInput("no_such_case", field="case_id", case=number)
    scope.log(engine, who, number, "access_log_search", f"actor={actor} action={action}"[:200])
    rows = access_log.search(engine, case_id=number, actor=actor.strip() or None, action=action.strip() or None,
                             municipalities=who.municipalities, limit=500)
    return render(request, "access_log.html", {"rows": rows, "case_id": case_id, "actor": actor,
                                               "action": action, "extract": None})


@router.post("/access-log/person", response_class=HTMLResponse)
async def access_person(request: Request):
    who = page_principal(request)
    form = await checked_form(request, who)
    engine = engine_of(request)
    await run_in_threadpool(require_role, engine, who, who.can_audit, "access_extract",
                            "produce a person's log extract")
    try:
        doc = await run_in_threadpool(lambda: access_log.person_extract(
            engine, str(form.get("person", ""))[:20], actor=who.id, role=who.role, organisation=who.organisation,
            municipalities=who.municipalities))
        error = None
    except BadInput as exc:
        doc, error = None, web_message(exc, lang_of(request))
    return render(request, "access_log.html", {"rows": [], "case_id": "", "actor": "", "action": "",
                                               "extract": doc, "extract_error": error}, 400 if error else 200)
