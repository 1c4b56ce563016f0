"""Logging in and out (with the login form's own CSRF cookie and the throttle), and
switching the pages' language."""

from __future__ import annotations

import math
import re

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from etablera.access import accounts, hashing, login_guard, oidc
from etablera.access.hashing import Busy
from etablera.access.scope import empty_scope_refusal, principal_for
from etablera.interfaces.http import i18n
from etablera.interfaces.http.auth import (LANG_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, cookies_secure,
                                           csrf_ok, engine_of, identify)
from etablera.interfaces.http.pages.common import lang_of, render, router
from etablera.models.login_settings import login_settings
from etablera.models.timestamps import STOCKHOLM, utcnow
from etablera.statemachine.errors import EtableraError, NotPermitted
from etablera.statemachine.messages import Code

_SAFE_NEXT = re.compile(r"^/(?!/)[\w\-./?=&%#]*$")
SSO_COOKIE = "etablera_sso"         # this browser's session came through the provider (for logging out there)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/worklist", problem: str | None = None, signed_out: str | None = None):
    return login_form(request, next, problem, signed_out=signed_out == "sso")


def login_form(request: Request, next: str = "/worklist", problem: str | None = None,
               refusal: EtableraError | None = None, status: int | None = None, headers: dict | None = None,
               signed_out: bool = False):
    """The login form, with a problem (a word of the pages) or a refusal (the catalogue's);
    the button of the identity provider when single sign-on is configured (login.toml),
    the password form unless local passwords are off."""
    import secrets
    settings = login_settings()
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", {"next": next if _SAFE_NEXT.match(next) else "/worklist",
                                              "login_csrf": token, "problem": problem,
                                              "problem_text": refusal.text(lang_of(request)) if refusal else None,
                                              "sso_name": settings.oidc.name if settings.oidc else None,
                                              "local_passwords": settings.local_passwords,
                                              "provider_logout": provider_logout_url(request) if signed_out
                                              else None},
                      status or (401 if problem or refusal else 200))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=cookies_secure(request))
    if headers:
        response.headers.update(headers)
    return response


@router.post("/login")
async def login(request: Request):
    form = await request.form()
    user_id = str(form.get("user", "")).strip()[:60]
    password = str(form.get("password", ""))[:1000]
    target = str(form.get("next", "/worklist"))
    target = target if _SAFE_NEXT.match(target) else "/worklist"
    engine = engine_of(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not csrf_ok(accounts.Session("", {}, cookie, utcnow()), str(form.get("login_csrf", ""))):
        return login_form(request, target, "login_expired")
    settings = login_settings()
    if not settings.local_passwords:        # single sign-on only (login.toml): no password is checked
        await run_in_threadpool(_log_login, engine, user_id, "login_refused", "local passwords off")
        return login_form(request, target, refusal=NotPermitted("local_passwords_off",
                                                                provider=Code(settings.oidc.name)), status=403)
    pool = request.app.state.login_throttle.pool
    try:
        with pool.slot():
            user = await pool.run(_checked, engine, request.client.host if request.client else None,
                                  user_id, password)
    except Busy as busy:
        return login_form(request, target, refusal=busy, status=503,
                          headers={"Retry-After": str(hashing.RETRY_AFTER)})
    except _Refused as refused:
        return login_form(request, target, refused.problem, refusal=refused.exc, status=refused.status,
                          headers=refused.headers)
    secret, _session = await run_in_threadpool(accounts.start_session, engine, user["id"])
    await run_in_threadpool(_log_login, engine, user["id"], "login", None, user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax", path="/",
                        secure=cookies_secure(request), max_age=int(accounts.ABSOLUTE.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


class _Refused(Exception):
    def __init__(self, exc: EtableraError | None, status: int, headers: dict | None = None,
                 problem: str | None = None):
        super().__init__()
        self.exc, self.status, self.headers, self.problem = exc, status, headers, problem


def _checked(engine, client: str | None, user_id: str, password: str) -> dict:
    """The user whose password this is, once the attempt is admitted (counted in the
    database first) and checked; _Refused otherwise, logged. Runs on the hashing pool's
    thread, all of it: a burst of logins never takes the request threads."""
    verdict = login_guard.admit(engine, user_id, client)
    if not verdict.allowed:
        _log_login(engine, user_id, "login_refused", f"wait ({verdict.why})")
        wait = max(1, math.ceil((verdict.retry_at - utcnow()).total_seconds()))
        raise _Refused(NotPermitted("login_wait", time=Code(_clock(verdict.retry_at))), 429,
                       {"Retry-After": str(wait)})
    user = None
    try:
        user = accounts.authenticate(engine, user_id, password)
    finally:
        login_guard.settle(engine, verdict.attempt, user is not None)
    if user is None:
        _log_login(engine, user_id, "login_failed", None)
        raise _Refused(None, 401, problem="login_failed")
    who = principal_for(user)
    if who.scope_empty:
        refusal = empty_scope_refusal(who)
        _log_login(engine, user["id"], "login_refused", refusal.denied, user)
        raise _Refused(refusal, 403)
    return user


def _clock(moment) -> str:
    """When to try again, as people read it: the Stockholm time, with the date if not today."""
    local, today = moment.astimezone(STOCKHOLM), utcnow().astimezone(STOCKHOLM).date()
    return local.strftime("%H:%M:%S" if local.date() == today else "%Y-%m-%d %H:%M:%S")


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
    via_provider = request.cookies.get(SSO_COOKIE) == "1"
    response = RedirectResponse("/login?signed_out=sso" if via_provider else "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(SSO_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = "/worklist"):
    response = RedirectResponse(next if _SAFE_NEXT.match(next) else "/worklist", status_code=303)
    if code in i18n.LANGS:
        response.set_cookie(LANG_COOKIE, code, samesite="lax", path="/", max_age=365 * 86400,
                            secure=cookies_secure(request))
    return response


def provider_logout_url(request: Request) -> str | None:
    """After logging out of a session that came through the provider: its end-session
    address (when configured), back to the login page."""
    settings = login_settings().oidc
    if settings is None or not settings.provider_logout:
        return None
    base = settings.redirect_base_url or str(request.base_url)
    return oidc.logout_url(settings, base.rstrip("/") + "/login")
