"""/healthz and /readyz (issue 15, item 3): no login, no personal data; /readyz is 503
naming the check that failed while the schema is behind, the database is unreachable or
the configuration is not valid, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from etablera.interfaces.http import health
from etablera.interfaces.http.app import create_app
from etablera.models.database import make_engine, transaction
from etablera.models.schema_version import head_revision

HEAD = head_revision()


def set_revision(engine, revision: str) -> None:
    with transaction(engine) as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


def test_healthz_answers_without_login(engine):
    client = TestClient(create_app(engine))
    response = client.get("/healthz", follow_redirects=False)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.head("/healthz").status_code == 200


def test_readyz_ready_at_head_and_not_when_behind(any_engine):
    client = TestClient(create_app(any_engine))
    response = client.get("/readyz", follow_redirects=False)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready",
                               "checks": {"configuration": "ok", "database": "ok", "migrations": "ok"}}
    set_revision(any_engine, "0009")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not_ready",
                               "checks": {"configuration": "ok", "database": "ok", "migrations": "behind"}}
    set_revision(any_engine, "ffff_from_a_newer_version")
    assert client.get("/readyz").json()["checks"]["migrations"] == "unknown"
    set_revision(any_engine, HEAD)
    assert client.get("/readyz").status_code == 200


def test_readyz_not_ready_without_a_schema_or_a_database(tmp_path):
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    response = TestClient(create_app(empty)).get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "behind"
    gone = make_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.sqlite3'}")
    response = TestClient(create_app(gone)).get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"configuration": "ok", "database": "unreachable", "migrations": "unknown"}


def test_readyz_not_ready_with_a_bad_environment(engine, monkeypatch):
    monkeypatch.setattr(health, "_config_ok", False)
    monkeypatch.setenv("ETABLERA_ENV", "prod")
    response = TestClient(create_app(engine)).get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["configuration"] == "not_valid"


def test_health_is_not_in_the_api_schema(engine):
    paths = TestClient(create_app(engine)).get("/api/v1/openapi.json").json()["paths"]
    assert not any(p in paths for p in health.PATHS)
