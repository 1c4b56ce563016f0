"""`etablera stack up`: the production topology of compose.yaml as processes on loopback.

In order: the two databases on the PostgreSQL server (created if missing), the one-shot
`etablera migrate`, the Prefect server on its database, two `etablera web` replicas
(ETABLERA_ENV=production) each waited for until its /readyz answers 200, HAProxy in front
of them (stack/haproxy.cfg), the deployments registered to the work pool, and the
workers. Then it watches: a process that dies is started again (compose's `restart:
unless-stopped`) and the restart is printed. SIGINT (Ctrl-C) or SIGTERM stops every
process group, the last started first: SIGTERM, then SIGKILL after STOP_GRACE.

Each process runs in a session (and so a process group) of its own, so that a signal to
it reaches whatever it started (a worker's flow runs, HAProxy's, Prefect's server), and
asks the kernel for SIGTERM should the launcher itself die (setpriv --pdeathsig), so
that even a SIGKILLed launcher leaves no server behind.

Why not honcho and a Procfile: honcho starts every line at once and stops them all when
one exits. Here the migration must finish before the replicas start, the replicas must
be ready before HAProxy takes traffic and the server before the workers, and a replica
that dies must be started again while the rest go on serving; that is this module.

The output is each process's lines prefixed by its name (`web1 | ...`); the launcher's
own lines are prefixed `stack |`. The standard output of the replicas and of HAProxy is
the exception: their JSON lines, one per request each (interfaces/http/request_log.py,
stack/haproxy.cfg), are written straight to the launcher's output, each saying whose it
is (a replica's `"service": "web1"`, from ETABLERA_SERVICE; HAProxy's `"proxy"`); their
standard error is prefixed as the rest. Copying every request's two lines through the
launcher cost it 0.05 ms of CPU per case page, on the cores the replicas serve on.

`status.json` in the run folder names each process's pid (what a test or an operator
kills or inspects) and whether the stack is ready. The processes run in the launcher's
working folder, so that a relative path (./var/audit.key, ./config, the report folder)
means what it means to the operator's own commands there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from etablera.models.environment import SERVICE_VARIABLE
from etablera.stack.settings import HAPROXY_CONFIG, StackSettings

STOP_GRACE = 15             # seconds each process has to stop after SIGTERM
READY_WAIT = 120            # seconds a process has to become ready at start
RESTART_BACKOFF = (0, 1, 2, 5, 10)  # seconds before a restart, by how often it died within a minute


class StackFailed(RuntimeError):
    """A step of the start failed: the message says which and why."""


class Stopping(Exception):
    """SIGINT or SIGTERM arrived."""


@dataclass
class Service:
    name: str
    argv: list[str]
    env: dict
    ready: Callable[[], bool] | None = None     # polled after a start until True
    url: str = ""
    process: subprocess.Popen | None = None
    deaths: list[float] = field(default_factory=list)
    restart_at: float | None = None
    pgids: set[int] = field(default_factory=set)
    direct: bool = False        # standard output straight to the launcher's (JSON lines, a request's each)


class Launcher:
    def __init__(self, settings: StackSettings, run_dir: Path, *, prefect: bool = True,
                 say: Callable[..., str], lang: str = "sv", out=None):
        self.settings = settings
        self.run_dir = run_dir
        self.prefect = prefect
        self.say = say                      # say(key, **values): the launcher's words in the chosen language
        self.out = out or sys.stdout
        self.services: list[Service] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ready = False
        self.base_env = {**os.environ, **settings.environment(), "PYTHONUNBUFFERED": "1",
                         "ETABLERA_LANG": lang}
        self.pdeathsig = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []

    # --- output --------------------------------------------------------------------------------
    def line(self, who: str, text: str) -> None:
        with self.lock:
            self.out.write(f"{who:<8}| {text}\n")
            self.out.flush()

    def note(self, key: str, **values) -> None:
        self.line("stack", self.say(key, **values))

    def _output_fd(self) -> int | None:
        """The file descriptor of the launcher's output, where it has one (not a StringIO)."""
        try:
            return self.out.fileno()
        except (AttributeError, OSError, ValueError):
            return None

    def _pump(self, name: str, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.line(name, raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    def write_status(self) -> None:
        doc = {"launcher": os.getpid(), "ready": self.ready, "url": self.settings.url,
               "prefect_api": self.settings.api_url if self.prefect else None,
               "haproxy_stats": str(self.stats_socket),
               "services": {s.name: {"pid": s.process.pid if s.process else None, "url": s.url,
                                     "running": bool(s.process and s.process.poll() is None),
                                     "restarts": len(s.deaths)} for s in self.services}}
        tmp = self.run_dir / "status.json.tmp"
        tmp.write_text(json.dumps(doc, indent=2))
        tmp.replace(self.run_dir / "status.json")

    @property
    def stats_socket(self) -> Path:
        return self.run_dir / "haproxy.sock"

    # --- processes -----------------------------------------------------------------------------
    def _etablera(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "etablera.interfaces.cli.main", *args]

    def spawn(self, service: Service) -> None:
        out = self._output_fd() if service.direct else None
        if out is not None:
            with self.lock:
                self.out.flush()           # what the launcher wrote comes first
        service.process = subprocess.Popen([*self.pdeathsig, *service.argv], env=service.env,
                                           stdin=subprocess.DEVNULL,
                                           stdout=subprocess.PIPE if out is None else out,
                                           stderr=subprocess.STDOUT if out is None else subprocess.PIPE,
                                           start_new_session=True)
        service.pgids.add(service.process.pid)
        copied = service.process.stdout if out is None else service.process.stderr
        threading.Thread(target=self._pump, args=(service.name, copied), daemon=True).start()
        self.note("started", name=service.name, pid=service.process.pid, url=service.url)
        self.write_status()

    def start(self, service: Service, wait: bool = True) -> Service:
        self.services.append(service)
        self.spawn(service)
        if wait:
            self.wait_ready(service)
        return service

    def wait_ready(self, service: Service) -> None:
        deadline = time.monotonic() + READY_WAIT
        while service.ready is not None and not service.ready():
            self.check_stop()
            if service.process.poll() is not None:
                raise StackFailed(self.say("exited_at_start", name=service.name, code=service.process.returncode))
            if time.monotonic() > deadline:
                raise StackFailed(self.say("not_ready", name=service.name, seconds=READY_WAIT))
            self.stop.wait(0.2)

    def one_shot(self, name: str, argv: list[str]) -> None:
        service = Service(name, argv, self.base_env)
        self.start(service, wait=False)
        while service.process.poll() is None:
            self.check_stop()
            self.stop.wait(0.2)
        if service.process.returncode != 0:
            raise StackFailed(self.say("step_failed", name=name, code=service.process.returncode))
        self.services.remove(service)

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopping

    # --- the topology --------------------------------------------------------------------------
    def up(self) -> int:
        """Start everything, watch until told to stop, stop everything. The exit code."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())
        code = 0
        try:
            self.launch()
            self.ready = True
            self.write_status()
            self.note("ready", url=self.settings.url,
                      prefect=self.settings.api_url.removesuffix("/api") if self.prefect else "-")
            self.watch()
        except Stopping:
            pass
        except StackFailed as exc:
            self.line("stack", str(exc))
            code = 1
        finally:
            self.note("stopping")
            self.shutdown()
            self.ready = False
            self.write_status()
            self.note("stopped")
        return code

    def launch(self) -> None:
        s = self.settings
        if not shutil.which("haproxy"):
            raise StackFailed(self.say("no_haproxy"))
        from etablera.stack.databases import ensure_databases
        created = ensure_databases(s.server, [s.database, *([s.prefect_database] if self.prefect else [])])
        for name in created:
            self.note("database_created", name=name)
        self.one_shot("migrate", self._etablera("migrate"))
        server = None
        if self.prefect:
            env = {**self.base_env, "PREFECT_API_DATABASE_CONNECTION_URL": s.prefect_database_url}
            env.pop("PREFECT_API_URL")
            server = self.start(Service("prefect", [sys.executable, "-m", "prefect", "server", "start", "--host",
                                                    s.host, "--port", str(s.prefect_port)], env,
                                        ready=lambda: _answers(f"{s.api_url}/health"),
                                        url=s.api_url.removesuffix("/api")), wait=False)
        for number, port in enumerate(s.web_ports, 1):
            url = f"http://{s.host}:{port}"
            name = f"web{number}"
            self.start(Service(name, self._etablera("web", "--host", s.host, "--port", str(port),
                                                    "--threads", str(s.threads)),
                               {**self.base_env, SERVICE_VARIABLE: name},
                               ready=lambda u=url: _answers(f"{u}/readyz"), url=url + "/", direct=True))
        self.start(Service("haproxy", ["haproxy", "-db", "-f", str(HAPROXY_CONFIG)], {
            **self.base_env, "ETABLERA_HAPROXY_BIND": f"{s.host}:{s.port}",
            "ETABLERA_HAPROXY_STATS": str(self.stats_socket), "ETABLERA_WEB_THREADS": str(s.threads),
            **{f"ETABLERA_WEB{n}": f"{s.host}:{p}" for n, p in enumerate(s.web_ports, 1)}},
            ready=lambda: _answers(f"{s.url}readyz"), url=s.url, direct=True))
        if server is not None:
            from etablera.flows.deploy import worker_command
            self.wait_ready(server)
            self.one_shot("deploy", [sys.executable, "-m", "etablera.stack.deployments", s.work_pool])
            for number in range(1, s.workers + 1):
                self.start(Service(f"worker{number}", worker_command(s.work_pool, f"etablera-worker-{number}"),
                                   self.base_env), wait=False)

    def watch(self) -> None:
        """Start again what dies, until told to stop."""
        while not self.stop.is_set():
            now = time.monotonic()
            for service in self.services:
                if service.restart_at is not None:
                    if now >= service.restart_at:
                        service.restart_at = None
                        self.spawn(service)
                elif service.process.poll() is not None:
                    service.deaths = [t for t in service.deaths if now - t < 60] + [now]
                    delay = RESTART_BACKOFF[min(len(service.deaths), len(RESTART_BACKOFF)) - 1]
                    self.note("restarting", name=service.name, how=_how(service.process.returncode), seconds=delay)
                    service.restart_at = now + delay
                    self.write_status()
            self.stop.wait(0.1)

    def shutdown(self) -> None:
        """SIGTERM to every process group, the last started first; what is left after
        STOP_GRACE gets SIGKILL, and so does anything left in a group whose leader ended."""
        for service in reversed(self.services):
            if service.process is not None and service.process.poll() is None:
                _signal_group(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for service in reversed(self.services):
            if service.process is None:
                continue
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.note("killing", name=service.name)
                _signal_group(service.process.pid, signal.SIGKILL)
                service.process.wait()
        for service in self.services:
            for pgid in service.pgids:
                _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def _how(returncode: int) -> str:
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit {returncode}"
