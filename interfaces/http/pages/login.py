"""Logging in and out (with the login form's own CSRF cookie and the throttle), and
switching the pages' language."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from etablera.access import accounts
from etablera.interfaces.http import i18n
from etablera.interfaces.http.auth import LANG_COOKIE, LOGIN_CSRF_COOKIE, SESSION_COOKIE, csrf_ok, engine_of, identify
from etablera.interfaces.http.pages.common import render
from etablera.models.timestamps import utcnow

router = APIRouter(include_in_schema=False)
_SAFE_NEXT = re.compile(r"^/(?!/)[\w\-./?=&%#]*$")


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
