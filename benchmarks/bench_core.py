"""Issue 2's targets: persisted transitions per second (SQLite ≥ 3,000/s; PostgreSQL),
each with its audit event and committed, beside the raw floor (plain SQL doing the same
read-update-insert per transition on the same database); the wall time of `etablera case
show` (≤ 0.5 s); and `etablera demo --cases 1000000` (≤ 120 s, peak memory ≤ 1 GB)."""

from __future__ import annotations

import compileall
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks import Result
from benchmarks.rounds import interleaved, ratios, result, spread
from etablera.models.database import make_engine, upgrade
from etablera.statemachine.process import T

ROOT = Path(__file__).resolve().parent.parent
TRANSITION_CASES = 1_000          # each walks 4 transitions: 4,000 persisted transitions per run
STATES_CYCLE = ("module1.talk_held", "module2.preparing", "on_hold", "module2.preparing")
# The walk every case takes after registration (benchmarks/peers does the same steps).
WALK = ((T.hold_talk, {}), (T.establish_plan, {"plan": "handlingsplan"}), (T.pause, {"reason": "illness"}),
        (T.resume, {}))


def run(options) -> list[Result]:
    workdir = Path(options.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    rounds = max(1, getattr(options, "rounds", 3))
    results = []
    sqlite_url = fresh_sqlite(workdir / "transitions.sqlite3")
    results.append(_transitions("SQLite", sqlite_url, goal=3000, rounds=rounds))
    pg_url = _pg_schema(options.postgres)
    if pg_url:
        try:
            results.append(_transitions("PostgreSQL", pg_url, goal=None, rounds=rounds))
        finally:
            _drop_pg_schema(options.postgres, pg_url)
    else:
        results.append(Result("transitions/s PostgreSQL", 0, "/s", note="PostgreSQL not reachable: skipped"))
    cases = int(1_000_000 * options.scale)
    cohort_db = workdir / f"cohort-{cases}.sqlite3"
    results.append(_demo(cohort_db, cases))
    results += _case_show(cohort_db, cases, rounds=max(rounds, 5))
    return results


def fresh_sqlite(path: Path) -> str:
    """The URL of an empty SQLite database at `path` (the file and its WAL removed)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"


def registrar(engine):
    """`register(person) -> case id` through the use case, as the benchmarks register
    newcomers (municipality 0581, a permit 50 days ago, registered 30 days ago)."""
    from etablera.access.principal import operator
    from etablera.cases.service import register

    at = datetime.now(timezone.utc) - timedelta(days=30)
    who = operator("bench")
    return lambda person: register(engine, who, person=person, municipality="0581",
                                   permit_date=at.date() - timedelta(days=20), at=at)


def people(count: int, first: int = 10_000_000) -> list[str]:
    """Valid identity numbers of `count` synthetic newcomers, `first`, `first` + 1, ..."""
    from etablera.demo.cohort import synthetic_person

    on = (datetime.now(timezone.utc) - timedelta(days=30)).date()
    return [synthetic_person(first + i, on, coordination=False)[0] for i in range(count)]


def register_fresh(engine, count: int, first: int = 10_000_000) -> list[int]:
    """`count` newcomers registered through the use case, persons `first`, `first` + 1, ..."""
    register = registrar(engine)
    return [register(person) for person in people(count, first)]


def stepper(engine):
    """`step(case_id, trigger name, data)` through the use case, as the benchmarks advance cases."""
    from etablera.access.principal import operator
    from etablera.cases.service import advance
    from etablera.statemachine.process import T

    who = operator("bench")
    return lambda case_id, trigger, raw: advance(engine, who, case_id, getattr(T, trigger), raw)


def walk(engine, ids: list[int]) -> float:
    """The four persisted steps of WALK through the use case for every case (step by step
    across the cases, as a day's work goes), on one thread with its connection kept, as a
    command or a worker runs them (models/keeping.py); returns transitions per second."""
    from etablera.models.keeping import keep_connections

    step = stepper(engine)
    started = time.perf_counter()
    with keep_connections():
        for trigger, raw in WALK:
            for case_id in ids:
                step(case_id, trigger, dict(raw))
    return len(ids) * len(WALK) / (time.perf_counter() - started)


def _transitions(label: str, url: str, goal: float | None, rounds: int) -> Result:
    engine = make_engine(url)
    upgrade(engine)
    floor_ids = register_fresh(engine, TRANSITION_CASES)
    figures = interleaved({
        # fresh cases each round (the walk starts at registration), registered untimed
        "etablera": lambda r: walk(engine, register_fresh(engine, TRANSITION_CASES,
                                                          first=10_000_000 + (r + 1) * TRANSITION_CASES)),
        "floor": lambda r: raw_floor(engine, floor_ids, len(WALK)),
    }, rounds)
    engine.dispose()
    median = statistics.median(figures["etablera"])
    return result(f"transitions/s {label}", figures["etablera"], figures["floor"], "/s",
                  goal=f"≥ {goal:,.0f}/s" if goal else "", met=(median >= goal) if goal else None,
                  note="each: read case, machine, version-checked update + hash-chained event + access-log row, commit")


# What each step of WALK sets on the case row besides its state, version and chain head
# (hold_talk, establish_plan, pause, resume, as `decide` writes them): the floor's UPDATE
# sets the same columns, so it maintains the same indexes (state and state_since at every
# step; due when a stage begins, and again on resume, which moves the due dates by the
# pause: by nothing in a walk paused for a moment, hence `due = due`) and its commits write
# as many pages.
FLOOR_SETS = (
    (),
    ("due", "plan", "stage_seq", "stage_started"),
    ("paused_at", "paused_from"),
    ("due = due", "establishment_due = establishment_due", "paused_at", "paused_from"),
)


def raw_floor(engine, ids: list[int], rounds: int, first: int = 0) -> float:
    """The same I/O per transition in plain SQL on the driver: read the case, update its
    state and what the engine's step changes with it (FLOOR_SETS) with a version check,
    insert an audit row and the access-log row of who did it, commit."""
    raw = engine.raw_connection()
    driver = raw.driver_connection
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    cursor = driver.cursor()
    now = datetime.now(timezone.utc)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
    updates = [f"UPDATE cases SET state = {mark}, state_since = {mark}, version = {mark}, last_seq = {mark}, "
               f"last_hash = {mark}, last_event_at = {mark}"
               + "".join(f", {column}" if "=" in column else f", {column} = {mark}" for column in columns)
               + f" WHERE id = {mark} AND version = {mark}" for columns in FLOOR_SETS]
    started = time.perf_counter()
    for n in range(first, first + rounds):
        for case_id in ids:
            if sqlite:
                cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(f"SELECT version, last_seq, state FROM cases WHERE id = {mark}", (case_id,))
            version, seq, state = cursor.fetchone()
            k = (n + case_id) % len(STATES_CYCLE)
            new_state = STATES_CYCLE[k]
            due = (now + timedelta(days=30 + n)).date()
            day = due.isoformat() if sqlite else due
            extra = {1: (day, "handlingsplan", seq + 1, now.date().isoformat() if sqlite else now.date()),
                     2: (stamp, state), 3: (None, None)}.get(k, ())
            cursor.execute(updates[k], (new_state, stamp, version + 1, seq + 1, "f" * 64, stamp, *extra,
                                        case_id, version))
            cursor.execute(f"INSERT INTO audit_events (case_id, seq, at, recorded_at, actor, trigger, from_state, "
                           f"to_state, municipality, reason, note, skipped, data, prev_hash, hash) VALUES "
                           f"({', '.join([mark] * 15)})",
                           (case_id, seq + 1, stamp, stamp, "bench", "floor", state, new_state, "0581", None, None, "[]",
                            "{}", "e" * 64, "f" * 64))
            cursor.execute(f"INSERT INTO access_log (at, actor, role, organisation, case_id, action, detail) "
                           f"VALUES ({', '.join([mark] * 7)})",
                           (stamp, "bench", "admin", None, case_id, "advance:floor", None))
            driver.commit()
    rate = len(ids) * rounds / (time.perf_counter() - started)
    cursor.close()
    raw.close()
    return rate


def _pg_schema(server: str) -> str | None:
    try:
        admin = create_engine(server, connect_args={"connect_timeout": 3})
        schema = "bench_" + uuid.uuid4().hex[:8]
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        admin.dispose()
        return f"{server}?options=-csearch_path%3D{schema}"
    except Exception:  # noqa: BLE001
        return None


def _drop_pg_schema(server: str, url: str) -> None:
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {url.rsplit('%3D', 1)[1]} CASCADE"))
    admin.dispose()


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total, stack = 0, [pid]
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent = int(fh.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except OSError:
                continue
    while stack:
        current = stack.pop()
        stack += children.get(current, [])
        try:
            with open(f"/proc/{current}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
    return total


def _demo(db: Path, cases: int) -> Result:
    """`etablera demo --cases N` as a user runs it; the database is kept for case show."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    env = {**os.environ, "ETABLERA_DATABASE_URL": f"sqlite:///{db}", "ETABLERA_ACTOR": "bench"}
    etablera = [sys.executable, "-m", "etablera.interfaces.cli.main"]
    subprocess.run(etablera + ["init"], env=env, check=True, capture_output=True, cwd=ROOT)
    peak = 0
    started = time.perf_counter()
    process = subprocess.Popen(etablera + ["demo", "--cases", str(cases), "--seed", "7"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def sample():
        nonlocal peak
        while process.poll() is None:
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.25)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    sampler.join()
    if process.returncode != 0:
        return Result(f"demo --cases {cases:,}", seconds, "s", note=f"FAILED: {err.decode()[-200:]}")
    goal_seconds = 120 * cases / 1_000_000
    return Result(f"demo --cases {cases:,}", seconds, "s", goal=f"≤ {goal_seconds:.0f} s, ≤ 1 GB",
                  met=seconds <= goal_seconds and peak <= 1 << 30,
                  note=f"peak memory {peak / 2**20:,.0f} MB (process tree)")


def _case_show(db: Path, cases: int, rounds: int) -> list[Result]:
    """`etablera case show` as a user runs it beside two floors, one of each per round,
    interleaved, a different case each round: python + sqlite3 selecting the row, and
    `python -c "import sqlalchemy"` (the goal: at most 1.3 times that). The first show
    makes the configuration's snapshot, as the first command after installing does."""
    env = {**os.environ, "ETABLERA_DATABASE_URL": f"sqlite:///{db}", "ETABLERA_ACTOR": "bench"}
    etablera = str(ROOT / ".venv/bin/etablera") if (ROOT / ".venv/bin/etablera").exists() else "etablera"
    case_ids = sorted({1, *(max(1, cases * k // 7) for k in range(1, 7))})   # spread over the cohort

    def show(r: int) -> float:
        started = time.perf_counter()
        subprocess.run([etablera, "case", "show", str(case_ids[r % len(case_ids)]), "--json"], env=env, check=True,
                       capture_output=True, cwd=ROOT)
        return time.perf_counter() - started

    def floor(r: int) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                        "print(c.execute('select * from cases where id = ?', (int(sys.argv[2]),)).fetchone())",
                        str(db), str(case_ids[r % len(case_ids)])], check=True, capture_output=True)
        return time.perf_counter() - started

    def sqlalchemy(r: int) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sqlalchemy"], check=True, capture_output=True)
        return time.perf_counter() - started

    # An installed etablera runs from the bytecode pip compiled when it installed the wheel
    # (so does the image); compile this checkout's modules the same way first. Otherwise,
    # with PYTHONDONTWRITEBYTECODE set (as on the machines here), every command compiles
    # them from source again: 40-50 ms of each show, which no installation pays.
    compileall.compile_dir(ROOT, quiet=1, rx=re.compile(r"[/\\](\.venv|\.git|var)[/\\]"))
    show(0)
    figures = interleaved({"show": show, "floor": floor, "sqlalchemy": sqlalchemy}, rounds)
    over_import = ratios(figures["show"], figures["sqlalchemy"])
    return [result("etablera case show --json (wall)", figures["show"], figures["floor"], "s",
                   goal="≤ 1.3 × import sqlalchemy", met=statistics.median(over_import) <= 1.3,
                   note=f"floor: python + sqlite3 select of the row; import sqlalchemy "
                        f"{spread(figures['sqlalchemy'])} s, show/import {spread(over_import, 2)}")]
