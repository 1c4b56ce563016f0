"""Correcting the latest step on the case page (for coordinators and admins): a panel
before the timeline (`case_correction.html`) with the step, the state the case goes back
to, the reason, the justification and a confirmation; and its POST handler, which runs
cases/corrections.correct and answers with the case page again. The panel also shows the
registration's warning (the establishment time already over) right after registering."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from etablera.access.principal import Principal
from etablera.cases import corrections
from etablera.cases.late_registration import registration_warnings
from etablera.interfaces.http import i18n
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.case import CaseId, case_context, case_form, case_panel
from etablera.interfaces.http.pages.common import checked_form, form_error, lang_of, render, router
from etablera.models.configuration import get_config
from etablera.statemachine.errors import BadInput, EtableraError
from etablera.statemachine.process import REGISTER, state_label, trigger_label

FORM = "correction"           # the form's name in a refusal (form_error.trigger)

# The panel's words, Swedish and English.
WORDS = {
    "heading": ("Rätta senaste steget", "Correct the latest step"),
    "intro": ("Ett felaktigt steg rättas genom en rättelse: ärendet går tillbaka dit det var före steget, "
              "förfallodagar och insatser också. Historiken ändras inte; båda syns i tidslinjen.",
              "A mistaken step is corrected by a correction: the case goes back to where it was before the step, "
              "due dates and measures too. History is not changed; both show on the timeline."),
    "step": ("Steg", "Step"),
    "back_to": ("Ärendet går tillbaka till", "The case goes back to"),
    "reason": ("Skäl", "Reason"),
    "note": ("Motivering", "Justification"),
    "confirm": ("Jag vill rätta steget och förstår att ärendet går tillbaka",
                "I want to correct the step and understand that the case goes back"),
    "submit": ("Rätta steget", "Correct the step"),
    "warning": ("Varning", "Warning"),
}


def words(lang: str) -> dict[str, str]:
    return i18n.words_in(WORDS, lang)


@case_panel
def correction_panel(request: Request, who: Principal, case: dict, history: list[dict], lang: str) -> dict:
    """The latest step a coordinator may correct (None: nothing to offer), and the
    registration's warnings right after the register page's redirect."""
    late = registration_warnings(case, lang) if request.query_params.get("saved") == REGISTER.name else []
    step = corrections.latest_step(who, history)
    if step is None:
        return {"registration_warnings": late, "correction": None}
    reasons = get_config().reasons[corrections.REASONS]
    return {"registration_warnings": late, "correction": {
        "seq": step["seq"], "at": (step["at"] or "")[:16].replace("T", " "),
        "label": trigger_label(step["trigger"], lang), "back_to": state_label(step["from_state"], lang),
        "words": words(lang),
        "fields": [{"name": "reason", "label": words(lang)["reason"], "kind": "reason", "required": True,
                    "choices": {code: label(lang) for code, label in reasons.items()}},
                   {"name": "note", "label": words(lang)["note"], "kind": "text", "required": True}]}}


@router.post("/cases/{case_id}/corrections")
async def correction_form(request: Request, case_id: CaseId):
    who = page_principal(request)
    form = await checked_form(request, who)
    engine = engine_of(request)
    values = {name: str(form.get(name, "")).strip() for name in ("seq", "reason", "note", "confirm")}

    def work():
        try:
            seq, expect = int(values["seq"]), int(str(form.get("expect_version", "")))
        except ValueError:
            raise BadInput("form_version_missing", field="expect_version") from None
        if not values["confirm"]:
            raise BadInput("correction_confirm_missing", field="confirm")
        corrections.correct(engine, who, case_id, seq, reason=values["reason"], note=values["note"],
                            expect_version=expect)
    return await case_form(case_id, work, lambda exc: _refused(request, who, case_id, exc, values),
                           saved="correct", anchor="timeline")


def _refused(request: Request, who: Principal, case_id: int, exc: EtableraError, values: dict) -> HTMLResponse:
    """The case page again, the refusal beside the correction form, what was typed kept."""
    context = case_context(request, who, case_id)
    error = form_error(exc, lang_of(request), trigger=FORM, summary=context.get("correction") is None,
                       status=exc.http_status)
    return render(request, "case.html", {**context, "saved": None, "form_error": error, "values": values},
                  exc.http_status)
