"""`etablera serve`: the daily deadline check and the monthly follow-up report on their
schedules (config/reminders.toml: [schedule] and [report]), in one command.

With PREFECT_API_URL set, the flows are served against that server (a shared Prefect
server, e.g. backed by PostgreSQL). Without it, a local Prefect server is started on
127.0.0.1 first (SQLite under PREFECT_HOME) and stopped on exit, so the runs are visible
in its UI at http://127.0.0.1:PORT.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from etablera.models.ladder import ReminderConfig, get_reminder_config

DEPLOYMENT = "daily"
REPORT_DEPLOYMENT = "monthly"


def wait_healthy(api_url: str, timeout: float = 90, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server at {api_url} did not become healthy in {timeout:.0f} s")


@contextmanager
def local_server(port: int, env: dict | None = None, log=None) -> Iterator[str]:
    """A Prefect server on 127.0.0.1:port for the duration of the block, and not a moment
    longer than this process: in a session of its own (a Ctrl-C in the terminal reaches only
    `serve`, which stops it in order), and with a parent-death signal (setpriv, as `etablera
    stack up` starts its services), so that a `serve` killed outright leaves no server behind."""
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **(env or {})}
    env.pop("PREFECT_API_URL", None)
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    if shutil.which("setpriv"):     # the kernel ends the server with this process, SIGKILL included
        argv = ["setpriv", "--pdeathsig", "TERM", *argv]
    process = subprocess.Popen(argv, env=env, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               start_new_session=True)
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        wait_healthy(api_url, process=process)
        yield api_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(port: int = 4200, echo: Callable[[str], None] = print) -> None:
    config = get_reminder_config()
    if os.environ.get("PREFECT_API_URL"):
        _serve(config, echo)
        return
    with local_server(port) as api_url:
        os.environ["PREFECT_API_URL"] = api_url
        echo(f"local Prefect server on {api_url.removesuffix('/api')} (UI and run history)")
        _serve(config, echo)


def deployments(config: ReminderConfig) -> list:
    """The daily deadline check, the monthly report and the monthly gallring (its schedule
    in config/retention.toml), each on its configured schedule."""
    from prefect.client.schemas.schedules import CronSchedule

    from etablera.flows import gallring, webhooks
    from etablera.flows.deadlines import deadline_check
    from etablera.flows.report_flow import monthly_report
    daily, monthly = config.schedule, config.report
    return [deadline_check.to_deployment(name=DEPLOYMENT, parameters={"scheduled": True},
                                         schedule=CronSchedule(cron=daily.cron, timezone=daily.timezone)),
            monthly_report.to_deployment(name=REPORT_DEPLOYMENT, parameters={"folder": report_folder(config)},
                                         schedule=CronSchedule(cron=monthly.cron, timezone=monthly.timezone)),
            gallring.deployment(),
            webhooks.deployment()]                  # every minute: the webhooks (flows/webhooks.py)


def report_folder(config: ReminderConfig) -> str:
    """The report folder as an absolute path: where `serve` was started, not wherever a run
    happens to execute."""
    return str(Path(config.report.folder).resolve())


def _serve(config: ReminderConfig, echo) -> None:
    from prefect import serve as serve_all

    daily, monthly = config.schedule, config.report
    echo(f"deadline check scheduled: {daily.cron} ({daily.timezone})"
         + (", Swedish working days only" if daily.working_days_only else ""))
    echo(f"monthly report scheduled: {monthly.cron} ({monthly.timezone}), written to "
         f"{Path(report_folder(config)) / 'YYYY-MM'}")
    from etablera.models.retention import retention_rules
    gallring = retention_rules().schedule
    echo(f"gallring scheduled: {gallring.cron} ({gallring.timezone}), rules in config/retention.toml")
    echo("webhooks sent every minute (etablera webhook list)")
    serve_all(*deployments(config))
