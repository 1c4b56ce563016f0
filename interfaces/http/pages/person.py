"""The person on the case page: their name, language, interpreter and contact details
(`case_person.html`, a panel of the case page) and the form that changes them, through
`cases.person.update_person`. The details travel in the form's body, never in a URL."""

from __future__ import annotations

from fastapi import Request

from etablera.access.scope import Principal
from etablera.cases.person import update_person
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.case import CaseId, case_form, case_panel, refused_form
from etablera.interfaces.http.pages.common import checked_form, router
from etablera.models.configuration import get_config
from etablera.statemachine.errors import BadInput
from etablera.statemachine.fields import describe
from etablera.statemachine.person import DETAILS
from etablera.statemachine.process import CASEWORK, REGISTER

FORM = "person"                 # the form's name in a refusal (form_error.trigger)


def person_fields(lang: str) -> list[dict]:
    """The details' fields as the registration form describes them (label, kind)."""
    config = get_config()
    return [describe(f, config, lang) for f in REGISTER.fields if f.name in DETAILS]


@case_panel
def person_panel(request: Request, who: Principal, case: dict, _history: list[dict], lang: str) -> dict:
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
    typed = {"person_typed": {**values, "interpreter": values["interpreter"] == "yes"}}
    return await case_form(case_id, work, lambda exc: refused_form(request, who, case_id, exc, FORM, typed),
                           saved=CASEWORK.update_person, anchor="person")
