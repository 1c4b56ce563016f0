"""The registration probe (issue 14, finding 4 / item 3).

The attack, as found on loopback: an officer of 0581 registering a person with an active
case in 0180 was told "already has an active case (case 2298)", and the probe was missing
from the person's access-log extract. Now the refusal says only that there is an active
case and to contact the coordinator (no case id, no municipality), and the attempt is in
the extract, logged against the existing case; a user whose scope holds the case is told
which one (it is theirs to see).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient

from cli_kit import etablera
from identities import pnr
from etablera.access import accounts
from etablera.access.log import person_extract
from etablera.access.principal import principal_for
from etablera.cases import service
from etablera.interfaces.http.app import create_app
from etablera.statemachine.errors import NotPermitted
from web_kit import build_world, login

PERSON = pnr("19900101", 103)          # web_kit's Stockholm case (0180)
PERMIT = (date.today() - timedelta(days=30)).isoformat()


@pytest.fixture
def world(db_url, monkeypatch):
    world = build_world(db_url)
    monkeypatch.setenv("ETABLERA_DATABASE_URL", db_url)
    yield world
    world.engine.dispose()


def _probes(world, case_id: int) -> list[dict]:
    """The refused registrations in the person's own extract."""
    doc = person_extract(world.engine, PERSON, actor="granskare", role="auditor")
    assert case_id in doc["cases"]
    return [e for e in doc["entries"] if e["action"] == "register" and e["detail"] != "done"]


def _says_nothing_of(message: str, world) -> None:
    assert not re.search(r"\d", message), message          # no case id, no municipality code
    assert "Stockholm" not in message and str(world.cases["sthlm"]) not in message


def test_a_probe_from_another_municipality_learns_nothing_and_is_in_the_persons_extract(world):
    elsewhere = world.cases["sthlm"]
    client = TestClient(create_app(world.engine))
    body = {"person": PERSON, "municipality": "0581", "permit_date": PERMIT}

    swedish = client.post("/api/v1/cases?lang=sv", json=body, headers=world.bearer("h0581"))
    assert swedish.status_code == 409, swedish.text
    error = swedish.json()["error"]
    assert (error["code"], error["field"]) == ("active_case_elsewhere", "person")
    assert "Kontakta din samordnare" in error["message"]
    _says_nothing_of(error["message"], world)
    english = client.post("/api/v1/cases?lang=en", json=body, headers=world.bearer("h0581")).json()["error"]
    assert "Contact your coordinator" in english["message"]
    _says_nothing_of(english["message"], world)

    # The register page and the command line say the same.
    login(client, "h0581")
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/register").text).group(1)
    page = client.post("/register", data={**body, "csrf": csrf})
    assert page.status_code in (400, 409) and "Kontakta din samordnare" in page.text
    assert f"/cases/{elsewhere}" not in page.text
    cli = etablera("case", "register", "--person", PERSON, "--municipality", "0581", "--permit-date", PERMIT,
                   "--actor", "h0581")
    assert cli.code == 3 and "Kontakta din samordnare" in cli.err
    _says_nothing_of(cli.err.split(":", 2)[-1], world)

    # Each probe is in the person's extract, against the case it touched, saying what was tried.
    probes = _probes(world, elsewhere)
    assert len(probes) == 4
    for probe in probes:
        assert (probe["case_id"], probe["actor"], probe["organisation"]) == (elsewhere, "h0581", "kommun")
        assert "registration of a new case in 0581 refused" in probe["detail"]
        assert "outside the user's municipalities" in probe["detail"]
    # ...and the extract from the command line shows them.
    extract = etablera("audit", "access", "--person", PERSON, "--actor", "granskare", "--json")
    assert extract.code == 0
    assert sum(1 for e in extract.doc["entries"] if e["action"] == "register" and e["actor"] == "h0581"
               and e["case_id"] == elsewhere) == 4


def test_a_probe_within_the_users_scope_names_the_case_and_is_logged_too(world):
    mine = world.cases["sthlm"]
    who = principal_for(accounts.get_user(world.engine, "h0180"))
    with pytest.raises(NotPermitted) as refused:
        service.register(world.engine, who, person=PERSON, municipality="0180", permit_date=PERMIT)
    assert refused.value.code == "active_case_exists" and refused.value.params["case"] == mine
    assert str(mine) in refused.value.text("sv")
    [probe] = _probes(world, mine)
    assert (probe["case_id"], probe["actor"]) == (mine, "h0180")
    assert "registration of a new case in 0180 refused" in probe["detail"]
    assert "outside" not in probe["detail"]
