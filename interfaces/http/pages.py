"""The pages: login, the worklist, the case page with its forms and timeline, registering
a newcomer, the skip audit, the access log and the report. Server-rendered (Jinja2),
Swedish by default, every form protected by the session's CSRF token.

The forms are generated from `service.permitted_events`: only the triggers permitted now,
with exactly the fields each needs. A refused form comes back with the refusal's words
(from the catalogue, statemachine/messages.py, in the page's language) next to the field
it names, linked; nothing is validated here that the service does not decide.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from etablera.interfaces.http import i18n, templating
from etablera.interfaces.http.api import MAX_ID, skip_rows
from etablera.interfaces.http.auth import (LANG_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, csrf_ok, engine_of, identify,
                                  page_principal)
from etablera.models.configuration import get_config
from etablera.models.timestamps import local_date, utcnow
from etablera.access import log as access_log, accounts, scope
from etablera.cases import measures, queries, service, worklist
from etablera.statemachine.errors import BadInput, ConcurrentChange, EtableraError, Forbidden, NotFound
from etablera.cases.parsing import parse_at, parse_bound, parse_day
from etablera.statemachine.fields import describe
from etablera.statemachine.process import DECIDE, MEASURE_STATES, REGISTER, STATES, TRANSFER, TRIGGER, TRIGGERS
from etablera.access.scope import Principal, require_role

router = APIRouter(include_in_schema=False)
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
MeasureId = Annotated[int, Path(ge=1, le=MAX_ID)]
_SAFE_NEXT = re.compile(r"^/(?!/)[\w\-./?=&%#]*$")


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "sv")
    return lang if lang in i18n.LANGS else "sv"


def quote_next(path: str) -> str:
    return quote(path, safe="")


def render(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    lang = lang_of(request)
    principal, session = identify(request) if SESSION_COOKIE in request.cookies else (None, None)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    base = {"request": request, "who": principal, "csrf": session.csrf if session else "",
            "here": quote_next(here)}          # lang, t, choice: the language's environment (templating.py)
    return HTMLResponse(templating.template(lang, name).render({**base, **context}), status_code=status)


def error_page(request: Request, exc: EtableraError) -> HTMLResponse:
    """A refusal that has no form to go back to, as a page in the page's language."""
    lang = lang_of(request)
    status = exc.http_status
    title = {400: "bad_input", 403: "forbidden", 404: "not_found", 409: "not_permitted"}.get(status, "error")
    return render(request, "error.html", {"title": i18n.word(title, lang), "status": status, "code": exc.code,
                                          "message": web_message(exc, lang),
                                          "field": field_label(exc.field, lang)}, status)


def web_message(exc: EtableraError, lang: str) -> str:
    """The refusal's words for a page, in the page's language (the catalogue's; a
    concurrent change in the pages' own words, which say what to do)."""
    if isinstance(exc, ConcurrentChange) and exc.code != "database_busy":
        return i18n.word("changed_reload", lang)
    return exc.text(lang)


def field_label(field: str | None, lang: str) -> str | None:
    """What a page calls the field at fault: its label in the process table or among the
    pages' words; None for a name the pages do not show (no technical name on a page)."""
    if not field:
        return None
    for trigger in TRIGGERS:
        for f in trigger.fields:
            if f.name == field:
                return f.en if lang == "en" else f.sv
    return i18n.word(field, lang) if field in i18n.WORDS else None


def form_error(exc: EtableraError, lang: str, **extra) -> dict:
    """A refusal beside its form: the code, the field (linked by the template), its label
    and the words."""
    return {"code": exc.code, "field": exc.field, "label": field_label(exc.field, lang),
            "message": web_message(exc, lang), **extra}


# ----------------------------------------------------------------------------- login

@router.get("/", include_in_schema=False)
def home():
    return RedirectResponse("/worklist", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/worklist", problem: str | None = None):
    import secrets
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", {"next": next if _SAFE_NEXT.match(next) else "/worklist",
                                              "login_csrf": token, "problem": problem},
                      401 if problem else 200)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=request.app.state.secure_cookies)
    return response


@router.post("/login")
async def login(request: Request):
    form = await request.form()
    user_id = str(form.get("user", "")).strip()[:60]
    password = str(form.get("password", ""))[:1000]
    target = str(form.get("next", "/worklist"))
    target = target if _SAFE_NEXT.match(target) else "/worklist"
    engine = engine_of(request)
    throttle = request.app.state.login_throttle
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not csrf_ok(accounts.Session("", {}, cookie, utcnow()), str(form.get("login_csrf", ""))):
        return login_form(request, target, "login_expired")
    if throttle.locked(user_id):
        await run_in_threadpool(_log_login, engine, user_id, "login_refused", "locked after repeated failures")
        return login_form(request, target, "login_locked")
    user = await run_in_threadpool(accounts.authenticate, engine, user_id, password)
    if user is None:
        throttle.failed(user_id)
        await run_in_threadpool(_log_login, engine, user_id, "login_failed", None)
        return login_form(request, target, "login_failed")
    throttle.succeeded(user_id)
    secret, _session = await run_in_threadpool(accounts.start_session, engine, user["id"])
    await run_in_threadpool(_log_login, engine, user["id"], "login", None, user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax", path="/",
                        secure=request.app.state.secure_cookies, max_age=int(accounts.ABSOLUTE.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _log_login(engine, user_id: str, action: str, detail: str | None, user: dict | None = None) -> None:
    from etablera.models.database import transaction
    from etablera.cases.journal import log_access
    with transaction(engine) as conn:
        log_access(conn, actor=user_id or "(empty)", case_id=None, action=action,
                   role=user["role"] if user else None, organisation=user["organisation"] if user else None,
                   detail=detail)


@router.post("/logout")
async def logout(request: Request):
    form = await request.form()
    _, session = identify(request)
    if session is not None and csrf_ok(session, str(form.get("csrf", ""))):
        await run_in_threadpool(accounts.end_session, engine_of(request), request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/worklist"):
    response = RedirectResponse(next if _SAFE_NEXT.match(next) else "/worklist", status_code=303)
    if code in i18n.LANGS:
        response.set_cookie(LANG_COOKIE, code, samesite="lax", path="/", max_age=365 * 86400)
    return response


# ----------------------------------------------------------------------------- worklist

def state_options(lang: str) -> list[tuple[str, str]]:
    parents = [(p, i18n.pick((p.replace("module", "Modul "), p.replace("module", "Module ")), lang))
               for p in ("module1", "module2", "module3")]
    return parents + [(s.name, s.en if lang == "en" else s.sv) for s in STATES if not s.terminal]


@router.get("/worklist", response_class=HTMLResponse)
def worklist_page(request: Request, state: str = "", municipality: str = "", overdue: str = "",
                  mine: str = "", offset: int = 0):
    who = page_principal(request)
    lang = lang_of(request)
    engine = engine_of(request)
    mine_on = (mine == "1") if mine else who.role == "officer"
    codes = scope.scoped_municipalities(who, [municipality] if municipality else [])
    page = worklist.worklist(engine, who, mine=mine_on, state=state or None, municipalities=codes,
                             overdue=overdue == "1", limit=50, offset=max(offset, 0), lang=lang)
    config = get_config()
    places = sorted((who.municipalities or config.municipalities.keys()))
    query = {"state": state, "municipality": municipality, "overdue": overdue, "mine": "1" if mine_on else "0"}
    return render(request, "worklist.html", {
        "page": page, "state": state, "municipality": municipality, "overdue": overdue == "1", "mine": mine_on,
        "states": state_options(lang), "places": [(c, config.municipalities.get(c, c)) for c in places],
        "next_url": f"/worklist?{urlencode({**query, 'offset': page['next_offset']})}"
        if page["next_offset"] is not None else None,
        "prev_url": f"/worklist?{urlencode({**query, 'offset': max(offset - 50, 0)})}" if offset > 0 else None})


# ----------------------------------------------------------------------------- the case

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
        out.append({**e, "title": title, "facts": facts,
                    "moved": e["from_state"] is not None and e["from_state"] != e["to_state"],
                    "skipped_labels": [i18n.choice(m, lang) for m in e["skipped"]]})
    return out


def case_context(request: Request, who: Principal, case_id: int) -> dict:
    lang = lang_of(request)
    config = get_config()
    case, events = queries.view_case(engine_of(request), who, case_id, lang=lang, history=True, config=config)
    permitted = service.events_for(case, lang, config) if who.can_change else None
    today = local_date(utcnow())
    return {"case": case, "timeline": timeline(events, case["municipality"], lang), "permitted": permitted,
            "overdue": bool(case["due"]) and case["due"] < today.isoformat(),
            "measure_types": [(code, kind.label(lang)) for code, kind in config.measure_types.items()],
            "cancel_reasons": [(code, label(lang)) for code, label in config.reasons["cancel_measure"].items()],
            "can_add_measure": who.can_change and case["state"] in MEASURE_STATES,
            "state_labels": {s.name: (s.en if lang == "en" else s.sv) for s in STATES}}


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: CaseId, saved: str | None = None):
    who = page_principal(request)
    context = case_context(request, who, case_id)
    return render(request, "case.html", {**context, "saved": saved, "form_error": None})


async def _form(request: Request, who: Principal) -> dict:
    form = await request.form()
    _, session = identify(request)
    if not csrf_ok(session, str(form.get("csrf", ""))):
        raise Forbidden("csrf_stale", field="csrf")
    return form


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
    form = await _form(request, who)
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
        try:
            expect = int(str(form.get("expect_version", "")))
        except ValueError:
            raise BadInput("form_version_missing", field="expect_version") from None
        at = parse_at(str(form.get("at", "")).strip())
        raw = {k: v for k, v in values.items() if v not in ("", [])}
        service.advance(engine, who, case_id, trigger, raw, at=at, expect_version=expect)
    return await _change(request, who, case_id, work, trigger, values, saved=trigger, anchor="timeline")


@router.post("/cases/{case_id}/measures")
async def add_measure_form(request: Request, case_id: CaseId):
    who = page_principal(request)
    form = await _form(request, who)
    engine = engine_of(request)
    kind = str(form.get("type", ""))
    due_text = str(form.get("due", "")).strip()

    def work():
        measures.add_measure(engine, who, case_id, kind, due=parse_day(due_text, "due"))
    return await _change(request, who, case_id, work, "add_measure", {"type": kind}, saved="add_measure",
                         anchor="measures")


@router.post("/measures/{measure_id}")
async def measure_form(request: Request, measure_id: MeasureId):
    who = page_principal(request)
    form = await _form(request, who)
    engine = engine_of(request)
    action = str(form.get("action", ""))
    reason = str(form.get("reason", "")) or None
    case_id = await run_in_threadpool(scope.require_measure, engine, who, measure_id, f"{action}_measure")

    def work():
        measures.change_measure(engine, who, measure_id, action, reason=reason)
    return await _change(request, who, case_id, work, f"measure-{measure_id}", {}, saved=f"{action}_measure",
                         anchor="measures")


# ----------------------------------------------------------------------------- register

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
    form = await _form(request, who)
    engine = engine_of(request)
    names = [f.name for f in REGISTER.fields]
    values = {n: str(form.get(n, "")).strip() for n in names}

    def work():
        return service.register(
            engine, who, person=values["person"], municipality=values["municipality"],
            permit_date=values["permit_date"] or None, reception_date=values["reception_date"] or None,
            no_upper_secondary=bool(values["no_upper_secondary"]), kommun_officer=values["kommun_officer"] or None,
            af_officer=values["af_officer"] or None)
    try:
        case_id = await run_in_threadpool(work)
    except EtableraError as exc:
        safe = {k: v for k, v in values.items() if k != "person"} | {"person": values["person"]}
        error = form_error(exc, lang_of(request))
        return _register_render(request, who, safe, error, exc.http_status)
    return RedirectResponse(f"/cases/{case_id}?saved=register", status_code=303)


# ----------------------------------------------------------------------------- audit

@router.get("/skips", response_class=HTMLResponse)
def skips_page(request: Request, municipality: str = "", module: str = "", since: str = "", until: str = ""):
    who = page_principal(request)
    engine = engine_of(request)
    require_role(engine, who, who.sees_skip_audit, "skips", "read the skip audit")
    rows = skip_rows(engine, who, municipality or None, parse_bound(since, "since"), parse_bound(until, "until"),
                     module if module in ("2", "3") else None, lang_of(request))
    config = get_config()
    places = sorted(who.municipalities or config.municipalities.keys())
    return render(request, "skips.html", {"rows": rows, "municipality": municipality, "module": module,
                                          "since": since, "until": until,
                                          "places": [(c, config.municipalities.get(c, c)) for c in places]})


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
    scope.log(engine, who, number, "access_log_search", f"actor={actor} action={action}"[:200])
    rows = access_log.search(engine, case_id=number, actor=actor.strip() or None, action=action.strip() or None,
                             municipalities=who.municipalities, limit=500)
    return render(request, "access_log.html", {"rows": rows, "case_id": case_id, "actor": actor,
                                               "action": action, "extract": None})


@router.post("/access-log/person", response_class=HTMLResponse)
async def access_person(request: Request):
    who = page_principal(request)
    form = await _form(request, who)
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


# ----------------------------------------------------------------------------- report

def _report_doc(request: Request, who: Principal, municipality: str, start: str, end: str) -> dict:
    from etablera.reports.report import build_report, make_scope
    codes = scope.scoped_municipalities(who, [municipality] if municipality else []) or ()
    return build_report(engine_of(request), make_scope(codes, parse_day(start, "from"),
                                                       parse_day(end, "to"),
                                                       lang=lang_of(request)))


@router.get("/report", response_class=HTMLResponse)
def report_page(request: Request, municipality: str = "", start: str = "", end: str = ""):
    who = page_principal(request)
    from etablera.reports.html import establishment_chart, states_chart, time_chart, track_chart
    from etablera.reports.render import sections
    doc = _report_doc(request, who, municipality, start, end)
    lang = lang_of(request)
    charts = [(i18n.pick(("Tid i varje steg (dagar)", "Time in each stage (days)"), lang), time_chart(doc)),
              (i18n.pick(("Andel etablerade efter månader", "Share established by months"), lang),
               establishment_chart(doc)),
              (i18n.pick(("Utfall per lokalt jobbspår", "Outcomes per local job track"), lang), track_chart(doc)),
              (i18n.pick(("Ärenden per läge nu", "Cases per state now"), lang), states_chart(doc))]
    config = get_config()
    places = sorted(who.municipalities or config.municipalities.keys())
    query = urlencode({"municipality": municipality, "start": start, "end": end})
    return render(request, "report.html", {"doc": doc, "charts": charts, "tables": sections(doc),
                                           "municipality": municipality, "start": start, "end": end,
                                           "full_url": f"/report.html?{query}",
                                           "places": [(c, config.municipalities.get(c, c)) for c in places]})


@router.get("/report.html")
def report_file(request: Request, municipality: str = "", start: str = "", end: str = ""):
    who = page_principal(request)
    from etablera.reports.html import to_html
    return Response(to_html(_report_doc(request, who, municipality, start, end)), media_type="text/html")
