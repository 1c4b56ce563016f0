"""A real OpenID Connect provider on loopback for the single sign-on tests: the PyPI package
`oidc-provider-mock` (Authlib's authorization server in Flask) served by werkzeug on a
thread of the test process, stopped at teardown.

The mock does not check PKCE itself, so `Provider` wraps it in a small WSGI layer that
does (RFC 7636: the code is redeemed only with the verifier whose S256 is the challenge
the authorization request carried), and that can misbehave on demand, as a provider that
is not the one configured would: `tamper = "issuer"` (tokens issued under another
issuer), "audience" (the code and token issued to another client), "nonce" (the
authorization request's nonce replaced), "signature" (the ID token's claims changed
after signing).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import werkzeug.serving

CLIENT_ID = "etablera"
NAME = "Mock-IdP"
# (sub, claims): a municipal officer by group, a coordinator by claims, an AF officer by
# group, and someone the mapping does not know.
USERS = (
    ("sub-officer", {"preferred_username": "sso.h0180", "name": "Test Handläggare Sso", "email": "h0180@kommun.example.se",
                     "groups": ["alla-anstallda", "etablera-handlaggare-0180"]}),
    ("sub-coordinator", {"preferred_username": "sso.samord", "name": "Test Samordnare Sso",
                         "role": "coordinator", "org": "kommun", "municipality": "0581"}),
    ("sub-af", {"preferred_username": "sso.af", "email": "inte en adress", "groups": ["etablera-af-norrkoping"]}),
    ("sub-stranger", {"preferred_username": "sso.okand", "groups": ["alla-anstallda"]}),
)


def login_toml(issuer: str, *, local_passwords: bool = True, provider_logout: bool = False) -> str:
    return f'''local_passwords = {str(local_passwords).lower()}

[oidc]
name = "{NAME}"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
provider_logout = {str(provider_logout).lower()}

[oidc.groups.etablera-handlaggare-0180]
role = "officer"
organisation = "kommun"
municipality = "0180"

[oidc.groups.etablera-af-norrkoping]
role = "officer"
organisation = "af"
office = "norrkoping"

[oidc.claims]
role = "role"
organisation = "org"
municipality = "municipality"
'''


def write_config(directory: Path, issuer: str, **options) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "login.toml").write_text(login_toml(issuer, **options), encoding="utf-8")
    return directory


@dataclass
class Provider:
    issuer: str = ""
    tamper: str | None = None
    challenges: dict = field(default_factory=dict)      # code -> the authorization request's code_challenge
    token_requests: list = field(default_factory=list)   # (had a verifier, it matched)
    secrets: list = field(default_factory=list)          # the client secrets the token requests carried

    def wsgi(self, app):
        def layer(environ, start_response):
            path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
            if path == "/oauth2/authorize":
                query = parse_qs(environ.get("QUERY_STRING", ""))
                if self.tamper == "audience":
                    query["client_id"] = ["another-client"]
                if self.tamper == "nonce":
                    query["nonce"] = ["a-nonce-of-someone-else"]
                environ["QUERY_STRING"] = urlencode(query, doseq=True)
                challenge = (query.get("code_challenge") or [None])[0], (query.get("code_challenge_method") or [""])[0]

                def recording(status, headers, exc_info=None):
                    location = dict(headers).get("Location", "")
                    code = parse_qs(urlsplit(location).query).get("code")
                    if code:
                        self.challenges[code[0]] = challenge
                    return start_response(status, headers, exc_info)
                return app(environ, recording)
            if path == "/oauth2/token" and method == "POST":
                size = int(environ.get("CONTENT_LENGTH") or 0)
                body = parse_qs(environ["wsgi.input"].read(size).decode())
                code, verifier = (body.get("code") or [""])[0], (body.get("code_verifier") or [None])[0]
                challenge, how = self.challenges.pop(code, (None, ""))
                matched = (verifier is not None and how == "S256" and challenge == base64.urlsafe_b64encode(
                    hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode())
                self.token_requests.append((verifier is not None, matched))
                basic = environ.get("HTTP_AUTHORIZATION", "")
                if basic.startswith("Basic "):
                    self.secrets.append(base64.b64decode(basic[6:]).decode().split(":", 1)[1])
                if not matched:
                    start_response("400 Bad Request", [("Content-Type", "application/json")])
                    return [b'{"error": "invalid_grant", "error_description": "PKCE verification failed"}']
                if self.tamper == "audience":
                    body["client_id"] = ["another-client"]
                    secret = base64.b64decode(environ["HTTP_AUTHORIZATION"].split()[1]).decode().split(":", 1)[1]
                    environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(
                        f"another-client:{secret}".encode()).decode()
                if self.tamper == "issuer":
                    environ["HTTP_HOST"] = "localhost:" + environ["SERVER_PORT"]
                raw = urlencode(body, doseq=True).encode()
                environ["wsgi.input"], environ["CONTENT_LENGTH"] = _Body(raw), str(len(raw))
                if self.tamper == "signature":
                    return self._forged_signature(app, environ, start_response)
            return app(environ, start_response)
        return layer

    @staticmethod
    def _forged_signature(app, environ, start_response):
        """The token response with the ID token's claims changed after signing (another
        user's id): the signature no longer holds."""
        got = {}

        def keep(status, headers, exc_info=None):
            got["status"], got["headers"] = status, headers
        doc = json.loads(b"".join(app(environ, keep)))
        header, claims, signature = doc["id_token"].split(".")
        payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        payload["preferred_username"] = "admin"
        claims = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
        doc["id_token"] = ".".join((header, claims, signature))
        body = json.dumps(doc).encode()
        start_response(got["status"], [(k, v) for k, v in got["headers"] if k.lower() != "content-length"]
                       + [("Content-Length", str(len(body)))])
        return [body]

    # -- a browser's part, for the tests that do without one

    def authorize(self, url: str, sub: str) -> str:
        """Authorize `sub` at the provider's page (as its form does): the callback URL."""
        response = httpx.post(url, data={"sub": sub}, follow_redirects=False)
        assert response.status_code in (302, 303), response.text[:300]
        return response.headers["location"]


class _Body:
    def __init__(self, raw: bytes):
        self.raw, self.at = raw, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.raw) if size is None or size < 0 else self.at + size
        chunk, self.at = self.raw[self.at:end], min(end, len(self.raw))
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


@contextmanager
def running_provider(token_max_age: timedelta = timedelta(hours=1)):
    """The provider on 127.0.0.1 (a free port), with USERS predefined; stopped on exit.
    `token_max_age` negative: tokens expired when issued."""
    from oidc_provider_mock import User, app as provider_app
    from etablera.access import oidc
    provider = Provider()
    flask_app = provider_app(user_claims=[User(sub=sub, claims=dict(claims)) for sub, claims in USERS],
                             require_nonce=True, access_token_max_age=token_max_age)
    server = werkzeug.serving.make_server("127.0.0.1", 0, provider.wsgi(flask_app), threaded=True)
    provider.issuer = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    oidc.forget_provider()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        oidc.forget_provider()
