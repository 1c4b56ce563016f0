"""Logging in with the municipality's identity provider (OpenID Connect, access/oidc.py):
`/login/oidc` sends the browser to the provider with a fresh state, nonce and PKCE
challenge (kept in a cookie of its own, for this path only, ten minutes), and
`/login/oidc/callback` takes it back: the state checked, the code redeemed, the ID token
checked, the user mapped, then the same session cookie as a password login. Every
outcome is in the access log like the password logins (`login`, `login_refused`)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from etablera.access import accounts, oidc
from etablera.access.scope import empty_scope_refusal, principal_for
from etablera.interfaces.http.auth import SESSION_COOKIE, cookies_secure, engine_of
from etablera.interfaces.http.pages.common import router
from etablera.interfaces.http.pages.login import _SAFE_NEXT, SSO_COOKIE, _log_login, login_form
from etablera.models.login_settings import OidcSection, login_settings
from etablera.statemachine.errors import Forbidden, NotFound

PENDING_COOKIE = "etablera_oidc"
PENDING_PATH = "/login/oidc"
PENDING_SECONDS = 600


def _settings() -> OidcSection:
    settings = login_settings().oidc
    if settings is None:
        raise NotFound("not_found_page")
    return settings


def _redirect_uri(request: Request, settings: OidcSection) -> str:
    base = settings.redirect_base_url or str(request.base_url)
    return base.rstrip("/") + oidc.CALLBACK


@router.get(PENDING_PATH)
async def start(request: Request, next: str = "/worklist"):
    settings = _settings()
    target = next if _SAFE_NEXT.match(next) else "/worklist"
    try:
        url, pending = await run_in_threadpool(oidc.begin, settings, _redirect_uri(request, settings), target)
    except oidc.SsoRefused as refused:
        return login_form(request, target, refusal=refused, status=503)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(PENDING_COOKIE, pending.as_cookie(), max_age=PENDING_SECONDS, path=PENDING_PATH,
                        httponly=True, samesite="lax", secure=cookies_secure(request))
    return response


@router.get(oidc.CALLBACK)
async def callback(request: Request):
    settings = _settings()
    engine = engine_of(request)
    pending = oidc.Pending.from_cookie(request.cookies.get(PENDING_COOKIE))
    target = pending.next if pending and _SAFE_NEXT.match(pending.next) else "/worklist"
    try:
        user = await run_in_threadpool(_signed_in, engine, settings, pending, dict(request.query_params),
                                       _redirect_uri(request, settings))
    except Forbidden as refused:          # SsoRefused, or the scope of a mapped user empty
        response = login_form(request, target, refusal=refused, status=403)
        response.delete_cookie(PENDING_COOKIE, path=PENDING_PATH)
        return response
    secret, _session = await run_in_threadpool(accounts.start_session, engine, user["id"])
    await run_in_threadpool(_log_login, engine, user["id"], "login", "oidc", user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax", path="/",
                        secure=cookies_secure(request), max_age=int(accounts.ABSOLUTE.total_seconds()))
    response.set_cookie(SSO_COOKIE, "1", httponly=True, samesite="lax", path="/", secure=cookies_secure(request),
                        max_age=int(accounts.ABSOLUTE.total_seconds()))
    response.delete_cookie(PENDING_COOKIE, path=PENDING_PATH)
    return response


def _signed_in(engine, settings: OidcSection, pending, params: dict, redirect_uri: str) -> dict:
    """The registry's user for this callback, or SsoRefused, logged either way but the success."""
    user_id = None
    try:
        claims = oidc.finish(settings, pending, params, redirect_uri)
        user_id = claims.get(settings.user_claim) if isinstance(claims.get(settings.user_claim), str) else None
        user = oidc.user_for(engine, settings, claims)
    except oidc.SsoRefused as refused:
        _log_login(engine, (user_id or "(oidc)")[:60], "login_refused", f"oidc: {refused.why}")
        raise
    who = principal_for(user)
    if who.scope_empty:
        refusal = empty_scope_refusal(who)
        _log_login(engine, user["id"], "login_refused", f"oidc: {refusal.denied}", user)
        raise refusal
    return user
