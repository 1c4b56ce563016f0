"""Who is asking: a session cookie (the browser) or a bearer token (an integration); and
CSRF protection for the browser's forms.

- The session cookie holds a random secret (HttpOnly, SameSite=Lax, Secure behind
  HTTPS); the database holds its SHA-256 (statemachine/accounts.py).
- Every state-changing request made with the cookie carries the session's CSRF token, in
  the form field `csrf` or the header `X-CSRF-Token`; a request with a bearer token needs
  none (a browser never sends one by itself).
- The login form itself is protected by a double-submit token (cookie + hidden field).
- Login attempts are counted in the database before the password is checked, shared by
  every process (access/login_guard.py); passwords are checked in a bounded pool of their
  own (access/hashing.py); every attempt is logged.
- Cookies are Secure when the request came over HTTPS: directly, or through a trusted
  proxy's X-Forwarded-Proto (ETABLERA_TRUSTED_PROXIES, applied by the server:
  interfaces/http/server.py); `etablera web --secure-cookies` forces them on.
- A user whose scope is empty (an AF office missing from af_offices.toml, a municipal
  user without a municipality) is refused on every page and API call, naming what to fix.
"""

from __future__ import annotations

import secrets

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine

from etablera.access.accounts import Session, find_session, user_for_token
from etablera.access.hashing import POOL, HashingPool
from etablera.access.scope import Principal, empty_scope_refusal, principal_for
from etablera.statemachine.errors import EtableraError, Forbidden
from etablera.statemachine.messages import Code

SESSION_COOKIE = "etablera_session"
LOGIN_CSRF_COOKIE = "etablera_login_csrf"
LANG_COOKIE = "etablera_lang"
bearer = HTTPBearer(auto_error=False, description="An API token: `etablera user token USER --label ...`")


class LoginRequired(Exception):
    """A page asked for without a live session: the browser goes to the login page."""


class NotLoggedIn(EtableraError):
    """The API asked for without a valid token or session (401)."""
    exit_code = 1
    http_status = 401


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def identify(request: Request) -> tuple[Principal | None, Session | None]:
    """The principal behind the request (cached on the request), and its session if any."""
    if hasattr(request.state, "principal"):
        return request.state.principal, request.state.session
    principal, session = None, None
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        user = user_for_token(engine_of(request), header[7:].strip())
        principal = principal_for(user, via="token") if user else None
    else:
        session = find_session(engine_of(request), request.cookies.get(SESSION_COOKIE))
        principal = principal_for(session.user) if session else None
    request.state.principal, request.state.session = principal, session
    return principal, session


def cookies_secure(request: Request) -> bool:
    """Mark cookies Secure: the request came over HTTPS (the server has already taken a
    trusted proxy's X-Forwarded-Proto into the scheme), or the operator forced it."""
    return request.app.state.secure_cookies or request.url.scheme == "https"


def csrf_ok(session: Session | None, given: str | None) -> bool:
    return session is not None and bool(given) and secrets.compare_digest(session.csrf, given)


def api_principal(request: Request, credentials: HTTPAuthorizationCredentials | None = None,
                  scope: str | None = None) -> Principal:
    """The API's caller. 401 without a valid token or session; 403 for a browser session's
    change without its CSRF token. `scope`: the route needs a token with that scope
    (events:read); a token limited to scopes is refused everywhere else (403)."""
    principal, session = identify(request)
    if principal is None:
        raise NotLoggedIn("login_required", header=Code("Authorization: Bearer ..."))
    if scope is not None and scope not in (principal.scopes or ()):
        raise Forbidden("scope_missing", field="scope", scope=Code(scope))
    if scope is None and principal.scopes is not None:
        raise Forbidden("scope_only", field="scope", scopes=[Code(name) for name in principal.scopes])
    if principal.scope_empty:
        raise empty_scope_refusal(principal)
    if session is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
        if not csrf_ok(session, request.headers.get("x-csrf-token")):
            raise Forbidden("csrf_header_missing", field="csrf", header=Code("X-CSRF-Token"))
    return principal


def page_principal(request: Request) -> Principal:
    principal, _ = identify(request)
    if principal is None or principal.via != "session":
        raise LoginRequired()
    if principal.scope_empty:
        raise empty_scope_refusal(principal)
    return principal


class LoginThrottle:
    """The application's guard of its login form: the attempts are counted in the
    database (access/login_guard.py: admit before the check, settle after it) and the
    passwords checked in `pool`, bounded (access/hashing.py), shared by the process."""

    def __init__(self, pool: HashingPool | None = None):
        self.pool = pool or POOL
