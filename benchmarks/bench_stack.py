"""Issue 15's target through the production topology: `etablera stack up --no-prefect`
(two `etablera web` replicas in production mode behind HAProxy, leastconn) on PostgreSQL,
the synthetic cohort at 1,000,000 cases (`--scale` multiplies it): the start page (the
worklist with its six queue counts) and the case page at p95 ≤ 100 ms with no errors at
40 concurrent clients (twice issue 6's single-host load), beside a static file through
the same proxy as the floor. wrk keeps 40 requests in flight for SECONDS each (closed
loop), carrying one officer's session cookie; the case page cycles through 500 of the
officer's running cases. HAProxy's admin socket says how the requests fell on the two
replicas. Beside each p95 stands the CPU each request cost the replicas, PostgreSQL,
HAProxy, wrk and the launcher (from /proc): the clients never pause, so the pages' p95 is
set by the CPU per request the two cores share, and that line says where it goes. The start
page's note also says how PostgreSQL planned its statement over 15 views on one connection
(benchmarks/plan_cache.py): a statement with no generic plan is planned again at every view.

The floor and the two pages are measured in `--rounds` rounds (default 3), interleaved with
the order rotated (benchmarks/rounds.py): on a shared machine one 30-second run's
throughput moved by half between runs of the same code. The table gives the median p95 and
its ratio to the floor's within each round; the note gives min/median/max of each, and
p95/p50, which says how evenly the waiting requests took their turns.

The cohort is bench_web's (`bulk.write_cohort`, the same checks for a kept one), in a
database of its own, `bench_stack_<N>`, kept for the next run (drop it by hand). Where
bench_web has kept a current cohort of the same size, that one is copied (pg_dump into
psql, minutes at a million cases) instead of written again.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks import Result
from benchmarks.bench_web import OFFICER as BENCH_OFFICER
from benchmarks.bench_web import (LUA, _by_pid, _comm, _current, _fill, _free_port, _login, _officer_and_cases,
                                  _postgres_processes, _used, _workers)
from benchmarks.plan_cache import VIEWS, start_page_plans
from benchmarks.rounds import interleaved, result, spread
from etablera.access.principal import Principal

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 30
CLIENTS = 40
GOAL_MS = 100.0
FLOOR = "static file"
OFFICER = Principal(BENCH_OFFICER[0], "Bench officer", "officer", "kommun", (BENCH_OFFICER[1],), BENCH_OFFICER[1],
                    via="bench")


def run(options) -> list[Result]:
    cases = int(1_000_000 * options.scale)
    for tool in ("wrk", "haproxy"):
        if not shutil.which(tool):
            return [Result("stack pages", 0, "ms", note=f"{tool} is not installed (apt-get install {tool}): skipped")]
    server = options.postgres.rsplit("/", 1)[0]
    database = f"bench_stack_{cases}"
    if not _database(server, database, cases, options.postgres):
        return [Result("stack pages", 0, "ms", note="PostgreSQL not reachable: skipped")]
    url = f"{server}/{database}"
    ids = _officer_and_cases(url)
    plans = start_page_plans(url, OFFICER)
    run_dir = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    launcher, base = _stack_up(server, database, run_dir)
    try:
        cookie, _, counts = _login(base)
        runs = {FLOOR: ["/static/app.css"], "start page (worklist, queue counts)": ["/worklist"],
                "case page": [f"/cases/{i}" for i in ids]}
        figures: dict[str, list[dict]] = {page: [] for page in runs}

        def measure(page: str):
            def once(_round: int) -> float:
                figures[page].append(_wrk(base, cookie, runs[page], run_dir, launcher.pid))
                return figures[page][-1]["p95"]
            return once
        p95 = interleaved({page: measure(page) for page in runs}, rounds=options.rounds)
    finally:
        _stack_down(launcher)
        shutil.rmtree(run_dir, ignore_errors=True)
    floor = figures[FLOOR]
    results = []
    for page in runs:
        if page == FLOOR:
            continue
        f = figures[page]
        errors = sum(r["errors"] + r["non2xx"] for r in f)
        results.append(result(
            f"stack {page} p95 through HAProxy, PostgreSQL", p95[page], p95[FLOOR], "ms",
            goal=f"≤ {GOAL_MS:.0f} ms, 0 errors", met=statistics.median(p95[page]) <= GOAL_MS and errors == 0,
            note=f"req/s {spread([r['requests'] / r['seconds'] for r in f])}, p50 {_spread(f, 'p50')} ms, "
                 f"p95/p50 {spread([r['p95'] / r['p50'] for r in f], 2)}, p99 {_spread(f, 'p99')} ms, "
                 f"{errors} errors; per replica {_split(f)}, taken out {sum(r['downs'] for r in f)} times; "
                 f"static floor req/s {spread([r['requests'] / r['seconds'] for r in floor])}, "
                 f"p50 {_spread(floor, 'p50')} ms, p95 {_spread(floor, 'p95')} ms; {cases:,} cases, {CLIENTS} "
                 f"clients, {SECONDS} s a round, two replicas; CPU per request, median {_cpu_line(f)} (static "
                 f"floor {_cpu_line(floor)})"
                 + (f"; queues {' '.join(f'{k} {v:,}' for k, v in counts.items())}; its statement planned "
                    f"{_plans_line(plans)}" if "start" in page else "")))
    return results


def _plans_line(plans: list[tuple[int, int]]) -> str:
    generic, custom = (sum(p[i] for p in plans) for i in (0, 1))
    return f"generic {generic} / custom {custom} times in {VIEWS} views" + (" (planned at every view)" if not generic else "")


def _spread(runs: list[dict], key: str) -> str:
    return spread([r[key] for r in runs], 1)


def _split(runs: list[dict]) -> str:
    """Requests each replica was sent, over every round."""
    return "/".join(str(sum(counts)) for counts in zip(*(r["split"] for r in runs)))


def _database(server: str, database: str, cases: int, web_database: str) -> bool:
    """The cohort's database: created and filled unless a kept one is current. Filled by
    copying bench_web's kept cohort of the same size (the schema `bench_web_<N>` in
    `web_database`) where that one is current: pg_dump and psql take minutes where the
    bulk writer takes most of half an hour at a million cases."""
    try:
        admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}).scalar()
    except Exception as exc:  # noqa: BLE001
        print(f"# bench_stack: PostgreSQL not reachable ({type(exc).__name__})", file=sys.stderr)
        return False
    url = f"{server}/{database}"
    if not (exists and _current(url, cases)):
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {database}"))
        if not _copy_web_cohort(web_database, url, cases):
            _fill(url, cases)
    admin.dispose()
    return True


def _copy_web_cohort(web_database: str, url: str, cases: int) -> bool:
    """bench_web's cohort of `cases` copied into the empty database `url` as its public
    schema; False (nothing copied) where there is none current or no pg_dump."""
    schema = f"bench_web_{cases}"
    if not (shutil.which("pg_dump") and shutil.which("psql")
            and _current(f"{web_database}?options=-csearch_path%3D{schema}", cases)):
        return False
    started = time.perf_counter()
    source, target = (u.replace("postgresql+psycopg://", "postgresql://") for u in (web_database, url))
    # the context waits for pg_dump, also when psql fails (its pipe closed, pg_dump ends)
    with subprocess.Popen(["pg_dump", "--no-owner", "--schema", schema, source], stdout=subprocess.PIPE) as dump:
        subprocess.run(["psql", "--quiet", "--set", "ON_ERROR_STOP=1", "--output", os.devnull, target],
                       stdin=dump.stdout, check=True)
    if dump.returncode != 0:
        raise RuntimeError(f"pg_dump of {schema} failed")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text(f"ALTER SCHEMA {schema} RENAME TO public"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(f"# bench_stack: copied bench_web's cohort of {cases:,} cases in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    return True


def _stack_up(server: str, database: str, run_dir: Path, *, prefect: bool = False,
              **env: str) -> tuple[subprocess.Popen, str]:
    """`etablera stack up` on `database` (with the Prefect server, deployments and workers
    when `prefect`; `env` on top of this process's environment), waited for until ready.
    Returns the launcher and HAProxy's address."""
    port = _free_port()
    env = {**os.environ, "ETABLERA_STACK_SERVER": server, "ETABLERA_STACK_DATABASE": database,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **env}
    extra = ["--prefect-port", str(_free_port())] if prefect else ["--no-prefect"]
    launcher = subprocess.Popen(
        [sys.executable, "-m", "etablera.interfaces.cli.main", "stack", "up", *extra, "--lang", "en",
         "--port", str(port), "--web-ports", f"{_free_port()},{_free_port()}", "--run-dir", str(run_dir)],
        cwd=ROOT, env=env, stdout=(run_dir / "stack.log").open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if json.loads((run_dir / "status.json").read_text())["ready"]:
                return launcher, f"http://127.0.0.1:{port}"
        except (OSError, ValueError):
            pass
        if launcher.poll() is not None:
            break
        time.sleep(0.5)
    os.killpg(launcher.pid, signal.SIGTERM)
    launcher.wait(60)
    raise RuntimeError(f"etablera stack up was not ready: {(run_dir / 'stack.log').read_text()[-2000:]}")


def _stack_down(launcher: subprocess.Popen) -> None:
    """SIGTERM to the launcher (it stops every process of the stack), SIGKILL to its
    group if it has not ended within a minute."""
    launcher.send_signal(signal.SIGTERM)
    try:
        launcher.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)
        launcher.wait()


def _served(run_dir: Path) -> dict[str, tuple[int, int]]:
    """Requests each replica was sent, and how often HAProxy took it out (UP to DOWN),
    from its admin socket."""
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(run_dir / "haproxy.sock"))
        conn.sendall(b"show stat\n")
        data = b"".join(iter(lambda: conn.recv(65536), b""))
    rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
    return {r["svname"]: (int(r["stot"]), int(r["chkdown"] or 0))
            for r in rows if r["pxname"] == "web" and r["svname"].startswith("web")}


def _wrk(base: str, cookie: str, paths: list[str], run_dir: Path, launcher: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(LUA % {"paths": ", ".join(json.dumps(p) for p in paths), "cookie": cookie, "bodies": ""})
    before, cpu_before = _served(run_dir), _stack_cpu(launcher)
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{CLIENTS}", f"-d{SECONDS}s", "--timeout", "10s", "-s", fh.name,
                              base + paths[0]], capture_output=True, text=True, timeout=SECONDS + 60).stdout
    finally:
        os.unlink(fh.name)
    after, cpu_after = _served(run_dir), _stack_cpu(launcher)
    figures = json.loads(next(l for l in reversed(out.splitlines()) if l.startswith("{")))
    n = max(figures["requests"], 1)
    return {**figures, "split": [after[k][0] - before[k][0] for k in sorted(after)],
            "downs": sum(after[k][1] - before[k][1] for k in after),
            "cpu_ms": {part: _used(cpu_before[part], cpu_after[part]) / n * 1000 for part in cpu_after}}


CPU_PARTS = ("replicas", "PostgreSQL", "HAProxy", "wrk", "launcher")


def _stack_cpu(launcher: int) -> dict[str, dict[int, float]]:
    """CPU seconds used so far by each process of each part of the load, by pid: the web
    replicas (every process below the launcher but HAProxy), HAProxy, the PostgreSQL
    server's processes (the stack's database is the only one at work) and the load tool
    (this process's ended children, under pid 0: wrk), and the launcher itself (it once
    copied every request's log lines: stack/launcher.py). With the replicas' own CPU beside
    the page's p95 the figure says where a request's time goes: the load is closed-loop,
    so p95 follows CPU per request."""
    below, todo = [], [launcher]
    while todo:
        children = _workers(todo.pop())
        below += children
        todo += children
    proxy = [pid for pid in below if _comm(Path(f"/proc/{pid}")) == "haproxy"]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"replicas": _by_pid(pid for pid in below if pid not in proxy),
            "PostgreSQL": _by_pid(_postgres_processes()), "HAProxy": _by_pid(proxy),
            "wrk": {0: children.ru_utime + children.ru_stime}, "launcher": _by_pid([launcher])}


def _cpu_line(runs: list[dict]) -> str:
    return ", ".join(f"{part} {statistics.median(r['cpu_ms'][part] for r in runs):.2f} ms" for part in CPU_PARTS)
