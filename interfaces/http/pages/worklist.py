"""The worklist: the cases a user works on, by queue ("mine", "unassigned", "overdue", ...)
or saved filter, filtered by state, municipality and overdue, sorted and paged; the start
page leads there, with each queue's count. The report's figures link here with the
filters that select exactly the cases they count (pages/report_links.py). Saving and
deleting a filter are CSRF-checked forms that come back here (303); a refused name comes
back beside the field, as typed (unless it held an identity number)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from etablera.access.principal import Principal
from etablera.cases import list_query, queues, saved_filters
from etablera.interfaces.http import i18n
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.common import checked_form, form_error, lang_of, render, router
from etablera.interfaces.http.pages.queues import (PAGE, counted_lists, list_url, report_filters, sort_options,
                                                   start_page_parts, words)
from etablera.models.configuration import get_config
from etablera.statemachine.errors import EtableraError
from etablera.statemachine.process import STATES



@router.get("/", include_in_schema=False)
def home():
    return RedirectResponse("/worklist", status_code=303)


def state_options(lang: str) -> list[tuple[str, str]]:
    parents = [(p, i18n.pick((p.replace("module", "Modul "), p.replace("module", "Module ")), lang))
               for p in ("module1", "module2", "module3")]
    return parents + [(s.name, s.en if lang == "en" else s.sv) for s in STATES]


def list_params(request: Request, who: Principal) -> dict:
    """The list's query from the URL: an officer's start page is their own cases; `mine`
    (0 or 1) is the older spelling of queue=mine."""
    params = {k: v for k, v in request.query_params.items() if k in list_query.KEYS}
    mine = request.query_params.get("mine")
    if "queue" not in request.query_params and mine is not None:
        params["queue"] = "mine" if mine == "1" else ""
    elif "queue" not in request.query_params and not params and who.role == "officer":
        params["queue"] = "mine"
    return params


@router.get("/worklist", response_class=HTMLResponse)
def worklist_page(request: Request, offset: int = 0):
    who = page_principal(request)
    return worklist_view(request, who, list_params(request, who), max(offset, 0))


def worklist_view(request: Request, who: Principal, params: dict, offset: int = 0, *, error: EtableraError | None = None,
                  typed_name: str = "") -> HTMLResponse:
    lang = lang_of(request)
    engine = engine_of(request)
    q = list_query.parse_query(params)
    counted, saved = counted_lists(engine, who)
    page = queues.list_cases(engine, who, q, limit=PAGE, offset=offset, lang=lang, counted=counted)
    config = get_config()
    places = sorted((who.municipalities or config.municipalities.keys()))
    current = q.params()
    return render(request, "worklist.html", {
        "page": page, "q": q, "state": q.state or "", "municipality": q.municipalities[0] if q.municipalities else "",
        "overdue": q.overdue, "mine": q.queue == "mine", "queue": q.queue or "", "sort": q.sort,
        "states": state_options(lang), "places": [(c, config.municipalities.get(c, c)) for c in places],
        "sorts": sort_options(lang), "w": words(lang), "queue_options": [(n, list_query.queue_label(n, lang))
                                                                         for n in list_query.QUEUES],
        "report_filters": report_filters(q, lang), "hidden": {k: v for k, v in current.items()
                                                               if k not in list_query.SAVED_KEYS},
        "saved_query": {k: v for k, v in current.items() if k in list_query.SAVED_KEYS},
        "export_url": list_url("/worklist.csv", current),
        "next_url": list_url("/worklist", current, queue=q.queue or "", offset=page["next_offset"])
        if page["next_offset"] is not None else None,
        "prev_url": list_url("/worklist", current, queue=q.queue or "", offset=page["prev_offset"])
        if page["prev_offset"] is not None else None,
        "filter_error": form_error(error, lang) if error else None, "typed_name": typed_name,
        **start_page_parts(q, page.pop("counts"), saved, lang)}, 400 if error else 200)


@router.post("/filters")
async def save_filter(request: Request):
    who = page_principal(request)
    form = await checked_form(request, who)
    query = {k: str(form.get(k, "")) for k in list_query.SAVED_KEYS if str(form.get(k, ""))}
    name = str(form.get("name", ""))[:200]
    try:
        saved = await run_in_threadpool(saved_filters.save_filter, engine_of(request), who, name, query)
    except EtableraError as exc:            # back to the list with the refusal beside the name, as typed
        refused, typed = exc, ("" if exc.code == "filter_personal_data" else name)
        return await run_in_threadpool(lambda: worklist_view(request, who, {"queue": "", **query}, error=refused,
                                                             typed_name=typed))
    return RedirectResponse(list_url("/worklist", saved["query"]) if saved["query"] else "/worklist?queue=",
                            status_code=303)


@router.post("/filters/{filter_id}/delete")
async def delete_filter(request: Request, filter_id: int):
    who = page_principal(request)
    await checked_form(request, who)
    await run_in_threadpool(saved_filters.delete_filter, engine_of(request), who, filter_id)
    return RedirectResponse("/worklist", status_code=303)
