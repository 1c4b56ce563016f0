"""The FastAPI application: the JSON API under /api/v1, the pages, static files, and the
mapping of the service layer's errors to HTTP (the same meaning as the CLI's exit codes:
400 bad input naming the field, 404 not found, 409 not permitted now or changed
concurrently, 403 not allowed for this user, 401 not logged in)."""

from __future__ import annotations

import gc
import logging
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from etablera.interfaces.http import docs
from etablera.interfaces.http.auth import LoginRequired, LoginThrottle
from etablera.interfaces.http.limits import RequestLimits
from etablera.models.outage import outage
from etablera.models.wal import BackgroundCheckpoints
from etablera.statemachine.errors import BadInput, ConcurrentChange, EtableraError, NotFound
from etablera.statemachine.messages import Code

HERE = Path(__file__).parent
API_PREFIX = "/api/v1"
log = logging.getLogger("etablera.web")

# script-src 'self': no inline script anywhere. Inline style is allowed for the report's
# SVG charts (matplotlib writes style attributes).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY")]
_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): security headers on every
    response, and no caching of anything but static files (pages hold personal data)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        static = scope["path"].startswith("/static/")

        async def wrapped(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + _HEADERS
                if not static:
                    headers.append(_NO_STORE)
                message = {**message, "headers": headers}
            await send(message)
        return await self.app(scope, receive, wrapped)


def error_doc(exc: EtableraError, lang: str = "en") -> dict:
    """The JSON error shape: {"error": {code, status, exit_code, field, message}}."""
    return {"error": {"code": exc.code, "status": exc.http_status, **exc.as_dict(lang)}}


def api_lang(request: Request) -> str:
    """The language of the API's error messages: the `lang` query parameter (sv | en) when
    given, else English (the code is the stable part; the words are for a person)."""
    lang = request.query_params.get("lang")
    return lang if lang in ("sv", "en") else "en"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def create_app(engine: Engine | None = None, *, secure_cookies: bool = False, threads: int | None = None,
               background_checkpoints: bool = False) -> FastAPI:
    """The application on `engine` (default: ETABLERA_DATABASE_URL or the embedded SQLite).

    `threads`: how many requests one process works on at a time (the rest wait their turn
    in the event loop). The handlers are Python and hold the GIL, so more threads than
    that do not make a process faster; they share it out, and a thread holding SQLite's
    writers' lock then waits behind the others for the GIL while every writer of every
    process waits for it: the tail of the latencies grows (p95 several times p50). A few
    threads keep SQLite's and PostgreSQL's waits overlapped with the Python of the others.

    `background_checkpoints`: on SQLite, checkpoint the write-ahead log on a thread of its
    own instead of inside a request's commit (models/wal.py); for a long-running server.
    """
    from etablera.interfaces.http import api, pages, templating
    from etablera.interfaces.http import api_assignment
    from etablera.interfaces.http import api_journal
    from etablera.interfaces.http.pages.common import quote_next
    from etablera.interfaces.http import api_person
    from etablera.interfaces.http import api_corrections
    from etablera.interfaces.http import api_lists
    from etablera.interfaces.http import api_events
    from etablera.interfaces.http import health
    from etablera.access import accounts
    from etablera.interfaces.http.request_log import RequestLog
    from etablera.models.database import get_engine
    from etablera.models.timestamps import local_date, utcnow
    from etablera.reports.overdue import ladder_levels

    @asynccontextmanager
    async def lifespan(application: FastAPI):
        if threads:
            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        templating.compile_all()
        accounts.dummy_hash()                   # before the first login, so every refusal takes as long
        # The reminder ladder, which the start page's counts and filter read: its first read
        # validates it over two years of working days and imports the holiday calendar (about
        # a tenth of a second), here rather than while the first officer waits.
        ladder_levels(local_date(utcnow()))
        # What is loaded by now (the libraries, the process table, the templates) lives as
        # long as the process: out of the collector's way, so that a full collection does
        # not walk it in the middle of a request.
        gc.collect()
        gc.freeze()
        checkpoints = BackgroundCheckpoints(application.state.engine).start() if background_checkpoints else None
        yield
        if checkpoints:
            checkpoints.stop()

    app = FastAPI(
        title="etablera", version="1",
        description="The individual's module process for newcomers: cases, the events permitted now, "
                    "measures, skips, reminders, agreements and the follow-up report. Errors are "
                    "`{\"error\": {code, status, exit_code, field, message}}` with the CLI's meaning "
                    "(`code` is stable; `message` is in the language of the `lang` query parameter, "
                    "sv or en, else English): 400 bad "
                    "input (names the field), 404 not found, 409 not permitted now or changed concurrently "
                    "(reload), 403 not allowed for your role or outside your municipalities, 401 not logged in.",
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None,
        lifespan=lifespan)
    app.state.engine = engine or get_engine()
    app.state.secure_cookies = secure_cookies
    app.state.login_throttle = LoginThrottle()
    app.add_middleware(RequestLimits)       # inside SecurityHeaders: its 413 carries the headers too
    app.add_middleware(SecurityHeaders)
    # The request log outermost, outside even Starlette's ServerErrorMiddleware (which
    # add_middleware cannot reach): a 500 is timed, logged and carries X-Request-ID too.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: RequestLog(build_stack())
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # The pages before the API: no path is both a page's and the API's (the API's are all
    # under API_PREFIX), but FastAPI 0.150 tries a request on every route of each router
    # before the one that answers, some 3 µs a route, and the officers' pages are the
    # requests of every working minute: ahead of the API's 36 routes they skip 0.12 ms.
    app.include_router(health.router)       # /healthz, /readyz: no login, not in the API's schema
    app.include_router(pages.router)
    docs.install(app, API_PREFIX)
    app.include_router(api.router, prefix=API_PREFIX)
    app.include_router(api_assignment.router, prefix=API_PREFIX)
    app.include_router(api_person.router, prefix=API_PREFIX)
    app.include_router(api_journal.router, prefix=API_PREFIX)
    app.include_router(api_corrections.router, prefix=API_PREFIX)
    app.include_router(api_lists.router, prefix=API_PREFIX)
    app.include_router(api_events.router, prefix=API_PREFIX)

    @app.exception_handler(EtableraError)
    async def etablera_error(request: Request, exc: EtableraError):
        return refusal(request, exc, headers={"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):      # where, not which field
            loc = loc[1:]
        field = loc[-1] if loc else "body"
        if _is_api(request):
            # pydantic's words (English) say what is wrong with the value
            detail = f"{'.'.join(loc) or 'body'}: {first.get('msg', 'invalid')}"
            return refusal(request, BadInput("field_not_valid", field=field, detail=Code(detail)))
        return refusal(request, BadInput("input_not_valid", field=field))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            error = NotFound("not_found_page")
        else:
            error = EtableraError("http_error", status=exc.status_code)
            error.http_status = exc.status_code
        return refusal(request, error, headers=getattr(exc, "headers", None))

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote_next(target)}", status_code=303)

    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: OperationalError):
        if "locked" in str(exc.orig) or "deadlock" in str(exc.orig):
            return refusal(request, ConcurrentChange("database_busy"))
        return _outage_or_internal(request, exc)

    @app.exception_handler(DBAPIError)
    async def database_refused(request: Request, exc: DBAPIError):
        if isinstance(exc, DataError):
            # A value the database would not take that no check before it caught: 400, not a
            # crash; the kind only (the driver's message can quote the value).
            log.warning("database refused a value (%s) on %s %s", type(exc.orig).__name__, request.method,
                        _route(request))
            return refusal(request, BadInput("database_value_refused", kind=Code(type(exc.orig).__name__)))
        return _outage_or_internal(request, exc)

    @app.exception_handler(OSError)
    async def os_error(request: Request, exc: OSError):
        return _outage_or_internal(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        return _internal(request, exc)

    return app


def _route(request: Request) -> str:
    """The route's template for a log line: never the raw path (it can carry what a person
    is found by); the line carries the request's id (interfaces/http/request_log.py)."""
    from etablera.interfaces.http.request_log import route_of
    return route_of(request.scope) or "-"


def _outage_or_internal(request: Request, exc: Exception) -> Response:
    """An outage (the database unreachable, the disk full: models/outage.py) as a clear
    message and one log line saying what is wrong, without a traceback; anything else as
    an unexpected error."""
    found = outage(exc)
    if found is None:
        return _internal(request, exc)
    log.error("%s (%s %s)", found.log_line, request.method, _route(request))
    error = EtableraError(found.code)
    error.http_status = 503
    if _is_api(request):
        return refusal(request, error, headers={"Retry-After": "30"})
    # The page without the user's name: reading the session needs the database.
    from etablera.interfaces.http import i18n, templating
    from etablera.interfaces.http.pages.common import lang_of
    lang = lang_of(request)
    page = templating.template(lang, "error.html").render(
        {"request": request, "who": None, "csrf": "", "here": "", "title": i18n.word("error", lang), "status": 503,
         "code": error.code, "message": error.text(lang), "field": None})
    return HTMLResponse(page, status_code=503, headers={"Retry-After": "30"})


def _internal(request: Request, exc: Exception) -> Response:
    # One line, the exception's kind only: a database message can quote a row (an identity number).
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, _route(request))
    return refusal(request, EtableraError("unexpected_error", kind=Code(type(exc).__name__)))


def refusal(request: Request, exc: EtableraError, headers: dict | None = None) -> Response:
    """The refusal as the API's JSON error document (in the `lang` query parameter's
    language, else English) or as a page in the page's language, marking the field."""
    if _is_api(request):
        return JSONResponse(error_doc(exc, api_lang(request)), status_code=exc.http_status, headers=headers)
    from etablera.interfaces.http.pages.common import error_page
    return error_page(request, exc)
