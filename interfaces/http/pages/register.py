"""Registering a newcomer: the form with exactly the fields registration takes."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from etablera.access.scope import Principal, require_role
from etablera.cases import service
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.common import checked_form, form_error, lang_of, render, router
from etablera.models.configuration import get_config
from etablera.statemachine.errors import EtableraError
from etablera.statemachine.fields import describe
from etablera.statemachine.process import REGISTER



def register_fields(lang: str) -> list[dict]:
    config = get_config()
    return [describe(f, config, lang) for f in REGISTER.fields]


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request):
    who = page_principal(request)
    require_role(engine_of(request), who, who.can_change, REGISTER.name, "register cases")
    return _register_render(request, who, {}, None)


def _register_render(request, who: Principal, values: dict, error: dict | None, status: int = 200):
    lang = lang_of(request)
    config = get_config()
    places = sorted(who.municipalities or config.municipalities.keys())
    defaults = {"kommun_officer": who.id} if who.organisation == "kommun" and who.role == "officer" else \
        {"af_officer": who.id} if who.role == "officer" else {}
    return render(request, "register.html", {
        "fields": register_fields(lang), "values": {**defaults, **values}, "form_error": error,
        "places": [(c, config.municipalities.get(c, c)) for c in places]}, status)


@router.post("/register")
async def register_submit(request: Request):
    who = page_principal(request)
    form = await checked_form(request, who)
    engine = engine_of(request)
    names = [f.name for f in REGISTER.fields]
    values = {n: str(form.get(n, "")).strip() for n in names}

    def work():
        return service.register(
            engine, who, person=values["person"], municipality=values["municipality"],
            permit_date=values["permit_date"] or None, reception_date=values["reception_date"] or None,
            no_upper_secondary=bool(values["no_upper_secondary"]), kommun_officer=values["kommun_officer"] or None,
            af_officer=values["af_officer"] or None, given_name=values["given_name"] or None,
            family_name=values["family_name"] or None, language=values["language"] or None,
            interpreter=bool(values["interpreter"]), phone=values["phone"] or None, email=values["email"] or None)
    try:
        case_id = await run_in_threadpool(work)
    except EtableraError as exc:
        safe = {k: v for k, v in values.items() if k != "person"} | {"person": values["person"]}
        error = form_error(exc, lang_of(request))
        return _register_render(request, who, safe, error, exc.http_status)
    return RedirectResponse(f"/cases/{case_id}?saved={REGISTER.name}", status_code=303)
