"""The skip audit's scope and access log (issue 14, finding 6 / item 5).

The attack, as found on loopback: the skip audit (page and API) showed the free-text
justifications of many cases without an access-log row, and after a transfer the old
municipality's coordinator still read the case's justifications there while the case page
answered 404. Now a case is shown only to a user whose scope holds it now (auditors and
admins: all), every case shown is access-logged in the read's transaction, and a skip whose
step was corrected is left out (the skip audit and the case page's process map alike).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from kit import advance, correct, history, show_case
from etablera.access import accounts
from etablera.cases import skip_audit
from etablera.access.principal import principal_for
from etablera.interfaces.http.app import create_app
from etablera.statemachine.journey import SKIPPED, journey
from web_kit import PASSWORD, build_world, login

JUSTIFICATION = "gjort i Malmö"


@pytest.fixture
def world(db_url):
    world = build_world(db_url)
    accounts.add_user(world.engine, "samord0180", name="Test samord0180", role="coordinator",
                      organisation="kommun", municipality="0180", password=PASSWORD)
    world.tokens["samord0180"], _ = accounts.create_token(world.engine, "samord0180", label="tests")
    yield world
    world.engine.dispose()


def _skip(world, key: str, note: str = JUSTIFICATION) -> dict:
    case_id = world.cases[key]
    advance(world.engine, case_id, "hold_talk", actor="setup")
    return advance(world.engine, case_id, "skip_module2", actor="setup", reason="previous_preparation", note=note)


def _api_skips(client, world, user: str) -> list[dict]:
    response = client.get("/api/v1/skips", headers=world.bearer(user))
    assert response.status_code == 200, response.text
    return response.json()


def test_after_a_transfer_only_the_receiving_municipality_reads_the_skip_and_each_view_is_logged(world):
    moved = world.cases["nkpg"]
    _skip(world, "nkpg")
    advance(world.engine, moved, "transfer", actor="setup", municipality="0180")
    client = TestClient(create_app(world.engine))

    # The attack: Norrköping's coordinator reads the transferred case's justification.
    # Now the API, the page and the case page agree: for Norrköping the case is gone.
    assert [s["case_id"] for s in _api_skips(client, world, "samord0581")] == []
    login(client, "samord0581")
    page = client.get("/skips")
    assert page.status_code == 200 and JUSTIFICATION not in page.text
    assert client.get(f"/cases/{moved}").status_code == 404
    assert world.access_rows(actor="samord0581", action="skips") == []

    # Stockholm's coordinator, whose scope holds the case now, sees it; so do the auditor
    # and the admin. Every one of those views is in the access log, one row per case shown.
    for user in ("samord0180", "granskare", "admin"):
        shown = _api_skips(TestClient(create_app(world.engine)), world, user)
        assert [(s["case_id"], s["justification"], s["municipality"]) for s in shown] == [
            (moved, JUSTIFICATION, "0581")]           # where the skip was made
        rows = world.access_rows(actor=user, action="skips")
        assert [(r["case_id"], r["role"]) for r in rows] == [(moved, principal_for(
            accounts.get_user(world.engine, user)).role)]

    # The page logs what it shows the same way.
    other = TestClient(create_app(world.engine))
    login(other, "samord0180")
    before = len(world.access_rows(actor="samord0180", action="skips"))
    page = other.get("/skips")
    assert page.status_code == 200 and JUSTIFICATION in page.text
    assert len(world.access_rows(actor="samord0180", action="skips")) == before + 1


def test_a_page_logs_each_case_it_shows_once_and_only_those(world):
    for key in ("nkpg", "nkpg2", "sthlm"):
        _skip(world, key, note=f"motivering {key}")
    client = TestClient(create_app(world.engine))
    first = client.get("/api/v1/skips?limit=2&sort=case", headers=world.bearer("granskare"))
    assert first.status_code == 200 and first.headers["X-Total-Count"] == "3"
    shown = [s["case_id"] for s in first.json()]
    assert len(shown) == 2
    assert sorted(r["case_id"] for r in world.access_rows(actor="granskare", action="skips")) == sorted(shown)
    # A coordinator sees only the cases of their municipality now, and only those are logged.
    mine = _api_skips(client, world, "samord0581")
    assert sorted(s["case_id"] for s in mine) == sorted([world.cases["nkpg"], world.cases["nkpg2"]])
    assert sorted(r["case_id"] for r in world.access_rows(actor="samord0581", action="skips")) == sorted(
        [world.cases["nkpg"], world.cases["nkpg2"]])


def test_a_corrected_skip_is_left_out_of_the_audit_and_off_the_process_map(world):
    case_id = world.cases["nkpg2"]
    step = _skip(world, "nkpg2")
    kept = world.cases["nkpg"]
    _skip(world, "nkpg", note="står kvar")
    correct(world.engine, case_id, step["seq"], actor="setup", reason="wrong_step", note="fel steg")

    admin = principal_for(accounts.get_user(world.engine, "admin"))
    page = skip_audit.skip_page(world.engine, admin)
    assert [s["case_id"] for s in page["items"]] == [kept] and page["total"] == 1

    # The history still holds the step, marked; the map does not count its skip.
    events = history(world.engine, case_id, actor="setup")
    assert any(e["seq"] == step["seq"] and e.get("corrected_by") for e in events)
    state = show_case(world.engine, case_id, actor="setup")["state"]
    assert {s.part: s.status for s in journey(state, None, events)}["module2"] != SKIPPED
    kept_events = history(world.engine, kept, actor="setup")
    state = show_case(world.engine, kept, actor="setup")["state"]
    assert {s.part: s.status for s in journey(state, None, kept_events)}["module2"] == SKIPPED

    # The case page's process map says the same.
    client = TestClient(create_app(world.engine))
    login(client, "admin")
    html = client.get(f"/cases/{case_id}").text
    assert re.search(r'data-part="module2" data-status="(\w+)"', html).group(1) != SKIPPED
    html = client.get(f"/cases/{kept}").text
    assert re.search(r'data-part="module2" data-status="(\w+)"', html).group(1) == SKIPPED
