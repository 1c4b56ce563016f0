"""schemathesis against the published OpenAPI: no 500, and no response that breaks the
schema (status codes, content types, bodies, headers), for every operation, with the API
tokens of an admin (every case in scope), an officer (one municipality's) and an auditor
(everything, read-only: every change refused). Bounded: a few examples each."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)
from schemathesis.checks import not_a_server_error

from web_kit import build_world

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.mark.parametrize("user", ["admin", "h0581", "granskare"])
def test_api_conforms_to_its_schema(sqlite_url, user):
    # Driven by hand rather than through schemathesis' pytest plugin (its fixture loader
    # does not work with pytest 9): one bounded hypothesis run per operation.
    from etablera.interfaces.http.app import create_app
    world = build_world(sqlite_url)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", create_app(world.engine))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.headers = {**(case.headers or {}), **world.bearer(user)}
            case.call_and_validate(checks=CHECKS)
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report
            failures.append(f"{operation.method.upper()} {operation.path}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_openapi_is_published(sqlite_url):
    from fastapi.testclient import TestClient
    from etablera.interfaces.http.app import create_app
    client = TestClient(create_app(build_world(sqlite_url).engine))
    doc = client.get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    for path in ("/api/v1/cases", "/api/v1/cases/{case_id}", "/api/v1/cases/{case_id}/history",
                 "/api/v1/cases/{case_id}/events", "/api/v1/cases/{case_id}/measures", "/api/v1/measures/{measure_id}",
                 "/api/v1/skips", "/api/v1/reminders", "/api/v1/agreements", "/api/v1/report", "/api/v1/access-log"):
        assert path in paths, path
    post = paths["/api/v1/cases/{case_id}/events"]["post"]
    assert {"400", "401", "403", "404", "409"} <= set(post["responses"])
    assert "expect_version" in doc["components"]["schemas"]["AdvanceRequest"]["required"]
    assert not any(p.startswith(("/worklist", "/login", "/cases")) for p in paths)    # pages are not API
