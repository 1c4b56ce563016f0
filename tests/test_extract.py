"""The person's register extract (cases/extract.py, GDPR article 15): every row about the
person and nothing about anyone else — two people sharing a name and a birth date — as JSON
and a readable HTML document, from the CLI, the pages and the API, for admins and auditors
only, and itself in the access log."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cli_kit import etablera
from identities import pnr
from kit import add_measure, add_note, advance, officer, register, show_case, update_person
from web_kit import build_world, login

from etablera.access.principal import Principal
from etablera.cases.extract import _tables, extract, to_html
from etablera.interfaces.http.app import create_app
from etablera.models import AccessLog
from etablera.models.database import transaction
from etablera.models.timestamps import parse_moment
from etablera.reminders import deadlines, outbox
from etablera.statemachine.errors import Forbidden

ACCESS = AccessLog
AUDITOR = Principal("granskare", "Granskare", "auditor", "kommun", None, via="test")
A, B = pnr("19880512", 211), pnr("19880512", 212)          # the same birth date
DIGITS_A, DIGITS_B = A.replace("-", ""), B.replace("-", "")


@pytest.fixture
def world(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ETABLERA_DATABASE_URL", db_url)
    monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    world = build_world(db_url)
    engine = world.engine
    officer(engine, "h-twins", "0581")
    permit = date.today() - timedelta(days=500)
    cases = {}
    for person, phone in ((A, "070-111 11 11"), (B, "070-222 22 22")):
        case_id = register(engine, person, "0581", permit, actor="h0581", kommun_officer="h-twins",
                           given_name="Amira", family_name="Haddad", phone=phone)
        advance(engine, case_id, "hold_talk", actor="h0581")
        advance(engine, case_id, "establish_plan", actor="h0581", plan="etableringsplan")
        add_measure(engine, case_id, "sfi", actor="h0581")
        add_note(engine, case_id, f"Samtal om {phone}", actor="h0581")
        update_person(engine, case_id, actor="h0581", email=f"p{phone[4:7]}@example.org")
        cases[person] = case_id
        due = show_case(engine, case_id, actor="h0581")["due"]
    # The day after the stage's due date (both cases share it): an overdue reminder for each.
    deadlines.record_due(engine, parse_moment((date.fromisoformat(due) + timedelta(days=1)).isoformat()))
    outbox.address(engine)                 # each reminder's deliveries, to its recipients
    world.cases.update({"a": cases[A], "b": cases[B]})
    return world


def _about(engine, case_id: int) -> dict[str, int]:
    """How many rows each table holds that name the case (case_id), straight from the database."""
    found = {}
    with transaction(engine, write=False) as conn:
        for table in _tables():
            if "case_id" in table.c:
                n = len(conn.execute(select(table.c.case_id).where(table.c.case_id == case_id)).all())
                if n:
                    found[table.name] = n
    return found


def test_the_extract_holds_every_row_about_the_person_and_nothing_about_the_other(world):
    a = world.cases["a"]
    stored = _about(world.engine, a)           # before the extract adds its own access-log row
    doc = extract(world.engine, AUDITOR, A)
    assert doc["cases"] == [a] and doc["person"]["identity_number"] == DIGITS_A
    tables = doc["tables"]
    for table, n in stored.items():
        assert len([r for r in tables.get(table, []) if r.get("case_id") == a]) == n, table
    assert {"audit_events", "measures", "notes", "access_log", "reminders"} <= set(tables)
    assert "reminder_deliveries" in tables                 # the reminders' deliveries, by foreign key
    text = json.dumps(doc, ensure_ascii=False)
    assert DIGITS_B not in text and "222 22 22" not in text and "p222@" not in text
    assert all(r.get("case_id") in (None, a) for rows in tables.values() for r in rows)
    assert all(r["id"] == a for r in tables["cases"])


def test_producing_the_extract_is_in_the_access_log_without_the_number(world):
    a = world.cases["a"]
    extract(world.engine, AUDITOR, A)
    rows = world.access_rows(action="extract")
    assert [(r["actor"], r["case_id"]) for r in rows] == [("granskare", a)]
    assert all(DIGITS_A not in (r["detail"] or "") for r in rows)
    doc = extract(world.engine, AUDITOR, A)             # the first extract's own row is in the second
    assert any(r["action"] == "extract" for r in doc["tables"]["access_log"])


def test_only_admins_and_auditors_and_only_their_municipalities(world):
    with pytest.raises(Forbidden):
        extract(world.engine, Principal("h0581", "H", "officer", "kommun", ("0581",), via="test"), A)
    stockholm_auditor = Principal("granskare", "Granskare", "auditor", "kommun", ("0180",), via="test")
    doc = extract(world.engine, stockholm_auditor, A)
    assert doc["cases"] == [] and doc["cases_outside_your_municipalities"] == 1 and doc["tables"] == {}


def test_the_readable_document_in_swedish_and_english(world):
    doc = extract(world.engine, AUDITOR, A)
    swedish = to_html(doc)
    assert "<h1>Registerutdrag</h1>" in swedish and DIGITS_A in swedish and "Amira Haddad" in swedish
    assert "Händelser" in swedish and "Håll etableringssamtal" in swedish and "Insatser" in swedish
    assert "Vem har läst eller ändrat uppgifterna" in swedish and "<script" not in swedish
    english = to_html(doc, "en")
    assert "<h1>Register extract</h1>" in english and "Who has read or changed the data" in english


def test_the_page_the_api_and_the_command(world, monkeypatch):
    browser = TestClient(create_app(world.engine))
    csrf = login(browser, "granskare")
    assert "Registerutdrag" in browser.get("/extract").text
    page = browser.post("/extract", data={"csrf": csrf, "person": A})
    assert page.status_code == 200 and DIGITS_A in page.text and DIGITS_B not in page.text
    bad = browser.post("/extract", data={"csrf": csrf, "person": "19880512-0000"})
    assert bad.status_code == 400 and 'id="f-extract-person-error"' in bad.text
    officer_browser = TestClient(create_app(world.engine))
    login(officer_browser, "h0581")
    assert officer_browser.get("/extract").status_code == 403

    api = TestClient(create_app(world.engine))
    answer = api.post("/api/v1/extract", json={"person": A}, headers=world.bearer("admin"))
    assert answer.status_code == 200 and answer.json()["cases"] == [world.cases["a"]]
    assert api.post("/api/v1/extract", json={"person": A}, headers=world.bearer("h0581")).status_code == 403

    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(A + "\n"))
    result = etablera("extract", "-", "--json", "--actor", "admin")
    assert result.code == 0 and result.doc["person"]["identity_number"] == DIGITS_A
