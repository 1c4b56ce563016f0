"""The monthly gallring (retention and erasure) as a Prefect flow: thin orchestration of
cases/retention.run, which does the work and writes the protocol (tested there).

Scheduled by `etablera serve` on the [schedule] of config/retention.toml (03:00 on the 2nd
of each month, Stockholm time, by default). A run that fails is retried once after ten
minutes: a run erases in batches, each its own transaction, and the next run (or the
retry) picks up whatever a failed one left, since what is erased is recorded per case and
category.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger

from etablera.cases import retention
from etablera.models.database import get_engine

FLOW_NAME = "gallring"
DEPLOYMENT = "monthly"                  # gallring/monthly


@flow(name=FLOW_NAME, retries=1, retry_delay_seconds=600)
def monthly_gallring(now: str | None = None, dry_run: bool = False) -> dict:
    """Erase what is due as of `now` (YYYY-MM-DD; today by default). Returns the protocol
    (counts and case ids only: no personal data reaches Prefect's run records)."""
    doc = retention.run(get_engine(), now=date.fromisoformat(now) if now else None, dry_run=dry_run,
                        actor="flow:gallring")
    logger = get_run_logger()
    for row in doc["categories"]:
        logger.info("gallring %s: %s cases, %s items (%s, ended by %s)", row["category"], row["cases"],
                    row["items"], row["period"], row["ended_before"])
    return {key: doc[key] for key in ("run", "dry_run", "as_of", "cases", "categories")}


def deployment(**options):
    """The monthly deployment, on retention.toml's schedule (for flows/serve.py's
    `deployments()`, and flows/deploy.py's with its `work_pool_name` and `entrypoint_type`
    as `options`)."""
    from prefect.client.schemas.schedules import CronSchedule

    from etablera.models.retention import retention_rules
    schedule = retention_rules().schedule
    return monthly_gallring.to_deployment(name=DEPLOYMENT, **options,
                                          schedule=CronSchedule(cron=schedule.cron, timezone=schedule.timezone))
