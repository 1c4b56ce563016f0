"""Serving the application: `etablera web`.

One worker (the default) is uvicorn in this process. Several are gunicorn's: its master
binds the socket, forks the workers (uvicorn's, from `uvicorn-worker`), starts a worker
again when one dies and stops them all on SIGTERM (gracefully) or SIGINT (at once). The
master takes no part in the connections: the workers accept them from the shared socket
as each wakes, so one host's processes are not evenly loaded; spreading load evenly is
the load balancer's job in front of them.

A worker ends when its master ends, even by SIGKILL (which the master cannot pass on):
uvicorn's worker never looks at its parent, so each worker asks the kernel for SIGTERM
when its parent dies (`_end_with_master`).

No access log of the server's in either case: a URL may carry a query a person could be
found by; the application's own access log (who looked at which case) is the record. The
process logs JSON lines on standard output instead (interfaces/http/request_log.py): one
per request with its id, user, route template, status and duration; uvicorn's and
gunicorn's own lines go through the same renderer.

Behind a reverse proxy: `ETABLERA_TRUSTED_PROXIES` lists the proxies' addresses (or
networks, comma-separated). From those only, X-Forwarded-Proto and X-Forwarded-For are
believed (uvicorn's proxy headers): the request's scheme (https: cookies are Secure) and
the client's address (the login throttle counts by it). Unset, no forwarded header is
believed from anyone (uvicorn alone would believe 127.0.0.1).

Limits on a request before the application sees it (interfaces/http/limits.py: the sizes
of the body and headers, the time to send them; ETABLERA_MAX_BODY_BYTES and the others):
both ways of serving select uvicorn's httptools protocol with those limits
(interfaces/http/protocol.py) by import string. They are read, and a bad value refused,
before the server starts.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

import uvicorn
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger
from uvicorn_worker import UvicornWorker

from etablera.interfaces.http.limits import limits
from etablera.interfaces.http.request_log import configure_logging

STOP_GRACE = 20             # seconds a worker has to finish its requests when stopped
KEEP_ALIVE = 5              # seconds an idle connection is kept open (uvicorn's default)
PR_SET_PDEATHSIG = 1        # linux/prctl.h
PROTOCOL = "etablera.interfaces.http.protocol:GuardedHttpToolsProtocol"


def create():
    """The ASGI application, once per worker process. ETABLERA_WEB_THREADS and
    ETABLERA_SECURE_COOKIES (set by `etablera web`) configure it, so that another server
    can run it too: `uvicorn --factory etablera.interfaces.http.server:create`."""
    from etablera.interfaces.http.app import create_app
    return create_app(secure_cookies=os.environ.get("ETABLERA_SECURE_COOKIES") == "1",
                      threads=int(os.environ.get("ETABLERA_WEB_THREADS", "0")) or None,
                      background_checkpoints=True)


def trusted_proxies() -> dict:
    """uvicorn's proxy settings from ETABLERA_TRUSTED_PROXIES (see the module's docstring)."""
    trusted = ",".join(p.strip() for p in os.environ.get("ETABLERA_TRUSTED_PROXIES", "").split(",") if p.strip())
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or ""}


def protocol() -> dict:
    """uvicorn's HTTP protocol with etablera's limits (interfaces/http/protocol.py); the
    header bound is given to h11 too, should anyone select it instead."""
    return {"http": PROTOCOL, "h11_max_incomplete_event_size": limits().header_bytes}


def serve(*, host: str, port: int, workers: int) -> None:
    """Serve `create()` on host:port with `workers` processes until stopped."""
    limits()                            # a bad ETABLERA_MAX_* or *_TIMEOUT is refused here, naming it
    configure_logging()                 # JSON lines on standard output; inherited by the workers
    if workers == 1:
        uvicorn.run(f"{__name__}:create", factory=True, host=host, port=port, access_log=False, log_config=None,
                    log_level="warning", timeout_keep_alive=KEEP_ALIVE, timeout_graceful_shutdown=STOP_GRACE,
                    **protocol(), **trusted_proxies())
        return
    _Gunicorn({
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers,
        "worker_class": Worker,
        "graceful_timeout": STOP_GRACE,
        "keepalive": KEEP_ALIVE,
        "accesslog": None,
        "logger_class": JsonLogger,
        "loglevel": "warning",
        "control_socket_disable": True,     # else every server on the host shares ~/.gunicorn/gunicorn.ctl
        "post_fork": _end_with_master,
        "post_worker_init": _unless_orphaned,
    }).run()


class Worker(UvicornWorker):
    """uvicorn under gunicorn, with etablera's settings."""
    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "access_log": False, "timeout_graceful_shutdown": STOP_GRACE}

    def __init__(self, *args, **kwargs):
        self.CONFIG_KWARGS = {**self.CONFIG_KWARGS, **protocol(), **trusted_proxies()}
        super().__init__(*args, **kwargs)

    def handle_exit(self, sig, frame) -> None:
        """SIGQUIT: gunicorn's quick stop (SIGINT or SIGQUIT to the master). uvicorn-worker
        0.4 calls this and it only sets a flag nothing reads (Kludex/uvicorn-worker#2): the
        worker served on until the master killed it STOP_GRACE later. Stop as uvicorn
        stops on Ctrl-C instead (a second one makes it quit without waiting)."""
        super().handle_exit(sig, frame)
        signal.raise_signal(signal.SIGINT)


class JsonLogger(GunicornLogger):
    """gunicorn's error log (and so uvicorn's in its workers, which take its handlers)
    through the process's JSON handler (configure_logging) instead of its own format."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        self.error_log.handlers = [configure_logging()]
        self.access_log.handlers = []


class _Gunicorn(BaseApplication):
    """gunicorn configured here rather than by its command line or a configuration file."""

    def __init__(self, settings: dict):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.settings.items():
            self.cfg.set(name, value)

    def load(self):
        return create()             # in each worker, after the fork


def _end_with_master(_arbiter, worker) -> None:
    """In a new worker: SIGTERM (a graceful stop) when the master dies. The worker is
    forked by the master's only thread, so the kernel sends it when the master ends."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
            return
    threading.Thread(target=_watch_parent, args=(worker.ppid,), name="etablera-parent", daemon=True).start()


def _watch_parent(ppid: int) -> None:
    """Where the kernel cannot be asked (not Linux): look every half second."""
    while os.getppid() == ppid:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def _unless_orphaned(worker) -> None:
    """A signal from a master that died before the worker had set its own handlers was
    taken by the master's inherited handler: check once more, before serving."""
    if os.getppid() != worker.ppid:
        sys.exit(0)
