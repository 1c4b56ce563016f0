"""Scope (issue 14, items 6 and 7): an empty scope sees nothing, and a changed
af_offices.toml applies at the next request without a restart.

The attacks, as found: an AF officer whose office was missing from af_offices.toml got
the national report broken down by municipality (an empty scope was taken for
"everywhere"); and an office's new municipalities needed a restart, the file being cached.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from etablera.access import accounts
from etablera.access.principal import principal_for
from etablera.access.scope import scoped_municipalities
from etablera.interfaces.http.app import create_app
from etablera.models.database import transaction
from etablera.models.users import User
from etablera.statemachine.errors import Forbidden
from web_kit import PASSWORD, build_world, login

OFFICES = """
[offices.norrkoping]
name = "Arbetsförmedlingen Norrköping"
municipalities = [{codes}]

[offices.stockholm]
name = "Arbetsförmedlingen Stockholm"
municipalities = ["0180"]
"""


def _write_offices(directory, *codes: str, drop_norrkoping: bool = False) -> None:
    text = OFFICES.format(codes=", ".join(f'"{c}"' for c in codes))
    if drop_norrkoping:
        text = text.split("[offices.stockholm]", 1)[1]
        text = "[offices.stockholm]" + text
    (directory / "af_offices.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    directory = tmp_path / "config"
    directory.mkdir()
    _write_offices(directory, "0581", "0580")
    monkeypatch.setenv("ETABLERA_CONFIG_DIR", str(directory))
    return directory


@pytest.fixture
def world(db_url, config_dir):
    world = build_world(db_url)
    yield world
    world.engine.dispose()


def _form_token(client) -> str:
    return re.search(r'name="login_csrf" value="([^"]+)"', client.get("/login").text).group(1)


def _login_attempt(client, user: str, password: str = PASSWORD):
    return client.post("/login", data={"user": user, "password": password, "login_csrf": _form_token(client)},
                       follow_redirects=False)


def test_an_af_officer_whose_office_is_not_configured_sees_nothing_and_is_refused_at_login(world, config_dir):
    app = create_app(world.engine)
    before = TestClient(app)
    login(before, "af-nkpg")                       # logged in while the office was configured
    assert before.get("/api/v1/report").status_code == 200
    _write_offices(config_dir, drop_norrkoping=True)     # the office disappears from the file

    # The national report, the attack: refused, naming the file and the office.
    for client, headers in ((before, {}), (TestClient(app), world.bearer("af-nkpg"))):
        report = client.get("/api/v1/report?lang=en", headers=headers)
        assert report.status_code == 403, report.text
        error = report.json()["error"]
        assert error["code"] == "scope_office_not_configured" and error["field"] == "office"
        assert "af_offices.toml" in error["message"] and "norrkoping" in error["message"]
        assert str(config_dir) in error["message"]
        assert client.get(f"/api/v1/cases/{world.cases['nkpg']}", headers=headers).status_code == 403
        assert client.get("/api/v1/cases", headers=headers).status_code == 403
    page = before.get("/worklist")
    assert page.status_code == 403 and "af_offices.toml" in page.text and "norrkoping" in page.text
    assert before.get("/report").status_code == 403

    # A new login is refused with the same words, in Swedish by default; the refusal is logged.
    fresh = TestClient(app)
    refused = _login_attempt(fresh, "af-nkpg")
    assert refused.status_code == 403 and "etablera_session" not in refused.cookies
    assert "Ditt AF-kontor norrkoping finns inte i af_offices.toml" in refused.text
    rows = world.access_rows(actor="af-nkpg", action="login_refused")
    assert rows and "office norrkoping not configured" in rows[-1]["detail"]

    # The use-case layer itself never widens an empty scope to every municipality.
    who = principal_for(accounts.get_user(world.engine, "af-nkpg"))
    assert who.municipalities == () and not who.sees("0581")
    with pytest.raises(Forbidden):
        scoped_municipalities(who)


def test_a_municipal_user_without_a_municipality_sees_nothing_and_admin_and_auditor_see_all(world):
    with transaction(world.engine) as conn:
        conn.execute(update(User).where(User.c.id == "h0581").values(municipality=None))
    app = create_app(world.engine)
    refused = _login_attempt(TestClient(app), "h0581")
    assert refused.status_code == 403
    assert "Användaren h0581 har ingen kommun" in refused.text
    english = TestClient(app).get("/api/v1/report?lang=en", headers=world.bearer("h0581")).json()["error"]
    assert english["code"] == "scope_no_municipality" and "has no municipality" in english["message"]
    # Only admin and an auditor without a municipality see the whole country.
    for user in ("admin", "granskare"):
        doc = TestClient(app).get("/api/v1/report", headers=world.bearer(user))
        assert doc.status_code == 200 and doc.json()["scope"]["national"] is True, user


def test_a_changed_af_offices_file_applies_at_the_next_request_without_a_restart(world, config_dir):
    api = TestClient(create_app(world.engine))     # one application for the whole test: no restart
    headers = world.bearer("af-nkpg")
    sthlm, nkpg = world.cases["sthlm"], world.cases["nkpg"]
    assert api.get(f"/api/v1/cases/{nkpg}", headers=headers).status_code == 200
    assert api.get(f"/api/v1/cases/{sthlm}", headers=headers).status_code == 404
    assert api.get("/api/v1/me", headers=headers).json()["municipalities"] == ["0581", "0580"]

    _write_offices(config_dir, "0581", "0580", "0180")        # the office takes over Stockholm
    assert api.get(f"/api/v1/cases/{sthlm}", headers=headers).status_code == 200
    assert api.get("/api/v1/me", headers=headers).json()["municipalities"] == ["0581", "0580", "0180"]

    _write_offices(config_dir, "0180")                        # and gives Norrköping away
    assert api.get(f"/api/v1/cases/{nkpg}", headers=headers).status_code == 404
    assert api.get(f"/api/v1/cases/{sthlm}", headers=headers).status_code == 200

    (config_dir / "af_offices.toml").write_text("[offices.norrkoping\n", encoding="utf-8")    # broken
    broken = TestClient(api.app, raise_server_exceptions=False).get(f"/api/v1/cases/{sthlm}", headers=headers)
    assert broken.status_code >= 400                                    # never the old scope from a stale cache
    _write_offices(config_dir, "0581")                                  # mended
    assert api.get(f"/api/v1/cases/{nkpg}", headers=headers).status_code == 200
