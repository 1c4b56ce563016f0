"""`etablera web --workers 2` (interfaces/http/serving.py): twenty clients connecting at
once are spread evenly over the workers, also when one worker is slow to start; a worker
that dies is replaced and the others go on serving, and SIGTERM stops everything."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

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


def _workers(port: int, parent: int) -> list[int]:
    """The processes that listen on the port, but for the supervisor (it holds the socket too)."""
    out = subprocess.run(["ss", "-tlnpH", f"( sport = :{port} )"], capture_output=True, text=True).stdout
    return sorted({int(p) for p in re.findall(r"pid=(\d+)", out)} - {parent})


# `etablera web` with its second worker starting LATE seconds after the first; the spawned
# workers run this file's top level too (as __mp_main__), so the delay reaches them.
LATE = 1.5
LATE_WORKER = f"""
import asyncio
from etablera.interfaces.http import serving

startup = serving.TurnTakingServer.startup

async def late_startup(self, sockets=None):
    if self.me == 1:
        await asyncio.sleep({LATE})
    await startup(self, sockets)

serving.TurnTakingServer.startup = late_startup

if __name__ == "__main__":
    from etablera.interfaces.cli.main import main
    main()
"""


def _start(sqlite_url, program=("-m", "etablera.interfaces.cli.main")):
    if not shutil.which("ss"):
        pytest.skip("needs ss (iproute2) to see which worker holds which connection")
    # The port opens once every worker is ready, so start_web returning means both serve.
    process, port = start_web(sqlite_url, "--workers", "2", wait=60, program=program)
    assert len(_workers(port, process.pid)) == 2
    return process, port


@pytest.fixture
def server(sqlite_url):
    process, port = _start(sqlite_url)
    yield process, port
    _stop(process)


@pytest.fixture
def late_server(sqlite_url, tmp_path):
    launcher = tmp_path / "late_worker.py"
    launcher.write_text(LATE_WORKER)
    process, port = _start(sqlite_url, program=(str(launcher),))
    yield process, port
    _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def _spread(process: subprocess.Popen, port: int) -> list[int]:
    """Twenty clients connect at once and are each served once: how many each worker holds."""
    connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
    try:
        with ThreadPoolExecutor(20) as pool:
            assert set(pool.map(_get, connections)) == {200}
        listing = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                                 capture_output=True, text=True).stdout
        return [listing.count(f"pid={pid},") for pid in _workers(port, process.pid)]
    finally:
        for conn in connections:
            conn.close()


def test_twenty_clients_at_once_are_spread_over_the_workers(server):
    held = _spread(*server)
    assert sum(held) == 20 and max(held) - min(held) <= 2, held


def test_the_port_opens_once_every_worker_is_ready_so_a_late_one_gets_its_share(late_server):
    # Before, the port listened from the start and the first worker to be ready took
    # every connection that came before the other was: 20/0 here, 13/7 in a CI run.
    held = _spread(*late_server)
    assert sum(held) == 20 and max(held) - min(held) <= 2, held


def test_a_dead_worker_is_replaced_and_sigterm_stops_everything(server):
    process, port = server
    first, second = _workers(port, process.pid)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        workers = _workers(port, process.pid)
        if len(workers) == 2 and first not in workers:
            break
        assert time.monotonic() < deadline, f"no new worker: {workers}"
        time.sleep(0.2)
    for _ in range(10):                         # new connections are served (by either worker)
        with socket.create_connection(("127.0.0.1", port)) as conn:
            assert _get(conn) == 200
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not _workers(port, process.pid)
