"""The daily check fanned out per group of municipalities (issue 15, item 2).

Plain functions: the parts' filtered passes together record exactly what one pass records
and deliver each message once (SQLite and PostgreSQL), also when every deliverer goes on
with the others' groups. Slow, on PostgreSQL: a 20,000-case demo cohort, one day checked
in a single process, then the same day fanned out through a Prefect server and two process
workers of one work pool (flows/deploy.py), compared reminder by reminder; then, with the
cohort's past reminders waiting for delivery too, one worker SIGKILLed while a part runs
on it: the parent and the other part deliver everything it had not claimed in the same
run, and the next run the rest, with nothing delivered twice but the message in flight
of each sender of the killed deliverer (flows/deadlines.py says why)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from conftest import ROOT, free_port
from test_flows import api, prefect_env
from etablera.demo.bulk import write_cohort
from etablera.models import Reminder, ReminderDelivery
from etablera.models.database import make_engine, transaction
from etablera.models.ladder import get_reminder_config
from etablera.models.timestamps import parse_moment
from etablera.reminders import deadlines, outbox

PY = sys.executable
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)      # the cohort's "now"
BEFORE, DAY = "2026-11-19", "2026-11-20"                       # checked already; the day compared
R, D = Reminder.c, ReminderDelivery.c
PARTS = 3              # the parent (doing one part itself) and two part runs: three of the workers' four slots


def plan_parts(engine, parts: int) -> list[list[str]]:
    from etablera.flows.deadlines import plan_parts as plan
    return plan(engine, parts)


def keys(engine, day: str) -> Counter:
    """(kind, target, visit, step) of the reminders detected on `day`, counted."""
    with transaction(engine, write=False) as conn:
        return Counter(tuple(r) for r in conn.execute(select(R.kind, R.target_id, R.visit, R.step)
                                                      .where(R.detected_on == parse_moment(day).date())))


def messages(engine, day: str | None) -> dict[int, tuple]:
    """Each delivery of the reminders of `day` (None: of every day): id -> (reminder key,
    recipient, status)."""
    query = (select(D.id, R.kind, R.target_id, R.visit, R.step, D.recipient, D.status)
             .select_from(ReminderDelivery.join(Reminder, R.id == D.reminder_id)))
    if day is not None:
        query = query.where(R.detected_on == parse_moment(day).date())
    with transaction(engine, write=False) as conn:
        rows = conn.execute(query).all()
    return {r.id: ((r.kind, r.target_id, r.visit, r.step), r.recipient, r.status) for r in rows}


def forget(engine, day: str) -> None:
    """Undo the check of `day` (its reminders and their deliveries), the days before kept."""
    with transaction(engine) as conn:
        mine = select(R.id).where(R.detected_on == parse_moment(day).date())
        conn.execute(ReminderDelivery.delete().where(D.reminder_id.in_(mine)))
        conn.execute(Reminder.delete().where(R.detected_on == parse_moment(day).date()))


def checked_before(engine) -> None:
    """The day before was checked and delivered: what the cohort's past owes is sent."""
    deadlines.record_due(engine, parse_moment(BEFORE))
    with transaction(engine) as conn:
        conn.execute(Reminder.update().values(status="sent", addressed=True))


def test_the_parts_record_and_deliver_what_one_pass_does(db_url):
    engine = make_engine(db_url)
    write_cohort(engine, 400, seed=5, workers=1, now=NOW)
    groups = plan_parts(engine, 3)
    codes = [c for g in groups for c in g]
    assert len(groups) == 3 and len(codes) == len(set(codes))            # a partition
    with transaction(engine, write=False) as conn:
        present = set(conn.execute(text("SELECT DISTINCT municipality FROM cases")).scalars())
    assert present <= set(codes)

    whole = deadlines.record_due(engine, parse_moment(DAY))
    single = keys(engine, DAY)
    assert whole.total == sum(single.values()) > 50
    sent = Counter()
    outbox.deliver(engine, send=lambda url, s, b, recipient, message_id: sent.update([message_id]))
    single_messages = {(k, to) for k, to, _ in messages(engine, DAY).values()}
    assert set(sent.values()) == {1} and len(sent) == len(single_messages)

    forget(engine, DAY)
    results = [deadlines.record_due(engine, parse_moment(DAY), municipalities=g) for g in groups]
    assert keys(engine, DAY) == single and sum(r.total for r in results) == whole.total
    assert deadlines.record_due(engine, parse_moment(DAY), municipalities=groups[0]).total == 0   # idempotent
    sent.clear()
    per_part = [outbox.deliver(engine, municipalities=g,
                               send=lambda url, s, b, recipient, message_id: sent.update([message_id])).sent
                for g in groups]
    assert all(n > 0 for n in per_part)
    assert set(sent.values()) == {1} and sum(per_part) == len(sent) == len(single_messages)
    assert {(k, to) for k, to, status in messages(engine, DAY).values() if status == "sent"} == single_messages
    engine.dispose()


def test_deliverers_that_help_with_every_group_send_each_message_once(db_url):
    """As the parts of a fanned-out check do: the day recorded once, then three deliverers
    at the same time, each over its own group first and then the others' (the parts'
    rotated order): every message is sent once, and each deliverer sent some."""
    import threading

    from etablera.flows.deadlines import _others

    engine = make_engine(db_url)
    write_cohort(engine, 600, seed=11, workers=1, now=NOW)
    checked_before(engine)
    deadlines.record_due(engine, parse_moment(DAY))
    groups = plan_parts(engine, 3)
    assert len(groups) == 3
    sent, by = Counter(), Counter()
    lock, start = threading.Lock(), threading.Barrier(len(groups))

    def deliverer(i: int) -> None:
        def send(url, subject, body, recipient, message_id):
            with lock:
                sent[message_id] += 1
                by[i] += 1
            time.sleep(0.002)                  # a channel takes its time: the others catch up
        start.wait()
        for group in [groups[i], *_others(groups, i)]:
            outbox.deliver(engine, municipalities=group, send=send)

    threads = [threading.Thread(target=deliverer, args=(i,)) for i in range(len(groups))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    day = messages(engine, DAY)
    assert len(day) > 30 and {status for _, _, status in day.values()} == {"sent"}
    assert set(sent.values()) == {1} and len(sent) == len(day)
    assert [groups[i] for i in (1, 2)] == _others(groups, 0) and _others(groups, 2) == groups[:2]
    assert all(by[i] > 0 for i in range(len(groups))), by
    engine.dispose()


# --------------------------------------------------------------------------- on workers

class Workers:
    """A Prefect server on PostgreSQL, the deployments registered to a fresh pool, and
    process workers started with worker_command; every process killed at the end."""

    def __init__(self, tmp_path: Path, env: dict, pool: str):
        self.tmp, self.env, self.pool = tmp_path, env, pool
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, limit: int = 2) -> None:
        from etablera.flows.deploy import worker_command
        log = (self.tmp / f"{name}.log").open("a")
        self.processes[name] = subprocess.Popen(worker_command(self.pool, name, limit=limit), cwd=self.tmp,
                                                env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True)

    def kill(self, name: str) -> None:
        """SIGKILL the worker and every process under it, as when its machine is lost (the
        flow runs' subprocesses are in sessions of their own: killing the worker's group
        alone leaves them running, and they finish their part)."""
        process = self.processes[name]
        below = _descendants(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        self._kill_own(below)
        process.wait(30)

    def _kill_own(self, pids: list[int]) -> None:
        """SIGKILL those of `pids` that are still this test's (their environment names its
        temporary directory): never a process that took a freed pid."""
        for pid in pids:
            try:
                if str(self.tmp).encode() in Path(f"/proc/{pid}/environ").read_bytes():
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass

    def stop(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is None:
                below = _descendants(process.pid)
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                self._kill_own(below)            # a flow run's subprocess, in its own session

    def ran(self, name: str) -> set[str]:
        """The flow runs worker `name` took: submitted, and not aborted because the other
        worker had taken it first (its log says so)."""
        text_ = (self.tmp / f"{name}.log").read_text()
        return (set(re.findall(r"submitting flow run '([0-9a-f-]{36})'", text_))
                - set(re.findall(r"Aborted submission of flow run '([0-9a-f-]{36})'", text_)))


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _patient(url: str, path: str, body: dict | None = None):
    """`api`, asked again while the server is too busy to answer within its timeout (the
    machine is shared: a slow answer is not what these tests are about)."""
    for attempt in range(12):
        try:
            return api(url, path, body)
        except OSError:
            if attempt == 11:
                raise
            time.sleep(2)


def _parts(url: str, parent: str) -> list[dict]:
    """The part flow runs the check `parent` started."""
    return _patient(url, "/flow_runs/filter", {"flow_runs": {"parent_flow_run_id": {"any_": [parent]}}})


def _wait_final(url: str, run_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _patient(url, f"/flow_runs/{run_id}")["state"]["type"]
        if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return state
        time.sleep(1)
    raise AssertionError(f"flow run {run_id} not final within {timeout:.0f} s")


def _start_check(url: str, daily_id: str, part_timeout: float) -> str:
    run = _patient(url, f"/deployments/{daily_id}/create_flow_run",
              {"parameters": {"now": DAY, "parts": PARTS, "part_timeout": part_timeout}})
    return run["id"]


def _channel(path: Path) -> Counter:
    """message_id -> how many times the channel (the file) took it."""
    if not path.exists():
        return Counter()
    return Counter(json.loads(line)["message_id"] for line in path.read_text().splitlines() if line.strip())


def _waiting(engine) -> int:
    """Messages not sent yet, of every day."""
    with transaction(engine, write=False) as conn:
        return conn.execute(select(text("count(*)")).select_from(ReminderDelivery)
                            .where(D.status != "sent")).scalar() + conn.execute(
            select(text("count(*)")).select_from(Reminder).where(R.addressed.is_(False))).scalar()


def _delivery_of(message_id: str) -> int:
    return int(re.fullmatch(r"<reminder-\d+-(\d+)@etablera>", message_id).group(1))


@pytest.mark.slow
@pytest.mark.postgres
def test_fanned_out_on_two_workers_is_the_single_check_and_survives_a_killed_worker(pg_server, pg_url, tmp_path):
    from etablera.flows.serve import local_server

    cases = int(os.environ.get("ETABLERA_FANOUT_CASES", "20000"))
    app = make_engine(pg_url)
    started = time.perf_counter()
    write_cohort(app, cases, seed=7, workers=2, now=NOW)
    checked_before(app)
    figures = {"cohort_s": time.perf_counter() - started}

    # 1. One process, no Prefect: the day's reminders and messages.
    started = time.perf_counter()
    deadlines.record_due(app, parse_moment(DAY))
    single_sent = Counter()
    outbox.deliver(app, send=lambda url, s, b, recipient, message_id: single_sent.update([message_id]))
    figures["single_s"] = time.perf_counter() - started
    single = keys(app, DAY)
    single_messages = {(k, to) for k, to, _ in messages(app, DAY).values()}
    assert set(single.values()) == {1} and len(single) > cases // 100
    assert set(single_sent.values()) == {1} and len(single_sent) == len(single_messages)
    forget(app, DAY)

    # 2. The same day fanned out: a Prefect server on PostgreSQL, a pool, two workers.
    database = f"etablera_prefect_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {database}"))
    server_db = pg_server.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql+asyncpg") + f"/{database}"
    channel = tmp_path / "channel.jsonl"
    pool = f"etablera-{uuid.uuid4().hex[:6]}"
    env = prefect_env(tmp_path, ETABLERA_DATABASE_URL=pg_url, PREFECT_API_DATABASE_CONNECTION_URL=server_db,
                      ETABLERA_NOTIFY_DEFAULT=f"file:{channel}", PREFECT_LOGGING_LEVEL="INFO",
                      PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5")
    workers = None
    try:
        with local_server(free_port(), env=env, log=(tmp_path / "server.log").open("w")) as url:
            env["PREFECT_API_URL"] = url
            registered = subprocess.run([PY, "-c", "import sys; from etablera.flows.deploy import register; "
                                                   "print(register(sys.argv[1]))", pool],
                                        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
            assert registered.returncode == 0, registered.stderr[-3000:]
            daily = api(url, "/deployments/name/deadline-check/daily")
            part = api(url, "/deployments/name/deadline-check-part/part")
            assert daily["work_pool_name"] == part["work_pool_name"] == pool
            assert daily["entrypoint"] == "etablera.flows.deadlines.deadline_check"
            workers = Workers(tmp_path, env, pool)
            workers.start("w1")
            workers.start("w2")

            started = time.perf_counter()
            parent = _start_check(url, daily["id"], part_timeout=600)
            assert _wait_final(url, parent, 600) == "COMPLETED", (tmp_path / "w1.log").read_text()[-3000:]
            figures["fanned_out_s"] = time.perf_counter() - started
            parts = _parts(url, parent)
            remote = {p["id"] for p in parts if p["deployment_id"] == part["id"]}
            assert len(parts) == PARTS and len(remote) == PARTS - 1                   # the parent ran one itself
            assert {p["state"]["type"] for p in parts} == {"COMPLETED"}
            runs = remote | {parent}
            assert workers.ran("w1") & runs and workers.ran("w2") & runs             # both workers did a share
            assert keys(app, DAY) == single                                           # each recorded once
            fanned = messages(app, DAY)
            assert {(k, to) for k, to, _ in fanned.values()} == single_messages
            assert {status for _, _, status in fanned.values()} == {"sent"}
            taken = _channel(channel)
            assert set(taken.values()) == {1} and {_delivery_of(m) for m in taken} == set(fanned)

            # 3. Again, with a worker SIGKILLed while a part runs on it (not the parent's).
            # The parent and the first part to start deliver every group once done with
            # their own, so DAY alone (under a second of work here) would be sent before
            # the other part's process is up: the cohort's past reminders wait for delivery
            # too (a mail server that was down for days), enough for all three to share.
            forget(app, DAY)
            channel.unlink()
            with transaction(app) as conn:
                backlog = conn.execute(Reminder.update().where(R.detected_on < parse_moment(DAY).date())
                                       .values(status="pending", addressed=False)).rowcount
            figures["backlog"] = backlog
            parent = _start_check(url, daily["id"], part_timeout=120)
            victim = None
            deadline = time.monotonic() + 300
            while victim is None and time.monotonic() < deadline:
                for run in _parts(url, parent):
                    for name in ("w1", "w2"):
                        if run["state"]["type"] == "RUNNING" and parent not in workers.ran(name) \
                                and run["id"] in workers.ran(name):
                            victim = name
                time.sleep(0.3)
            assert victim is not None, "no part ran on the worker without the parent"
            time.sleep(1.0)                          # its delivery under way
            waiting = _waiting(app)
            workers.kill(victim)
            assert waiting > 0, "the messages were all sent before the part was killed: a larger backlog is needed"
            assert _wait_final(url, parent, 600) == "FAILED"      # the parent says a part is lost
            left = messages(app, None)
            in_flight = {i for i, (_, _, status) in left.items() if status == "sending"}
            unsent = {i for i, (_, _, status) in left.items() if status != "sent"}
            figures["killed"] = {"waiting": waiting, "unsent": len(unsent), "in_flight": len(in_flight)}
            # The others delivered all the killed part had not claimed, in the same run; what
            # it had claimed and not marked is a batch at most per sender of each part on its
            # worker (two parts can run there).
            senders = get_reminder_config().delivery.senders
            assert unsent == in_flight and len(in_flight) <= 2 * senders * outbox.CLAIMED_AT_ONCE

            # The next run (a restarted worker; the claims' lease has run out) completes it.
            with transaction(app) as conn:
                conn.execute(text("UPDATE reminder_deliveries SET claimed_at = claimed_at - interval '1 day' "
                                  "WHERE status = 'sending'"))
            workers.start(victim)
            parent = _start_check(url, daily["id"], part_timeout=600)
            assert _wait_final(url, parent, 600) == "COMPLETED"
            assert keys(app, DAY) == single
            final = messages(app, None)
            assert {(k, to) for k, to, _ in messages(app, DAY).values()} == single_messages
            assert {status for _, _, status in final.values()} == {"sent"}
            taken = _channel(channel)
            assert {_delivery_of(m) for m in taken} == set(final)                # nothing lost
            twice = {_delivery_of(m) for m, n in taken.items() if n > 1}
            assert max(taken.values()) <= 2 and twice <= in_flight               # only an in-flight one, once more
            assert len(twice) <= 2 * senders                         # one per sender of a killed deliverer at most
            figures["twice"] = len(twice)

            # 4. prefect.yaml with Prefect's own tool, and the monthly report's artifacts.
            _prefect_yaml_and_report_artifacts(url, env, tmp_path)
    finally:
        if workers is not None:
            workers.stop()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        admin.dispose()
        app.dispose()
    print(f"\n# fan-out, {cases:,} cases: {len(single)} reminders, {len(single_messages)} messages; "
          + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()))


def _prefect_yaml_and_report_artifacts(url: str, env: dict, tmp_path: Path) -> None:
    """`prefect deploy --all` with the repository's prefect.yaml (module entrypoints, no
    pull steps) registers the three deployments on pool etablera; a monthly report run
    against the server publishes its summary and a link to its files."""
    def run(*args, **kw):
        done = subprocess.run(list(args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, **kw)
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
        return done
    run(PY, "-m", "prefect", "work-pool", "create", "etablera", "--type", "process")
    run(PY, "-m", "prefect", "--no-prompt", "deploy", "--all", "--prefect-file", str(ROOT / "prefect.yaml"))
    found = {n: api(url, f"/deployments/name/{n}") for n in
             ("deadline-check/daily", "deadline-check-part/part", "monthly-report/monthly")}
    assert {d["work_pool_name"] for d in found.values()} == {"etablera"}
    assert found["deadline-check/daily"]["entrypoint"] == "etablera.flows.deadlines.deadline_check"
    assert [s_["schedule"]["cron"] for s_ in found["deadline-check/daily"]["schedules"]] == ["0 6 * * 1-5"]
    assert [s_["schedule"]["cron"] for s_ in found["monthly-report/monthly"]["schedules"]] == ["30 6 1 * *"]
    assert found["deadline-check/daily"]["pull_steps"] in ([], None)

    reports = tmp_path / "reports"
    run(PY, "-c", "import sys; from etablera.flows.report_flow import monthly_report; "
                  "monthly_report(folder=sys.argv[1], month='2026-10', formats=['json'])", str(reports))
    artifacts = {a["key"]: a for a in api(url, "/artifacts/filter", {"artifacts": {"key": {"any_": [
        "monthly-report", "monthly-report-files"]}}})}
    summary, link = artifacts["monthly-report"], artifacts["monthly-report-files"]
    assert summary["type"] == "markdown" and "| national |" in summary["data"] and "2026-10" in summary["data"]
    assert (reports / "2026-10").resolve().as_uri() in link["data"]          # a link, as markdown
    assert (reports / "2026-10" / "national.json").exists()


@pytest.mark.parametrize("lang, said", [("sv", "syns inte i Prefect-gränssnittet"),
                                        ("en", "will not appear in the Prefect UI")])
def test_deadlines_check_says_when_the_run_is_local(sqlite_url, monkeypatch, lang, said):
    """One line on stderr without PREFECT_API_URL, none with it; the flow itself is a
    stand-in here (the real one runs in tests/test_flows.py, slow)."""
    from cli_kit import etablera
    from etablera.flows import deadlines as flow_module

    calls = []

    def fake_check(**kwargs):
        calls.append(kwargs)
        return {"check": {"today": DAY, "new": 0, "by_step": {}, "by_subject": {}}, "outbox": {}}
    monkeypatch.setattr(flow_module, "deadline_check", fake_check)
    monkeypatch.setenv("ETABLERA_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    local = etablera("deadlines", "check", "--now", DAY, "--no-send", "--parts", "2", "--json", "--lang", lang)
    assert local.code == 0 and said in local.err and len(local.err.strip().splitlines()) == 1
    assert json.loads(local.out)["check"]["today"] == DAY
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    served = etablera("deadlines", "check", "--now", DAY, "--no-send", "--json", "--lang", lang)
    assert served.code == 0 and said not in served.err
    assert [(c["parts"], c["on_workers"], c["send"]) for c in calls] == [(2, False, False), (None, False, False)]
    bad = etablera("deadlines", "check", "--parts", "0")
    assert bad.code == 2 and "--parts" in bad.err
