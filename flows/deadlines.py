"""The daily deadline check as Prefect flows: thin orchestration of plain functions.

    deadline-check        the parent: records the day's reminders (reminders.deadlines.
                          record_due, one set-based pass), splits the municipalities into
                          groups and delivers in one part per group, then sums up
    deadline-check-part   one group: deliver (reminders.outbox.deliver, those
                          municipalities' reminders, retried with back-off), then help
                          with the other groups' (`help_with`); records the group first
                          when run on its own (`record=True`)

Why the parent records and the parts deliver: recording is a few set-based statements
(about 0.9 s at a million cases, bench_fanout), delivering is a round trip or two and a
channel write per message (about 7 s for the same day). Recorded in one pass, every
group's messages are there to take as soon as it ends, so the parent and each part, once
done with their own group, go on with the others': the outbox's claims (below) make any
number of deliverers over the same messages safe, and no process waits for another one's
start.

Where the parts run. When the parent itself runs on a worker of a work pool (the
deployments of flows/deploy.py, `prefect.yaml`), each part but the first is a flow run of
the deployment `deadline-check-part/part` (run_deployment), submitted before the parent
records the day, so that their processes start meanwhile: the pool's workers share them,
each part in its own process; the parent runs the first part itself (as a subflow in its
own process, already started on a worker of the pool), then waits for the others. A part
started seconds later (a process start and Prefect's imports, bench_fanout) finds its
group partly or wholly delivered by those that started first, and helps with what is left.
Anywhere else (`etablera serve`, `etablera deadlines check`, a test) the parts run in the
parent's process one after the other as subflows: the same work, the same run records, no
pool needed. `on_workers=True/False` overrides the choice.

The groups (plan_parts): the municipalities of the running cases, of the agreements and of
the reminders still waiting for delivery, dealt into `parts` groups of about the same
number of cases (default 2; ETABLERA_CHECK_PARTS). Every municipality is in exactly one
group, so the parts together deliver everything one unfiltered pass delivers; each part
helps with the others in a rotated order (part i: i+1, i+2, ...), so that the helpers
start on different messages.

What holds (tests/test_fanout.py runs it on a 20,000-case cohort with two workers):
- Each reminder is recorded once: the outbox's unique key (kind, target, visit, step) and
  INSERT ... ON CONFLICT DO NOTHING; parts, retries and overlapping runs add nothing twice.
- Each message (reminder x recipient) is claimed before it is sent: a conditional UPDATE
  (status pending/failed -> sending) that only one deliverer can win, in any number of
  processes (PostgreSQL re-checks the condition after waiting for the row lock), and it is
  marked sent only if the claim is still the deliverer's own. Each of a deliverer's
  `senders` threads ([delivery], 2) claims up to CLAIMED_AT_ONCE (20) with one statement
  and then sends and marks them one by one; a claim whose turn comes after half its
  lease is renewed first.
- A worker killed mid-run (SIGKILL, power cut): what its part had not claimed is delivered
  in the same run by the parent and the other parts (they help with every group), else by
  the next run; the messages it had claimed and not marked (at most CLAIMED_AT_ONCE per
  sender of each part) are sent by the first run after their claims are older than
  `lease_seconds` (config/reminders.toml [delivery], 900 s): of those only the one in
  flight of each sender can have gone out already. A parent killed before its record step
  ended leaves the day unrecorded (one transaction): the next run records it (idempotent,
  with the ladder's catch-up).
- So a message can reach its recipient twice in exactly one case: the process died after
  the channel accepted the message (the mail server's 250, the line written to the file)
  and before it committed "sent" — at most one message per sender of a killed deliverer
  (`senders`, 2 a process). There is no way to know whether the channel took it, and
  losing a reminder is worse than repeating one. Nothing else is ever sent twice: not by
  two workers, not by a retry, not by a second run at the same moment.
- A part that never reports back (its worker died, so Prefect never learns it ended) is
  waited for `part_timeout` seconds, then marked Crashed; the parent fails with a message
  saying the next run completes its work.
- A worker process killed alone (`kill -9` of the worker, its machine still up) does not
  stop its flow runs: a process worker starts each in a session of its own, so the part
  finishes its work and its run ends Crashed when it cannot report through the dead
  worker. The guarantees above are the same.

Logs carry counts and municipality codes only: no case data.
"""

from __future__ import annotations

import os
import time

from prefect import flow, get_run_logger, task

from etablera.flows.prefect_env import prefect_defaults
from etablera.models.database import get_engine, transaction
from etablera.models.keeping import keep_connections
from etablera.models.ladder import get_reminder_config
from etablera.models.timeframes import is_working_day
from etablera.models.timestamps import local_date, parse_moment, utcnow
from etablera.reminders import deadlines, outbox as reminders

PART_FLOW = "deadline-check-part"
PART_DEPLOYMENT = "part"
# Two: the parent's part and one on a worker, one per worker of the stack. Each part more
# is a flow run's process start (about two seconds of CPU) while the delivery itself is
# bound by its commits and the channel's writes: on the stack's two cores 4 parts took
# 13.3 s at a million cases where 2 took 9.7 s (bench_fanout). More pay where the workers
# have cores of their own and a slow channel (a mail server) dominates.
DEFAULT_PARTS = 2
PART_TIMEOUT = 1800          # seconds the parent waits for a part run on a worker


class DeliveryIncomplete(RuntimeError):
    """Some reminders could not be delivered in this attempt (they stay in the outbox)."""


class PartsIncomplete(RuntimeError):
    """A part did not complete (its worker died, or it failed): the next run does its work."""


def default_parts() -> int:
    return max(1, int(os.environ.get("ETABLERA_CHECK_PARTS") or DEFAULT_PARTS))


def plan_parts(engine, parts: int) -> list[list[str]]:
    """The municipalities to check, dealt into at most `parts` groups of about the same
    number of cases (the largest first, each to the lightest group), and no more groups
    than municipalities with cases. Includes the municipalities of the agreements and of
    reminders still waiting for delivery, so no reminder is left out because no case of
    its municipality runs any more."""
    from sqlalchemy import text

    from etablera.models.agreements import AgreementBook
    from etablera.models.configuration import config_dir

    weights: dict[str, int] = {}
    with transaction(engine, write=False) as conn:
        for code, n in conn.execute(text("SELECT municipality, count(*) FROM cases GROUP BY municipality")):
            weights[code] = weights.get(code, 0) + n
        for (code,) in conn.execute(text("SELECT DISTINCT municipality FROM reminders "
                                         "WHERE status IN ('pending', 'failed')")):
            weights.setdefault(code, 0)
    for agreement in AgreementBook.load(config_dir() / "agreements").agreements:
        for code in agreement.municipalities:
            weights.setdefault(code, 0)
    # No more groups than municipalities with cases: a part is a process on a worker, and
    # one for the codes without cases (leftover reminders, agreements) alone cost a
    # process start for next to nothing (bench_fanout). Those codes join the lightest group.
    loaded = sum(1 for n in weights.values() if n)
    groups: list[list[str]] = [[] for _ in range(max(1, min(parts, loaded or len(weights))))]
    load = [0] * len(groups)
    for code in sorted(weights, key=lambda c: (-weights[c], c)):
        lightest = load.index(min(load))
        groups[lightest].append(code)
        load[lightest] += weights[code] + 1
    return [sorted(g) for g in groups if g]


@task(name="record-reminders", retries=2, retry_delay_seconds=[5, 30])
def record_day(now_iso: str, municipalities: list[str] | None = None) -> dict:
    with keep_connections():            # a transaction per batch of cases: one connection for them all
        result = deadlines.record_due(get_engine(), parse_moment(now_iso), municipalities=municipalities)
    get_run_logger().info("recorded %d new reminders on %s: %s", result.total, result.today, result.by_step)
    return result.as_dict()


@task(name="deliver-reminders")
def deliver(groups: list[list[str]]) -> dict:
    """Deliver the reminders of each group of municipalities in turn: the part's own, then
    those it helps with (what another deliverer claimed first is left to it)."""
    engine = get_engine()
    total = reminders.DeliveryResult()
    with keep_connections():            # transactions per message: one connection for them all
        for group in groups:
            total += reminders.deliver(engine, municipalities=group)
    logger = get_run_logger()
    logger.info("delivered: %s", total.as_dict())
    if total.failed:
        # Prefect retries the task with back-off; what still fails waits for the next run.
        raise DeliveryIncomplete(f"{total.failed} deliveries failed (kept for retry), {total.dead} dead")
    return total.as_dict()


def _deliver_with_retries(groups: list[list[str]]) -> bool:
    """Deliver with the configured retries; True when something was left for the next run."""
    delivery = get_reminder_config().delivery
    attempt = deliver.with_options(retries=delivery.retries, retry_delay_seconds=list(delivery.retry_delay_seconds),
                                   retry_jitter_factor=delivery.retry_jitter_factor)
    state = attempt(groups, return_state=True)
    if state.is_failed():
        get_run_logger().warning("delivery incomplete after %d retries; the rest waits for the next run",
                                 delivery.retries)
    return state.is_failed()


@flow(name=PART_FLOW, log_prints=False)
def deadline_check_part(municipalities: list[str], now: str, send: bool = True, record: bool = True,
                        help_with: list[list[str]] | None = None) -> dict:
    """One part of the daily check: deliver the reminders of these municipalities (codes)
    as of `now` (ISO datetime), then help with those of the groups `help_with`. `record`:
    record the group's reminders first (a part run on its own; the parent of a fanned-out
    check records the whole day before it starts its parts)."""
    get_run_logger().info("part: %d municipalities (%s), helping with %d more groups", len(municipalities),
                          ", ".join(municipalities), len(help_with or ()))
    summary: dict = {"municipalities": municipalities}
    if record:
        summary["check"] = record_day(now, municipalities)
    if send:
        summary["incomplete"] = _deliver_with_retries([municipalities, *(help_with or ())])
    return summary


def _in_a_work_pool() -> bool:
    """Whether this flow run came from a deployment in a work pool (run by a worker) and
    the part deployment is there to fan out to."""
    from prefect.runtime import deployment

    if not deployment.id:
        return False
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        if client.read_deployment(deployment.id).work_pool_name is None:
            return False
        try:
            client.read_deployment_by_name(f"{PART_FLOW}/{PART_DEPLOYMENT}")
        except ObjectNotFound:
            get_run_logger().warning("no deployment %s/%s: the parts run in this process (register it with "
                                     "etablera.flows.deploy.register)", PART_FLOW, PART_DEPLOYMENT)
            return False
    return True


def _others(groups: list[list[str]], i: int) -> list[list[str]]:
    """The groups part `i` helps with once its own is delivered: the others, from the
    next one on (each part starts helping somewhere else)."""
    return groups[i + 1:] + groups[:i]


def _submit_parts(groups: list[list[str]], now: str, send: bool) -> list:
    """Each group but the first as a flow run of the part deployment, which the pool's
    workers start, each in a process of its own (seconds: a worker's poll, a process start,
    Prefect's imports); every part helps with the others' groups once its own is done."""
    from prefect.deployments import run_deployment

    runs = [run_deployment(f"{PART_FLOW}/{PART_DEPLOYMENT}", timeout=0, as_subflow=True,
                           parameters={"municipalities": group, "now": now, "send": send, "record": False,
                                       "help_with": _others(groups, i)})
            for i, group in enumerate(groups) if i > 0]
    get_run_logger().info("%d parts submitted to the work pool; one runs here", len(runs))
    return runs


def _wait_for_parts(runs: list, timeout: float) -> list[str]:
    """Waits for the part runs on workers to end (or `timeout`); returns what went wrong
    (the parts' figures are read from the outbox: a part's result lives in its worker's
    process, maybe on another machine)."""
    from prefect import get_client
    from prefect.states import Crashed

    problems = []
    waiting = {run.id: run for run in runs}
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while waiting and time.monotonic() < deadline:
            for run_id in list(waiting):
                run = client.read_flow_run(run_id)
                if run.state is None or not run.state.is_final():
                    continue
                del waiting[run_id]
                if not run.state.is_completed():
                    problems.append(f"part {run.name}: {run.state.type.value}")
            if waiting:
                time.sleep(0.2)
        for run_id, run in waiting.items():
            # Nobody will report its end: mark it, so the UI says what happened.
            client.set_flow_run_state(run_id, Crashed(message=f"no result within {timeout:.0f} s (its worker may "
                                                               "have died); the next run completes its work"),
                                      force=True)
            problems.append(f"part {run.name}: no result within {timeout:.0f} s")
    return problems


@flow(name="deadline-check", log_prints=False)
def deadline_check(now: str | None = None, send: bool = True, scheduled: bool = False, parts: int | None = None,
                   on_workers: bool | None = None, part_timeout: float = PART_TIMEOUT) -> dict:
    """Record the reminders whose moment has come by `now` (ISO date or datetime, Stockholm
    time; default now) and deliver what is pending, in `parts` groups of municipalities."""
    logger = get_run_logger()
    config = get_reminder_config()
    moment = parse_moment(now) if now else utcnow()
    if scheduled and config.schedule.working_days_only and not is_working_day(local_date(moment)):
        logger.info("%s is not a Swedish working day: nothing checked (the next run catches up)",
                    local_date(moment))
        return {"today": local_date(moment).isoformat(), "skipped": "not a working day"}
    started = utcnow()
    engine = get_engine()
    at = moment.isoformat()
    groups = plan_parts(engine, parts or default_parts())
    workers = _in_a_work_pool() if on_workers is None else on_workers
    logger.info("%d parts (%s)", len(groups), "on the work pool's workers" if workers else "in this process")
    # On a pool the parts' processes start while this one records the day (the one pass of
    # the check: then every part has every group's messages to deliver). A part that starts
    # before the record has ended finds less to deliver, never more: this process
    # delivers its own group and then helps with all the others'.
    runs = _submit_parts(groups, at, send) if workers else []
    check = record_day(at)
    if workers:
        state = deadline_check_part(groups[0], at, send, record=False, help_with=_others(groups, 0),
                                    return_state=True)
        problems = [] if state.is_completed() else [f"part {', '.join(groups[0])} (here): {state.type.value}"]
        problems += _wait_for_parts(runs, part_timeout)
        incomplete = bool(problems)
    else:
        results = [deadline_check_part(group, at, send, record=False) for group in groups]
        problems, incomplete = [], any(r.get("incomplete") for r in results)
    summary = {"check": check, "parts": len(groups), "on_workers": workers}
    if send:
        delivered = reminders.delivered_since(engine, started)
        summary["delivery"] = {**delivered, "incomplete": incomplete or delivered["failed"] > 0}
    summary["outbox"] = reminders.counts(engine)
    if problems:
        logger.error("incomplete: %s; the next run completes the rest", "; ".join(problems))
        raise PartsIncomplete("; ".join(problems))
    return summary


if __name__ == "__main__":      # `python -m etablera.flows.deadlines` runs one check now
    prefect_defaults()
    print(deadline_check())
