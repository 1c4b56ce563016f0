"""Single sign-on with OpenID Connect (issue 15, item 6) against a real provider on loopback
(`oidc-provider-mock`, tests/oidc_kit.py): the authorization-code flow with PKCE, state
and nonce; a wrong issuer or audience refused; the mapping from groups or claims to role,
organisation and municipality; a user the mapping does not know refused with a clear
page; local passwords switched off. The browser's part is played by httpx here (the
application in a TestClient, the provider's form posted directly); the same path in
Chromium is test_oidc_e2e.py."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from oidc_kit import CLIENT_ID, NAME, running_provider, write_config
from web_kit import PASSWORD, World
from etablera.access import accounts
from etablera.access.oidc import Pending
from etablera.interfaces.http.app import create_app
from etablera.models.config_files import ConfigError
from etablera.models.database import make_engine
from etablera.models.login_settings import LoginFile, login_settings

SECRET = "hemlighet-fran-miljon"


@pytest.fixture
def provider():
    with running_provider() as provider:
        yield provider


@pytest.fixture
def site(sqlite_url, provider, tmp_path, monkeypatch):
    """The application on a fresh database, configured for the provider."""
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(write_config(tmp_path / "config", provider.issuer)))
    monkeypatch.setenv("ETABLERA_OIDC_CLIENT_SECRET", SECRET)
    engine = make_engine(sqlite_url)
    accounts.add_user(engine, "h0581", name="Test h0581", role="officer", organisation="kommun",
                      municipality="0581", password=PASSWORD)
    with TestClient(create_app(engine)) as client:
        yield World(engine, sqlite_url), client


def _start(client) -> str:
    """Click "Logga in med ...": the provider's authorization URL."""
    page = client.get("/login")
    assert f"Logga in med {NAME}" in page.text or f"Log in with {NAME}" in page.text
    link = re.search(r'id="sso-login" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    response = client.get(link, follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    return response.headers["location"]


def _sign_in(client, provider, sub: str, *, edit=None):
    """The whole flow for `sub`; `edit` may change the callback's query first."""
    callback = provider.authorize(_start(client), sub)
    parts = urlsplit(callback)
    query = parse_qs(parts.query)
    if edit:
        edit(query)
    return client.get(parts.path, params={k: v[0] for k, v in query.items()}, follow_redirects=False)


def _logins(world: World) -> list[tuple]:
    return [(r["actor"], r["action"], r["detail"]) for r in world.access_rows() if r["action"].startswith("login")]


def test_authorization_request_has_pkce_s256_state_and_nonce(site, provider):
    _, client = site
    url = _start(client)
    assert url.startswith(provider.issuer + "/oauth2/authorize?")
    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 40 and len(query["nonce"][0]) >= 40
    assert query["redirect_uri"] == ["http://testserver/login/oidc/callback"]
    assert set(query["scope"][0].split()) == {"openid", "profile", "email"}
    again = parse_qs(urlsplit(_start(client)).query)            # fresh for every login
    assert again["state"] != query["state"] and again["nonce"] != query["nonce"]
    assert again["code_challenge"] != query["code_challenge"]


def test_a_mapped_user_logs_in_with_the_same_session_as_a_password_login(site, provider):
    world, client = site
    response = _sign_in(client, provider, "sub-officer")
    assert response.status_code == 303 and response.headers["location"] == "/worklist"
    assert provider.token_requests == [(True, True)]              # the code redeemed with its verifier
    cookie = response.cookies.get("etablera_session")
    assert cookie and "etablera_oidc" not in client.cookies
    page = client.get("/worklist")
    assert page.status_code == 200 and "Test Handläggare Sso" in page.text
    user = accounts.get_user(world.engine, "sso.h0180")
    assert (user["role"], user["organisation"], user["municipality"], user["has_password"]) == \
        ("officer", "kommun", "0180", False)
    assert user["email"] == "h0180@kommun.example.se"                    # where their reminders go
    assert accounts.find_session(world.engine, cookie).user["id"] == "sso.h0180"
    assert _logins(world)[-1] == ("sso.h0180", "login", "oidc")
    # Logging out ends the local session.
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    out = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith("/login")
    assert accounts.find_session(world.engine, cookie) is None
    assert client.get("/worklist", follow_redirects=False).status_code == 303


def test_claims_map_role_and_municipality_and_groups_an_af_office(site, provider):
    world, client = site
    assert _sign_in(client, provider, "sub-coordinator").status_code == 303
    user = accounts.get_user(world.engine, "sso.samord")
    assert (user["role"], user["organisation"], user["municipality"]) == ("coordinator", "kommun", "0581")
    client.cookies.clear()
    assert _sign_in(client, provider, "sub-af").status_code == 303
    user = accounts.get_user(world.engine, "sso.af")
    assert (user["role"], user["organisation"], user["office"]) == ("officer", "af", "norrkoping")
    assert user["email"] is None                                  # not an address: not taken, not refused


def test_the_mapping_applies_at_every_login(site, provider, tmp_path):
    world, client = site
    assert _sign_in(client, provider, "sub-officer").status_code == 303
    config = tmp_path / "config" / "login.toml"
    config.write_text(config.read_text().replace('municipality = "0180"', 'municipality = "0581"'))
    client.cookies.clear()
    assert _sign_in(client, provider, "sub-officer").status_code == 303
    assert accounts.get_user(world.engine, "sso.h0180")["municipality"] == "0581"


def test_a_user_the_mapping_does_not_know_is_refused_with_a_clear_page(site, provider):
    world, client = site
    response = _sign_in(client, provider, "sub-stranger")
    assert response.status_code == 403 and "etablera_session" not in response.cookies
    assert "ingen behörighet i Etablera" in response.text and "Be din administratör" in response.text
    with pytest.raises(Exception):
        accounts.get_user(world.engine, "sso.okand")
    assert _logins(world)[-1] == ("sso.okand", "login_refused", "oidc: no group or claim maps")
    client.cookies.set("etablera_lang", "en")
    english = _sign_in(client, provider, "sub-stranger")
    assert "have no access to Etablera" in english.text


def test_a_deactivated_user_stays_out(site, provider):
    world, client = site
    assert _sign_in(client, provider, "sub-officer").status_code == 303
    accounts.deactivate_user(world.engine, "sso.h0180")
    client.cookies.clear()
    response = _sign_in(client, provider, "sub-officer")
    assert response.status_code == 403 and "avstängd" in response.text
    assert not accounts.get_user(world.engine, "sso.h0180")["active"]


def test_a_state_that_is_not_this_browsers_is_refused(site, provider):
    world, client = site
    response = _sign_in(client, provider, "sub-officer", edit=lambda q: q.update(state=["forged-state"]))
    assert response.status_code == 403 and "state mismatch" in response.text
    assert provider.token_requests == []                          # the code never redeemed
    assert "etablera_session" not in response.cookies
    assert _logins(world)[-1] == ("(oidc)", "login_refused", "oidc: state mismatch")
    # A callback in a browser that never started a login (login CSRF) is refused too.
    callback = provider.authorize(_start(client), "sub-officer")
    client.cookies.clear()
    assert "no login in progress" in client.get(callback.replace("http://testserver", "")).text


def test_a_nonce_that_is_not_this_browsers_is_refused(site, provider):
    _, client = site
    provider.tamper = "nonce"
    response = _sign_in(client, provider, "sub-officer")
    assert response.status_code == 403 and "claim nonce not valid" in response.text
    assert "etablera_session" not in response.cookies


def test_a_token_from_another_issuer_is_refused(site, provider):
    _, client = site
    provider.tamper = "issuer"
    response = _sign_in(client, provider, "sub-officer")
    assert response.status_code == 403 and "claim iss not valid" in response.text
    assert "etablera_session" not in response.cookies


def test_a_token_for_another_client_is_refused(site, provider):
    _, client = site
    provider.tamper = "audience"
    response = _sign_in(client, provider, "sub-officer")
    assert response.status_code == 403 and "claim aud not valid" in response.text
    assert "etablera_session" not in response.cookies


def test_a_token_whose_claims_were_changed_after_signing_is_refused(site, provider):
    world, client = site
    provider.tamper = "signature"
    response = _sign_in(client, provider, "sub-officer")
    assert response.status_code == 403 and "bad signature" in response.text
    assert "etablera_session" not in response.cookies
    assert _logins(world)[-1] == ("(oidc)", "login_refused", "oidc: bad signature")


def test_an_expired_token_is_refused(sqlite_url, tmp_path, monkeypatch):
    with running_provider(token_max_age=timedelta(minutes=-5)) as provider:
        monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(write_config(tmp_path, provider.issuer)))
        monkeypatch.setenv("ETABLERA_OIDC_CLIENT_SECRET", SECRET)
        client = TestClient(create_app(make_engine(sqlite_url)))
        response = _sign_in(client, provider, "sub-officer")
        assert response.status_code == 403 and "token expired" in response.text


def test_a_code_redeemed_without_the_right_verifier_is_refused(site, provider):
    """The provider (with its PKCE check) refuses the code when the verifier is not the
    one of the challenge: a stolen code is useless without the cookie of the browser
    that asked for it."""
    _, client = site
    callback = provider.authorize(_start(client), "sub-officer")
    pending = Pending.from_cookie(client.cookies.get("etablera_oidc"))
    forged = Pending(pending.state, pending.nonce, "another-browsers-verifier-" + "x" * 30, pending.next)
    client.cookies.delete("etablera_oidc")
    client.cookies.set("etablera_oidc", forged.as_cookie())
    response = client.get(callback.replace("http://testserver", ""), follow_redirects=False)
    assert response.status_code == 403 and "token request refused" in response.text
    assert provider.token_requests == [(True, False)]


def test_the_client_secret_comes_from_the_environment(site, provider):
    _, client = site
    assert _sign_in(client, provider, "sub-officer").status_code == 303
    assert provider.secrets == [SECRET]                           # client_secret_basic


def test_local_passwords_off_hides_the_form_and_refuses_a_password(site, provider, tmp_path):
    world, client = site
    assert "Lösenord" in client.get("/login").text                # on: both ways in
    write_config(tmp_path / "config", provider.issuer, local_passwords=False)
    page = client.get("/login")
    assert f"Logga in med {NAME}" in page.text and 'name="password"' not in page.text
    token = client.cookies.get("etablera_login_csrf")
    response = client.post("/login", data={"user": "h0581", "password": PASSWORD, "login_csrf": token,
                                           "next": "/worklist"}, follow_redirects=False)
    assert response.status_code == 403 and "Inloggning med lösenord är avstängd" in response.text
    assert "etablera_session" not in response.cookies
    assert _logins(world)[-1] == ("h0581", "login_refused", "local passwords off")
    assert _sign_in(client, provider, "sub-officer").status_code == 303   # single sign-on still works


def test_provider_logout_offers_the_providers_end_session(site, provider, tmp_path):
    _, client = site
    write_config(tmp_path / "config", provider.issuer, provider_logout=True)
    _sign_in(client, provider, "sub-officer")
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/worklist").text).group(1)
    out = client.post("/logout", data={"csrf": csrf}, follow_redirects=True)
    link = re.search(r'href="([^"]+)" id="provider-logout"', out.text).group(1).replace("&amp;", "&")
    assert link.startswith(provider.issuer + "/oauth2/end_session?client_id=etablera")
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Flogin" in link


def test_without_oidc_the_login_page_is_as_before(sqlite_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(tmp_path))
    client = TestClient(create_app(make_engine(sqlite_url)))
    assert "Logga in med" not in client.get("/login").text
    assert client.get("/login/oidc", follow_redirects=False).status_code == 404


@pytest.mark.parametrize("text, where", [
    ('local_passwords = false\n', "local_passwords"),
    ('[oidc]\nname = "X"\nissuer = "http://idp.example.se"\nclient_id = "e"\n', "oidc.issuer"),
    ('[oidc]\nname = "X"\nissuer = "https://idp.example.se"\nclient_id = "e"\nscopes = ["profile"]\n', "oidc.scopes"),
    ('[oidc]\nname = "X"\nissuer = "https://idp.example.se"\nclient_id = "e"\n'
     '[oidc.groups.g]\nrole = "officer"\n', "oidc.groups.g.municipality"),
    ('[oidc]\nname = "X"\nissuer = "https://idp.example.se"\nclient_id = "e"\nclient_secret = "s"\n',
     "oidc.client_secret"),
])
def test_a_broken_login_toml_names_the_key(tmp_path, text, where):
    (tmp_path / "login.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        login_settings(tmp_path)
    assert caught.value.issues[0].field == where, str(caught.value)


def test_config_show_and_readiness_read_login_toml(tmp_path, monkeypatch):
    """`etablera config show` shows the login settings (whether a secret is set, never
    the secret); a broken login.toml is a broken configuration (so /readyz says so)."""
    from etablera.models.config_catalog import effective
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(write_config(tmp_path, "https://idp.example.se")))
    monkeypatch.setenv("ETABLERA_OIDC_CLIENT_SECRET", SECRET)
    doc = effective()
    assert doc["login"]["oidc"]["issuer"] == "https://idp.example.se" and doc["login"]["client_secret_set"]
    assert SECRET not in str(doc) and doc["sources"]["login"] == str(tmp_path / "login.toml")
    (tmp_path / "login.toml").write_text("local_passwords = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="local_passwords"):
        effective()


def test_the_shipped_login_toml_is_local_passwords_only():
    assert login_settings() == LoginFile()
