"""Issue 6's and issue 13's targets: the web interface under load. With the synthetic
cohort at 1,000,000 cases (`--scale` multiplies it), on SQLite and on PostgreSQL: the start
page (the worklist with its six queue counts), the case page, and the search by identity
number and by name prefix, each at p95 ≤ 100 ms with no errors, 20 concurrent clients on
loopback for 60 s (wrk, a Lua script carrying the session cookie), beside a static file of
the same server as the floor.

The searches go through the pages' own form, POST /search with the session's CSRF token
(read from the start page) and the query in the urlencoded body, never in the URL: the
identity numbers of up to 500 cases of the officer's municipality in turn (12 digits,
with a hyphen, and 10 digits with a hyphen, coordination numbers among them), and the
three-letter prefixes of the given and family names found there ("Özl", "Yıl", "And";
a prefix matches thousands of cases, of which the 20 newest are shown). Each search
writes the access-log rows of the cases it shows, as in real use.

`etablera web --workers 2` (gunicorn with two uvicorn workers) serves the database; one
officer logs in through the login form; wrk then keeps 20 requests in flight (closed
loop: each client sends its next request when the previous answer arrives). Beside the
latencies each run prints the CPU time per request of the web workers and of the
PostgreSQL server processes (from /proc), steadier than latencies on a machine whose
speed varies, and how wrk's connections fell on the workers (each worker accepts as it
wakes; nothing spreads them evenly). The case page cycles through 500 of the officer's
running cases, so it is not one row in a warm cache; every view of a case writes its
access-log rows, as in real use.

The cohort is written by `bulk.write_cohort` (the engine's own rows; a million took 19
minutes on PostgreSQL and 24 on SQLite, built side by side on two cores, and 11 minutes on
PostgreSQL alone once the rows went in by COPY) and kept for
the next run: `<workdir>/web-<N>.sqlite3` and the PostgreSQL schema `bench_web_<N>`
(drop it by hand when no longer wanted). A kept cohort is rebuilt when its case count
differs or its cases have no names (one written before the demo named its people); one
whose schema is older than the newest migration is upgraded, as an installation is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from benchmarks import Result

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 60
SEARCH_NUMBERS = 500
CLIENTS = 20
GOAL_MS = 100.0
OFFICER = ("h0180-01", "0180")          # one of the cohort's officers in the largest municipality
PASSWORD = "bench-lösenord-1"
CASE_IDS = 500
REMINDER_DAYS = 60
WORKERS = 2

# wrk's script: the session cookie on every request, the pages in turn (GET), or with
# bodies, the bodies in turn POSTed to the one path (a form), and one JSON line with the
# figures at the end (wrk's own summary has no p95).
LUA = """
local paths = {%(paths)s}
local bodies = {%(bodies)s}
local n = 0
wrk.headers["Cookie"] = "%(cookie)s"
if #bodies > 0 then
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
request = function()
  n = n + 1
  if #bodies > 0 then
    return wrk.format("POST", paths[1], nil, bodies[(n %% #bodies) + 1])
  end
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %%d, "seconds": %%f, "p50": %%f, "p95": %%f, "p99": %%f, ' ..
    '"errors": %%d, "non2xx": %%d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def run(options) -> list[Result]:
    cases = int(1_000_000 * options.scale)
    if not shutil.which("wrk"):
        return [Result("web pages", 0, "ms", note="wrk is not installed (apt-get install wrk): skipped")]
    workdir = Path(options.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    results = _measure("SQLite", _sqlite(workdir, cases), cases)
    pg_url = _postgres(options.postgres, cases)
    if pg_url is None:
        return results + [Result("web pages PostgreSQL", 0, "ms", note="PostgreSQL not reachable: skipped")]
    return results + _measure("PostgreSQL", pg_url, cases)


# ----------------------------------------------------------------------------- the data

def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
    except Exception:  # noqa: BLE001 - no database or no tables yet
        return -1
    finally:
        engine.dispose()


def _fill(url: str, cases: int) -> None:
    from etablera.models.database import make_engine, upgrade
    from etablera.demo.bulk import write_cohort
    engine = make_engine(url)
    upgrade(engine)
    stats = write_cohort(engine, cases, seed=7)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    print(f"# bench_web: wrote {stats['cases']:,} cases in {stats['seconds']:.0f} s", file=sys.stderr)


def _current(url: str, cases: int) -> bool:
    """Whether a kept cohort can be used again: `cases` cases, the schema at the newest
    migration, and every case with a name."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from etablera.models.database import MIGRATIONS
    if _count(url) != cases:
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            older = MigrationContext.configure(conn).get_current_revision() != \
                ScriptDirectory(str(MIGRATIONS)).get_current_head()
            if conn.execute(text("SELECT count(*) FROM cases WHERE given_key IS NULL")).scalar_one():
                print("# bench_web: the kept cohort's people have no names: rebuilt", file=sys.stderr)
                return False
    finally:
        engine.dispose()
    if older:
        _upgrade(url)
    return True


def _upgrade(url: str) -> None:
    """A kept cohort whose schema is older than the newest migration is upgraded, as a
    running installation is (an index at a million cases: seconds, where rebuilding the
    cohort takes half an hour); then its statistics are gathered again."""
    from etablera.models.database import make_engine, upgrade
    started = time.perf_counter()
    engine = make_engine(url)
    revision = upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    print(f"# bench_web: the kept cohort upgraded to migration {revision} in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)


def _sqlite(workdir: Path, cases: int) -> str:
    db = workdir / f"web-{cases}.sqlite3"
    url = f"sqlite:///{db}"
    if not _current(url, cases):
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        _fill(url, cases)
    return url


def _postgres(server: str, cases: int) -> str | None:
    schema = f"bench_web_{cases}"
    try:
        admin = create_engine(server, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    except Exception as exc:  # noqa: BLE001
        print(f"# bench_web: PostgreSQL not reachable ({type(exc).__name__})", file=sys.stderr)
        return None
    url = f"{server}?options=-csearch_path%3D{schema}"
    if not _current(url, cases):
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        _fill(url, cases)
    admin.dispose()
    return url


def _officer_and_cases(url: str) -> list[int]:
    """The bench officer's login (created or reset) and up to CASE_IDS of their running cases."""
    from etablera.models.database import make_engine, upgrade
    from etablera.access.accounts import add_user
    engine = make_engine(url)
    upgrade(engine)
    user_id, municipality = OFFICER
    add_user(engine, user_id, name="Bench officer", role="officer", organisation="kommun",
             municipality=municipality, password=PASSWORD, update_existing=True)
    _reminder_history(engine)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text(
            "SELECT id FROM cases WHERE kommun_officer = :o AND municipality = :m AND active "
            "AND due IS NOT NULL ORDER BY id LIMIT :n"), {"o": user_id, "m": municipality, "n": CASE_IDS})]
    engine.dispose()
    return ids


def _search_queries(url: str) -> tuple[list[str], list[str]]:
    """What the officer types: identity numbers of cases in their municipality (a sample
    spread over the cohort, in the three ways people write them) and the three-letter
    prefixes of the names found there."""
    engine = create_engine(url)
    with engine.connect() as conn:
        people = [r[0] for r in conn.execute(text(
            "SELECT person FROM cases WHERE municipality = :m AND id % 37 = 0 ORDER BY id LIMIT :n"),
            {"m": OFFICER[1], "n": SEARCH_NUMBERS})]
        names = [r[0] for r in conn.execute(text(
            "SELECT DISTINCT given_name FROM cases WHERE municipality = :m UNION "
            "SELECT DISTINCT family_name FROM cases WHERE municipality = :m"), {"m": OFFICER[1]}) if r[0]]
    engine.dispose()
    written = (lambda p: p, lambda p: f"{p[:8]}-{p[8:]}", lambda p: f"{p[2:8]}-{p[8:]}")
    numbers = [written[i % 3](p) for i, p in enumerate(people)]
    prefixes = sorted({n.strip()[:3] for n in names if len(n.strip()) >= 3})
    return numbers, prefixes


def _reminder_history(engine) -> None:
    """The reminders a running system has recorded: the daily deadline check of each of
    the last REMINDER_DAYS days (once per database; the check is idempotent), so that the
    worklist marks what it would mark in real use."""
    from datetime import timedelta
    from etablera.models.timestamps import utcnow
    from etablera.reminders.deadlines import record_due
    with engine.connect() as conn:
        if conn.execute(text("SELECT count(*) FROM reminders")).scalar_one():
            return
    started, now = time.perf_counter(), utcnow()
    recorded = sum(record_due(engine, now - timedelta(days=back)).total for back in range(REMINDER_DAYS, -1, -1))
    print(f"# bench_web: {recorded:,} reminders from {REMINDER_DAYS + 1} daily checks in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)


# ----------------------------------------------------------------------------- the load

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "ETABLERA_DATABASE_URL": url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server = subprocess.Popen([sys.executable, "-m", "etablera.interfaces.cli.main", "web", "--port", str(port),
                               "--workers", str(WORKERS)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    # gunicorn's master listens before its workers have started: wait until each has
    # answered a request, so that none is still starting when the load begins.
    deadline, seen = time.monotonic() + 120, set()
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"etablera web exited: {server.stderr.read().decode()[-500:]}")
        workers = set(_workers(server.pid))
        if len(workers) == WORKERS and workers <= seen:
            return server, f"http://127.0.0.1:{port}"
        try:
            seen.add(_served_by(port))
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"etablera web's {WORKERS} workers did not all answer within 120 s")


def _served_by(port: int) -> int:
    """One request on a new connection: the pid of the worker that answered it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(b"GET /login HTTP/1.1\r\nHost: bench\r\n\r\n")
        if not conn.recv(16).startswith(b"HTTP/1.1 200"):
            raise ConnectionError("no answer")
        mine = f"127.0.0.1:{conn.getsockname()[1]}"
        listing = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                                 capture_output=True, text=True).stdout
    line = next(l for l in listing.splitlines() if mine in l.split())
    return int(re.search(r"pid=(\d+)", line).group(1))


def _login(base: str) -> tuple[str, str, dict[str, int]]:
    """The session cookie, from the real login form; the session's CSRF token and the
    queue counts, from the start page it leads to."""
    import httpx
    from etablera.cases.list_query import QUEUES
    with httpx.Client(base_url=base, follow_redirects=True) as client:
        form = client.get("/login")
        token = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
        done = client.post("/login", data={"user": OFFICER[0], "password": PASSWORD, "login_csrf": token,
                                           "next": "/worklist"})
        if done.status_code != 200 or 'data-case="' not in done.text:
            raise RuntimeError(f"login or worklist failed: {done.status_code}")
        counts = {m.group(1): int(m.group(2)) for m in re.finditer(
            r'data-queue="([a-z_]+)">[^<]*<span class="count">(\d+)</span>', done.text)}
        if set(counts) != set(QUEUES):
            raise RuntimeError(f"the start page shows the counts of {sorted(counts)}, not of {sorted(QUEUES)}")
        csrf = re.search(r'name="csrf" value="([^"]+)"', done.text).group(1)
        return f"etablera_session={client.cookies['etablera_session']}", csrf, counts


def _search_bodies(base: str, cookie: str, csrf: str, queries: list[str]) -> list[str]:
    """The search form's bodies; the first query of the list is tried once first, so that
    a refused form or a search that finds nothing stops the benchmark before the load."""
    import httpx
    from urllib.parse import urlencode
    bodies = [urlencode({"csrf": csrf, "query": q}) for q in queries]
    answer = httpx.post(base + "/search", content=bodies[0], timeout=30,
                        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    if answer.status_code != 200 or 'data-case="' not in answer.text:
        raise RuntimeError(f"the search form found nothing or was refused: {answer.status_code}")
    return bodies


def _by_pid(pids) -> dict[int, float]:
    """User + system CPU seconds of each of the processes so far, by pid (one that has
    ended is left out)."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def _used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings of `_by_pid`: what each process of the second
    used since the first (all of it, if it started since). A process that ended meanwhile
    counts nothing (subtracting its first reading would take off what it had used before),
    so the figure is at most what the processes used."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def _workers(master: int) -> list[int]:
    """The child processes of `master`: gunicorn's web workers here, each level of the stack
    launcher's tree in bench_stack."""
    children = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == master:
                children.append(int(proc.name))
        except OSError:
            continue
    return sorted(children)


def _postgres_processes() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir()
            if p.name.isdigit() and (p / "comm").exists() and _comm(p) == "postgres"]


def _comm(proc: Path) -> str:
    try:
        return (proc / "comm").read_text().strip()
    except OSError:
        return ""


def _connections(port: int, workers: list[int]) -> str:
    """How the load tool's connections fell on the workers, e.g. "11/9"."""
    listing = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                             capture_output=True, text=True).stdout
    return "/".join(str(listing.count(f"pid={pid},")) for pid in workers)


def _wrk(base: str, cookie: str, paths: list[str], server: subprocess.Popen, bodies: list[str] = ()) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(LUA % {"paths": ", ".join(json.dumps(p) for p in paths), "cookie": cookie,
                        "bodies": ", ".join(json.dumps(b) for b in bodies)})
    port = int(base.rsplit(":", 1)[1])
    workers = _workers(server.pid)
    before = _by_pid(workers), _by_pid(_postgres_processes())
    try:
        load = subprocess.Popen(["wrk", "-t2", f"-c{CLIENTS}", f"-d{SECONDS}s", "--timeout", "10s", "-s", fh.name,
                                 base + paths[0]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(min(5, SECONDS / 2))
        split = _connections(port, workers)
        out, _ = load.communicate(timeout=SECONDS + 60)
    finally:
        os.unlink(fh.name)
    after = _by_pid(workers), _by_pid(_postgres_processes())
    figures = json.loads(next(l for l in reversed(out.splitlines()) if l.startswith("{")))
    n = max(figures["requests"], 1)
    return {**figures, "split": split, "app_ms": _used(before[0], after[0]) / n * 1000,
            "db_ms": _used(before[1], after[1]) / n * 1000}


def _measure(name: str, url: str, cases: int) -> list[Result]:
    ids = _officer_and_cases(url)
    numbers, prefixes = _search_queries(url)
    server, base = _serve(url)
    try:
        cookie, csrf, counts = _login(base)
        searches = {"search by identity number": _search_bodies(base, cookie, csrf, numbers),
                    "search by name prefix": _search_bodies(base, cookie, csrf, prefixes)}
        runs = {"static file": (["/static/app.css"], []), "start page (worklist, queue counts)": (["/worklist"], []),
                "case page": ([f"/cases/{i}" for i in ids], []),
                **{name: (["/search"], bodies) for name, bodies in searches.items()}}
        figures = {page: _wrk(base, cookie, paths, server, bodies) for page, (paths, bodies) in runs.items()}
    finally:
        server.terminate()
        server.wait(timeout=30)
    floor = figures.pop("static file")
    asked = {"start page (worklist, queue counts)": "queues " + " ".join(f"{k} {v:,}" for k, v in counts.items()),
             "search by identity number": f"{len(numbers)} numbers",
             "search by name prefix": f"{len(prefixes)} prefixes ({', '.join(prefixes[:4])}, ...)"}
    results = []
    for page, f in figures.items():
        errors = f["errors"] + f["non2xx"]
        results.append(Result(
            f"web {page} p95, {name}", f["p95"], "ms", floor=floor["p95"], goal=f"≤ {GOAL_MS:.0f} ms, 0 errors",
            met=f["p95"] <= GOAL_MS and errors == 0,
            note=f"{f['requests'] / f['seconds']:,.0f} req/s, p50 {f['p50']:.1f} ms, p99 {f['p99']:.1f} ms, "
                 f"{errors} errors; CPU per request: web {f['app_ms']:.2f} ms"
                 + (f", PostgreSQL {f['db_ms']:.2f} ms" if name == "PostgreSQL" else "")
                 + (f"; {asked[page]}" if page in asked else "")
                 + f"; connections per worker {f['split']}; static floor "
                   f"{floor['requests'] / floor['seconds']:,.0f} req/s, p50 {floor['p50']:.1f} ms, web CPU "
                   f"{floor['app_ms']:.2f} ms; {cases:,} cases, {CLIENTS} clients, {SECONDS} s"))
    return results
