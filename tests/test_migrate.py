"""`etablera migrate` and ETABLERA_ENV (issue 15, item 5): the schema upgraded as a step of
its own; in production `etablera web` refuses to start while the schema is behind and
never upgrades it; the embedded default still upgrades itself; any other ETABLERA_ENV is
refused naming it."""

from __future__ import annotations

import warnings

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Column, text
from sqlalchemy.schema import CreateIndex

from cli_kit import etablera
from conftest import drop_pg_schema, fresh_pg_url, run_cli
from etablera.interfaces.http import server
from etablera.models.database import MIGRATIONS, engine_for, make_engine, transaction
from etablera.models.schema_version import head_revision, schema_state

HEAD = head_revision()
OLDER = "0009"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path, monkeypatch):
    """A database with no schema at all, named by ETABLERA_DATABASE_URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        server_url = request.getfixturevalue("pg_server")
        url = fresh_pg_url(server_url)
        request.addfinalizer(lambda: (engine_for.cache_clear(), drop_pg_schema(server_url, url)))
    monkeypatch.setenv("ETABLERA_DATABASE_URL", url)
    monkeypatch.delenv("ETABLERA_ENV", raising=False)
    return url


def upgrade_to(url: str, revision: str) -> None:
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()


def revision_of(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return schema_state(engine).current
    finally:
        engine.dispose()


@pytest.fixture
def served(monkeypatch) -> list:
    """`etablera web` in this process without serving: the calls it would have served."""
    calls = []
    monkeypatch.setattr(server, "serve", lambda **kw: calls.append(kw))
    return calls


def test_migrate_creates_a_fresh_database_then_has_nothing_to_do(empty_url):
    result = etablera("migrate", "--json")
    assert result.code == 0, result
    assert result.doc["revision"] == HEAD and result.doc["previous"] is None and result.doc["upgraded"] is True
    again = etablera("migrate", "--lang", "en")
    assert again.code == 0 and f"already at the newest revision {HEAD}" in again.out
    assert revision_of(empty_url) == HEAD


def test_migrate_upgrades_an_older_schema(empty_url):
    upgrade_to(empty_url, OLDER)
    result = etablera("migrate")
    assert result.code == 0, result
    assert f"från version {OLDER} till {HEAD}" in result.out
    assert revision_of(empty_url) == HEAD


def test_production_web_refuses_a_schema_behind_and_leaves_it(empty_url, served, monkeypatch):
    upgrade_to(empty_url, OLDER)
    monkeypatch.setenv("ETABLERA_ENV", "production")
    result = etablera("web", "--port", "1", "--lang", "en")
    assert result.code == 3 and not served
    assert result.err.strip().splitlines() == [
        f"error: the database is at revision {OLDER}; this version of etablera needs {HEAD} (run etablera migrate)"]
    assert revision_of(empty_url) == OLDER                  # never upgraded by the web
    json_result = etablera("web", "--port", "1", "--json")
    assert json_result.code == 3 and json_result.doc["error"]["code"] == "schema_behind"

    assert etablera("migrate").code == 0
    assert etablera("web", "--port", "1").code == 0 and len(served) == 1


def test_production_web_refuses_a_schema_it_does_not_know(empty_url, served, monkeypatch):
    upgrade_to(empty_url, HEAD)
    with transaction(make_engine(empty_url)) as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_newer'"))
    monkeypatch.setenv("ETABLERA_ENV", "production")
    result = etablera("web", "--port", "1")
    assert result.code == 3 and not served and "ffff_newer" in result.err and "nyare version" in result.err


def test_embedded_web_still_upgrades_itself(empty_url, served, monkeypatch):
    upgrade_to(empty_url, OLDER)
    monkeypatch.setenv("ETABLERA_ENV", "development")
    assert etablera("web", "--port", "1").code == 0 and len(served) == 1
    assert revision_of(empty_url) == HEAD


@pytest.mark.parametrize("command_", [["web", "--port", "1"], ["migrate"]])
def test_any_other_environment_is_refused_naming_it(empty_url, served, monkeypatch, command_):
    monkeypatch.setenv("ETABLERA_ENV", "prod")
    result = etablera(*command_, "--lang", "en")
    assert result.code == 2 and not served
    assert result.err.strip() == "error: ETABLERA_ENV: must be one of: development, production"
    assert revision_of(empty_url) is None                   # nothing written


@pytest.mark.slow
def test_real_production_web_process_exits_when_behind(tmp_path):
    url = f"sqlite:///{tmp_path / 'behind.sqlite3'}"
    upgrade_to(url, OLDER)
    import os
    env = {**os.environ, "ETABLERA_DATABASE_URL": url, "ETABLERA_ENV": "production"}
    result = run_cli("web", "--port", "1", env=env, timeout=60)     # run() kills it on a timeout
    assert result.returncode == 3, result.stderr
    assert "kör etablera migrate" in result.stderr


@pytest.mark.postgres
def test_two_migrations_at_once_take_turns_on_postgresql(pg_server):
    """Two `etablera migrate` starting together (two deploy jobs, a retried one): the
    second waits for the first's advisory lock and finds the work done."""
    from concurrent.futures import ThreadPoolExecutor
    from etablera.models.schema_version import migrate
    url = fresh_pg_url(pg_server)
    engines = [make_engine(url), make_engine(url)]
    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(migrate, engines))
        befores = sorted((before.current or "", after.current) for before, after in results)
        assert befores == [("", HEAD), (HEAD, HEAD)]
    finally:
        for engine in engines:
            engine.dispose()
        drop_pg_schema(pg_server, url)


def test_the_migrated_schema_is_what_the_tables_declare(any_engine):
    """Alembic's autogenerate finds nothing to change between the migrations and the tables
    (models/): no index or column one side has and the other lacks, on either database, so a
    migration autogenerated later proposes only what its change adds."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import etablera.models  # noqa: F401  (every table on the metadata)
    from etablera.models.metadata import metadata

    with any_engine.connect() as conn, warnings.catch_warnings():
        # SQLite's expression indexes are not reflected, so not compared: below, by their DDL
        warnings.filterwarnings("ignore", message=".*expression-based index")
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    if any_engine.dialect.name == "sqlite":
        expressions = [ix for table in metadata.tables.values() for ix in table.indexes
                       if any(not isinstance(e, Column) for e in ix.expressions)]
        assert expressions                   # the name heads (models/case.py) at least
        with any_engine.connect() as conn:
            for ix in expressions:
                made = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": ix.name}).scalar()
                assert made == str(CreateIndex(ix).compile(dialect=any_engine.dialect)), ix.name
