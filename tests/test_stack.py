"""`etablera stack up` (etablera/stack/launcher.py): the production topology on loopback,
started once for this file as a subprocess on free ports, with a database of its own on
the test PostgreSQL server: the migration, two replicas behind HAProxy, the Prefect server
on PostgreSQL, the deployments and two workers.

- /readyz is 503 while the schema is behind, HAProxy takes both replicas out within
  seconds and sends them nothing, and puts them back once the schema is at head again;
- 20 logged-in clients through HAProxy for 60 s while one replica is SIGKILLed: the
  launcher starts it again, HAProxy sends it traffic again, and no request fails except
  those in flight on the killed replica (counted and printed); `audit verify` is clean;
- SIGTERM to the launcher leaves no process of the stack behind (every session it made).
The launcher's output is kept in the test's folder (stack.log) and must carry no identity
number or name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, text

import leaks
from conftest import ROOT, free_port, run_cli
from web_kit import PASSWORD, build_world
from etablera.stack.settings import ENV_FILE, HAPROXY_CONFIG, load, read_env_file
from etablera.statemachine.errors import BadInput

SLOW_PG = [pytest.mark.slow, pytest.mark.postgres]

START_WAIT = 240        # seconds for the whole stack to be ready (the Prefect server is the slowest)
CLIENTS = 20
LOAD_SECONDS = 60
KILL_AFTER = 15         # seconds into the load


# --- one configuration for both topologies -------------------------------------------------------

@pytest.fixture(scope="session")
def haproxy() -> str:
    found = shutil.which("haproxy")
    if not found:
        message = "Debian's haproxy is not installed (apt-get install -y haproxy)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " — CI requires the stack tests", pytrace=False)
        pytest.skip(message)
    return found


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_the_haproxy_configuration_is_valid_as_both_topologies_set_it(haproxy, tmp_path):
    compose = _compose()["services"]["haproxy"]
    assert "./stack/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in compose["volumes"]
    file = read_env_file(ENV_FILE)
    loopback = {"ETABLERA_HAPROXY_BIND": "127.0.0.1:8080", "ETABLERA_WEB1": "127.0.0.1:8001",
                "ETABLERA_WEB2": "127.0.0.1:8002", "ETABLERA_HAPROXY_STATS": str(tmp_path / "haproxy.sock"),
                "ETABLERA_WEB_THREADS": str(load(environ={}).threads)}
    # compose.yaml's values as compose gives them to the container (`--env-file stack/stack.env`)
    contained = {k: re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: file.get(m[1], m[2]), str(v))
                 for k, v in compose["environment"].items()}
    for variables in (loopback, contained):
        checked = subprocess.run([haproxy, "-c", "-f", str(HAPROXY_CONFIG)], capture_output=True, text=True,
                                 env={**os.environ, **variables})
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "Configuration file is valid" in checked.stdout


def test_compose_and_the_launcher_read_the_same_settings():
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "web1", "web2", "haproxy", "prefect-server", "deployments",
                             "worker"}
    settings = load(environ={})
    file = read_env_file(ENV_FILE)
    assert file["ETABLERA_ENV"] == "production"
    for name, service in services.items():
        if name not in ("postgres", "haproxy"):
            assert service["env_file"] == ["stack/stack.env"], name
            assert service["image"] == "etablera:latest", name
    # compose.yaml's own uses of the settings default to the file's values
    for variable, default in re.findall(r"\$\{(\w+):-([^}]*)\}", (ROOT / "compose.yaml").read_text()):
        assert file[variable] == default, variable
    assert services["worker"]["deploy"]["replicas"] == settings.workers == 2
    assert len(settings.web_ports) == 2          # web1, web2 in both
    assert services["migrate"]["command"][-1] == "etablera stack databases && etablera migrate"
    assert services["web1"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}


def test_settings_the_environment_overrides_the_file_and_bad_values_are_refused():
    settings = load(environ={"ETABLERA_STACK_PORT": "9090", "ETABLERA_STACK_SERVER": "postgresql+psycopg://x@h:1"})
    assert (settings.port, settings.database_url) == (9090, "postgresql+psycopg://x@h:1/etablera_stack")
    assert settings.prefect_database_url == "postgresql+asyncpg://x@h:1/etablera_stack_prefect"
    assert load(environ={}, port=7000).port == 7000
    for environ, field in (({"ETABLERA_STACK_PORT": "http"}, "ETABLERA_STACK_PORT"),
                           ({"ETABLERA_STACK_WEB_PORTS": "8001"}, "web-ports"),
                           ({"ETABLERA_STACK_WEB_PORTS": "8080,8002"}, "port"),
                           ({"ETABLERA_STACK_DATABASE": "x; drop"}, "ETABLERA_STACK_DATABASE")):
        with pytest.raises(BadInput) as refused:
            load(environ=environ)
        assert refused.value.field == field


def test_stack_up_refuses_bad_ports_in_one_line_naming_the_option():
    refused = run_cli("stack", "up", "--web-ports", "8001,x", "--lang", "en")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()]
    assert "web-ports" in refused.stderr


# --- the stack as a subprocess ---------------------------------------------------------------

class Stack:
    def __init__(self, server: str, tmp: Path):
        self.server = server
        self.tmp = tmp
        self.run_dir = tmp / "run"
        self.log = tmp / "stack.log"
        self.database = f"etablera_stack_t{uuid.uuid4().hex[:8]}"
        self.prefect_database = self.database + "_prefect"
        self.port = free_port()
        self.web_ports = (free_port(), free_port())
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "ETABLERA_STACK_SERVER": server, "ETABLERA_STACK_DATABASE": self.database,
                    "ETABLERA_STACK_PREFECT_DATABASE": self.prefect_database,
                    "ETABLERA_AUDIT_KEY_FILE": str(tmp / "audit.key"), "PREFECT_HOME": str(tmp / "prefect"),
                    "ETABLERA_WORK_POOL": f"stack-{uuid.uuid4().hex[:6]}"}
        self.env.pop("PREFECT_API_URL", None)
        self.database_url = f"{server}/{self.database}"
        self.process: subprocess.Popen | None = None
        self.sessions: set[int] = set()         # every process session the launcher made

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "etablera.interfaces.cli.main", "stack", "up", "--lang", "en",
             "--port", str(self.port), "--web-ports", ",".join(map(str, self.web_ports)),
             "--prefect-port", str(free_port()), "--run-dir", str(self.run_dir)],
            cwd=ROOT, env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_WAIT
        while not (self.status() or {}).get("ready"):
            if self.process.poll() is not None:
                pytest.fail(f"etablera stack up exited ({self.process.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the stack was not ready within {START_WAIT} s:\n{self.tail()}")
            time.sleep(0.5)

    def status(self) -> dict | None:
        try:
            doc = json.loads((self.run_dir / "status.json").read_text())
        except (OSError, ValueError):
            return None
        self.sessions.update(s["pid"] for s in doc["services"].values() if s["pid"])
        return doc

    def pid(self, name: str) -> int:
        return self.status()["services"][name]["pid"]

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stats(self) -> dict[str, dict]:
        """HAProxy's `show stat` for the replicas, from its admin socket: {server: row}."""
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(self.run_dir / "haproxy.sock"))
            conn.sendall(b"show stat\n")
            data = b"".join(iter(lambda: conn.recv(65536), b""))
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        return {r["svname"]: r for r in rows if r["pxname"] == "web" and r["svname"].startswith("web")}

    def left(self) -> list[str]:
        """Processes still alive in any session the launcher made, and the launcher."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if fields[0] not in "ZX" and (int(fields[3]) in self.sessions or int(entry.name) == self.process.pid):
                found.append(f"{entry.name}: {command[:120]}")
        return found

    def kill_everything(self) -> None:
        for sid in {*self.sessions, self.process.pid}:
            try:
                os.killpg(sid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.process.poll() is None:
            self.process.wait(10)


@pytest.fixture(scope="module")
def stack(haproxy, pg_server, tmp_path_factory):
    server = pg_server.rsplit("/", 1)[0]
    tmp = tmp_path_factory.mktemp("stack")
    running = Stack(server, tmp)
    watcher_stop = threading.Event()

    def watch() -> None:                        # every pid the status file ever named
        while not watcher_stop.wait(0.2):
            running.status()

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        running.start()
        watcher.start()
        yield running
    finally:
        watcher_stop.set()
        if running.process is not None:
            running.kill_everything()
        admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in (running.database, running.prefect_database):
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
        found = leaks.personal_data_in(running.log.read_text(errors="replace")) if running.log.exists() else None
        assert found is None, f"{found} in the stack's output"


@pytest.fixture(scope="module")
def world(stack):
    """Users of every role and cases, written into the stack's database."""
    env = {"ETABLERA_AUDIT_KEY_FILE": stack.env["ETABLERA_AUDIT_KEY_FILE"]}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        built = build_world(stack.database_url)
    finally:
        for key, value in old.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    yield built
    built.engine.dispose()


def _wait(condition, seconds: float, what: str) -> float:
    """Poll until condition() holds; the seconds it took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"not within {seconds} s: {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def _status_code(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return None


def _login(client: httpx.Client, user: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"user": user, "password": PASSWORD, "login_csrf": token,
                                           "next": "/worklist"})
    assert response.status_code == 303, response.text[:300]


# --- Prefect ----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.postgres
def test_the_deployments_are_registered_to_the_pool_and_both_workers_poll_it(stack):
    api, pool = stack.status()["prefect_api"], stack.env["ETABLERA_WORK_POOL"]
    deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    assert {d["name"] for d in deployments if d["work_pool_name"] == pool} >= {"daily", "monthly"}

    def online() -> set[str]:
        workers = httpx.post(f"{api}/work_pools/{pool}/workers/filter", json={}, timeout=10).json()
        return {w["name"] for w in workers if w["status"] == "ONLINE"}
    _wait(lambda: online() == {"etablera-worker-1", "etablera-worker-2"}, 60, "both workers ONLINE")
    server = create_engine(f"{stack.server}/{stack.prefect_database}")     # the server's own tables
    with server.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deployment")).scalar() >= 2
    server.dispose()


# --- readiness -------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.postgres
def test_a_replica_behind_the_schema_is_not_ready_and_haproxy_sends_it_nothing(stack):
    from etablera.models.schema_version import _script, head_revision
    head = head_revision()
    previous = _script().get_revision(head).down_revision
    engine = create_engine(stack.database_url)
    replicas = [f"http://127.0.0.1:{p}" for p in stack.web_ports]
    assert {s["status"] for s in stack.stats().values()} == {"UP"}
    try:
        with engine.begin() as conn:            # as if this version's last migration had not run
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
        behind_at = time.monotonic()
        for replica in replicas:
            _wait(lambda: _status_code(f"{replica}/readyz") == 503, 10, f"{replica}/readyz 503")
            body = httpx.get(f"{replica}/readyz").json()
            assert body["checks"]["migrations"] == "behind", body
            assert _status_code(f"{replica}/healthz") == 200        # alive, only not ready
        _wait(lambda: {s["status"] for s in stack.stats().values()} == {"DOWN"}, 10, "both DOWN")
        print(f"\nschema behind: /readyz 503 on both replicas and both DOWN in HAProxy "
              f"{time.monotonic() - behind_at:.2f} s after the schema was set back")
        served = {name: int(row["stot"]) for name, row in stack.stats().items()}
        answers = [_status_code(f"{stack.url}/login") for _ in range(20)]
        assert set(answers) == {503}, answers           # HAProxy's own answer: no replica is ready
        assert {name: int(row["stot"]) for name, row in stack.stats().items()} == served
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
        engine.dispose()
    took = _wait(lambda: {s["status"] for s in stack.stats().values()} == {"UP"}, 15, "both UP again")
    print(f"schema at head again: both replicas UP after {took:.2f} s")
    assert _status_code(f"{stack.url}/login") == 200


# --- a replica killed under load -------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.postgres
def test_twenty_clients_through_haproxy_while_a_replica_is_killed(stack, world):
    users = ["h0581", "samord0581", "admin", "granskare", "h0180"]
    pages = {"h0581": ["/worklist", f"/cases/{world.cases['nkpg']}", f"/cases/{world.cases['nkpg2']}"],
             "samord0581": ["/worklist", f"/cases/{world.cases['nkpg']}"],
             "admin": ["/worklist", f"/cases/{world.cases['sthlm']}", f"/cases/{world.cases['finspang']}"],
             "granskare": ["/worklist", f"/cases/{world.cases['finspang']}"],
             "h0180": ["/worklist", f"/cases/{world.cases['sthlm']}"]}
    clients = []
    for n in range(CLIENTS):
        client = httpx.Client(base_url=stack.url, timeout=30, follow_redirects=False)
        _login(client, users[n % len(users)])
        clients.append((client, pages[users[n % len(users)]]))
    stop = threading.Event()
    lock = threading.Lock()
    done: list[float] = []
    failures: list[tuple[float, str, str]] = []
    in_flight = [0]
    started = time.monotonic()

    def client_loop(client: httpx.Client, paths: list[str]) -> None:
        i = 0
        while not stop.is_set():
            path = paths[i % len(paths)]
            i += 1
            with lock:
                in_flight[0] += 1
            try:
                response = client.get(path)
                problem = None if response.status_code == 200 else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            with lock:
                in_flight[0] -= 1
                done.append(time.monotonic())
                if problem:
                    failures.append((time.monotonic() - started, path.split("/")[1], problem))

    threads = [threading.Thread(target=client_loop, args=c, daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    try:
        time.sleep(KILL_AFTER)
        victim = stack.pid("web1")
        held = stack.stats()
        before = {name: int(row["stot"]) for name, row in held.items()}
        with lock:
            flying = in_flight[0]
        on_victim = int(stack.stats()["web1"]["scur"])      # HAProxy's requests in hand on web1
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic() - started
        down = _wait(lambda: stack.stats()["web1"]["status"].startswith("DOWN"), 5, "web1 DOWN")
        back = _wait(lambda: stack.status()["services"]["web1"]["pid"] not in (victim, None)
                     and stack.stats()["web1"]["status"] == "UP", 40, "web1 started again and UP")
        restarted_at = time.monotonic() - started
        served_after = int(stack.stats()["web1"]["stot"])
        time.sleep(max(0.0, LOAD_SECONDS - (time.monotonic() - started)))
    finally:
        stop.set()
        for thread in threads:
            thread.join(35)
        for client, _ in clients:
            client.close()
    after = {name: int(row["stot"]) for name, row in stack.stats().items()}
    elapsed = time.monotonic() - started
    print(f"\n{len(done)} requests by {CLIENTS} clients in {elapsed:.0f} s ({len(done) / elapsed:.0f}/s); "
          f"web1 SIGKILLed at {killed_at:.1f} s with {flying} client requests outstanding, {on_victim} of "
          f"them on web1, "
          f"DOWN in HAProxy {down:.2f} s later, started again and UP {back:.1f} s after that "
          f"({restarted_at:.1f} s); served per replica before the kill {before}, at the end {after}")
    print(f"failed requests: {len(failures)}" + "".join(f"\n  {t:6.2f} s /{p}: {why}" for t, p, why in failures))
    assert "web1 died (SIGKILL); starting it again" in stack.log.read_text()
    # The replicas' request lines are in the launcher's output as they wrote them (JSON, no
    # prefix), each naming its replica; no request line went through the launcher's prefixing.
    logged = stack.log.read_text(errors="replace").splitlines()
    served = Counter(json.loads(line)["service"] for line in logged if line.startswith('{"event":"request"'))
    assert set(served) == {"web1", "web2"} and min(served.values()) > 100, served
    assert not [line for line in logged if '"event":"request"' in line and not line.startswith("{")]
    assert after["web1"] > served_after, "HAProxy sent the restarted replica no traffic"
    assert after["web2"] > before["web2"]
    # HAProxy sent neither replica more requests at once than it works on (`--threads`): the
    # rest waited in HAProxy's queue, so only those few were in hand on web1 when it died. (The
    # kill itself counts web1's retried requests once more: its peak is read before.)
    threads = load(environ=stack.env).threads           # what the launcher gave the replicas and HAProxy
    peaks = {name: (int(row["slim"]), int(row["smax"])) for name, row in held.items()}
    peaks["web2 at the end"] = int(stack.stats()["web2"]["smax"])
    assert peaks == {"web1": (threads, threads), "web2": (threads, threads), "web2 at the end": threads}, peaks
    assert on_victim <= threads
    assert len(failures) <= threads, "more failures than requests can have been in flight on the killed replica"
    assert all(abs(t - killed_at) < 5 for t, _, _ in failures), "a request failed away from the kill"
    verify = run_cli("audit", "verify", env={**stack.env, "ETABLERA_DATABASE_URL": stack.database_url})
    assert verify.returncode == 0, verify.stdout + verify.stderr


# --- stopping --------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.postgres
def test_sigterm_stops_every_process_of_the_stack(stack):
    stack.status()
    assert len(stack.sessions) >= 7         # prefect, web1 (twice), web2, haproxy, two workers
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(60) == 0, stack.tail()
    assert "everything stopped" in stack.tail(3)
    assert not stack.left()
