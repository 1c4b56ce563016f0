"""The monthly report flow: last month's reports, one per municipality and a national one,
written to the configured folder (plain function; one real Prefect run, marked slow), and
scheduled by `etablera serve` beside the deadline check (without a Prefect server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest

from conftest import ROOT, run_cli
from etablera.flows.report_flow import month_bounds, previous_month, write_report
from etablera.models.database import make_engine
from etablera.models.ladder import get_reminder_config
from test_report import build_cohort


def test_previous_month():
    assert previous_month(date(2026, 1, 1)) == (date(2025, 12, 1), date(2025, 12, 31))
    assert previous_month(date(2024, 3, 15)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert month_bounds("2025-12") == (date(2025, 12, 1), date(2025, 12, 31))


def test_write_report(sqlite_url, monkeypatch, tmp_path):
    monkeypatch.setenv("ETABLERA_DATABASE_URL", sqlite_url)
    build_cohort(make_engine(sqlite_url))
    files = write_report(tmp_path / "2025-03", "0180", ("0180",), date(2025, 3, 1), date(2025, 3, 31),
                         ("json", "html"), "sv")
    assert [os.path.basename(f) for f in files] == ["0180.json", "0180.html"]
    doc = json.loads((tmp_path / "2025-03" / "0180.json").read_text(encoding="utf-8"))
    assert doc["flow"]["exits"]["exited.work"] == 1                      # case 3, transferred, in March
    assert not list((tmp_path / "2025-03").glob("*.partial"))


def test_serve_schedules_the_check_and_the_monthly_report(monkeypatch, tmp_path):
    import prefect

    from etablera.flows import serve

    monkeypatch.setenv("ETABLERA_REPORT_DIR", str(tmp_path / "reports"))
    served, said = [], []
    monkeypatch.setattr(prefect, "serve", lambda *deployments: served.extend(deployments))
    serve._serve(get_reminder_config(), said.append)
    assert [(d.flow_name, d.name) for d in served] == [("deadline-check", "daily"), ("monthly-report", "monthly"),
                                                        ("gallring", "monthly"), ("webhooks", "every-minute")]
    schedules = [(d.schedules[0].schedule.cron, d.schedules[0].schedule.timezone) for d in served]
    assert schedules == [("0 6 * * 1-5", "Europe/Stockholm"), ("30 6 1 * *", "Europe/Stockholm"),
                         ("0 3 2 * *", "Europe/Stockholm"),         # config/retention.toml's [schedule]
                         ("* * * * *", "UTC")]
    assert served[1].parameters == {"folder": str(tmp_path / "reports")}
    assert said[1] == f"monthly report scheduled: 30 6 1 * * (Europe/Stockholm), written to {tmp_path}/reports/YYYY-MM"


def test_config_shows_the_report_schedule(sqlite_url):
    env = {**os.environ, "ETABLERA_DATABASE_URL": sqlite_url}
    env.pop("ETABLERA_REPORT_DIR", None)
    shown = run_cli("config", "show", "--json", env=env)
    assert json.loads(shown.stdout)["reminders"]["report"] == {"cron": "30 6 1 * *", "timezone": "Europe/Stockholm",
                                                               "folder": "reports"}
    assert "Månadsrapport: 30 6 1 * * (Europe/Stockholm), till reports/ÅÅÅÅ-MM/" in run_cli(
        "config", "show", env=env).stdout


@pytest.mark.slow
def test_monthly_flow_runs(sqlite_url, tmp_path):
    build_cohort(make_engine(sqlite_url))
    env = {**os.environ, "ETABLERA_DATABASE_URL": sqlite_url, "ETABLERA_REPORT_DIR": str(tmp_path / "reports"),
           "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)
    code = "from flows.report_flow import monthly_report; print(monthly_report(month='2025-03', formats=['json']))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    written = sorted(p.name for p in (tmp_path / "reports" / "2025-03").iterdir())
    assert written == ["0180.json", "0581.json", "national.json"]
