"""The person on the case page: their name, language, interpreter and contact details
(`case_person.html`, a panel of the case page) and the form that changes them, through
`cases.person.update_person`. The details travel in the form's body, never in a URL."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from etablera.access.scope import Principal
from etablera.cases.person import update_person
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.case import CaseId, case_context, case_panel
from etablera.interfaces.http.pages.common import checked_form, form_error, lang_of, render
from etablera.models.configuration import get_config
from etablera.statemachine.errors import BadInput, ConcurrentChange, EtableraError, Forbidden, NotFound
from etablera.statemachine.fields import describe
from etablera.statemachine.person import DETAILS
from etablera.statemachine.process import CASEWORK, REGISTER

router = APIRouter(include_in_schema=False)
FORM = "person"                 # the form's name in a refusal (form_error.trigger)


def person_fields(lang: str) -> list[dict]:
    """The details' fields as the registration form describes them (label, kind)."""
    config = get_config()
    return [describe(f, config, lang) for f in REGISTER.fields if f.name in DETAILS]


@case_panel
def person_panel(request: Request, who: Principal, case: dict, lang: str) -> dict:
    return {"person_fields": person_fields(lang), "person_editable": who.can_change}


@router.post("/cases/{case_id}/person")
async def person_form(request: Request, case_id: CaseId):
    who = page_principal(request)
    form = await checked_form(request, who)
    engine = engine_of(request)
    values = {name: str(form.get(name, "")) for name in DETAILS if name != "interpreter"}
    values["interpreter"] = "yes" if form.get("interpreter") else "no"

    def work():
        try:
            expect = int(str(form.get("expect_version", "")))
        except ValueError:
            raise BadInput("form_version_missing", field="expect_version") from None
        update_person(engine, who, case_id, values, expect_version=expect)
    try:
        await run_in_threadpool(work)
    except (NotFound, Forbidden):
        raise
    except EtableraError as exc:
        return await run_in_threadpool(_refused, request, who, case_id, exc, values)
    return RedirectResponse(f"/cases/{case_id}?saved={CASEWORK.update_person}#person", status_code=303)


def _refused(request: Request, who: Principal, case_id: int, exc: EtableraError, values: dict):
    """The case page again, the refusal beside the person's form and what was typed in it."""
    context = case_context(request, who, case_id)
    concurrent = isinstance(exc, ConcurrentChange)
    error = form_error(exc, lang_of(request), trigger=FORM, concurrent=concurrent, summary=concurrent,
                       status=exc.http_status)
    typed = {**values, "interpreter": values["interpreter"] == "yes"}
    return render(request, "case.html", {**context, "saved": None, "form_error": error, "person_typed": typed},
                  exc.http_status)
