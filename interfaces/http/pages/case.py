"""The case page: where the person is in the process (a map of its parts), what is due and
when, the normal next step first, then the case, its measures and timeline, and the other
steps permitted now (those that set the normal course aside ask for a confirmation). Each
change runs through its use case and is answered by the case page again, with a refusal
beside its form and what was typed kept."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from etablera.access import scope
from etablera.access.scope import Principal
from etablera.cases import measures, queries, service
from etablera.cases.parsing import parse_at, parse_day
from etablera.interfaces.http import i18n
from etablera.interfaces.http.api import MAX_ID
from etablera.interfaces.http.auth import engine_of, page_principal
from etablera.interfaces.http.pages.common import checked_form, form_error, lang_of, render, router
from etablera.models.configuration import get_config
from etablera.models.timestamps import local_date, utcnow
from etablera.statemachine.errors import BadInput, ConcurrentChange, EtableraError, Forbidden, NotFound
from etablera.statemachine.journey import journey
from etablera.statemachine.messages import Words
from etablera.statemachine.process import (ASIDE, DECIDE, MEASURE_ACTION, MEASURE_ACTIONS, MEASURE_STATES, NEXT,
                                           OTHER, STATES, TRANSFER, TRIGGER)
from etablera.statemachine.process import CASEWORK

CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
MeasureId = Annotated[int, Path(ge=1, le=MAX_ID)]


def timeline(events: list[dict], municipality: str, lang: str) -> list[dict]:
    config = get_config()
    tracks = service.track_choices(municipality, lang)
    out = []
    for e in events:
        title = e["trigger_label"]
        data = e["data"] or {}
        facts = []
        if "decision" in data:
            facts.append((i18n.word("decision", lang), i18n.choice(data["decision"], lang)))
        if data.get("track") and e["trigger"] == DECIDE:
            facts.append((i18n.word("track", lang), tracks.get(data["track"], data["track"])))
        if data.get("participants"):
            facts.append((i18n.word("participants", lang),
                          ", ".join(i18n.choice(p, lang) for p in data["participants"])))
        for key in ("outcome", "plan"):
            if key in data:
                facts.append((i18n.word(key, lang) if key == "plan" else key, i18n.choice(data[key], lang)))
        if "fast_track" in data:
            fast = config.fast_tracks.get(data["fast_track"])
            facts.append((i18n.choice("fast_track", lang), fast.label(lang) if fast else data["fast_track"]))
        if "type" in data and "measure" in data:
            kind = config.measure_types.get(data["type"])
            facts.append((i18n.word("measure_type", lang), f"{kind.label(lang) if kind else data['type']} "
                                                           f"(#{data['measure']})"))
        if e["trigger"] == TRANSFER:
            facts.append((i18n.word("municipality", lang), f"{data.get('from_municipality')} → {e['municipality']}"))
        if e["trigger"] == CASEWORK.assign:     # who was and is responsible (cases/assignment.py)
            facts.append((i18n.word(f"{data.get('org')}_officer", lang), f"{data.get('from') or '–'} → "
                                                                          f"{data.get('to') or '–'}"))
        if e.get("correction"):                 # a corrected step, or the correction (cases/corrections.py)
            facts.append((e["correction_label"], e["correction"]))
        out.append({**e, "title": title, "facts": facts,
                    "moved": e["from_state"] is not None and e["from_state"] != e["to_state"],
                    "skipped_labels": [i18n.choice(m, lang) for m in e["skipped"]]})
    return out


# What other page modules add to the case page: each panel is called with (request, who,
# case, history, lang) (the case document and its history as the page read them, in one
# snapshot) and returns the values its template part (`case_<panel>.html`) reads.
PANELS: list = []


def case_panel(function):
    """Register a panel of the case page (a decorator, used by the casework page modules)."""
    PANELS.append(function)
    return function


def offered(permitted: dict | None) -> dict[str, list[dict]]:
    """The permitted events as the page offers them (the process table's `offer`): the
    normal next step, the other ways forward, and the steps set aside, which ask for a
    confirmation (`confirm`)."""
    out: dict[str, list[dict]] = {NEXT: [], OTHER: [], ASIDE: []}
    for event in (permitted or {}).get("events", ()):
        offer = TRIGGER[event["trigger"]].offer
        out[offer].append({**event, "confirm": offer == ASIDE})
    return out


def days_until(day: str | None, today: date) -> int | None:
    """Days from today to an ISO date (negative: that many days late)."""
    return (date.fromisoformat(day) - today).days if day else None


def measure_actions(state: str) -> dict[str, list[str]]:
    """What may be done to a measure in `state`, as the page offers it: the next steps as
    buttons, those set aside (cancelling) each behind a confirmation."""
    permitted = [a for a in MEASURE_ACTIONS if state in a.sources]
    return {"next": [a.name for a in permitted if a.offer != ASIDE],
            "aside": [a.name for a in permitted if a.offer == ASIDE]}


async def case_form(case_id: int, work, refused, *, saved: str, anchor: str):
    """Run a case-page form's use case (`work`, in the thread pool): 303 back to the case
    page at `anchor`; a refusal other than a missing case or a forbidden role answers
    `refused(exc)` (the case page again, see `refused_form`)."""
    try:
        await run_in_threadpool(work)
    except (NotFound, Forbidden):
        raise
    except EtableraError as exc:
        return await run_in_threadpool(refused, exc)
    return RedirectResponse(f"/cases/{case_id}?saved={saved}#{anchor}", status_code=303)


def refused_form(request: Request, who: Principal, case_id: int, exc: EtableraError, form: str, typed: dict,
                 label: str | None = None) -> HTMLResponse:
    """The case page again after a refused form: the refusal beside form `form` (a field the
    catalogue does not name takes `label`), a summary linking to it when the case changed
    concurrently, and what was typed (`typed`: the values the form's template part reads)."""
    concurrent = isinstance(exc, ConcurrentChange)
    error = form_error(exc, lang_of(request), trigger=form, concurrent=concurrent, summary=concurrent,
                       status=exc.http_status)
    if error["label"] is None and label:
        error["label"] = label
    return render(request, "case.html", {**case_context(request, who, case_id), "saved": None, "form_error": error,
                                         **typed}, exc.http_status)


def case_context(request: Request, who: Principal, case_id: int) -> dict:
    lang = lang_of(request)
    config = get_config()
    case, events = queries.view_case(engine_of(request), who, case_id, lang=lang, history=True, config=config)
    permitted = service.events_for(case, lang, config) if who.can_change else None
    today = local_date(utcnow())
    steps = offered(permitted)
    return {"case": case, "timeline": timeline(events, case["municipality"], lang), "permitted": permitted,
            "journey": journey(case["state"], case["paused_from"], events, lang),
            "next_steps": steps[NEXT], "other_steps": steps[OTHER], "aside_steps": steps[ASIDE],
            "stage_days": days_until(case["due"], today),
            "establishment_days": days_until(case["establishment_due"], today) if case["active"] else None,
            "overdue": bool(case["due"]) and case["due"] < today.isoformat(),
            "measure_types": [(code, kind.label(lang)) for code, kind in config.measure_types.items()],
            "cancel_reasons": [(code, label(lang)) for code, label in config.reasons["cancel_measure"].items()],
            "can_add_measure": who.can_change and case["state"] in MEASURE_STATES,
            "measure_actions": {m["id"]: measure_actions(m["state"]) for m in case["measures"]},
            "state_labels": {s.name: (s.en if lang == "en" else s.sv) for s in STATES},
            **{k: v for panel in PANELS for k, v in panel(request, who, case, events, lang).items()}}


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: CaseId, saved: str | None = None):
    who = page_principal(request)
    context = case_context(request, who, case_id)
    return render(request, "case.html", {**context, "saved": saved, "form_error": None})


def _refused(request: Request, who: Principal, case_id: int, exc: EtableraError, trigger: str | None,
             values: dict) -> HTMLResponse:
    lang = lang_of(request)
    context = case_context(request, who, case_id)
    concurrent = isinstance(exc, ConcurrentChange)
    # Beside its form when the page still has that form; at the top when it does not (the
    # case moved on, so the trigger is no longer permitted).
    forms = {e["trigger"] for e in (context["permitted"] or {}).get("events", ())}
    beside = trigger in forms or (trigger or "").startswith("measure-") or \
        (trigger == "add_measure" and context["can_add_measure"])
    error = form_error(exc, lang, trigger=trigger, concurrent=concurrent, summary=concurrent or not beside,
                       status=exc.http_status)
    return render(request, "case.html", {**context, "saved": None, "form_error": error, "values": values},
                  exc.http_status)


async def _change(request: Request, who: Principal, case_id: int, work, form: str, values: dict, *,
                  saved: str, anchor: str):
    """Run `work` (a change through a use case) in a worker thread; then back to the case
    page where the change shows, or the case page again with the refusal beside `form`.
    Not found and forbidden are answered as such, never as a form error."""
    try:
        await run_in_threadpool(work)
    except (NotFound, Forbidden):
        raise
    except EtableraError as exc:
        return await run_in_threadpool(_refused, request, who, case_id, exc, form, values)
    return RedirectResponse(f"/cases/{case_id}?saved={quote(saved)}#{anchor}", status_code=303)


@router.post("/cases/{case_id}/events/{trigger}")
async def advance_form(request: Request, case_id: CaseId, trigger: str):
    who = page_principal(request)
    form = await checked_form(request, who)
    engine = engine_of(request)
    spec = TRIGGER.get(trigger)
    values: dict = {}

    def work():
        for field in spec.fields if spec is not None else ():
            if field.kind == "list":
                values[field.name] = [str(v) for v in form.getlist(field.name)]
            elif field.kind == "flag":
                values[field.name] = "yes" if form.get(field.name) else ""
            else:
                values[field.name] = str(form.get(field.name, ""))
        values["confirm"] = "yes" if form.get("confirm") else ""
        if spec is not None and spec.offer == ASIDE and not values["confirm"]:
            raise BadInput("confirm_missing", field="confirm", action=Words(spec.sv, spec.en))
        try:
            expect = int(str(form.get("expect_version", "")))
        except ValueError:
            raise BadInput("form_version_missing", field="expect_version") from None
        at = parse_at(str(form.get("at", "")).strip())
        raw = {k: v for k, v in values.items() if v not in ("", []) and k != "confirm"}
        service.advance(engine, who, case_id, trigger, raw, at=at, expect_version=expect)
    return await _change(request, who, case_id, work, trigger, values, saved=trigger, anchor="timeline")


@router.post("/cases/{case_id}/measures")
async def add_measure_form(request: Request, case_id: CaseId):
    who = page_principal(request)
    form = await checked_form(request, who)
    engine = engine_of(request)
    kind = str(form.get("type", ""))
    due_text = str(form.get("due", "")).strip()

    def work():
        measures.add_measure(engine, who, case_id, kind, due=parse_day(due_text, "due"))
    return await _change(request, who, case_id, work, "add_measure", {"type": kind, "due": due_text},
                         saved="add_measure", anchor="measures")


@router.post("/measures/{measure_id}")
async def measure_form(request: Request, measure_id: MeasureId):
    who = page_principal(request)
    form = await checked_form(request, who)
    engine = engine_of(request)
    action = str(form.get("action", ""))
    reason = str(form.get("reason", "")) or None
    confirmed = bool(form.get("confirm"))
    case_id = await run_in_threadpool(scope.require_measure, engine, who, measure_id, f"{action}_measure")
    spec = MEASURE_ACTION.get(action)

    def work():
        if spec is not None and spec.offer == ASIDE and not confirmed:
            raise BadInput("confirm_missing", field="confirm", action=Words(*i18n.WORDS[spec.name]))
        measures.change_measure(engine, who, measure_id, action, reason=reason)
    values = {"action": action, "reason": reason or "", "confirm": "yes" if confirmed else ""}
    return await _change(request, who, case_id, work, f"measure-{measure_id}", values, saved=f"{action}_measure",
                         anchor="measures")
