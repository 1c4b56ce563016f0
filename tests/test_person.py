"""The person on a case: name, preferred language, interpreter, phone and e-mail, optional
at registration and changed later, each change one audited event with the old and new
values, the folded search keys kept in step; through the use case, the CLI, the API and
the case page (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

import kit
from cli_kit import etablera, ok
from identities import pnr
from test_web_pages import accessible
from web_kit import build_world, login
from etablera.access.principal import cli_principal
from etablera.cases.audit import CASES, EVENTS, verify
from etablera.interfaces.http.app import create_app
from etablera.models import AccessLog
from etablera.models.database import transaction
from etablera.statemachine.errors import BadInput, ConcurrentChange, NotFound
from etablera.statemachine.messages import CATALOGUE
from etablera.statemachine.person import fold

PERMIT = date.today() - timedelta(days=200)
ÖZLEM = {"given_name": "Özlem", "family_name": "Östlund", "language": "arabiska", "interpreter": True,
         "phone": "+46 70 123 45 67", "email": "ozlem@Exempel.SE"}
# Names given here through the CLI, the API and the pages too: none may leak (tests/leaks.py).
kit.remember(ÖZLEM)
kit.remember({"given_name": "Björn", "family_name": "Ærøe"})
kit.remember({"family_name": "Ångström"})


def _row(engine, case_id: int) -> dict:
    with transaction(engine, write=False) as conn:
        return dict(conn.execute(select(CASES).where(CASES.c.id == case_id)).mappings().one())


def _events(engine, case_id: int) -> list[dict]:
    with transaction(engine, write=False) as conn:
        return [dict(r) for r in conn.execute(select(EVENTS).where(EVENTS.c.case_id == case_id)
                                              .order_by(EVENTS.c.seq)).mappings()]


def _access(engine, case_id: int) -> list[tuple[str, str]]:
    table = AccessLog
    with transaction(engine, write=False) as conn:
        return [(r.actor, r.action) for r in conn.execute(select(table).where(table.c.case_id == case_id)
                                                          .order_by(table.c.id))]


def _chain_ok(engine, case_id: int) -> bool:
    with transaction(engine, write=False) as conn:
        _, _, breaks = verify(conn, [case_id])
    return breaks == []


# --- the folded form of a name -------------------------------------------------------------

@pytest.mark.parametrize("name,folded", [
    ("Özlem", "ozlem"), ("ÖSTLUND", "ostlund"), ("Åsa-Märta", "asa-marta"), ("José María", "jose maria"),
    ("Øster", "oster"), ("Æbelø", "aebelo"), ("Straße", "strasse"), ("Łukasz", "lukasz"), ("Đorđević", "dordevic"),
    ("ılgaz", "ilgaz"), ("İlkay", "ilkay"), ("  Nguyễn   Thị ", "nguyen thi"), ("Ｍａｒｉａ", "maria"),
])
def test_fold_drops_accents_and_case_and_spells_out_the_letters_nfkd_keeps(name, folded):
    assert fold(name) == folded


# --- registration and change through the use case -----------------------------------------

def test_registration_takes_the_details_sets_the_keys_and_records_them(any_engine):
    case_id = kit.register(any_engine, pnr("19900101", 11), "0581", PERMIT, **ÖZLEM)
    row = _row(any_engine, case_id)
    assert (row["given_name"], row["family_name"], row["given_key"], row["family_key"]) == \
        ("Özlem", "Östlund", "ozlem", "ostlund")
    assert (row["language"], row["interpreter"], row["phone"], row["email"]) == \
        ("arabiska", True, "+46 70 123 45 67", "ozlem@exempel.se")
    registered = _events(any_engine, case_id)[0]
    assert registered["data"]["details"] == {**ÖZLEM, "email": "ozlem@exempel.se"}
    doc = kit.show_case(any_engine, case_id)
    assert {k: doc[k] for k in ÖZLEM} == {**ÖZLEM, "email": "ozlem@exempel.se"}

    bare = kit.register(any_engine, pnr("19900101", 12), "0581", PERMIT)
    assert _row(any_engine, bare)["given_key"] is None and "details" not in _events(any_engine, bare)[0]["data"]


def test_a_change_is_one_audited_event_with_old_and_new_values_and_the_chain_verifies(any_engine):
    case_id = kit.register(any_engine, pnr("19900101", 13), "0581", PERMIT, **ÖZLEM)
    before = _row(any_engine, case_id)
    result = kit.update_person(any_engine, case_id, family_name="Ångström", phone="", interpreter=False,
                               language="arabiska", expect_version=before["version"])
    assert result == {"case": case_id, "version": before["version"] + 1, "changed": {
        "family_name": {"old": "Östlund", "new": "Ångström"}, "interpreter": {"old": True, "new": False},
        "phone": {"old": "+46 70 123 45 67", "new": None}}}
    events = _events(any_engine, case_id)
    assert len(events) == 2
    assert events[-1]["trigger"] == "update_person" and events[-1]["actor"] == kit.ACTOR
    assert events[-1]["data"] == {"changes": result["changed"]}
    assert events[-1]["from_state"] == events[-1]["to_state"] == before["state"]
    row = _row(any_engine, case_id)
    assert (row["family_name"], row["family_key"], row["phone"], row["interpreter"], row["version"]) == \
        ("Ångström", "angstrom", None, False, before["version"] + 1)
    assert (kit.ACTOR, "update_person") in _access(any_engine, case_id)
    assert _chain_ok(any_engine, case_id)
    history = kit.history(any_engine, case_id, lang="en")
    assert history[-1]["trigger_label"] == "Personal details changed"


def test_the_same_values_again_write_nothing(any_engine):
    case_id = kit.register(any_engine, pnr("19900101", 14), "0581", PERMIT, **ÖZLEM)
    version = _row(any_engine, case_id)["version"]
    result = kit.update_person(any_engine, case_id, given_name="  Özlem ", interpreter=True)
    assert result == {"case": case_id, "version": version, "changed": {}}
    assert len(_events(any_engine, case_id)) == 1 and _row(any_engine, case_id)["version"] == version


@pytest.mark.parametrize("field,value,code", [
    ("given_name", "R2-D2", "person_name_not_valid"),
    ("given_name", "-Anna", "person_name_not_valid"),
    ("family_name", "A" * 101, "person_name_not_valid"),
    ("family_name", "Svensson<script>", "person_name_not_valid"),
    ("family_name", "Svens\x00son", "person_name_not_valid"),
    ("email", "oz\x00@exempel.se", "person_email_not_valid"),
    ("phone", "+46 70\ud800 123 45 67", "person_phone_not_valid"),
    ("language", "x" * 41, "person_language_not_valid"),
    ("language", "<b>", "person_language_not_valid"),
    ("phone", "070-ring mig", "person_phone_not_valid"),
    ("phone", "12345", "person_phone_not_valid"),
    ("phone", "+46 70 123 45 67 89 01 23", "person_phone_not_valid"),
    ("email", "ozlem.exempel.se", "person_email_not_valid"),
    ("email", "ozlem@exempel", "person_email_not_valid"),
    ("email", "a b@exempel.se", "person_email_not_valid"),
    ("interpreter", "kanske", "person_flag_not_valid"),
    ("shoe_size", "42", "person_unknown_detail"),
])
def test_bad_input_names_the_field_and_writes_nothing(any_engine, field, value, code):
    case_id = kit.register(any_engine, pnr("19900101", 15), "0581", PERMIT, **ÖZLEM)
    before, events = _row(any_engine, case_id), len(_events(any_engine, case_id))
    with pytest.raises(BadInput) as caught:
        kit.update_person(any_engine, case_id, {"phone": "+46 11 22 33 44", field: value})
    assert (caught.value.code, caught.value.field) == (code, field)
    assert code in CATALOGUE and value not in caught.value.text("sv") + caught.value.text("en")
    assert _row(any_engine, case_id) == before and len(_events(any_engine, case_id)) == events


def test_bad_details_at_registration_are_refused_naming_the_field(any_engine):
    with pytest.raises(BadInput) as caught:
        kit.register(any_engine, pnr("19900101", 16), "0581", PERMIT, email="inte en adress")
    assert (caught.value.code, caught.value.field) == ("person_email_not_valid", "email")
    with transaction(any_engine, write=False) as conn:
        assert conn.execute(select(func.count()).select_from(CASES)).scalar() == 0


def test_nothing_to_change_is_bad_input(any_engine):
    case_id = kit.register(any_engine, pnr("19900101", 17), "0581", PERMIT)
    with pytest.raises(BadInput) as caught:
        kit.update_person(any_engine, case_id, {})
    assert caught.value.code == "person_nothing_given"


def test_a_concurrent_change_is_refused_and_never_overwrites(any_engine):
    case_id = kit.register(any_engine, pnr("19900101", 18), "0581", PERMIT, **ÖZLEM)
    read = _row(any_engine, case_id)["version"]
    kit.update_person(any_engine, case_id, phone="+46 11 111 11 11", expect_version=read, actor="first")
    with pytest.raises(ConcurrentChange):
        kit.update_person(any_engine, case_id, phone="+46 22 222 22 22", expect_version=read, actor="second")
    assert _row(any_engine, case_id)["phone"] == "+46 11 111 11 11"
    assert [e["actor"] for e in _events(any_engine, case_id)][1:] == ["first"]


def test_outside_the_users_municipalities_the_case_does_not_exist_and_the_attempt_is_logged(db_url):
    world = build_world(db_url)
    try:
        stockholm = cli_principal(world.engine, "h0180")
        case_id = world.cases["nkpg"]
        with pytest.raises(NotFound):
            kit.update_person(world.engine, case_id, given_name="Anna", actor=stockholm)
        assert ("h0180", "denied:update_person") in _access(world.engine, case_id)
        assert _row(world.engine, case_id)["given_name"] is None
        auditor = cli_principal(world.engine, "granskare")
        with pytest.raises(Exception) as refused:
            kit.update_person(world.engine, case_id, given_name="Anna", actor=auditor)
        assert getattr(refused.value, "http_status", None) == 403
    finally:
        world.engine.dispose()


# --- the command line ------------------------------------------------------------------------

def test_cli_register_with_details_change_them_and_show_them(cli_env):
    person = pnr("19900101", 21)
    case = ok("case", "register", "--person", person, "--municipality", "0581", "--permit-date",
              PERMIT.isoformat(), "--given-name", "Özlem", "--family-name", "Östlund", "--language", "ar",
              "--interpreter")
    assert (case["given_name"], case["family_name"], case["language"], case["interpreter"]) == \
        ("Özlem", "Östlund", "ar", True)
    changed = ok("case", "person", case["id"], "--phone", "070-123 45 67", "--no-interpreter",
                 "--expect-version", case["version"])
    assert changed["changed"] == {"phone": {"old": None, "new": "070-123 45 67"},
                                  "interpreter": {"old": True, "new": False}}
    text = etablera("case", "person", str(case["id"]), "--email", "oz@exempel.se")
    assert text.code == 0 and "E-post" in text.out
    shown = etablera("case", "show", str(case["id"]))
    assert "Özlem Östlund" in shown.out and "070-123 45 67" in shown.out and "oz@exempel.se" in shown.out
    assert ok("case", "show", case["id"])["email"] == "oz@exempel.se"

    bad = etablera("case", "person", str(case["id"]), "--email", "nej")
    assert bad.code == 2 and "email" in bad.err and "--email" in bad.err and "nej" not in bad.err
    stale = etablera("case", "person", str(case["id"]), "--phone", "+46 11 22 33 44", "--expect-version", "1")
    assert stale.code == 4
    refused = etablera("case", "register", "--person", pnr("19900101", 22), "--municipality", "0581",
                       "--permit-date", PERMIT.isoformat(), "--given-name", "R2D2", "--json")
    assert refused.code == 2 and refused.doc["error"]["field"] == "given_name"


# --- the API -----------------------------------------------------------------------------------

@pytest.fixture
def world(db_url):
    world = build_world(db_url)
    yield world
    world.engine.dispose()


def test_api_register_patch_and_case_document(world):
    api = TestClient(create_app(world.engine))
    h = world.bearer("h0581")
    created = api.post("/api/v1/cases", headers=h, json={
        "person": pnr("19900101", 31), "municipality": "0581", "permit_date": PERMIT.isoformat(),
        "given_name": "Björn", "family_name": "Ærøe", "interpreter": True})
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    doc = api.get(f"/api/v1/cases/{case_id}", headers=h).json()
    assert (doc["given_name"], doc["family_name"], doc["interpreter"], doc["email"]) == ("Björn", "Ærøe", True, None)
    assert _row(world.engine, case_id)["family_key"] == "aeroe"

    patched = api.patch(f"/api/v1/cases/{case_id}/person", headers=h,
                        json={"email": "bjorn@exempel.se", "expect_version": doc["version"]})
    assert patched.status_code == 200, patched.text
    assert patched.json() == {"case": case_id, "version": doc["version"] + 1,
                              "changed": {"email": {"old": None, "new": "bjorn@exempel.se"}}}
    stale = api.patch(f"/api/v1/cases/{case_id}/person", headers=h,
                      json={"email": "x@exempel.se", "expect_version": doc["version"]})
    assert stale.status_code == 409
    bad = api.patch(f"/api/v1/cases/{case_id}/person", headers=h, json={"phone": "ring"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "phone"
    elsewhere = api.patch(f"/api/v1/cases/{case_id}/person", headers=world.bearer("h0180"),
                          json={"given_name": "Anna"})
    assert elsewhere.status_code == 404
    assert ("h0180", "denied:update_person") in _access(world.engine, case_id)
    items = api.get("/api/v1/cases", headers=h, params={"mine": "false"}).json()["items"]
    assert {"given_name": "Björn", "family_name": "Ærøe"}.items() <= \
        next(i for i in items if i["id"] == case_id).items()


# --- the case page and the worklist ------------------------------------------------------------

def test_the_case_page_shows_the_person_and_changes_them_by_its_form(world):
    browser = TestClient(create_app(world.engine))
    csrf = login(browser, "h0581")
    case_id = world.cases["nkpg"]
    kit.update_person(world.engine, case_id, given_name="Özlem", family_name="Östlund", actor="setup")
    page = browser.get(f"/cases/{case_id}")
    assert page.status_code == 200 and "Özlem" in page.text and "Östlund" in page.text
    accessible(page.text)
    assert f'action="/cases/{case_id}/person"' in page.text
    version = int(re.search(r'name="expect_version" value="(\d+)"', page.text).group(1))
    form = {"csrf": csrf, "expect_version": str(version), "given_name": "Özlem", "family_name": "Östlund",
            "language": "tigrinja", "interpreter": "yes", "phone": "", "email": ""}
    saved = browser.post(f"/cases/{case_id}/person", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].startswith(f"/cases/{case_id}?saved=")
    assert "Östlund" not in saved.headers["location"]
    row = _row(world.engine, case_id)
    assert (row["language"], row["interpreter"]) == ("tigrinja", True)
    assert _events(world.engine, case_id)[-1]["data"]["changes"] == {
        "language": {"old": None, "new": "tigrinja"}, "interpreter": {"old": False, "new": True}}

    refused = browser.post(f"/cases/{case_id}/person", data={**form, "expect_version": str(version + 1),
                                                             "email": "inte-en-adress"})
    assert refused.status_code == 400
    assert 'id="f-person-email"' in refused.text and 'aria-invalid="true"' in refused.text
    assert 'value="inte-en-adress"' in refused.text            # what was typed is kept
    stale = browser.post(f"/cases/{case_id}/person", data={**form, "language": "dari"})
    assert stale.status_code == 409 and _row(world.engine, case_id)["language"] == "tigrinja"

    worklist = browser.get("/worklist?mine=0")
    assert "Özlem Östlund" in worklist.text


def test_the_register_page_takes_the_details(world):
    browser = TestClient(create_app(world.engine))
    csrf = login(browser, "samord0581")
    form = browser.get("/register")
    for name in ("given_name", "family_name", "language", "interpreter", "phone", "email"):
        assert f'name="{name}"' in form.text
    data = {"csrf": csrf, "person": pnr("19900101", 41), "municipality": "0581", "permit_date": PERMIT.isoformat(),
            "given_name": "Björn", "family_name": "Ærøe", "language": "dari", "interpreter": "yes",
            "email": "bjorn@"}
    refused = browser.post("/register", data=data)
    assert refused.status_code == 400 and 'id="f-register-email"' in refused.text
    assert 'value="Björn"' in refused.text                     # what was typed is kept
    created = browser.post("/register", data={**data, "email": "bjorn@exempel.se"}, follow_redirects=False)
    assert created.status_code == 303
    case_id = int(re.search(r"/cases/(\d+)", created.headers["location"]).group(1))
    row = _row(world.engine, case_id)
    assert (row["given_key"], row["family_key"], row["language"], row["interpreter"], row["email"]) == \
        ("bjorn", "aeroe", "dari", True, "bjorn@exempel.se")
