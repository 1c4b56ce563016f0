"""`etablera web --workers 2` (gunicorn with uvicorn workers, interfaces/http/server.py):
requests are served by both workers; a worker that dies is replaced while the other goes
on serving; SIGTERM stops everything; and when the master is killed with SIGKILL, which
it cannot pass on, no worker outlives it by more than 5 s."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import start_web

pytestmark = pytest.mark.slow


def _get(conn: socket.socket, path: str = "/login") -> int:
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(65536)
        assert chunk, "the server closed the connection"
        head += chunk
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))
    body = head.split(b"\r\n\r\n", 1)[1]
    while len(body) < length:
        body += conn.recv(65536)
    return int(head.split()[1])


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command's name (state first), None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(parent: int) -> dict[int, str]:
    """The live child processes of `parent`, each with its start time (so that a pid used
    again by another process later is not taken for it)."""
    found = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields and int(fields[1]) == parent and fields[0] not in "ZX":
            found[int(entry.name)] = fields[19]
    return found


def _alive(pid: int, started: str) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in "ZX" and fields[19] == started


def _workers(process: subprocess.Popen, n: int = 2, wait: float = 60) -> dict[int, str]:
    deadline = time.monotonic() + wait
    while len(workers := _children(process.pid)) != n:
        assert process.poll() is None, "etablera web exited"
        assert time.monotonic() < deadline, f"not {n} workers: {workers}"
        time.sleep(0.1)
    return workers


def _served_by(port: int) -> int:
    """One request on a new connection: the pid of the worker that served it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        assert _get(conn) == 200
        mine = f"127.0.0.1:{conn.getsockname()[1]}"
        listing = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                                 capture_output=True, text=True).stdout
    line = next(l for l in listing.splitlines() if mine in l.split())
    return int(re.search(r"pid=(\d+)", line).group(1))


def _until_both_serve(process: subprocess.Popen, port: int, wait: float = 60) -> dict[int, str]:
    """Requests, one connection each, until each of the two workers has served one."""
    workers, seen = _workers(process), set()
    deadline = time.monotonic() + wait
    while seen != set(workers):
        assert time.monotonic() < deadline, f"served by {seen} only, workers {sorted(workers)}"
        seen.add(_served_by(port))
    return workers


@pytest.fixture
def server(sqlite_url):
    if not shutil.which("ss"):
        pytest.skip("needs ss (iproute2) to see which worker holds which connection")
    process, port = start_web(sqlite_url, "--workers", "2", wait=60)
    seen: dict[int, str] = {}
    try:
        yield process, port, seen
    finally:
        seen.update(_children(process.pid))
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid, started in seen.items():       # whatever a failed test left behind
            if _alive(pid, started):
                os.kill(pid, signal.SIGKILL)


def test_requests_are_served_by_both_workers(server):
    process, port, _ = server
    assert len(_until_both_serve(process, port)) == 2


def test_a_dead_worker_is_replaced_the_other_serves_meanwhile_and_sigterm_stops_everything(server):
    process, port, seen = server
    workers = _until_both_serve(process, port)
    seen.update(workers)
    dead, other = sorted(workers)
    os.kill(dead, signal.SIGKILL)
    for _ in range(10):                         # at once: the other worker serves
        assert _served_by(port) == other
    deadline = time.monotonic() + 60
    while True:
        now = _children(process.pid)
        seen.update(now)
        if len(now) == 2 and dead not in now:
            break
        assert time.monotonic() < deadline, f"no new worker: {now}"
        time.sleep(0.2)
    for _ in range(10):                         # and so do both once the new one is up
        with socket.create_connection(("127.0.0.1", port)) as conn:
            assert _get(conn) == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not [pid for pid, started in seen.items() if _alive(pid, started)]


def test_no_worker_outlives_a_master_killed_with_sigkill_by_more_than_5_s(server):
    process, port, seen = server
    workers = _until_both_serve(process, port)
    seen.update(workers)
    with socket.create_connection(("127.0.0.1", port)) as idle:    # a client that keeps its connection
        assert _get(idle) == 200
        process.kill()
        process.wait()
        deadline = time.monotonic() + 5
        while left := [pid for pid, started in workers.items() if _alive(pid, started)]:
            assert time.monotonic() < deadline, f"workers {left} still alive 5 s after the master was killed"
            time.sleep(0.05)
