"""The web process's logs: JSON lines on standard output (structlog), and one line per
request (issue 15, item 4).

The request line, from `RequestLog` (a pure ASGI middleware, the outermost layer of the
application, so that it times and marks every answer, a 413 or a 500 too):

    {"event": "request", "request_id": "…", "user": "h0581", "route": "/cases/{case_id}",
     "method": "GET", "status": 200, "duration_ms": 4.2, "level": "info",
     "logger": "etablera.request", "timestamp": "…"}

- `request_id`: the request's `X-Request-ID` header when it is a sane token (8–128
  letters, digits or `. _ : -`, and nothing shaped like an identity number: never ten
  digits in a row, nor six and four around a hyphen), else a new uuid4 in hex (drawn
  again in the rare case that it has ten digits in a row). Returned in the response's `X-Request-ID`
  and carried by every other log line written while the request is served.
- `user`: the logged-in user's id (a session or an API token), null when none.
- `route`: the route's template (`/api/v1/cases/{case_id}`), null when no route matched.
  The raw path and the query string are never logged: a URL can carry what a person is
  found by. Neither is a form, a body or a header other than the request id.
- `service`: only where ETABLERA_SERVICE names the process (`etablera stack up`'s
  replicas, web1 and web2, whose lines share one output); on every line it writes.
- `/healthz` and `/readyz` answered 200 are not logged (a load balancer asks every few
  seconds); when they are not, they are.

`configure_logging()` (called by the server, interfaces/http/server.py, for `etablera
web`) sends the standard library's logging of the process (uvicorn's and gunicorn's error
logs, the application's own loggers) through structlog's JSON renderer to standard
output. Tests and other embedders keep their own logging: the request line is an
ordinary log record of the `etablera.request` logger, its message the event's fields.
Only where that JSON handler is the one handler the line reaches, and nothing filters on
the way, is the line written to it straight, without a record, in the same text.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from time import perf_counter
from typing import TextIO

import orjson
import structlog

from etablera.interfaces.http.health import PATHS as HEALTH_PATHS
from etablera.models.environment import service_name

LOGGER = "etablera.request"
HEADER = b"x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{8,128}\Z")
_IDENTITY_SHAPE = re.compile(r"\d{6}[-+]?\d{4}")     # ten digits, maybe a hyphen after six
REQUEST_ID: ContextVar[str | None] = ContextVar("etablera_request_id", default=None)

_std = logging.getLogger(LOGGER)


# The record structlog's stdlib BoundLogger would make (wrap_for_formatter: the event's
# dict as the message, these two attributes), made directly: a request's line skips the
# bound logger's processing and the standard library's look up the stack for its caller,
# a third of its cost (benchmarks/bench_request_log.py).
_FROM_STRUCTLOG = {"_logger": _std, "_name": "info"}


def request_id(given: bytes | None) -> str:
    """The request's id: `given` when it is a sane token, else a new one."""
    if given is not None:
        try:
            text = given.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        if _SANE.match(text) and not _IDENTITY_SHAPE.search(text):
            return text
    while True:
        made = uuid.uuid4().hex
        if not _IDENTITY_SHAPE.search(made):
            return made


def route_of(scope) -> str | None:
    """The template of the route that answered (`/api/v1/cases/{case_id}`; a mount's
    `/static/{path}`), or None when none matched."""
    route = scope.get("route")          # set by FastAPI's own routes, as their router declared them
    endpoint = scope.get("endpoint")    # set by every route and mount that matched
    if route is None and endpoint is None:
        return None
    templates = _templates(scope.get("app"))
    if route is not None:
        return templates.get(id(route)) or getattr(route, "path_format", None)
    return templates.get(id(endpoint))


def _templates(app) -> dict[int, str]:
    """Each route's whole template by the id of the route and of its endpoint, the
    prefixes of the routers that include it in front (FastAPI keeps an included router's
    routes as declared: `/cases/{case_id}` under `/api/v1`). Built at the application's
    first request and kept on it."""
    state = getattr(app, "state", None)
    if state is None:
        return {}
    templates = getattr(state, "route_templates", None)
    if templates is None:
        from fastapi.routing import iter_route_contexts
        templates = {}
        for context in iter_route_contexts(app.routes):
            if context.path_format:
                for key in (context.original_route, context.endpoint, getattr(context.original_route, "app", None)):
                    if key is not None:             # a mount's endpoint is its app
                        templates.setdefault(id(key), context.path_format)
        state.route_templates = templates
    return templates


class RequestLog:
    """Pure ASGI middleware: the request id and the request's log line (see the module)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = perf_counter()
        given = None
        for name, value in scope["headers"]:
            if name == HEADER:
                given = value
        rid = request_id(given)
        header = (HEADER, rid.encode("ascii"))
        status = 500                # no answer started: the server answers 500, or the client left

        async def marked(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        token = REQUEST_ID.set(rid)
        try:
            await self.app(scope, receive, marked)
        finally:
            REQUEST_ID.reset(token)
            route = route_of(scope)
            if (status != 200 or route not in HEALTH_PATHS) and _std.isEnabledFor(logging.INFO):
                state = scope.get("state")
                principal = state.get("principal") if state else None
                _log({"event": "request", "request_id": rid, "user": getattr(principal, "id", None), "route": route,
                      "method": scope["method"], "status": status,
                      "duration_ms": round((perf_counter() - started) * 1000, 2), "level": "info", "logger": LOGGER})


def _log(event: dict) -> None:
    """The request's line: written straight to the one handler that would write it, where
    that is a stream handler with our JSON formatter and no filter on the way (the web
    process, configure_logging), in the text that formatter gives; else as a record, which
    an embedder's own handlers see as they see any other. The record, and the copy of it
    the formatter makes, were two thirds of the line's cost."""
    handler = _only_handler()
    if handler is None:
        _std.handle(_std.makeRecord(LOGGER, logging.INFO, __file__, 0, event, (), None, extra=_FROM_STRUCTLOG))
        return
    line = event
    for process in _LINE:
        line = process(_std, "info", line)
    handler.acquire()
    try:
        handler.stream.write(line + handler.terminator)
        handler.flush()
    except Exception:  # noqa: BLE001 - as StreamHandler.emit: the handler reports it, the request goes on
        handler.handleError(_std.makeRecord(LOGGER, logging.INFO, __file__, 0, event, (), None))
    finally:
        handler.release()


def _only_handler() -> logging.StreamHandler | None:
    """The handler a record of the request logger would reach, when it is the only one, a
    stream handler formatting with JsonLines, and no logger or handler on the way has a
    filter; else None."""
    found = None
    logger: logging.Logger | None = _std
    while logger is not None:
        if logger.filters:
            return None
        for handler in logger.handlers:
            if found is not None or handler.filters or type(handler.formatter) is not JsonLines \
                    or not isinstance(handler, logging.StreamHandler) or handler.level > logging.INFO:
                return None
            found = handler
        logger = logger.parent if logger.propagate else None
    return found


_service: str | None = None         # the process's name in a topology (`etablera stack up`: web1, web2)


def _add_context(_logger, _method, event: dict) -> dict:
    """Every line written while a request is served carries its id; every line of a
    process named by ETABLERA_SERVICE (configure_logging) carries that name as `service`."""
    if "request_id" not in event:
        rid = REQUEST_ID.get()
        if rid is not None:
            event["request_id"] = rid
    if _service is not None:
        event.setdefault("service", _service)
    return event


def _dumps(obj, **_kw) -> str:
    return orjson.dumps(obj, default=str).decode()


# What turns an event into its line, after the formatter has taken off its own marks.
_LINE = (structlog.processors.TimeStamper(fmt="iso", utc=True), _add_context,
         structlog.processors.format_exc_info, structlog.processors.JSONRenderer(serializer=_dumps))


class JsonLines(structlog.stdlib.ProcessorFormatter):
    """structlog's formatter with our processors: its type tells RequestLog that a request's
    line may be rendered without a record (`_log`)."""


def json_formatter() -> JsonLines:
    """A logging formatter writing each record as one JSON object: structlog's events
    as they are, the standard library's records with their message as `event`."""
    return JsonLines(foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name],
                     processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_LINE])


_handler: logging.Handler | None = None


def configure_logging(stream: TextIO | None = None, level: int = logging.INFO) -> logging.Handler:
    """The process's logging as JSON lines on `stream` (standard output): one handler on
    the root logger, every other logger's records propagating to it, uvicorn's access log
    off (it prints raw paths; RequestLog's line says it instead). Where ETABLERA_SERVICE
    is set (the launcher of `etablera stack up` names each replica so, stack/launcher.py),
    every line carries it as `service`. Once per process: a second call gives the first
    one's handler."""
    global _handler, _service
    if _handler is not None:
        return _handler
    _service = service_name()
    _handler = logging.StreamHandler(stream or sys.stdout)
    _handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(_handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "gunicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
    return _handler
