"""The webhooks' sending as a Prefect flow, every minute: thin orchestration of
cases/webhooks.deliver (record the new feed events per subscription, send what is due in
order per case, with the outbox's leases, attempts and dead letters; tested there).

Scheduled by `etablera serve` (flows/serve.py deployments()); `etablera webhook deliver`
is the same run once. Two runs that overlap are safe: each delivery is claimed by one.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from etablera.cases import webhooks
from etablera.models.database import get_engine

FLOW_NAME = "webhooks"
DEPLOYMENT = "every-minute"             # webhooks/every-minute
CRON = "* * * * *"


@flow(name=FLOW_NAME)
def deliver_webhooks() -> dict:
    """Record and send; returns the counts (no personal data reaches Prefect's records)."""
    result = webhooks.deliver(get_engine()).as_dict()
    get_run_logger().info("webhooks: %(recorded)s new, %(sent)s sent, %(failed)s failed, %(dead)s dead", result)
    return result


def deployment(**options):
    """The every-minute deployment (for flows/serve.py's `deployments()`)."""
    from prefect.client.schemas.schedules import CronSchedule
    return deliver_webhooks.to_deployment(name=DEPLOYMENT, **options, schedule=CronSchedule(cron=CRON,
                                                                                            timezone="UTC"))
