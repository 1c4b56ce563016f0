"""Single sign-on with OpenID Connect (the settings: models/login_settings.py, `login.toml`).

The authorization-code flow with PKCE (S256), `state` and `nonce`, done with Authlib's
lower-level pieces: its requests `OAuth2Session` builds the authorization URL (with the code
challenge) and redeems the code (with the verifier, the client secret if there is one);
the ID token is checked with joserfc (the JOSE library Authlib itself uses) against the
provider's JWKS, and its claims with Authlib's `CodeIDToken`: issuer and audience exactly
the configured ones, not expired, the nonce the one this browser was given, `azp` and
`at_hash` when present. The provider's metadata is read from
`<issuer>/.well-known/openid-configuration`, whose `issuer` must be the configured one.

Why not Authlib's Starlette client: it keeps the pending login (state, nonce, verifier) in
Starlette's signed-cookie session, which needs a middleware over the whole application
and one more secret shared by every replica. Here the pending login is a short-lived
HttpOnly cookie of its own (`Pending`), read only by the callback, and the browser that
started the login is the only one that can finish it: the callback's `state` must be the
cookie's, the code is redeemed with the cookie's verifier, and the token must carry the
cookie's nonce.

The user: the claim `user_claim` (default `preferred_username`) is the user's id in
etablera; the first group of `[oidc.groups]` the user has gives role, organisation and
municipality (or, with `[oidc.claims]`, claims of those names). A user no group maps is
refused (`sso_unknown_user`). A mapped user is created or updated in the user registry
(no password; the e-mail address from the `email` claim, where their reminders go) and
gets an ordinary session.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlencode

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (BadSignatureError, ExpiredTokenError, InvalidClaimError, InvalidKeyIdError, JoseError,
                            MissingClaimError)
from joserfc.jwk import KeySet
from sqlalchemy.engine import Engine

from etablera.access import accounts
from etablera.access.addresses import check_email
from etablera.models.login_settings import Grant, OidcSection, client_secret
from etablera.statemachine.errors import BadInput, Forbidden, NotFound
from etablera.statemachine.messages import Code

CALLBACK = "/login/oidc/callback"
LEEWAY = 60                     # seconds of clock difference allowed on exp/iat
METADATA_TTL = 3600.0           # the provider's metadata and keys are read again after an hour
_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class SsoRefused(Forbidden):
    """A single sign-on that did not lead to a session; `why` (no personal data) is logged."""

    def __init__(self, code: str, reason: str, **params):
        super().__init__(code, **params)
        self.why = reason


def failed(settings: OidcSection, why: str) -> SsoRefused:
    return SsoRefused("sso_failed", why, provider=Code(settings.name), why=Code(why))


# ----------------------------------------------------------------------------- the provider

_cache: dict[str, tuple[float, dict]] = {}
_lock = threading.Lock()


def _get_json(settings: OidcSection, url: str) -> dict:
    try:
        response = requests.get(url, timeout=settings.timeout_seconds, allow_redirects=False)
        response.raise_for_status()
        doc = response.json()
    except (requests.RequestException, ValueError):
        raise failed(settings, "provider unreachable") from None
    if not isinstance(doc, dict):
        raise failed(settings, "provider answer not an object")
    return doc


def metadata(settings: OidcSection, *, fresh: bool = False) -> dict:
    """The provider's metadata (discovery), its `issuer` checked against the configuration."""
    key = "meta " + settings.issuer
    with _lock:
        hit = _cache.get(key)
    if hit and not fresh and time.monotonic() - hit[0] < METADATA_TTL:
        return hit[1]
    doc = _get_json(settings, settings.issuer.rstrip("/") + "/.well-known/openid-configuration")
    if doc.get("issuer") != settings.issuer:
        raise failed(settings, "discovery issuer differs")
    for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(needed), str):
            raise failed(settings, f"discovery lacks {needed}")
    with _lock:
        _cache[key] = (time.monotonic(), doc)
    return doc


def _keys(settings: OidcSection, meta: dict, *, fresh: bool = False) -> KeySet:
    key = "jwks " + meta["jwks_uri"]
    with _lock:
        hit = _cache.get(key)
    if hit and not fresh and time.monotonic() - hit[0] < METADATA_TTL:
        return hit[1]
    try:
        keys = KeySet.import_key_set(_get_json(settings, meta["jwks_uri"]))
    except (JoseError, ValueError, TypeError, KeyError):
        raise failed(settings, "provider keys unreadable") from None
    with _lock:
        _cache[key] = (time.monotonic(), keys)
    return keys


def forget_provider() -> None:
    """Drop the cached metadata and keys (tests; a provider that rotated everything)."""
    with _lock:
        _cache.clear()


def _client(settings: OidcSection, meta: dict, redirect_uri: str) -> OAuth2Session:
    secret = client_secret()
    supported = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    method = ("none" if secret is None else
              "client_secret_basic" if "client_secret_basic" in supported else "client_secret_post")
    return OAuth2Session(client_id=settings.client_id, client_secret=secret, scope=" ".join(settings.scopes),
                         redirect_uri=redirect_uri, code_challenge_method="S256",
                         token_endpoint_auth_method=method)


# ----------------------------------------------------------------------------- the flow

@dataclass(frozen=True)
class Pending:
    """A login begun in this browser: kept in its own HttpOnly cookie until the callback."""
    state: str
    nonce: str
    verifier: str
    next: str

    def as_cookie(self) -> str:
        return base64.urlsafe_b64encode(json.dumps(asdict(self), separators=(",", ":")).encode()).decode()

    @classmethod
    def from_cookie(cls, value: str | None) -> "Pending | None":
        if not value or len(value) > 2000:
            return None
        try:
            doc = json.loads(base64.urlsafe_b64decode(value.encode()))
            return cls(**{k: str(doc[k]) for k in ("state", "nonce", "verifier", "next")})
        except (ValueError, TypeError, KeyError):
            return None


def begin(settings: OidcSection, redirect_uri: str, next_page: str) -> tuple[str, Pending]:
    """Where to send the browser (the provider's authorization endpoint) and what to keep."""
    meta = metadata(settings)
    pending = Pending(secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64), next_page)
    with _client(settings, meta, redirect_uri) as client:
        url, _ = client.create_authorization_url(meta["authorization_endpoint"], state=pending.state,
                                                 nonce=pending.nonce, code_verifier=pending.verifier)
    return url, pending


def finish(settings: OidcSection, pending: Pending | None, params: dict, redirect_uri: str) -> dict:
    """The ID token's claims, once the callback's state is this browser's, the code is
    redeemed with its verifier and the token is checked. SsoRefused otherwise."""
    if pending is None:
        raise failed(settings, "no login in progress")
    if not secrets.compare_digest(str(params.get("state", "")), pending.state):
        raise failed(settings, "state mismatch")
    if params.get("error"):
        raise failed(settings, "provider said " + str(params["error"])[:40])
    code = params.get("code")
    if not code:
        raise failed(settings, "no code")
    meta = metadata(settings)
    try:
        with _client(settings, meta, redirect_uri) as client:
            token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code,
                                       code_verifier=pending.verifier, timeout=settings.timeout_seconds)
    except Exception as exc:        # the token endpoint's refusal or an unreachable provider
        raise failed(settings, "token request refused (" + type(exc).__name__ + ")") from None
    if not token.get("id_token"):
        raise failed(settings, "no id token")
    return id_token_claims(settings, meta, token, pending.nonce)


def id_token_claims(settings: OidcSection, meta: dict, token: dict, nonce: str) -> dict:
    """The ID token's claims: signature by the provider's keys, issuer, audience, expiry, nonce."""
    allowed = [a for a in meta.get("id_token_signing_alg_values_supported") or ["RS256"] if a in _ALGORITHMS]
    try:
        try:
            decoded = jwt.decode(token["id_token"], _keys(settings, meta), algorithms=allowed)
        except InvalidKeyIdError:                          # the provider rotated its keys
            decoded = jwt.decode(token["id_token"], _keys(settings, meta, fresh=True), algorithms=allowed)
        claims = CodeIDToken(decoded.claims, decoded.header,
                             {"iss": {"essential": True, "value": settings.issuer},
                              "aud": {"essential": True, "value": settings.client_id}},
                             {"nonce": nonce, "client_id": settings.client_id,
                              "access_token": token.get("access_token")})
        claims.validate(leeway=LEEWAY)
    except BadSignatureError:
        raise failed(settings, "bad signature") from None
    except ExpiredTokenError:
        raise failed(settings, "token expired") from None
    except (InvalidClaimError, MissingClaimError) as exc:
        raise failed(settings, f"claim {getattr(exc, 'claim', '?')} not valid") from None
    except (JoseError, ValueError, TypeError):
        raise failed(settings, "token unreadable") from None
    return dict(claims)


# ----------------------------------------------------------------------------- the user

def grant_for(settings: OidcSection, claims: dict) -> Grant | None:
    """Role, organisation and municipality from the first configured group the user has,
    else from the configured claims; None: the mapping does not know this user."""
    groups = claims.get(settings.groups_claim) or []
    groups = {groups} if isinstance(groups, str) else {str(g) for g in groups if isinstance(g, (str, int))}
    for group, grant in settings.groups.items():
        if group in groups:
            return grant
    names = settings.claims
    if names is None or not claims.get(names.role):
        return None
    municipality = claims.get(names.municipality)
    if isinstance(municipality, list):
        municipality = municipality[0] if len(municipality) == 1 else None
    try:
        return Grant(role=claims.get(names.role), organisation=claims.get(names.organisation) or "kommun",
                     municipality=municipality or None, office=claims.get(names.office) or None)
    except ValueError:
        return None


def user_for(engine: Engine, settings: OidcSection, claims: dict) -> dict:
    """The registry's user for a checked ID token: created or updated from the mapping (no
    password). SsoRefused for a user without a usable id or unknown to the mapping."""
    user_id = claims.get(settings.user_claim)
    if not isinstance(user_id, str) or not accounts._ID.match(user_id):
        raise SsoRefused("sso_no_user_id", "user claim missing or not a user id", provider=Code(settings.name),
                         claim=Code(settings.user_claim))
    grant = grant_for(settings, claims)
    if grant is None:
        exc = SsoRefused("sso_unknown_user", "no group or claim maps", provider=Code(settings.name))
        exc.user_id = user_id
        raise exc
    try:
        if not accounts.get_user(engine, user_id)["active"]:
            raise SsoRefused("sso_user_inactive", "user deactivated", user=Code(user_id))
    except NotFound:
        pass
    name = claims.get(settings.name_claim)
    name = name.strip()[:120] if isinstance(name, str) and name.strip() else user_id
    email = claims.get(settings.email_claim) if settings.email_claim else None
    try:
        email = check_email(email) if isinstance(email, str) else None
    except BadInput:
        email = None                # not an address etablera can send to: the registry's stays
    try:
        return accounts.add_user(engine, user_id, name=name, role=grant.role, organisation=grant.organisation,
                                 municipality=grant.municipality, office=grant.office, email=email,
                                 update_existing=True)
    except BadInput as exc:         # the mapping names a municipality or office etablera does not know
        raise failed(settings, f"mapping not valid ({exc.code})") from None


def logout_url(settings: OidcSection, after: str) -> str | None:
    """The provider's end-session address (RP-initiated logout), if it has one and the
    configuration asks for it."""
    if not settings.provider_logout:
        return None
    try:
        endpoint = metadata(settings).get("end_session_endpoint")
    except SsoRefused:
        return None
    if not isinstance(endpoint, str):
        return None
    query = urlencode({"client_id": settings.client_id, "post_logout_redirect_uri": after})
    return endpoint + ("&" if "?" in endpoint else "?") + query
