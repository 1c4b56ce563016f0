"""Responsibility in the pages: on the case page (`case_responsibility.html`, a panel) "Ta
ärendet" for an officer on a case without a responsible officer of their organisation and
the assign form for a coordinator; and the coordinator's page `/reassign`: choose the
officer who leaves, see which case would go to whom, confirm. Each change runs through
cases/assignment.py; a refusal comes back beside its form with what was typed."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from etablera.access.accounts import role_words
from etablera.access.scope import Principal, log
from etablera.cases import assignment
from etablera.interfaces.http import i18n
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.case import CaseId, case_form, case_panel, refused_form
from etablera.interfaces.http.pages.common import checked_form, form_error, lang_of, render, router
from etablera.statemachine.errors import BadInput, ConcurrentChange, EtableraError, Forbidden

FORM = "responsibility"            # the form's name in a refusal (form_error.trigger)

# The words of these forms and the reassign page (Swedish, English).
WORDS = {
    "heading": ("Ansvar", "Responsibility"),
    "take": ("Ta ärendet", "Take the case"),
    "take_hint": ("Ärendet saknar ansvarig handläggare för {org}.", "The case has no responsible officer at {org}."),
    "assign": ("Tilldela", "Assign"),
    "assign_hint": ("Lämna tomt för att ärendet ska sakna ansvarig handläggare.",
                    "Leave empty for no responsible officer."),
    "kommun_officer": ("Handläggare i kommunen", "Municipal case officer"),
    "af_officer": ("Handläggare på Arbetsförmedlingen", "AF case officer"),
    "org_kommun": ("kommunen", "the municipality"),
    "org_af": ("Arbetsförmedlingen", "Arbetsförmedlingen"),
    "reassign_link": ("Flytta alla ärenden från en handläggare", "Move all cases of one officer"),
    "reassign_title": ("Flytta en handläggares ärenden", "Move an officer's cases"),
    "reassign_intro": ("Alla aktiva ärenden i dina kommuner där handläggaren är ansvarig flyttas. Med flera "
                       "mottagare fördelas ärendena i tur och ordning.",
                       "Every active case in your municipalities the officer is responsible for moves. With "
                       "several receiving officers the cases are shared out in turn."),
    "from": ("Handläggare som lämnar", "Officer who leaves"),
    "to": ("Ny ansvarig handläggare (flera: en per rad)", "New responsible officer (several: one per line)"),
    "preview": ("Förhandsgranska", "Preview"),
    "preview_heading": ("Förhandsgranskning: inget är ändrat än", "Preview: nothing has changed yet"),
    "confirm": ("Flytta {count} ärenden", "Move {count} cases"),
    "none_to_move": ("Handläggaren är inte ansvarig för något aktivt ärende i dina kommuner.",
                     "The officer is responsible for no active case in your municipalities."),
    "moved": ("{count} ärenden har flyttats.", "{count} cases have moved."),
    "case": ("Ärende", "Case"),
    "municipality": ("Kommun", "Municipality"),
    "organisation": ("Organisation", "Organisation"),
    "new_officer": ("Ny handläggare", "New officer"),
}


def words(lang: str) -> dict[str, str]:
    return i18n.words_in(WORDS, lang)


@case_panel
def responsibility_panel(request: Request, who: Principal, case: dict, _history: list[dict], lang: str) -> dict:
    rw = words(lang)
    field = assignment.FIELD_OF.get(who.organisation)
    can_take = (case["active"] and who.role in assignment.TAKING_ROLES and field is not None
                and not case[field])
    can_assign = case["active"] and who.role in assignment.ASSIGNING_ROLES and who.can_change
    return {"rw": rw, "can_take": can_take,
            "take_hint": rw["take_hint"].format(org=rw[f"org_{who.organisation}"]) if can_take else None,
            "can_assign": can_assign,
            "officer_choices": assignment.candidates(engine_of(request), case["municipality"]) if can_assign else {}}


async def _change(request: Request, who: Principal, case_id: int, work, values: dict, saved: str):
    lang = lang_of(request)
    return await case_form(case_id, work, lambda exc: refused_form(
        request, who, case_id, exc, FORM, {"responsibility_typed": values},
        label=words(lang)[exc.field] if exc.field in WORDS else None), saved=saved, anchor="responsibility")


def _expect(form) -> int:
    try:
        return int(str(form.get("expect_version", "")))
    except ValueError:
        raise BadInput("form_version_missing", field="expect_version") from None


@router.post("/cases/{case_id}/take")
async def take_form(request: Request, case_id: CaseId):
    who = page_principal(request)
    form = await checked_form(request, who)
    engine = engine_of(request)

    def work():
        assignment.take(engine, who, case_id, expect_version=_expect(form))
    return await _change(request, who, case_id, work, {}, "take")


@router.post("/cases/{case_id}/assign")
async def assign_form(request: Request, case_id: CaseId):
    who = page_principal(request)
    form = await checked_form(request, who)
    engine = engine_of(request)
    values = {field: str(form.get(field, "")).strip() for field in assignment.OFFICER_FIELDS}

    def work():
        assignment.assign(engine, who, case_id, expect_version=_expect(form), **values)
    return await _change(request, who, case_id, work, values, "assign")


# --------------------------------------------------------------------------- /reassign

def _reassign_render(request: Request, who: Principal, values: dict, *, plan: dict | None = None,
                     moved: int | None = None, error: dict | None = None, status: int = 200) -> HTMLResponse:
    return render(request, "reassign.html", {"rw": words(lang_of(request)), "values": values, "plan": plan,
                                             "moved": moved, "form_error": error}, status)


def _allowed(request: Request, who: Principal) -> None:
    """Only a coordinator (or an admin) moves an officer's cases; a refusal is logged."""
    if who.role not in assignment.ASSIGNING_ROLES or not who.can_change:
        log(engine_of(request), who, None, "denied:reassign", f"role {who.role}")
        raise Forbidden("assign_needs_coordinator", field="role", role=role_words(who.role))


@router.get("/reassign", response_class=HTMLResponse)
def reassign_page(request: Request):
    who = page_principal(request)
    _allowed(request, who)
    return _reassign_render(request, who, {"from": "", "to": ""})


@router.post("/reassign", response_class=HTMLResponse)
async def reassign_submit(request: Request):
    who = page_principal(request)
    form = await checked_form(request, who)
    engine = engine_of(request)
    await run_in_threadpool(_allowed, request, who)
    values = {"from": str(form.get("from", "")).strip(), "to": str(form.get("to", ""))}
    targets = [line.strip() for line in values["to"].replace(",", "\n").splitlines() if line.strip()]
    confirm = form.get("action") == "confirm"
    expect = [int(v) for v in form.getlist("expect") if str(v).isdigit()] if confirm else None

    def work():
        return assignment.reassign_all(engine, who, values["from"], targets, preview=not confirm, expect=expect)
    try:
        done = await run_in_threadpool(work)
    except Forbidden:
        raise
    except EtableraError as exc:
        error = form_error(exc, lang_of(request), concurrent=isinstance(exc, ConcurrentChange))
        if error["label"] is None and exc.field in WORDS:
            error["label"] = words(lang_of(request))[exc.field]
        return _reassign_render(request, who, values, error=error, status=exc.http_status)
    if confirm:
        return _reassign_render(request, who, {"from": "", "to": ""}, moved=done["count"])
    return _reassign_render(request, who, values, plan=done)
