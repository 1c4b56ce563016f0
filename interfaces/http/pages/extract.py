"""The person's register extract for admins and auditors (cases/extract.py): a form asking
for the identity number (POSTed, never in a URL), answered with the extract itself as one
printable HTML document."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from etablera.cases.extract import ROLES, extract, to_html
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.common import checked_form, form_error, lang_of, render, router
from etablera.statemachine.errors import BadInput, Forbidden



def _allowed(request: Request):
    who = page_principal(request)
    if who.role not in ROLES:
        raise Forbidden("extract_role", field="role")
    return who


@router.get("/extract", response_class=HTMLResponse)
def extract_page(request: Request):
    _allowed(request)
    return render(request, "extract.html", {"form_error": None})


@router.post("/extract", response_class=HTMLResponse)
async def extract_submit(request: Request):
    who = _allowed(request)
    form = await checked_form(request, who)
    lang = lang_of(request)
    try:
        doc = await run_in_threadpool(extract, engine_of(request), who, str(form.get("person", ""))[:40])
    except BadInput as exc:
        return render(request, "extract.html", {"form_error": form_error(exc, lang)}, exc.http_status)
    return HTMLResponse(to_html(doc, lang), headers={"Cache-Control": "no-store"})
