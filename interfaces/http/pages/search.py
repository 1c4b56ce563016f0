"""Finding a case: the search form (on its own page and on the worklist) and its results.
The query is POSTed in the form's body, never put in a URL, since it may be an identity
number or a name; the results link to each case by its id only."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from etablera.cases.search import MAX_QUERY, search
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.common import checked_form, form_error, lang_of, render, router
from etablera.statemachine.errors import BadInput



@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request):
    page_principal(request)
    return render(request, "search.html", {"query": "", "result": None, "form_error": None,
                                           "max_query": MAX_QUERY})


@router.post("/search", response_class=HTMLResponse)
async def search_submit(request: Request):
    who = page_principal(request)
    form = await checked_form(request, who)
    query = str(form.get("query", ""))[:MAX_QUERY * 2]
    lang = lang_of(request)
    try:
        result = await run_in_threadpool(search, engine_of(request), who, query, lang=lang)
    except BadInput as exc:
        return render(request, "search.html", {"query": query, "result": None, "form_error": form_error(exc, lang),
                                               "max_query": MAX_QUERY}, exc.http_status)
    return render(request, "search.html", {"query": query, "result": result, "form_error": None,
                                           "max_query": MAX_QUERY})
