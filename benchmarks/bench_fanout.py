"""Issue 15's target for the scheduled work: the daily check fanned out over the workers of
the production topology, 1,000,000 cases on PostgreSQL, ≤ 10 s wall with Prefect's
orchestration included.

`etablera stack up` with its Prefect server (on PostgreSQL), the deployments and two
process workers, on a database of its own, `bench_fanout_<N>`, filled as bench_deadlines
fills its (bulk SQL: the same spread of stage, establishment and measure due dates), the
cases then spread over twelve municipalities (MUNICIPALITIES), kept for the next run (drop
it by hand). The day before DAY was checked and delivered, as on a running system. Each
round, interleaved:

- fanned out: a flow run of the deployment `deadline-check/daily` for DAY is created
  through the API, as the scheduler creates it; the wall is from that moment until the API
  says it completed: the workers' pick-up, the parent planning the parts, the parts (one
  in the parent's process, the others flow runs the two workers start, each a process of
  its own) recording and delivering DAY's reminders to a file channel, the parent summing
  up. The parent's own run time (its start to its end, as the UI shows it) and where it
  went are given beside it.
- the floor: the same recording and delivery in this process, no Prefect, one pass.

The parts (ETABLERA_CHECK_PARTS, the flow's default 4) and the workers' polling
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
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks import Result
from benchmarks.bench_deadlines import DAY, _fill
from benchmarks.bench_stack import _stack_down, _stack_up
from benchmarks.prefect_api import api, wait_final
from benchmarks.rounds import interleaved, result

GOAL_S = 10.0
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
    parents, seen = [], {}
    try:
        prefect = json.loads((run_dir / "status.json").read_text())["prefect_api"]
        daily = api(prefect, "/deployments/name/deadline-check/daily")["id"]

        def fanned(_round: int) -> float:
            started = time.perf_counter()
            run_id = api(prefect, f"/deployments/{daily}/create_flow_run", {"parameters": {"now": DAY.isoformat()}})["id"]
            state = wait_final(prefect, run_id, 600)
            wall = time.perf_counter() - started
            if state != "COMPLETED":
                raise RuntimeError(f"the fanned-out check ended {state}; see {run_dir}/stack.log")
            parent = api(prefect, f"/flow_runs/{run_id}")
            parts = api(prefect, "/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}})
            parents.append(_timeline(parent, parts))
            seen["fanned"] = _outcome(app, channel)
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

        figures = interleaved({"fanned": fanned, "single": single}, rounds)
    finally:
        _stack_down(launcher)
        app.dispose()
        _drop(server, prefect_database)
        shutil.rmtree(run_dir, ignore_errors=True)
    if seen["fanned"] != seen["single"]:
        raise RuntimeError(f"the fanned-out check did not do what one pass does: {seen}")
    reminders, messages, most = seen["single"]
    if most != 1:
        raise RuntimeError("a message reached the channel more than once")
    phases = {k: statistics.median(p[k] for p in parents) for k in parents[0]}
    return [result(f"fanned-out daily check over {cases:,} cases, PostgreSQL (wall)", figures["fanned"],
                   figures["single"], "s", goal=f"≤ {GOAL_S:.0f} s", met=statistics.median(figures["fanned"]) <= GOAL_S,
                   note=f"floor: the same pass in one process without Prefect; medians: the parent's run "
                        f"{phases['parent']:.1f} s (picked up {phases['pickup']:.1f} s after it was created; the "
                        f"first part on a process of its own started {phases['remote_start']:.1f} s after the "
                        f"parent; the longest part ran {phases['longest_part']:.1f} s; the parent ended "
                        f"{phases['tail']:.1f} s after the last); {int(phases['parts'])} parts, "
                        f"{int(phases['remote'])} of them started by stack.env's 2 process workers, one in the "
                        f"parent; "
                        f"{reminders:,} reminders, {messages:,} messages, each sent once")]


def _timeline(parent: dict, parts: list[dict]) -> dict[str, float]:
    """Where a fanned-out run's time went, in seconds, from the flow runs' own times."""
    from datetime import datetime
    at = lambda run, key: datetime.fromisoformat(run[key]).timestamp()          # noqa: E731
    remote = [p for p in parts if p["deployment_id"]] or parts      # (the parent runs one part itself)
    return {"parent": parent["total_run_time"], "parts": len(parts), "remote": len(remote),
            "pickup": at(parent, "start_time") - at(parent, "created"),
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
