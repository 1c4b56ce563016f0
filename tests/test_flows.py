"""The check through Prefect: the CLI without Prefect, one real flow run, `etablera serve`
with its own local server, and the distributed path (a Prefect server on PostgreSQL, a
work pool, a worker) with the application on PostgreSQL too."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from conftest import ROOT, free_port, run_cli
from identities import pnr
from kit import officer, register
from etablera.models import Reminder
from etablera.models.database import make_engine

PY = sys.executable


def prefect_env(tmp_path: Path, **extra) -> dict:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "ETABLERA_NOTIFY_DEFAULT": f"file:{tmp_path / 'reminders.log'}", "ETABLERA_ACTOR": "test",
           "PREFECT_LOGGING_LEVEL": "WARNING", **extra}
    env.pop("PREFECT_API_URL", None)
    return env


def api(url: str, path: str, body: dict | None = None) -> dict | list:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def one_overdue_case(engine) -> int:
    officer(engine, "k1")
    return register(engine, pnr("19900101"), "0581", "2026-02-20", "2026-03-02", actor="t", kommun_officer="k1")


def test_cli_does_not_import_prefect():
    done = subprocess.run([PY, "-c", "import interfaces.cli.main, sys; assert 'prefect' not in sys.modules"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_cli_officer_reminders_and_config(cli_env, tmp_path):
    env = {**cli_env, "ETABLERA_NOTIFY_DEFAULT": f"file:{tmp_path / 'r.log'}"}
    done = run_cli("officer", "add", "samo", "--name", "Sam", "--org", "kommun", "--municipality", "0581",
                   "--role", "coordinator", "--notify", "mailtos://user:secret@mail.example.se?to=s@example.se",
                   "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert "secret" not in done.stdout and json.loads(done.stdout)["notify"] == "mailtos://mail.example.se/…"
    again = run_cli("officer", "add", "samo", "--name", "Sam", "--org", "kommun", "--municipality", "0581", env=env)
    assert again.returncode == 3
    bad = run_cli("officer", "add", "x1", "--name", "X", "--org", "kommun", "--municipality", "9999", env=env)
    assert bad.returncode == 2 and "municipality" in bad.stderr
    shown = json.loads(run_cli("config", "show", "--json", env=env).stdout)
    assert shown["reminders"]["ladders"]["stage"][0] == {"step": "warning", "at": "-5 working days",
                                                         "to": ["officers"]}
    assert shown["time_frames"]["stages"]["module1"] == {"*": "30 working days"}
    listed = run_cli("reminders", "list", "--status", "dead", "--json", env=env)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    dry = run_cli("deadlines", "recompute", "--dry-run", "--json", env=env)
    assert dry.returncode == 0 and json.loads(dry.stdout)["changed"] == 0


def test_a_temporary_server_has_time_to_start_unless_the_environment_says(monkeypatch):
    from etablera.flows.prefect_env import TEMPORARY_SERVER_START, prefect_defaults
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")        # (restored afterwards)
    monkeypatch.delenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", raising=False)
    prefect_defaults()
    assert os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == TEMPORARY_SERVER_START == "120"
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
    prefect_defaults()
    assert os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] == "300"


@pytest.mark.slow
def test_the_real_flow_through_prefect(sqlite_url, tmp_path):
    """`etablera deadlines check --now` runs the flow (a temporary Prefect server)."""
    one_overdue_case(make_engine(sqlite_url))
    env = prefect_env(tmp_path, ETABLERA_DATABASE_URL=sqlite_url)
    done = run_cli("deadlines", "check", "--now", "2026-04-22", "--json", env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["check"]["by_step"] == {"warning": 0, "overdue": 0, "escalation": 1}
    assert summary["delivery"] == {"sent": 2, "failed": 0, "dead": 0, "incomplete": False}
    assert summary["outbox"] == {"sent": 1}
    lines = [json.loads(x) for x in (tmp_path / "reminders.log").read_text().splitlines()]
    assert sorted(x["to"] for x in lines) == ["coordinator:0581", "k1"]
    listed = json.loads(run_cli("reminders", "list", "--case", "1", "--json", env=env).stdout)
    assert [(r["step"], r["status"], r["days_late"]) for r in listed] == [("escalation", "sent", 7)]


@pytest.mark.slow
def test_serve_starts_a_local_server_and_schedules_the_check_and_the_report(sqlite_url, tmp_path):
    port = free_port()
    env = prefect_env(tmp_path, ETABLERA_DATABASE_URL=sqlite_url, ETABLERA_REPORT_DIR=str(tmp_path / "reports"))
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([PY, "-m", "etablera.interfaces.cli.main", "serve", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        wanted = {"daily": "/deployments/name/deadline-check/daily",        # served together, registered
                  "monthly": "/deployments/name/monthly-report/monthly"}    # one after the other
        found = {}
        while time.monotonic() < deadline and len(found) < len(wanted):
            assert process.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            for name in wanted.keys() - found.keys():
                try:
                    found[name] = api(url, wanted[name])
                except OSError:
                    time.sleep(0.5)
        assert found.keys() == wanted.keys(), (tmp_path / "serve.log").read_text()[-2000:]
        deployment, monthly = found["daily"], found["monthly"]
        [schedule] = deployment["schedules"]
        assert schedule["schedule"]["cron"] == "0 6 * * 1-5"
        assert schedule["schedule"]["timezone"] == "Europe/Stockholm"
        assert deployment["parameters"] == {"scheduled": True}
        assert [s["schedule"]["cron"] for s in monthly["schedules"]] == ["30 6 1 * *"]
        assert monthly["parameters"] == {"folder": str(tmp_path / "reports")}
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    assert _closes(port, within=15), "the local Prefect server outlived etablera serve"


@pytest.mark.slow
def test_the_local_server_ends_with_serve_killed_outright(tmp_path):
    """`etablera serve` SIGKILLed (no chance to stop its server in order): the kernel ends
    the Prefect server it started (its parent-death signal), so nothing is left running."""
    port = free_port()
    env = prefect_env(tmp_path)
    code = ("import sys, time\n"
            "from etablera.flows.serve import local_server\n"
            f"with local_server({port}):\n"
            "    print('up', flush=True)\n"
            "    time.sleep(600)\n")
    process = subprocess.Popen([PY, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "up"
        process.kill()
        process.wait()
        assert _closes(port, within=15), "the Prefect server outlived its parent's SIGKILL"
    finally:
        if process.poll() is None:
            process.kill()


def _closes(port: int, within: float) -> bool:
    """Whether nothing accepts connections on 127.0.0.1:port any more within `within` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return True
        time.sleep(0.5)
    return False


@pytest.mark.slow
@pytest.mark.postgres
def test_distributed_path_server_on_postgres_work_pool_and_worker(pg_server, pg_url, tmp_path):
    from etablera.flows.serve import local_server

    database = f"etablera_prefect_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {database}"))
    server_db = pg_server.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql+asyncpg") + f"/{database}"
    app = make_engine(pg_url)
    case_id = one_overdue_case(app)
    pool = f"etablera-{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = prefect_env(tmp_path, ETABLERA_DATABASE_URL=pg_url, PREFECT_API_DATABASE_CONNECTION_URL=server_db)
    worker = None
    try:
        with local_server(port, env=env, log=(tmp_path / "server.log").open("w")) as url:
            client_env = {**env, "PREFECT_API_URL": url}
            created = subprocess.run([PY, "-m", "prefect", "work-pool", "create", pool, "--type", "process"],
                                     cwd=ROOT, env=client_env, capture_output=True, text=True, timeout=120)
            assert created.returncode == 0, created.stderr[-2000:]
            deploy = (
                "from flows.deadlines import deadline_check\n"
                "from prefect.deployments import run_deployment\n"
                f"deadline_check.from_source(source={str(ROOT)!r}, entrypoint='flows/deadlines.py:deadline_check')"
                f".deploy(name='distributed', work_pool_name={pool!r}, parameters={{'now': '2026-04-22'}},"
                f" job_variables={{'env': {{'ETABLERA_DATABASE_URL': {pg_url!r}}}, 'working_dir': {str(ROOT)!r}}},"
                " print_next_steps=False)\n"
                "run = run_deployment('deadline-check/distributed', timeout=0)\n"
                "print('RUN', run.id)\n")
            deployed = subprocess.run([PY, "-c", deploy], cwd=ROOT, env=client_env, capture_output=True, text=True,
                                      timeout=180)
            assert deployed.returncode == 0, deployed.stderr[-3000:]
            run_id = next(line.split()[1] for line in deployed.stdout.splitlines() if line.startswith("RUN"))
            worker = subprocess.Popen([PY, "-m", "prefect", "worker", "start", "--pool", pool, "--limit", "1"],
                                      cwd=ROOT, env=client_env, stdout=(tmp_path / "worker.log").open("w"),
                                      stderr=subprocess.STDOUT, start_new_session=True)
            state = None
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                state = api(url, f"/flow_runs/{run_id}")["state"]["type"]
                if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                    break
                time.sleep(1)
            logs = (tmp_path / "worker.log").read_text()[-3000:]
            assert state == "COMPLETED", logs
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        admin.dispose()
    with app.connect() as conn:
        recorded = conn.execute(select(Reminder.c.case_id, Reminder.c.step,
                                       Reminder.c.status)).all()
    app.dispose()
    assert [tuple(r) for r in recorded] == [(case_id, "escalation", "sent")]
