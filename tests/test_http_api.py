"""The HTTP API: scopes (another municipality's case is neither listed, readable nor
changeable, and the attempt is logged), roles, errors with the CLI's meaning, concurrent
changes, tokens, sessions and CSRF, and the access log of every view and change. On
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from identities import pnr
from etablera.interfaces.http.app import create_app
from etablera.models.timestamps import utcnow
from etablera.models.users import User, WebSession
from etablera.access import accounts
from etablera.cases.audit import EVENTS
from etablera.models.database import transaction
from web_kit import PASSWORD, build_world, login

SKIP_REASON = next(iter(__import__("etablera.models.configuration", fromlist=["get_config"]).get_config().reasons["skip"]))


@pytest.fixture
def world(db_url):
    world = build_world(db_url)
    yield world
    world.engine.dispose()


@pytest.fixture
def api(world):
    return TestClient(create_app(world.engine))


def _version(world, case_id) -> int:
    from etablera.cases.audit import CASES
    with transaction(world.engine, write=False) as conn:
        return conn.execute(select(CASES.c.version).where(CASES.c.id == case_id)).scalar()


def _events(world, case_id) -> list[str]:
    with transaction(world.engine, write=False) as conn:
        return [r.trigger for r in conn.execute(select(EVENTS.c.trigger).where(EVENTS.c.case_id == case_id)
                                                .order_by(EVENTS.c.seq))]


def test_another_municipalitys_case_is_not_listed_readable_or_changeable_and_the_attempt_is_logged(world, api):
    theirs = world.cases["nkpg"]
    h = world.bearer("h0180")
    listed = api.get("/api/v1/cases", params={"limit": 200}, headers=h).json()["items"]
    assert [c["municipality"] for c in listed] == ["0180"]
    assert theirs not in {c["id"] for c in listed}
    assert api.get("/api/v1/cases", params={"municipality": "0581"}, headers=h).status_code == 403

    for path in (f"/api/v1/cases/{theirs}", f"/api/v1/cases/{theirs}/history", f"/api/v1/cases/{theirs}/events",
                 f"/api/v1/cases/{theirs}/reminders"):
        response = api.get(path, headers=h)
        assert response.status_code == 404, path
        # Exactly the answer for a case that does not exist: existence is not revealed.
        assert response.json()["error"] == {"code": "no_such_case", "status": 404, "exit_code": 2, "field": "id",
                                            "message": f"no case with id {theirs}"}
    changed = api.post(f"/api/v1/cases/{theirs}/events", headers=h,
                       json={"trigger": "hold_talk", "data": {}, "expect_version": 1})
    assert changed.status_code == 404
    assert api.post(f"/api/v1/cases/{theirs}/measures", headers=h, json={"type": "sfi"}).status_code == 404
    assert _events(world, theirs) == ["register"]                      # nothing changed

    denied = [r for r in world.access_rows(case_id=theirs) if r["action"].startswith("denied:")]
    assert {r["action"] for r in denied} >= {"denied:show", "denied:history", "denied:events",
                                             "denied:advance:hold_talk", "denied:add_measure"}
    assert all(r["actor"] == "h0180" and r["role"] == "officer" and r["organisation"] == "kommun"
               and r["at"] is not None for r in denied)
    # No view of the case was logged for them: nothing was shown.
    assert not [r for r in world.access_rows(case_id=theirs, actor="h0180") if r["action"] == "show"]


def test_another_municipalitys_case_page_is_404_and_logged(world, api):
    theirs = world.cases["nkpg"]
    csrf = login(api, "h0180")
    page = api.get(f"/cases/{theirs}")
    assert page.status_code == 404
    assert "19900101" not in page.text
    posted = api.post(f"/cases/{theirs}/events/hold_talk", data={"csrf": csrf, "expect_version": "1"})
    assert posted.status_code == 404
    assert _events(world, theirs) == ["register"]
    worklist = api.get("/worklist", params={"mine": "0"})
    assert f'href="/cases/{theirs}"' not in worklist.text
    assert f'href="/cases/{world.cases["sthlm"]}"' in worklist.text
    actions = [r["action"] for r in world.access_rows(case_id=theirs, actor="h0180")]
    assert "denied:show" in actions and "denied:advance:hold_talk" in actions


def test_af_officer_sees_the_municipalities_of_their_office(world, api):
    items = api.get("/api/v1/cases", params={"limit": 200}, headers=world.bearer("af-nkpg")).json()["items"]
    assert {c["municipality"] for c in items} == {"0581", "0580"}           # Norrköping's office
    assert api.get(f"/api/v1/cases/{world.cases['finspang']}", headers=world.bearer("af-nkpg")).status_code == 200
    assert api.get(f"/api/v1/cases/{world.cases['sthlm']}", headers=world.bearer("af-nkpg")).status_code == 404
    mine = api.get("/api/v1/cases", params={"mine": True}, headers=world.bearer("af-nkpg")).json()["items"]
    assert {c["af_officer"] for c in mine} == {"af-nkpg"}


def test_auditor_reads_but_never_changes_and_sees_the_access_log(world, api):
    case_id = world.cases["nkpg"]
    a = world.bearer("granskare")
    assert api.get(f"/api/v1/cases/{case_id}", headers=a).status_code == 200
    refused = api.post(f"/api/v1/cases/{case_id}/events", headers=a,
                       json={"trigger": "hold_talk", "data": {}, "expect_version": 1})
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "role"
    assert _events(world, case_id) == ["register"]
    log = api.get("/api/v1/access-log", params={"case_id": case_id}, headers=a)
    assert log.status_code == 200
    assert {"show", "denied:advance:hold_talk"} <= {r["action"] for r in log.json()}
    assert api.get("/api/v1/skips", headers=a).status_code == 200
    # An officer may not read the access log, and trying is logged.
    assert api.get("/api/v1/access-log", headers=world.bearer("h0581")).status_code == 403
    assert [r for r in world.access_rows(actor="h0581") if r["action"] == "denied:access_log"]


def test_views_and_changes_are_logged_with_who_role_organisation_and_what(world, api):
    case_id = world.cases["nkpg"]
    h = world.bearer("h0581")
    version = api.get(f"/api/v1/cases/{case_id}", headers=h).json()["version"]
    api.get(f"/api/v1/cases/{case_id}/history", headers=h)
    done = api.post(f"/api/v1/cases/{case_id}/events", headers=h,
                    json={"trigger": "hold_talk", "data": {"note": "samtal"}, "expect_version": version})
    assert done.status_code == 200, done.text
    rows = [r for r in world.access_rows(case_id=case_id, actor="h0581")]
    by_action = {r["action"]: r for r in rows}
    assert {"show", "history", "advance:hold_talk"} <= set(by_action)
    for r in (by_action["show"], by_action["history"], by_action["advance:hold_talk"]):
        assert (r["role"], r["organisation"]) == ("officer", "kommun")
    assert by_action["advance:hold_talk"]["detail"] == "done"


def test_a_change_and_its_access_log_row_commit_together(world, api, monkeypatch):
    """The "done" row is written inside the change's transaction: when that transaction
    fails after writing it, neither the change nor the row is there."""
    from etablera.cases import service
    case_id = world.cases["nkpg"]
    h = world.bearer("h0581")
    version = _version(world, case_id)

    def broken_append(conn, case, changes, event):
        raise RuntimeError("the disk went away")
    monkeypatch.setattr(service, "append", broken_append)
    failed = TestClient(create_app(world.engine), raise_server_exceptions=False).post(
        f"/api/v1/cases/{case_id}/events", headers=h, json={"trigger": "hold_talk", "data": {},
                                                            "expect_version": version})
    assert failed.status_code == 500
    assert _events(world, case_id) == ["register"] and _version(world, case_id) == version
    assert not [r for r in world.access_rows(case_id=case_id) if r["action"] == "advance:hold_talk"]
    monkeypatch.undo()
    done = api.post(f"/api/v1/cases/{case_id}/events", headers=h,
                    json={"trigger": "hold_talk", "data": {}, "expect_version": version})
    assert done.status_code == 200, done.text
    assert [r["detail"] for r in world.access_rows(case_id=case_id) if r["action"] == "advance:hold_talk"] == ["done"]


def test_errors_have_the_cli_meaning(world, api):
    case_id = world.cases["nkpg"]
    h = world.bearer("h0581")
    v = _version(world, case_id)
    # 409: not permitted in this state (exit code 3), with what is permitted.
    refused = api.post(f"/api/v1/cases/{case_id}/events", headers=h,
                       json={"trigger": "decide", "data": {}, "expect_version": v})
    assert refused.status_code == 409
    assert refused.json()["error"]["exit_code"] == 3 and refused.json()["error"]["code"]
    # 400 naming the field (exit code 2).
    api.post(f"/api/v1/cases/{case_id}/events", headers=h, json={"trigger": "hold_talk", "expect_version": v})
    v += 1
    bad = api.post(f"/api/v1/cases/{case_id}/events", headers=h,
                   json={"trigger": "establish_plan", "data": {"plan": "nonsense"}, "expect_version": v})
    assert bad.status_code == 400
    assert bad.json()["error"] == {"code": "unknown_choice", "status": 400, "exit_code": 2, "field": "plan",
                                   "message": "must be one of: handlingsplan, etableringsplan"}
    # The message in the language asked for (English without `lang`); the code stays.
    swedish = api.post(f"/api/v1/cases/{case_id}/events", headers=h, params={"lang": "sv"},
                       json={"trigger": "establish_plan", "data": {"plan": "nonsense"}, "expect_version": v})
    assert swedish.json()["error"]["code"] == "unknown_choice"
    assert swedish.json()["error"]["message"] == "välj ett av: handlingsplan, etableringsplan"
    skip = api.post(f"/api/v1/cases/{case_id}/events", headers=h,
                    json={"trigger": "skip_module2", "data": {"reason": SKIP_REASON}, "expect_version": v})
    assert skip.status_code == 400 and skip.json()["error"]["field"] == "note"
    # 400 for a malformed request names the field too.
    missing = api.post(f"/api/v1/cases/{case_id}/events", headers=h, json={"trigger": "hold_talk"})
    assert missing.status_code == 400 and missing.json()["error"]["field"] == "expect_version"
    assert api.get("/api/v1/cases", params={"limit": 0}, headers=h).json()["error"]["field"] == "limit"
    # 404 and 401.
    assert api.get("/api/v1/cases/999999", headers=h).status_code == 404
    unauth = api.get("/api/v1/cases")
    assert unauth.status_code == 401 and unauth.headers["www-authenticate"] == "Bearer"
    assert unauth.json()["error"]["code"] == "login_required"
    assert _events(world, case_id) == ["register", "hold_talk"]


def test_two_officers_at_once_one_gets_reload_and_nothing_is_overwritten(world, api):
    case_id = world.cases["nkpg"]
    first, second = world.bearer("h0581"), world.bearer("samord0581")
    version = api.get(f"/api/v1/cases/{case_id}", headers=first).json()["version"]
    assert api.get(f"/api/v1/cases/{case_id}", headers=second).json()["version"] == version
    ok = api.post(f"/api/v1/cases/{case_id}/events", headers=first,
                  json={"trigger": "pause", "data": {"reason": "illness"}, "expect_version": version})
    assert ok.status_code == 200
    late = api.post(f"/api/v1/cases/{case_id}/events", headers=second,
                    json={"trigger": "close", "data": {"reason": "declined"}, "expect_version": version})
    assert late.status_code == 409
    assert late.json()["error"]["exit_code"] == 4 and late.json()["error"]["code"] == "case_version_changed"
    assert "reload" in late.json()["error"]["message"]
    case = api.get(f"/api/v1/cases/{case_id}", headers=first).json()
    assert case["state"] == "on_hold" and case["version"] == version + 1
    assert _events(world, case_id) == ["register", "pause"]


def test_truly_concurrent_changes_exactly_one_wins(world, api):
    """Both requests in flight at the same moment, on different threads."""
    case_id = world.cases["nkpg2"]
    version = api.get(f"/api/v1/cases/{case_id}", headers=world.bearer("h0581")).json()["version"]
    barrier = threading.Barrier(2)
    results = {}

    def fire(user, trigger, data):
        client = TestClient(create_app(world.engine))
        barrier.wait()
        results[user] = client.post(f"/api/v1/cases/{case_id}/events", headers=world.bearer(user),
                                    json={"trigger": trigger, "data": data, "expect_version": version})

    threads = [threading.Thread(target=fire, args=("h0581", "hold_talk", {})),
               threading.Thread(target=fire, args=("samord0581", "pause", {"reason": "other"}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409], {u: r.text for u, r in results.items()}
    loser = next(r for r in results.values() if r.status_code == 409)
    assert "reload" in loser.json()["error"]["message"]
    assert len(_events(world, case_id)) == 2


def test_two_officers_on_the_case_page_the_second_is_told_to_reload(world):
    case_id = world.cases["nkpg"]
    one, two = TestClient(create_app(world.engine)), TestClient(create_app(world.engine))
    csrf_one, csrf_two = login(one, "h0581"), login(two, "samord0581")
    assert one.get(f"/cases/{case_id}").status_code == 200
    assert two.get(f"/cases/{case_id}").status_code == 200
    v = str(_version(world, case_id))
    saved = one.post(f"/cases/{case_id}/events/hold_talk", data={"csrf": csrf_one, "expect_version": v,
                                                                 "note": "first"}, follow_redirects=False)
    assert saved.status_code == 303
    late = two.post(f"/cases/{case_id}/events/close", data={"csrf": csrf_two, "expect_version": v,
                                                            "reason": "declined", "confirm": "yes"})
    assert late.status_code == 409
    assert "Ärendet har ändrats av någon annan" in late.text and "Ladda om" in late.text
    assert _events(world, case_id) == ["register", "hold_talk"]


def test_measures_over_the_api(world, api):
    case_id = world.cases["nkpg"]
    h = world.bearer("h0581")
    for trigger, data in (("hold_talk", {}), ("establish_plan", {"plan": "handlingsplan"})):
        assert api.post(f"/api/v1/cases/{case_id}/events", headers=h,
                        json={"trigger": trigger, "data": data, "expect_version": _version(world, case_id)}
                        ).status_code == 200
    added = api.post(f"/api/v1/cases/{case_id}/measures", headers=h, json={"type": "sfi"})
    assert added.status_code == 201, added.text
    measure = added.json()["id"]
    assert api.post(f"/api/v1/measures/{measure}", headers=h, json={"action": "start"}).json()["state"] == "ongoing"
    bad = api.post(f"/api/v1/measures/{measure}", headers=h, json={"action": "cancel"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "reason"
    assert api.post(f"/api/v1/measures/{measure}", headers=world.bearer("h0180"),
                    json={"action": "complete"}).status_code == 404
    case = api.get(f"/api/v1/cases/{case_id}", headers=h).json()
    assert [(m["type"], m["state"]) for m in case["measures"]] == [("sfi", "ongoing")]


def test_register_in_scope_only(world, api):
    body = {"person": pnr("19850505", 321), "municipality": "0581", "permit_date": "2026-01-10"}
    assert api.post("/api/v1/cases", headers=world.bearer("h0180"), json=body).status_code == 403
    created = api.post("/api/v1/cases", headers=world.bearer("h0581"), json=body)
    assert created.status_code == 201
    again = api.post("/api/v1/cases", headers=world.bearer("h0581"), json=body)
    assert again.status_code == 409


def test_tokens_sessions_and_csrf(world, api):
    case_id = world.cases["nkpg"]
    # Tokens: stored hashed; a revoked or deactivated user's token stops working.
    token = world.tokens["h0581"]
    with transaction(world.engine, write=False) as conn:
        stored = conn.execute(select(User.c.password_hash).where(User.c.id == "h0581")).scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert api.get("/api/v1/me", headers={"Authorization": "Bearer etb_wrong"}).status_code == 401
    accounts.revoke_token(world.engine, token[:12])
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    # A browser session: changes need the CSRF token, in the form or the header.
    csrf = login(api, "h0581")
    v = _version(world, case_id)
    no_csrf = api.post(f"/cases/{case_id}/events/hold_talk", data={"expect_version": str(v)})
    assert no_csrf.status_code == 403
    no_header = api.post(f"/api/v1/cases/{case_id}/events", json={"trigger": "hold_talk", "expect_version": v})
    assert no_header.status_code == 403
    with_header = api.post(f"/api/v1/cases/{case_id}/events", headers={"X-CSRF-Token": csrf},
                           json={"trigger": "hold_talk", "expect_version": v})
    assert with_header.status_code == 200
    assert _events(world, case_id) == ["register", "hold_talk"]

    # Sessions expire when idle, and at the latest ABSOLUTE after login.
    secret = api.cookies.get("etablera_session")
    assert accounts.find_session(world.engine, secret) is not None
    assert accounts.find_session(world.engine, secret, now=utcnow() + accounts.IDLE + timedelta(minutes=1)) is None
    with transaction(world.engine) as conn:
        conn.execute(update(WebSession).values(absolute_expires_at=utcnow() - timedelta(seconds=1)))
    assert api.get("/worklist", follow_redirects=False).headers["location"].startswith("/login")
    # Logging out ends the session for good.
    login(api, "h0581")
    secret = api.cookies.get("etablera_session")
    page = api.get("/worklist")
    import re
    api.post("/logout", data={"csrf": re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)})
    assert accounts.find_session(world.engine, secret) is None


def test_login_failures_are_throttled_and_logged(world, api):
    import re
    for _ in range(5):
        page = api.get("/login")
        token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
        refused = api.post("/login", data={"user": "h0581", "password": "fel", "login_csrf": token})
        assert refused.status_code == 401 and "Fel användarnamn eller lösenord" in refused.text
    page = api.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    locked = api.post("/login", data={"user": "h0581", "password": PASSWORD, "login_csrf": token})
    assert "För många misslyckade försök" in locked.text
    actions = [r["action"] for r in world.access_rows(actor="h0581")]
    assert actions.count("login_failed") == 5 and "login_refused" in actions
    # Without the login form's token a password is not even tried.
    assert "Formuläret hade gått ut" in api.post("/login", data={"user": "admin", "password": PASSWORD}).text
