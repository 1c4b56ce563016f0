"""The request log (issue 15, item 4): one JSON line per request with its id (taken from a
sane X-Request-ID or made, and returned), the user, the route's template, the method, the
status and the duration; never the raw path, the query string or a form's values (an
identity number, a name). And the real `etablera web` logs JSON lines only, with
uvicorn's access log off, with one worker or several."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import ROOT, free_port
from etablera.interfaces.http.app import create_app
from etablera.interfaces.http.request_log import json_formatter, request_id
from identities import pnr
from web_kit import build_world, login

HEX_ID = re.compile(r"[0-9a-f]{32}\Z")
FIELDS = {"event", "request_id", "user", "route", "method", "status", "duration_ms", "level", "logger", "timestamp"}


@pytest.fixture
def lines():
    """The JSON lines the application's loggers write while the test runs, as the web
    process renders them (interfaces/http/request_log.py: json_formatter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    product = logging.getLogger("etablera")
    product.addHandler(handler)

    def read() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]
    read.text = stream.getvalue
    yield read
    product.removeHandler(handler)


def requests_of(lines) -> list[dict]:
    return [line for line in lines() if line["event"] == "request"]


def test_one_line_per_request_with_the_route_template_and_the_user(sqlite_url, lines):
    world = build_world(sqlite_url)
    client = TestClient(create_app(world.engine))
    login(client, "h0581")
    case_id = world.cases["nkpg"]
    before = len(requests_of(lines))
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    [line] = requests_of(lines)[before:]
    assert set(line) == FIELDS
    assert line["request_id"] == page.headers["x-request-id"] and HEX_ID.match(line["request_id"])
    assert (line["user"], line["route"], line["method"], line["status"]) == ("h0581", "/cases/{case_id}", "GET", 200)
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "info" and line["logger"] == "etablera.request"

    api = client.get(f"/api/v1/cases/{case_id}", headers=world.bearer("admin"))
    assert requests_of(lines)[-1] | {"request_id": None, "duration_ms": None, "timestamp": None} == {
        **requests_of(lines)[-1], "request_id": None, "duration_ms": None, "timestamp": None,
        "user": "admin", "route": "/api/v1/cases/{case_id}", "status": api.status_code}
    client.get("/static/app.css")
    assert requests_of(lines)[-1]["route"] == "/static/{path}"
    TestClient(create_app(world.engine)).get("/no/such/page")
    assert (requests_of(lines)[-1]["route"], requests_of(lines)[-1]["user"]) == (None, None)


def test_the_request_id_is_taken_when_sane_and_made_otherwise(engine, lines):
    client = TestClient(create_app(engine))
    given = "haproxy-7F000001:A1B2_5F5E1000.0001"
    response = client.get("/no/such/page", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given and requests_of(lines)[-1]["request_id"] == given
    for bad in ("short", "x" * 129, "has space in it", "semi;colon;id", "åäö-request-id".encode(), "case-1990010127-x", "ref-900101-2716-x",
                "{\"json\": true}"):
        response = client.get("/no/such/page", headers={"X-Request-ID": bad})
        made = response.headers["x-request-id"]
        assert made != bad and HEX_ID.match(made), bad
        assert requests_of(lines)[-1]["request_id"] == made
    assert bad not in lines.text()
    seen = {request_id(None) for _ in range(2000)}
    assert len(seen) == 2000 and not any(re.search(r"\d{10}", s) for s in seen)    # never an identity number's shape


def test_no_identity_number_or_name_from_a_form_a_path_or_a_query(sqlite_url, lines):
    world = build_world(sqlite_url)
    client = TestClient(create_app(world.engine))
    csrf = login(client, "h0581")
    person = pnr("19850505", 333)
    digits = person.replace("-", "")
    name = "Zlatanovicsdottir"          # not in the leak watcher's registry: this test looks for it itself
    client.post("/search", data={"query": person, "csrf": csrf})
    client.post("/search", data={"query": name, "csrf": csrf})
    client.post("/register", data={"person": person, "given_name": name, "municipality": "0581", "csrf": csrf})
    client.get(f"/cases/{name}")
    client.get(f"/{name}/{name}")
    client.get("/worklist", params={"filter": name})
    text = lines.text()
    for secret in (person, digits, digits[2:], name, name.lower()):
        assert secret not in text, secret
    routes = [line["route"] for line in requests_of(lines)[-6:]]
    assert routes == ["/search", "/search", "/register", "/cases/{case_id}", None, "/worklist"]


def test_health_probes_are_logged_only_when_not_ready(engine, lines):
    from sqlalchemy import text
    from etablera.models.database import transaction
    client = TestClient(create_app(engine))
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
    assert requests_of(lines) == []
    with transaction(engine) as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0009'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert requests_of(lines)[-1]["route"] == "/readyz" and requests_of(lines)[-1]["status"] == 503


def test_an_unexpected_error_and_a_refused_body_carry_the_id_too(engine, lines):
    app = create_app(engine)

    @app.get("/test-boom/{thing}")
    def boom(thing: str):
        raise RuntimeError(thing)

    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/test-boom/Zlatanovicsdottir")
    assert response.status_code == 500
    rid = response.headers["x-request-id"]
    mine = [line for line in lines() if line.get("request_id") == rid]
    assert [(m["event"], m.get("status")) for m in mine] == [
        ("unexpected RuntimeError on GET /test-boom/{thing}", None), ("request", 500)]
    assert "Zlatanovicsdottir" not in lines.text()

    big = client.post("/api/v1/cases", content=b"x" * (2 * 1024 * 1024), headers={"content-type": "application/json"})
    assert big.status_code == 413 and HEX_ID.match(big.headers["x-request-id"])
    assert requests_of(lines)[-1]["status"] == 413


def test_the_line_written_straight_is_the_line_the_record_gives():
    """Where the JSON handler is the only one a request's line reaches (the web process),
    the line is written without a record; it must be the text the record would give."""
    from etablera.interfaces.http import request_log
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    logger = logging.getLogger(request_log.LOGGER)
    propagate, level = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    event = {"event": "request", "request_id": "from-the-balancer-0001", "user": "h0581", "route": "/cases/{case_id}",
             "method": "GET", "status": 200, "duration_ms": 4.2, "level": "info", "logger": request_log.LOGGER}
    passes_all = logging.Filter()           # refuses nothing, but a filter sends the line as a record
    try:
        assert request_log._only_handler() is handler
        request_log._log(dict(event))
        logger.addFilter(passes_all)
        assert request_log._only_handler() is None
        request_log._log(dict(event))
        logger.removeFilter(passes_all)
        second = logging.StreamHandler(io.StringIO())
        second.setFormatter(json_formatter())
        logger.addHandler(second)           # two handlers: each must see the record
        assert request_log._only_handler() is None
        logger.removeHandler(second)
    finally:
        logger.removeHandler(handler)
        logger.propagate, logger.level = propagate, level
    straight, recorded = (json.loads(line) for line in stream.getvalue().splitlines())
    assert list(straight) == list(recorded) and set(straight) == FIELDS
    assert {**straight, "timestamp": None} == {**recorded, "timestamp": None} == {**event, "timestamp": None}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", straight["timestamp"])


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_the_web_process_writes_json_lines_only(sqlite_url, tmp_path, workers):
    """The real `etablera web` (uvicorn alone, and gunicorn with uvicorn's workers): every
    line on standard output is JSON, a request's line is there, the raw path is not; named
    by ETABLERA_SERVICE (as `etablera stack up` names its replicas), every line says so."""
    port = free_port()
    out = open(tmp_path / "stdout", "w+b")
    env = {**os.environ, "ETABLERA_DATABASE_URL": sqlite_url, "ETABLERA_SERVICE": "web7"}
    process = subprocess.Popen([sys.executable, "-m", "etablera.interfaces.cli.main", "web", "--port", str(port),
                                "--workers", str(workers)], cwd=ROOT, env=env, stdout=out,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "etablera web did not start"
            time.sleep(0.2)
        response = httpx.get(f"http://127.0.0.1:{port}/cases/12345?secret_query=Zlatanovicsdottir",
                             headers={"X-Request-ID": "from-the-balancer-0001"}, timeout=10)
        assert response.headers["x-request-id"] == "from-the-balancer-0001"
        deadline = time.monotonic() + 20
        while b"from-the-balancer-0001" not in (tmp_path / "stdout").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    text = (tmp_path / "stdout").read_text()
    parsed = [json.loads(line) for line in text.splitlines() if line.strip()]     # every line is JSON
    [line] = [p for p in parsed if p.get("request_id") == "from-the-balancer-0001"]
    assert (line["route"], line["status"], line["user"]) == ("/cases/{case_id}", 303, None)
    assert "12345" not in text and "Zlatanovicsdottir" not in text and "secret_query" not in text
    assert all(p.get("logger") != "uvicorn.access" for p in parsed)
    assert {p.get("service") for p in parsed} == {"web7"}
