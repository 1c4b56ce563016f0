"""Serving the application with several worker processes, each on a listening socket of
its own (SO_REUSEPORT), so that the kernel spreads the connections over the workers.

uvicorn's `--workers` share one socket, and the worker whose event loop wakes first
accepts every connection waiting: 20 clients connecting at once went 18 to one worker
and 2 to the other (measured with `ss` under `python -m benchmarks web`), and that one
worker then did nine tenths of the work on one core while the other core idled. With a
socket per worker the kernel hashes each new connection to one of them, so the split is
even on average and never all-to-one.

The parent process only supervises: it binds nothing (a socket in the group that nobody
accepts on would still get its share of the connections), starts one process per
worker, starts a worker again if one dies, and stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import time

import uvicorn

RESTART_PAUSE = 1.0             # seconds before a dead worker is started again
STOP_GRACE = 20.0               # seconds a worker has to finish its requests when stopped


def listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port that other processes of this user may share."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(app: str, host: str, port: int, options: dict) -> None:
    sock = listener(host, port)
    uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])


def serve(app: str, *, host: str, port: int, workers: int, **options) -> None:
    """Serve `app` (an import string) on host:port with `workers` processes."""
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(app, host=host, port=port, workers=workers, **options)
        return
    listener(host, port).close()            # the port is free (or this fails here, with the OS's message)
    spawn = multiprocessing.get_context("spawn")
    stopping = False

    def start():
        process = spawn.Process(target=_worker, args=(app, host, port, options), daemon=False)
        process.start()
        return process

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(workers)]
    try:
        while not stopping:
            time.sleep(0.2)
            for i, process in enumerate(processes):
                if not process.is_alive() and not stopping:
                    print(f"etablera web: worker {process.pid} ended (exit code {process.exitcode}); "
                          "starting another", file=sys.stderr)
                    time.sleep(RESTART_PAUSE)
                    processes[i] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
