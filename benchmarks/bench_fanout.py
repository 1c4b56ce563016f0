"""Issue 15's target for the scheduled work: the daily check fanned out over the workers of
the production topology, 1,000,000 cases on PostgreSQL, ≤ 10 s wall with Prefect's
orchestration included.

`etablera stack up` with its Prefect server (on PostgreSQL), the deployments and two
process workers, on a database of its own, `bench_fanout_<N>`, filled as bench_deadlines
fills its (bulk SQL: the same spread of stage, establishment and measure due dates), the
cases then spread over twelve municipalities (MUNICIPALITIES), kept for the next run (drop
it by hand). The day before DAY was checked and delivered, as on a running system. Each
round, interleaved:

- fanned out, as scheduled: a flow run of the deployment `deadline-check/daily` for DAY is
  created through the API LEAD_S seconds before its scheduled time, as the scheduler
  creates the daily run (hours ahead), so a worker picks it up and starts its process
  before its time (PREFECT_WORKER_PREFETCH_SECONDS, Prefect's default 10) and the run
  starts at its time (the server holds it until then). The wall is from its scheduled
  time until the API says it completed: the parent recording the day and planning the
  parts, the parts (one in the parent's process, the others flow runs the two workers
  start, each a process of its own) delivering DAY's reminders to a file channel, each
  helping with the others' groups once its own is done, the parent summing up. This is
  the goal's figure.
- fanned out, at once: the same, created to start now (the UI's Run button); the wall is
  from its creation, so it adds the workers' pick-up and the parent's process start.
- The parents' own run times (start to end, as the UI shows them) and where they went are
  given beside both.
- the floor: the same recording and delivery in this process, no Prefect, one pass.

The parts (ETABLERA_CHECK_PARTS, the flow's default 2) and the workers' polling
(stack.env's PREFECT_WORKER_QUERY_SECONDS) come from the environment, as for the stack.
Between rounds DAY's reminders and deliveries are removed again. Both sides must record the
same reminders and deliver every message once (checked each round).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks import Result
from benchmarks.bench_deadlines import DAY, _fill
from benchmarks.bench_stack import _stack_down, _stack_up
from benchmarks.prefect_api import api, wait_final
from benchmarks.rounds import interleaved, result

GOAL_S = 10.0
LEAD_S = 15.0       # a scheduled run is created this long before its time (more than the workers' prefetch)
# The cases are spread over twelve municipalities (of bench_deadlines' three, one held over
# half of DAY's reminders: its fill ties the municipality and the due dates to the same
# residues, so one part did most of the work alone).
MUNICIPALITIES = ("0180", "1480", "1280", "0380", "0580", "0581", "1880", "1980", "0680", "2480", "1283", "0780")


def run(options) -> list[Result]:
    cases = int(1_000_000 * options.scale)
    if not shutil.which("haproxy"):
        return [Result("fanned-out daily check", 0, "s", note="haproxy is not installed (apt-get install haproxy): "
                                                              "skipped")]
    server = options.postgres.rsplit("/", 1)[0]
    database, prefect_database = f"bench_fanout_{cases}", "bench_fanout_prefect"
    try:
        _database(server, database, cases)
    except Exception as exc:  # noqa: BLE001
        return [Result("fanned-out daily check", 0, "s", note=f"PostgreSQL not reachable: {type(exc).__name__}")]
    run_dir = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    channel = run_dir / "channel.jsonl"
    os.environ["ETABLERA_NOTIFY_DEFAULT"] = f"file:{channel}"       # this process's pass, and the workers'
    from etablera.models.database import make_engine
    app = make_engine(f"{server}/{database}")
    _checked_before(app)
    _forget(app)
    launcher, _ = _stack_up(server, database, run_dir, prefect=True, ETABLERA_STACK_PREFECT_DATABASE=prefect_database)
    rounds = max(3, getattr(options, "rounds", 3))
    timelines, seen = {"scheduled": [], "at once": []}, {}
    try:
        prefect = json.loads((run_dir / "status.json").read_text())["prefect_api"]
        daily = api(prefect, "/deployments/name/deadline-check/daily")["id"]

        def fanned(lead: float) -> float:
            """One check: a flow run of the daily deployment created now, to start `lead`
            seconds later (0: at once); its wall from that start until it completed."""
            started = time.time() + lead
            body = {"parameters": {"now": DAY.isoformat()}}
            if lead:
                at = datetime.fromtimestamp(started, timezone.utc).isoformat()
                body["state"] = {"type": "SCHEDULED", "state_details": {"scheduled_time": at}}
            run_id = api(prefect, f"/deployments/{daily}/create_flow_run", body)["id"]
            time.sleep(max(0.0, started - time.time()))
            state = wait_final(prefect, run_id, 600)
            ended = time.time()
            if state != "COMPLETED":
                raise RuntimeError(f"the fanned-out check ended {state}; see {run_dir}/stack.log")
            parent = api(prefect, f"/flow_runs/{run_id}")
            # (the server may let a scheduled run start up to half a second early: it
            # rounds the wait to whole seconds; the wall then counts from that start)
            wall = ended - min(started, datetime.fromisoformat(parent["start_time"]).timestamp())
            parts = api(prefect, "/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}})
            timelines["scheduled" if lead else "at once"].append(_timeline(parent, parts))
            seen["scheduled" if lead else "at once"] = _outcome(app, channel)
            _forget(app)
            channel.unlink(missing_ok=True)
            return wall

        def single(_round: int) -> float:
            from etablera.models.timestamps import parse_moment
            from etablera.reminders import deadlines, outbox
            started = time.perf_counter()
            deadlines.record_due(app, parse_moment(DAY.isoformat()))
            outbox.deliver(app)
            wall = time.perf_counter() - started
            seen["single"] = _outcome(app, channel)
            _forget(app)
            channel.unlink(missing_ok=True)
            return wall

        figures = interleaved({"scheduled": lambda _r: fanned(LEAD_S), "at once": lambda _r: fanned(0),
                               "single": single}, rounds)
    finally:
        _stack_down(launcher)
        app.dispose()
        _drop(server, prefect_database)
        shutil.rmtree(run_dir, ignore_errors=True)
    if not seen["scheduled"] == seen["at once"] == seen["single"]:
        raise RuntimeError(f"the fanned-out check did not do what one pass does: {seen}")
    reminders, messages, most = seen["single"]
    if most != 1:
        raise RuntimeError("a message reached the channel more than once")
    return [_row(f"fanned-out daily check over {cases:,} cases, PostgreSQL, as scheduled (wall from its time)",
                 figures["scheduled"], figures["single"], timelines["scheduled"], reminders, messages,
                 f"the flow run created {LEAD_S:.0f} s ahead, as the scheduler creates the daily one (hours "
                 f"ahead), so that a worker starts its process before its time (PREFECT_WORKER_PREFETCH_SECONDS, "
                 f"default 10)"),
            _row(f"fanned-out daily check over {cases:,} cases, PostgreSQL, started at once (wall from its creation)",
                 figures["at once"], figures["single"], timelines["at once"], reminders, messages,
                 "a flow run created to start now, as from the UI's Run button")]


def _row(name: str, values: list[float], floors: list[float], timelines: list[dict], reminders: int, messages: int,
         how: str) -> Result:
    phases = {k: statistics.median(p[k] for p in timelines) for k in timelines[0]}
    return result(name, values, floors, "s", goal=f"≤ {GOAL_S:.0f} s", met=statistics.median(values) <= GOAL_S,
                  note=f"{how}; floor: the same pass in one process without Prefect; medians: the parent's run "
                       f"{phases['parent']:.1f} s (it started {phases['pickup']:.1f} s after its time; the "
                       f"first part on a process of its own started {phases['remote_start']:.1f} s after the "
                       f"parent; the longest part ran {phases['longest_part']:.1f} s; the parent ended "
                       f"{phases['tail']:.1f} s after the last); {int(phases['parts'])} parts, "
                       f"{int(phases['remote'])} of them started by stack.env's 2 process workers, one in the "
                       f"parent; {reminders:,} reminders, {messages:,} messages, each sent once")


def _timeline(parent: dict, parts: list[dict]) -> dict[str, float]:
    """Where a fanned-out run's time went, in seconds, from the flow runs' own times."""
    at = lambda run, key: datetime.fromisoformat(run[key]).timestamp()          # noqa: E731
    remote = [p for p in parts if p["deployment_id"]] or parts      # (the parent runs one part itself)
    return {"parent": parent["total_run_time"], "parts": len(parts), "remote": len(remote),
            "pickup": at(parent, "start_time") - max(at(parent, "created"), at(parent, "expected_start_time")),
            "remote_start": min(at(p, "start_time") for p in remote) - at(parent, "start_time"),
            "longest_part": max(p["total_run_time"] for p in parts),
            "tail": at(parent, "end_time") - max(at(p, "end_time") for p in parts)}


def _database(server: str, database: str, cases: int) -> None:
    """The cohort's database: created, migrated and filled unless a kept one holds `cases`."""
    from etablera.models.database import make_engine, upgrade
    url = f"{server}/{database}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}).scalar()
    if exists and _count(url) == (cases, len(MUNICIPALITIES)):
        admin.dispose()
        return
    _drop(server, database)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {database}"))
    admin.dispose()
    engine = make_engine(url)
    upgrade(engine)
    _fill(engine, cases)
    codes = ", ".join(f"'{code}'" for code in MUNICIPALITIES)
    with engine.begin() as conn:        # (a multiplicative hash of the id: no tie to the due dates' arithmetic)
        conn.execute(text(f"UPDATE cases SET municipality = (ARRAY[{codes}])"
                          f"[1 + (id::bigint * 48271 % 2147483647) % {len(MUNICIPALITIES)}]"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE cases"))
    engine.dispose()


def _count(url: str) -> tuple[int, int]:
    """The cases a kept database holds, and in how many municipalities."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return tuple(conn.execute(text("SELECT count(*), count(DISTINCT municipality) FROM cases")).one())
    except Exception:  # noqa: BLE001 - no table yet: not current
        return (-1, -1)
    finally:
        engine.dispose()


def _checked_before(engine) -> None:
    """The days up to DAY checked and everything they owed sent (once: a kept database
    has it already)."""
    from etablera.models.timestamps import parse_moment
    from etablera.reminders import deadlines
    deadlines.record_due(engine, parse_moment((DAY - timedelta(days=1)).isoformat()))
    with engine.begin() as conn:
        conn.execute(text("UPDATE reminders SET status = 'sent', addressed = true WHERE status <> 'sent'"))


def _forget(engine) -> None:
    """DAY's reminders and their deliveries removed: DAY unchecked again."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM reminder_deliveries WHERE reminder_id IN "
                          "(SELECT id FROM reminders WHERE detected_on = :day)"), {"day": DAY})
        conn.execute(text("DELETE FROM reminders WHERE detected_on = :day"), {"day": DAY})


def _outcome(engine, channel: Path) -> tuple[int, int, int]:
    """DAY's reminders, its messages all sent (else an error), and the most times the
    channel took any one message."""
    with engine.connect() as conn:
        reminders = conn.execute(text("SELECT count(*) FROM reminders WHERE detected_on = :day"),
                                 {"day": DAY}).scalar_one()
        statuses = dict(conn.execute(text(
            "SELECT d.status, count(*) FROM reminder_deliveries d JOIN reminders r ON r.id = d.reminder_id "
            "WHERE r.detected_on = :day GROUP BY d.status"), {"day": DAY}).all())
    taken = Counter(json.loads(line)["message_id"] for line in channel.read_text().splitlines() if line.strip()) \
        if channel.exists() else Counter()
    if set(statuses) - {"sent"} or len(taken) != statuses.get("sent", 0):
        raise RuntimeError(f"not every message of {DAY} was sent once: {statuses}, {len(taken)} taken by the channel")
    return reminders, len(taken), max(taken.values(), default=0)


def _drop(server: str, database: str) -> None:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
    admin.dispose()
