"""Limits on a request, enforced before any route or authentication (issue 14, item 4).

Two layers, each where it can act earliest:

- The HTTP protocol (interfaces/http/protocol.py, selected by interfaces/http/server.py):
  the request line and headers together at most `header_bytes` (431 and close), all of
  them within `header_timeout` seconds (408 and close; a connection that sends nothing is
  closed), and a body that keeps coming: no pause longer than `body_timeout` seconds and
  on average at least `body_min_rate` bytes a second after the first `body_timeout`
  seconds (408 and close). Time the server itself is not reading (the application has not
  asked for more yet) is not held against the client.
- `RequestLimits` here, a pure ASGI middleware outside every route: a body of a form or
  JSON is at most `body_bytes`. A declared Content-Length over it is answered 413 at once,
  without reading the body; a chunked body is counted as it is received and cut off at the
  limit (413), never buffered whole. A document upload (POST .../cases/{id}/documents)
  that carries a session cookie or an Authorization header may be as large as
  `documents.max_bytes` (config/documents.toml) and its form; its handler authenticates
  before it reads the body and refuses a larger declared length itself, naming `file`.
  A response given before the request's body was all read closes the connection, so that
  the rest of an unread body is not taken in.

The settings come from the environment (read once per process; `etablera web` passes its
environment on to its workers):

    ETABLERA_MAX_BODY_BYTES      1048576   a form's or JSON body
    ETABLERA_MAX_HEADER_BYTES    16384     the request line and headers together
    ETABLERA_HEADER_TIMEOUT      10        seconds to send the request line and headers
    ETABLERA_BODY_TIMEOUT        20        seconds without a byte of the body, and its grace
    ETABLERA_BODY_MIN_RATE       8192      bytes a second, the body's slowest average
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from etablera.statemachine.errors import BadInput, EtableraError

MB = 1024 * 1024
# name: (environment variable, default, type)
SETTINGS = {
    "body_bytes": ("ETABLERA_MAX_BODY_BYTES", MB, int),
    "header_bytes": ("ETABLERA_MAX_HEADER_BYTES", 16 * 1024, int),
    "header_timeout": ("ETABLERA_HEADER_TIMEOUT", 10.0, float),
    "body_timeout": ("ETABLERA_BODY_TIMEOUT", 20.0, float),
    "body_min_rate": ("ETABLERA_BODY_MIN_RATE", 8192.0, float),
}
API_PREFIX = "/api/v1"
_UPLOAD = re.compile(r"(?:/api/v1)?/cases/[0-9]+/documents/?\Z")
_SESSION = b"etablera_session="            # interfaces/http/auth.py: SESSION_COOKIE


@dataclass(frozen=True)
class Limits:
    body_bytes: int
    header_bytes: int
    header_timeout: float
    body_timeout: float
    body_min_rate: float


def read_limits(environ=os.environ) -> Limits:
    """The limits from the environment (the defaults above where a variable is unset);
    a value that is not a number greater than zero is refused naming its variable."""
    values = {}
    for name, (variable, default, kind) in SETTINGS.items():
        raw = environ.get(variable, "").strip()
        try:
            value = kind(raw) if raw else default
        except ValueError:
            value = 0
        if not value > 0 or value != value or value == float("inf"):
            raise BadInput("limit_not_valid", field=variable)
        values[name] = value
    return Limits(**values)


@lru_cache(maxsize=1)
def limits() -> Limits:
    """This process's limits (the environment does not change under a running server)."""
    return read_limits()


class RequestLimits:
    """Pure ASGI middleware: the body size limit (see the module's docstring)."""

    def __init__(self, app, limits_: Limits | None = None):
        self.app = app
        self.limits = limits_ or limits()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])      # the last of a repeated header; only a few are read here
        declared = headers.get(b"content-length", b"").strip()
        has_body = bool(headers.get(b"transfer-encoding")) or declared not in (b"", b"0")
        limit, upload = self.limits.body_bytes, False
        if scope["method"] == "POST" and _UPLOAD.match(scope["path"]) and (
                b"authorization" in headers or _SESSION in headers.get(b"cookie", b"")):
            limit, upload = _upload_limit(scope), True
        if declared.isdigit() and int(declared) > limit and not upload:
            return await _too_large(scope, send, limit)
        if not has_body:
            return await self.app(scope, receive, send)

        received = 0
        ended = cut = disconnected = started = False

        async def counted():
            nonlocal received, ended, cut, disconnected
            if cut or disconnected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut = True          # the application sees a client gone; the answer is 413
                    return {"type": "http.disconnect"}
                ended = not message.get("more_body", False)
            elif message["type"] == "http.disconnect":
                disconnected = True
            return message

        async def answered(message):
            nonlocal started
            if cut and not started:
                return                  # whatever the application says about a body it did not get
            if message["type"] == "http.response.start":
                started = True
                if not ended:           # the rest of the body is not read: no keep-alive after it
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, counted, answered)
        except Exception:
            if not (cut or disconnected):
                raise
            # A body cut off or a client gone while the body was read: not an error of the
            # application, and nothing to log (the client has its answer or has left).
        if cut and not started:
            await _too_large(scope, send, limit)


def _upload_limit(scope) -> int:
    """A document upload's body: documents.max_bytes, the form around it and as much
    again, so that the handler's own refusal (naming `file`) comes first."""
    from etablera.cases.document_store import settings_for
    from etablera.interfaces.http.api_journal import FORM_ALLOWANCE
    return settings_for(scope["app"].state.engine).max_bytes + 2 * FORM_ALLOWANCE


async def _too_large(scope, send, limit: int) -> None:
    """413 and close: as the API's JSON error document, or a line of text for a page."""
    from etablera.cases.documents import size_words
    error = EtableraError("request_too_large", **size_words(limit))
    error.http_status = 413
    if scope["path"].startswith(API_PREFIX):
        query = dict(p.partition("=")[::2] for p in scope.get("query_string", b"").decode("latin-1").split("&"))
        lang = query.get("lang") if query.get("lang") in ("sv", "en") else "en"
        body = json.dumps({"error": {"code": error.code, "status": 413, **error.as_dict(lang)}}).encode()
        kind = b"application/json"
    else:
        body = (error.text("sv") + "\n").encode()
        kind = b"text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
