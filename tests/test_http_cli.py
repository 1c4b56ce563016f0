"""The CLI side of the web issue: `etablera user ...`, `etablera audit access --person`
(a person's own log extract, the number never printed), and a CLI that starts without
FastAPI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fastapi.testclient import TestClient

from cli_kit import etablera
from conftest import ROOT, run_cli
from identities import pnr
from etablera.interfaces.http.app import create_app
from etablera.models.database import make_engine
from etablera.access.accounts import DEMO_PASSWORD
from web_kit import build_world, login


def test_the_cli_does_not_import_fastapi_at_start_up():
    code = ("import sys, interfaces.cli.main; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'uvicorn', 'prefect', 'starlette', "
            "'argon2', 'jinja2'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_user_add_token_and_demo(cli_env):
    added = subprocess.run(
        [sys.executable, "-m", "etablera.interfaces.cli.main", "user", "add", "h0581-07", "--name", "Eva", "--role",
         "officer", "--org", "kommun", "--municipality", "0581", "--password-stdin", "--json"],
        input="ett-långt-lösenord\n", capture_output=True, text=True, env=cli_env, cwd=ROOT)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["role"] == "officer"
    short = subprocess.run([sys.executable, "-m", "etablera.interfaces.cli.main", "user", "add", "x1", "--name", "X",
                            "--role", "officer", "--org", "kommun", "--municipality", "0581", "--password-stdin"],
                           input="kort\n", capture_output=True, text=True, env=cli_env, cwd=ROOT)
    assert short.returncode == 2 and "password" in short.stderr
    no_place = etablera("user", "add", "x2", "--name", "X", "--role", "officer", "--org", "af", "--no-password")
    assert no_place.code == 2
    token = etablera("user", "token", "h0581-07", "--label", "integration", "--json")
    assert token.code == 0 and token.doc["token"].startswith("etb_")
    client = TestClient(create_app(make_engine(cli_env["ETABLERA_DATABASE_URL"])))
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token.doc['token']}"})
    assert me.json()["municipalities"] == ["0581"]
    listed = etablera("user", "tokens", "--json")
    assert token.doc["token"] not in listed.out and listed.doc[0]["prefix"] == token.doc["token"][:12]
    demo = etablera("user", "demo", "--json")
    assert demo.code == 0 and {u["role"] for u in demo.doc["users"]} == {"officer", "coordinator", "auditor", "admin"}
    assert etablera("user", "demo").code == 0                                          # idempotent


def test_audit_access_gives_a_persons_extract_without_printing_the_number(cli_env):
    url = cli_env["ETABLERA_DATABASE_URL"]
    world = build_world(url)
    person = pnr("19900101", 101)                      # the person of world.cases["nkpg"]
    client = TestClient(create_app(world.engine))
    case_id = world.cases["nkpg"]
    client.get(f"/api/v1/cases/{case_id}", headers=world.bearer("h0581"))
    client.get(f"/api/v1/cases/{case_id}", headers=world.bearer("h0180"))           # refused, logged
    client.get(f"/api/v1/cases/{world.cases['sthlm']}", headers=world.bearer("h0180"))   # someone else's case

    text = etablera("audit", "access", "--person", person)
    assert text.code == 0, text.err
    digits = person.replace("-", "")
    assert person not in text.both and digits not in text.both and digits[2:] not in text.both
    assert "h0581" in text.out and "denied:show" in text.out
    doc = etablera("audit", "access", "--person", person, "--json").doc
    assert doc["cases"] == [case_id]
    assert {(e["actor"], e["action"], e["role"], e["organisation"]) for e in doc["entries"]} >= {
        ("h0581", "show", "officer", "kommun"), ("h0180", "denied:show", "officer", "kommun")}
    assert all(e["case_id"] == case_id for e in doc["entries"])
    assert digits not in json.dumps(doc)
    # Producing the extract is itself on the log; a wrong number is bad input naming the field.
    assert "access_extract" in {r["action"] for r in world.access_rows(case_id=case_id)}
    bad = etablera("audit", "access", "--person", "19900101-0000", "--json")
    assert bad.code == 2 and json.loads(bad.out)["error"]["field"] == "person"
    # The same extract for an auditor over the API, the number only in the request body.
    api = client.post("/api/v1/access-log/person", json={"person": person}, headers=world.bearer("granskare"))
    assert api.status_code == 200 and api.json()["cases"] == [case_id]
    assert client.post("/api/v1/access-log/person", json={"person": person},
                       headers=world.bearer("h0581")).status_code == 403


def test_demo_creates_the_demo_logins_and_says_where_to_log_in(sqlite_url):
    env = {**os.environ, "ETABLERA_DATABASE_URL": sqlite_url}
    done = run_cli("demo", "--walkthrough", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "http://127.0.0.1:8000/" in done.stdout and DEMO_PASSWORD in done.stdout
    assert "samordnare0581" in done.stdout and "granskare" in done.stdout
    client = TestClient(create_app(make_engine(sqlite_url)))
    login(client, "admin", DEMO_PASSWORD)
    assert 'data-case="' in client.get("/worklist").text                 # the walkthrough's cases
    # `audit access` is a command of its own group: a fresh process finds it.
    assert run_cli("audit", "access", "--help", env=env).returncode == 0
