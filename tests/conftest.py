"""Shared fixtures: a migrated SQLite database per test, the real PostgreSQL on
127.0.0.1:5432 (database `test`) in a schema of its own, and a CLI runner.

PostgreSQL tests are marked `postgres`. Without a server they skip with a clear message,
except under CI (CI=true or ETABLERA_REQUIRE_POSTGRES=1), where a missing server fails.
The browser tests (`chromium`: Debian's Chromium driven by Playwright, never a downloaded
browser) do the same under CI=true.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import leaks
from etablera.models.database import engine_for, make_engine, upgrade

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("ETABLERA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CI") == "true" or os.environ.get("ETABLERA_REQUIRE_POSTGRES") == "1"
CHROMIUM = Path(os.environ.get("ETABLERA_TEST_CHROMIUM", "/usr/bin/chromium"))


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    problem = _pg_available()
    if problem:
        message = (f"PostgreSQL is not reachable at {PG_SERVER} ({problem}); start it "
                   "(pg_ctlcluster 15 main start) or set ETABLERA_TEST_PG")
        if REQUIRE_PG:
            pytest.fail(message + " — CI requires the PostgreSQL tests", pytrace=False)
        pytest.skip(message)
    return PG_SERVER


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The Chromium executable for Playwright (`executable_path=`)."""
    problem = None
    if not CHROMIUM.exists():
        problem = (f"Chromium is not installed at {CHROMIUM} "
                   "(apt-get install -y chromium, or set ETABLERA_TEST_CHROMIUM)")
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing (pip install -c constraints.txt -e '.[test]')"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem + " — CI requires the browser tests", pytrace=False)
        pytest.skip(problem + "; the browser tests are skipped")
    return CHROMIUM


def fresh_pg_url(server: str) -> str:
    """A new empty schema on the test server; the URL's search_path points at it."""
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return f"{server}?options=-csearch_path%3D{schema}"


def drop_pg_schema(server: str, url: str) -> None:
    schema = url.rsplit("%3D", 1)[1]
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'etablera.sqlite3'}"
    upgrade(make_engine(url))
    return url


@pytest.fixture
def pg_url(pg_server, tmp_path, monkeypatch) -> str:
    # The audit key of a server database defaults to ./var/audit.key in the working
    # directory (cases/audit_key.py): the test's own folder instead, for it and the
    # commands it runs, unless the test chose a file itself.
    if not os.environ.get("ETABLERA_AUDIT_KEY_FILE"):
        monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    url = fresh_pg_url(pg_server)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    engine_for.cache_clear()
    drop_pg_schema(pg_server, url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """Run a test on both databases."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(sqlite_url):
    return make_engine(sqlite_url)


@pytest.fixture
def any_engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def keyed_engine(any_engine, tmp_path, monkeypatch):
    """any_engine, with the audit key in the test's own directory."""
    monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    return any_engine


@pytest.fixture
def cli_env(db_url, monkeypatch) -> dict:
    """Environment for running `etablera` (in-process or as a subprocess) on db_url."""
    monkeypatch.setenv("ETABLERA_DATABASE_URL", db_url)
    monkeypatch.setenv("ETABLERA_ACTOR", "handl01")
    return {**os.environ, "ETABLERA_DATABASE_URL": db_url, "ETABLERA_ACTOR": "handl01"}


def run_cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the real `etablera` command in a subprocess."""
    return subprocess.run([sys.executable, "-m", "etablera.interfaces.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_web(db_url: str, *args: str, wait: float = 30) -> tuple[subprocess.Popen, int]:
    """The real `etablera web` on a free port of loopback, serving `db_url`, once it
    accepts connections; fails the test with its last output if it exits first."""
    port = free_port()
    env = {**os.environ, "ETABLERA_DATABASE_URL": db_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    process = subprocess.Popen([sys.executable, "-m", "etablera.interfaces.cli.main", "web", "--port", str(port),
                                *args],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + wait
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"etablera web exited: {process.stderr.read().decode()[-500:]}")
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"etablera web did not listen within {wait:.0f} s")
            time.sleep(0.1)


def pytest_configure(config) -> None:
    leaks.install()
    # The configuration snapshots (models/snapshot.py) of the run's many configuration
    # directories go to a directory of the run's own, read by its subprocesses too.
    if not hasattr(config, "workerinput"):
        os.environ["ETABLERA_CACHE_DIR"] = tempfile.mkdtemp(prefix="etablera-snapshots-")


def pytest_unconfigure(config) -> None:
    if not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ.pop("ETABLERA_CACHE_DIR", ""), ignore_errors=True)


@pytest.fixture(autouse=True)
def _logs_watched():
    leaks.watch_logs()


def pytest_sessionfinish(session, exitstatus) -> None:
    """The run fails if any test request's URL, log line or reminder carried an identity
    number or a person's name (tests/leaks.py)."""
    if leaks.FINDINGS:
        counted: dict[str, int] = {}
        for finding in leaks.FINDINGS:
            counted[finding] = counted.get(finding, 0) + 1
        lines = "\n".join(f"  {n} × {finding}" for finding, n in sorted(counted.items()))
        print(f"\npersonal data leaked during the run:\n{lines}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
