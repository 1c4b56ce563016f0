"""Inputs that crashed the server, and outages (issue 14, finding 9 / item 8).

The attack, as found on loopback: HTTP 500 on a lone surrogate in the advance endpoint's
free-form data, on report dates 0001-01-01 or 9999-12-31, and on PostgreSQL on a NUL byte
in a note or in the access-log filter; a permit date of 0001-01-01 was accepted. With the
disk full or the database down users saw "unexpected error (OperationalError)" and the log
did not say why. Now each input answers 400 naming the field (the command line: exit 2),
nothing is written, no log line has a traceback, and an outage is a clear Swedish message
to the user and one line saying what is wrong in the log.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from cli_kit import etablera
from identities import pnr
from etablera.access.accounts import TOKEN_PREFIX
from etablera.cases.audit import EVENTS
from etablera.interfaces.http.app import create_app
from etablera.interfaces.http.auth import SESSION_COOKIE
from etablera.models import AccessLog
from etablera.models.database import make_engine, transaction
from etablera.models.outage import outage
from web_kit import build_world, login

TODAY = date.today()
PERMIT = (TODAY - timedelta(days=30)).isoformat()
NEW_PERSON = pnr("19910101", 201)


@pytest.fixture
def world(db_url, monkeypatch):
    world = build_world(db_url)
    monkeypatch.setenv("ETABLERA_DATABASE_URL", db_url)
    yield world
    world.engine.dispose()


def _written(world) -> tuple[int, int]:
    with transaction(world.engine, write=False) as conn:
        return (conn.execute(select(func.count()).select_from(EVENTS)).scalar_one(),
                conn.execute(select(func.count()).select_from(AccessLog)
                             .where(AccessLog.c.detail == "done")).scalar_one())


def _no_traceback(caplog) -> None:
    """No log line of an expected error has a traceback or says more than a warning."""
    for record in caplog.records:
        assert record.exc_info is None and "Traceback" not in record.getMessage(), record.getMessage()
        assert record.levelno < logging.ERROR, record.getMessage()


def _version(client, world, case_id: int) -> int:
    return client.get(f"/api/v1/cases/{case_id}", headers=world.bearer("admin")).json()["version"]


# Each input of finding 9, raw: (what, method, path (CASE: the case id), JSON body as bytes, field)
RAW = [
    ("surrogate in the advance data's value", "post", "/api/v1/cases/CASE/events",
     b'{"trigger": "hold_talk", "data": {"note": "\\ud800"}, "expect_version": VERSION}', "note"),
    ("surrogate as an advance data key", "post", "/api/v1/cases/CASE/events",
     b'{"trigger": "hold_talk", "data": {"\\ud800": "x"}, "expect_version": VERSION}', "data"),
    ("surrogate in a list in the advance data", "post", "/api/v1/cases/CASE/events",
     b'{"trigger": "hold_talk", "data": {"note": ["a", "\\udfff"]}, "expect_version": VERSION}', "note"),
    ("NUL in the advance note", "post", "/api/v1/cases/CASE/events",
     b'{"trigger": "hold_talk", "data": {"note": "a\\u0000b"}, "expect_version": VERSION}', "note"),
    ("surrogate in a journal note", "post", "/api/v1/cases/CASE/notes", b'{"text": "a\\ud800"}', "text"),
    ("NUL in a journal note", "post", "/api/v1/cases/CASE/notes", b'{"text": "a\\u0000b"}', "text"),
    ("NUL in a registration note", "post", "/api/v1/cases",
     b'{"person": "PERSON", "municipality": "0581", "permit_date": "PERMIT", "note": "a\\u0000"}', "note"),
    ("surrogate in a registration note", "post", "/api/v1/cases",
     b'{"person": "PERSON", "municipality": "0581", "permit_date": "PERMIT", "note": "\\ud800"}', "note"),
    ("surrogate in a given name", "post", "/api/v1/cases",
     b'{"person": "PERSON", "municipality": "0581", "permit_date": "PERMIT", "given_name": "\\ud800"}',
     "given_name"),
    ("permit date 0001-01-01", "post", "/api/v1/cases",
     b'{"person": "PERSON", "municipality": "0581", "permit_date": "0001-01-01"}', "permit_date"),
    ("permit date 1989-12-31", "post", "/api/v1/cases",
     b'{"person": "PERSON", "municipality": "0581", "permit_date": "1989-12-31"}', "permit_date"),
    ("surrogate in the search query", "post", "/api/v1/search", b'{"query": "\\ud800"}', "query"),
    ("NUL in the search query", "post", "/api/v1/search", b'{"query": "a\\u0000"}', "query"),
    ("surrogate in a person's name", "patch", "/api/v1/cases/CASE/person",
     b'{"family_name": "\\ud800", "expect_version": VERSION}', "family_name"),
    ("surrogate in a correction note", "post", "/api/v1/cases/CASE/corrections",
     b'{"seq": 1, "reason": "wrong_step", "note": "\\ud800", "expect_version": VERSION}', "note"),
    ("report from 0001-01-01", "get", "/api/v1/report?from=0001-01-01", None, "from"),
    ("report to 9999-12-31", "get", "/api/v1/report?to=9999-12-31", None, "to"),
    ("report from 9999-12-31", "get", "/api/v1/report?from=9999-12-31&to=9999-12-31", None, "from"),
    ("NUL in the access-log actor filter", "get", "/api/v1/access-log?actor=a%00b", None, "actor"),
    ("NUL in the access-log action filter", "get", "/api/v1/access-log?action=view%00", None, "action"),
]


@pytest.mark.parametrize("what, method, path, body, field", RAW, ids=[r[0] for r in RAW])
def test_each_input_of_finding_9_is_a_400_naming_the_field(world, caplog, what, method, path, body, field):
    client = TestClient(create_app(world.engine), raise_server_exceptions=False)
    case_id = world.cases["nkpg"]
    path = path.replace("CASE", str(case_id))
    if body is not None:
        body = (body.replace(b"VERSION", str(_version(client, world, case_id)).encode())
                .replace(b"PERSON", NEW_PERSON.encode()).replace(b"PERMIT", PERMIT.encode()))
    before = _written(world)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        response = client.request(method.upper(), path, content=body,
                                  headers={**world.bearer("admin"), "content-type": "application/json"})
    assert response.status_code == 400, (what, response.text)
    assert response.json()["error"]["field"] == field, (what, response.text)
    assert _written(world) == before
    _no_traceback(caplog)


def test_the_pages_answer_the_same_inputs_with_400(world, caplog):
    client = TestClient(create_app(world.engine), raise_server_exceptions=False)
    csrf = login(client, "admin")
    case_id = world.cases["nkpg"]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for url in ("/report?start=0001-01-01", "/report?end=9999-12-31", "/access-log?actor=a%00b",
                    "/access-log?action=a%00"):
            page = client.get(url)
            assert page.status_code == 400, (url, page.text[:300])
        note = client.post(f"/cases/{case_id}/notes", data={"csrf": csrf, "text": "a\x00b"},
                           follow_redirects=False)
        assert note.status_code in (400, 303) and note.status_code != 500
        registered = client.post("/register", data={"csrf": csrf, "person": NEW_PERSON, "municipality": "0581",
                                                    "permit_date": "0001-01-01"}, follow_redirects=False)
        assert registered.status_code == 400 and "1990-01-01" in registered.text
    _no_traceback(caplog)


def test_the_command_line_refuses_the_same_inputs_naming_the_field(world, caplog):
    case_id = str(world.cases["nkpg"])
    cases = [
        (("case", "note", case_id, "a\udc80b"), "text"),             # undecodable bytes on the command line
        (("case", "advance", case_id, "hold_talk", "--set", "note=\ud800"), "note"),
        (("case", "register", "--person", NEW_PERSON, "--municipality", "0581", "--permit-date", "0001-01-01"),
         "permit_date"),
        (("report", "--from", "0001-01-01"), "from"),
        (("report", "--to", "9999-12-31"), "to"),
    ]
    before = _written(world)
    for args, field in cases:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            result = etablera(*args, "--actor", "admin", "--json")
        assert result.code == 2, (args, result)
        assert result.doc["error"]["field"] == field, (args, result.doc)
        _no_traceback(caplog)
    assert _written(world) == before


# --- outages: the database down, the disk full --------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]            # closed once the socket is: nothing listens there


def test_with_the_database_down_users_get_a_clear_swedish_message_and_the_log_says_why(caplog, monkeypatch):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test"
    client = TestClient(create_app(make_engine(url)), raise_server_exceptions=False)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        api = client.get("/api/v1/me?lang=sv", headers={"Authorization": f"Bearer {TOKEN_PREFIX}whatever-token"})
        client.cookies.set(SESSION_COOKIE, "a-session")
        page = client.get("/worklist")
    assert api.status_code == 503 and api.json()["error"]["code"] == "database_unreachable"
    assert api.json()["error"]["message"].startswith("Databasen går inte att nå")
    assert page.status_code == 503 and "Databasen går inte att nå" in page.text
    assert "OperationalError" not in api.text + page.text
    lines = [r.getMessage() for r in caplog.records]
    assert sum("database unreachable: connection refused" in line for line in lines) == 2, lines
    assert all(r.exc_info is None for r in caplog.records)

    monkeypatch.setenv("ETABLERA_DATABASE_URL", url)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        cli = etablera("case", "show", "1", "--actor", "admin")
    assert cli.code == 1 and "Databasen går inte att nå" in cli.err and "OperationalError" not in cli.err
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "database unreachable: connection refused"]


def test_with_the_disk_full_users_get_a_clear_message_and_the_log_says_disk_full(sqlite_url, caplog, monkeypatch):
    world = build_world(sqlite_url)
    case_id = world.cases["nkpg"]
    # The disk is full: SQLite may not grow the database by a single page (SQLITE_FULL,
    # "database or disk is full", as on a full file system).
    with transaction(world.engine, write=False) as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    event.listen(world.engine, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA max_page_count = {pages}"))
    world.engine.dispose()
    client = TestClient(create_app(world.engine), raise_server_exceptions=False)
    big = "anteckning " * 900
    caplog.clear()
    with caplog.at_level(logging.INFO):
        api = client.post(f"/api/v1/cases/{case_id}/notes?lang=sv", json={"text": big}, headers=world.bearer("admin"))
        for more in range(5):           # until the pages the file had free are used up
            if api.status_code != 201:
                break
            api = client.post(f"/api/v1/cases/{case_id}/notes?lang=sv", json={"text": big + str(more)},
                              headers=world.bearer("admin"))
    assert api.status_code == 503, api.text
    assert api.json()["error"] == {"code": "disk_full", "status": 503, "field": None, "exit_code": 1,
                                   "message": "Disken är full; inget sparades. Kontakta driften."}
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert lines and all(line.startswith("disk full (POST /api/v1/cases/") for line in lines), lines
    assert all(r.exc_info is None for r in caplog.records)

    monkeypatch.setenv("ETABLERA_DATABASE_URL", sqlite_url)
    from etablera.models.database import engine_for
    engine_for.cache_clear()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        # The command line's engine, under the same page limit.
        engine = engine_for(sqlite_url)
        event.listen(engine, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA max_page_count = {pages}"))
        engine.dispose()
        cli = etablera("case", "note", str(case_id), big, "--actor", "admin")
        engine_for.cache_clear()
        engine.dispose()
    assert cli.code == 1 and "Disken är full" in cli.err, cli
    assert "disk full" in [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    world.engine.dispose()


def test_what_counts_as_an_outage():
    import psycopg.errors
    assert outage(OSError(errno.ENOSPC, "No space left on device")).log_line == "disk full"
    assert outage(psycopg.errors.DiskFull("could not extend file")).code == "disk_full"
    assert outage(psycopg.errors.AdminShutdown("terminating connection")).code == "database_unreachable"
    assert outage(FileNotFoundError(errno.ENOENT, "gone")) is None
    assert outage(ValueError("a bug")) is None


def test_a_login_name_is_never_in_the_outage_log_line(caplog):
    """The log line names what is wrong and the request's path: no body, no name."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test"
    client = TestClient(create_app(make_engine(url)), raise_server_exceptions=False)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        client.post("/api/v1/search", json={"query": "Özlem"}, headers={"Authorization": f"Bearer {TOKEN_PREFIX}x"})
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "database unreachable: connection refused (POST /api/v1/search)"]
    assert not any(re.search("Özlem", r.getMessage()) for r in caplog.records)
