"""The deployments on a work pool: what `etablera stack up` (and anyone running Prefect
workers) registers, and the workers' command line.

    register(pool)              creates the process work pool if it is missing and
                                registers three deployments to it:
        deadline-check/daily        the daily check on its schedule ([schedule] of
                                    config/reminders.toml), fanning out to ...
        deadline-check-part/part    one group of municipalities (no schedule: the daily
                                    check starts its runs)
        monthly-report/monthly      the monthly report on its schedule ([report])
    worker_command(pool, name)  `prefect worker start` for that pool, from this Python

No image and no source checkout: the entrypoints are module paths in the installed
package (`etablera.flows.deadlines.deadline_check`), which a process worker imports in the
flow run's subprocess, started with the registering Python (`engine_command`). The
workers' environment (ETABLERA_DATABASE_URL, ETABLERA_CONFIG, ETABLERA_NOTIFY_DEFAULT, ...)
is the flow runs' environment. `prefect.yaml` at the
repository root declares the same deployments for `prefect deploy --all`.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import sys

from etablera.models.ladder import ReminderConfig, get_reminder_config

POOL = "etablera"
DAILY = "daily"
MONTHLY = "monthly"


def ensure_pool(pool: str = POOL) -> bool:
    """Create the process work pool `pool` unless it exists. Returns True if created."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
            return False
        except ObjectNotFound:
            pass
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type=ProcessWorker.type,
                                                   base_job_template=ProcessWorker.get_default_base_job_template()))
        except ObjectAlreadyExists:        # another process created it meanwhile
            return False
        return True


def deployments(config: ReminderConfig, pool: str = POOL) -> list:
    """Every deployment `etablera serve` runs (flows/serve.py), on the pool: entrypoints as
    module paths of the installed package."""
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.deployments.runner import EntrypointType

    from etablera.flows import gallring, webhooks
    from etablera.flows.deadlines import PART_DEPLOYMENT, deadline_check, deadline_check_part
    from etablera.flows.report_flow import monthly_report
    from etablera.flows.serve import report_folder

    daily, monthly = config.schedule, config.report
    common = {"work_pool_name": pool, "entrypoint_type": EntrypointType.MODULE_PATH,
              "job_variables": {"command": engine_command()}}
    return [deadline_check.to_deployment(name=DAILY, parameters={"scheduled": True},
                                         schedule=CronSchedule(cron=daily.cron, timezone=daily.timezone), **common),
            deadline_check_part.to_deployment(name=PART_DEPLOYMENT, **common),
            monthly_report.to_deployment(name=MONTHLY, parameters={"folder": report_folder(config)},
                                         schedule=CronSchedule(cron=monthly.cron, timezone=monthly.timezone),
                                         **common),
            gallring.deployment(**common),          # monthly, on config/retention.toml's schedule
            webhooks.deployment(**common)]          # every minute


def engine_command() -> str:
    """How a process worker starts a flow run of these deployments: Prefect's engine in
    this Python, the installation that registers them and that the workers run (the stack,
    the compose file's image). Without a command a process worker starts a workspace
    supervisor first, a second Python process per run that resolves pull steps and
    project dependencies these deployments do not have: about a second of CPU per part
    run, on the cores the check needs (bench_fanout)."""
    return shlex.join([sys.executable, "-m", "prefect.engine"])


def register(pool: str = POOL, config: ReminderConfig | None = None) -> list[str]:
    """Create the work pool if missing and register (create or update) the deployments on
    the Prefect server of PREFECT_API_URL. Returns their names (flow/deployment)."""
    from prefect import deploy

    ensure_pool(pool)
    found = deployments(config or get_reminder_config(), pool)
    with contextlib.redirect_stdout(io.StringIO()):      # prefect.deploy prints a table
        deploy(*found, work_pool_name=pool, print_next_steps_message=False, ignore_warnings=True)
    return [f"{d.flow_name}/{d.name}" for d in found]


def worker_command(pool: str = POOL, name: str | None = None, limit: int | None = None) -> list[str]:
    """The command line of one worker of `pool` (a process worker: each flow run is a
    subprocess of this Python, with the worker's environment). Set
    PREFECT_WORKER_QUERY_SECONDS (Prefect's default 10; stack/stack.env sets 1) lower for a
    quicker pick-up of the parts."""
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"]
    if name:
        command += ["--name", name]
    if limit:
        command += ["--limit", str(limit)]
    return command


__all__ = ["POOL", "deployments", "engine_command", "ensure_pool", "register", "worker_command"]
