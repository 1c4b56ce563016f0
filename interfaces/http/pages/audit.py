"""The audit pages: the skip audit, the access log and a person's extract from it."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from etablera.access import log as access_log, scope
from etablera.access.scope import require_role
from etablera.cases import skip_audit
from etablera.cases.parsing import parse_bound
from etablera.interfaces.http import i18n
from etablera.interfaces.http.api import MAX_ID
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.common import checked_form, lang_of, render, router, web_message
from etablera.models.configuration import get_config
from etablera.statemachine.errors import BadInput

SKIP_PAGE = 100
SKIP_SORTS = {"at": ("datum, äldst först", "date, oldest first"), "-at": ("datum, senast först", "date, newest first"),
              "case": ("ärende", "case"), "municipality": ("kommun", "municipality"), "actor": ("vem", "who"),
              "reason": ("skäl", "reason")}


@router.get("/skips", response_class=HTMLResponse)
def skips_page(request: Request, municipality: str = "", module: str = "", reason: str = "", since: str = "",
               until: str = "", sort: str = "at", offset: int = 0):
    who = page_principal(request)
    engine = engine_of(request)
    lang = lang_of(request)
    require_role(engine, who, who.sees_skip_audit, "skips", "read the skip audit")
    page = skip_audit.skip_page(engine, who, municipality=municipality or None, module=module or None,
                                reason=reason or None, since=parse_bound(since, "since"),
                                until=parse_bound(until, "until"), sort=sort or "at", limit=SKIP_PAGE,
                                offset=max(offset, 0), lang=lang)
    config = get_config()
    places = sorted(who.municipalities or config.municipalities.keys())
    query = {k: v for k, v in {"municipality": municipality, "module": module, "reason": reason, "since": since,
                               "until": until, "sort": page["sort"] if page["sort"] != "at" else ""}.items() if v}
    link = lambda at: f"/skips?{urlencode({**query, 'offset': at})}" if at is not None else None  # noqa: E731
    reasons = config.reasons.get("skip", {})
    return render(request, "skips.html", {
        "rows": page["items"], "page": page, "municipality": municipality, "module": module, "reason": reason,
        "since": since, "until": until, "sort": page["sort"], "next_url": link(page["next_offset"]),
        "prev_url": link(page["prev_offset"]), "places": [(c, config.municipalities.get(c, c)) for c in places],
        "reasons": [(code, label(lang)) for code, label in reasons.items()],
        "sorts": [(k, i18n.pick(v, lang)) for k, v in SKIP_SORTS.items()],
        "sort_label": i18n.pick(("Sortera efter", "Sort by"), lang)})


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
    access_log.check_filters(actor, action)
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
