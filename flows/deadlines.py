"""The daily deadline check as a Prefect flow: thin orchestration of plain functions.

    record   statemachine.deadlines.record_due   one set-based pass, idempotent
    deliver  statemachine.reminders.deliver      sends what is pending, retried with back-off

The logic lives in statemachine/ and is tested there; this module adds the run record,
retries, the schedule and logging (counts only: no case data in the logs).
"""

from __future__ import annotations

import os

from prefect import flow, get_run_logger, task

from etablera.models.database import get_engine
from etablera.models.ladder import get_reminder_config
from etablera.models.timeframes import is_working_day
from etablera.models.timestamps import local_date, parse_moment, utcnow
from etablera.reminders import deadlines, outbox as reminders


class DeliveryIncomplete(RuntimeError):
    """Some reminders could not be delivered in this attempt (they stay in the outbox)."""


@task(name="record-reminders", retries=2, retry_delay_seconds=[5, 30])
def record(now_iso: str) -> dict:
    result = deadlines.record_due(get_engine(), parse_moment(now_iso))
    get_run_logger().info("recorded %d new reminders on %s: %s", result.total, result.today, result.by_step)
    return result.as_dict()


@task(name="deliver-reminders")
def deliver() -> dict:
    result = reminders.deliver(get_engine())
    logger = get_run_logger()
    logger.info("delivered: %s", result.as_dict())
    if result.failed:
        # Prefect retries the task with back-off; what still fails waits for the next run.
        raise DeliveryIncomplete(f"{result.failed} deliveries failed (kept for retry), {result.dead} dead")
    return result.as_dict()


@flow(name="deadline-check", log_prints=False)
def deadline_check(now: str | None = None, send: bool = True, scheduled: bool = False) -> dict:
    """Record the reminders whose moment has come by `now` (ISO date or datetime, Stockholm
    time; default now) and deliver what is pending."""
    logger = get_run_logger()
    config = get_reminder_config()
    moment = parse_moment(now) if now else utcnow()
    if scheduled and config.schedule.working_days_only and not is_working_day(local_date(moment)):
        logger.info("%s is not a Swedish working day: nothing checked (the next run catches up)",
                    local_date(moment))
        return {"today": local_date(moment).isoformat(), "skipped": "not a working day"}
    started = utcnow()
    summary = {"check": record(moment.isoformat())}
    if send:
        delivery = config.delivery
        attempt = deliver.with_options(retries=delivery.retries, retry_delay_seconds=list(delivery.retry_delay_seconds),
                                       retry_jitter_factor=delivery.retry_jitter_factor)
        state = attempt(return_state=True)
        if state.is_failed():
            logger.warning("delivery incomplete after %d retries; the rest waits for the next run", delivery.retries)
        summary["delivery"] = {**reminders.delivered_since(get_engine(), started), "incomplete": state.is_failed()}
    summary["outbox"] = reminders.counts(get_engine())
    return summary


if __name__ == "__main__":      # `python -m flows.deadlines` runs one check now
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    print(deadline_check())
