"""What the pages share: the page's language, rendering a template with the session's
user and CSRF token, the error page, a refusal's words and field beside its form, and the
posted form checked against the session's CSRF token, and the one router every page
module declares its routes on."""

from __future__ import annotations

import os

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from etablera.access.scope import Principal
from etablera.interfaces.http import i18n, templating
from etablera.interfaces.http.auth import LANG_COOKIE, SESSION_COOKIE, csrf_ok, identify
from etablera.statemachine.errors import ConcurrentChange, EtableraError, Forbidden
from etablera.statemachine.process import TRIGGERS

# Every page's route, declared by its module on this one router: FastAPI 0.150 keeps an
# included router as a node that a request's match walks through (twice: to match, then to
# handle). With fourteen routers included in a fifteenth, a request that matched no route
# took 0.68 ms to be answered 404, 0.45 ms with the pages' routes in one list.
router = APIRouter(include_in_schema=False)

# The pages' language for a visitor who has not chosen one (`etablera web --lang`).
DEFAULT_LANG = os.environ.get("ETABLERA_WEB_LANG", "sv") if os.environ.get("ETABLERA_WEB_LANG") in i18n.LANGS else "sv"


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANG)
    return lang if lang in i18n.LANGS else DEFAULT_LANG


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


async def checked_form(request: Request, who: Principal) -> dict:
    form = await request.form()
    _, session = identify(request)
    if not csrf_ok(session, str(form.get("csrf", ""))):
        raise Forbidden("csrf_stale", field="csrf")
    return form
