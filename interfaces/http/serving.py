"""Serving the application with several worker processes that take the connections of
one listening socket in turns.

uvicorn's `--workers` share one socket too, but the event loop of the worker that wakes
first accepts every connection waiting: 20 clients connecting at once went 18 to one
worker and 2 to the other (measured with `ss` under `python -m benchmarks web`), and
that worker then did nine tenths of the work on one core while the other idled. A
socket per worker (SO_REUSEPORT) lets the kernel hash connections over the workers
instead, but a hash is as uneven as chance: 15/5 and 14/6 in consecutive runs, and the
loaded worker's latency then doubles.

Here a worker takes one connection at a time, and only when no other worker has fewer
open connections than it has (least connections): a thread of its own waits for its
turn, accepts one connection from the shared socket and hands it to the worker's event
loop, which serves it like any other. The workers publish their numbers of open
connections in a small array of shared memory; a worker that is starting, stopping or
dead publishes NOT_SERVING and is left out of the count. A worker that waited TURN_WAIT
for the others (one stuck) accepts anyway.

The parent process only supervises: it binds the socket, starts one process per
worker, and listens on the socket once every worker is ready to serve, so a client that
can connect is served at once and the first connections are spread like the rest
(before, a worker still starting counted as idle, and the one already serving waited
TURN_WAIT for it at each connection and then took it: 13/7 in a CI run). It starts a
worker again if one dies, and stops them all on SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import socket
import sys
import threading
import time

import uvicorn

RESTART_PAUSE = 1.0             # seconds before a dead worker is started again
TURN_WAIT = 0.05                # seconds a worker waits for a less loaded one to take the next connection
STOP_GRACE = 20.0               # seconds a worker has to finish its requests when stopped
NOT_SERVING = -1                # a worker's load while it starts, stops or is dead


def bound(host: str, port: int) -> socket.socket:
    """The TCP socket bound to host:port that the workers share, not yet listening
    (blocking: each worker's thread waits in accept())."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    return sock


class TurnTakingServer(uvicorn.Server):
    """A uvicorn server that listens on nothing itself: `accept_in_turns` feeds it the
    connections it takes from the shared socket. Everything else (the application's
    lifespan, the HTTP protocol, graceful shutdown) is uvicorn's own."""

    def __init__(self, config: uvicorn.Config, shared: socket.socket, loads, listening, me: int):
        super().__init__(config)
        self.shared, self.loads, self.me = shared, loads, me      # loads[i]: worker i's open connections
        self.listening = listening                  # set by the parent once every worker is ready
        self.stopping = threading.Event()
        self._handing_over = 0                      # accepted, not yet registered by the event loop
        self._lock = threading.Lock()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])
        if self.should_exit:
            return
        loop = asyncio.get_running_loop()
        self.loads[self.me] = 0                     # ready: the parent listens once every worker is
        threading.Thread(target=self.accept_in_turns, args=(loop,), name="etablera-accept", daemon=True).start()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        with self._lock:                            # take no more connections; the other workers will
            self.stopping.set()
            self.loads[self.me] = NOT_SERVING
        await super().shutdown(sockets=None)

    def _protocol(self, loop: asyncio.AbstractEventLoop):
        return self.config.http_protocol_class(config=self.config, server_state=self.server_state,
                                               app_state=self.lifespan.state, _loop=loop)

    def _my_turn(self) -> bool:
        """True when no serving worker has fewer open connections than this one (or after
        TURN_WAIT); False once this worker is stopping."""
        deadline = time.monotonic() + TURN_WAIT
        while True:
            with self._lock:
                if self.stopping.is_set():
                    return False
                self.loads[self.me] = mine = len(self.server_state.connections) + self._handing_over
            if mine <= min(load for load in self.loads if load != NOT_SERVING) or time.monotonic() > deadline:
                return True
            time.sleep(0.001)

    def accept_in_turns(self, loop: asyncio.AbstractEventLoop) -> None:
        self.listening.wait()
        while self._my_turn():
            try:
                connection, _ = self.shared.accept()
            except OSError as exc:                  # out of file descriptors, say: wait, then try again
                print(f"etablera web: accept failed ({exc.strerror}); trying again", file=sys.stderr)
                time.sleep(0.1)
                continue
            if self.stopping.is_set():
                # A blocked accept() cannot be called off from here, so the first connection
                # after the worker began to stop is closed unserved (the client may retry);
                # then this worker takes no more and the others take them all.
                connection.close()
                return
            with self._lock:
                self._handing_over += 1
            asyncio.run_coroutine_threadsafe(self._take(loop, connection), loop)

    async def _take(self, loop: asyncio.AbstractEventLoop, connection: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(lambda: self._protocol(loop), connection)
        finally:
            with self._lock:
                self._handing_over -= 1


def _worker(app: str, shared: socket.socket, loads, listening, me: int, options: dict) -> None:
    TurnTakingServer(uvicorn.Config(app, **options), shared, loads, listening, me).run()


def serve(app: str, *, host: str, port: int, workers: int, **options) -> None:
    """Serve `app` (an import string) on host:port with `workers` processes."""
    if workers == 1:
        uvicorn.run(app, host=host, port=port, **options)
        return
    shared = bound(host, port)
    multiprocessing.allow_connection_pickling()     # the socket goes to each worker
    spawn = multiprocessing.get_context("spawn")
    loads = spawn.Array("i", [NOT_SERVING] * workers, lock=False)   # each slot written by its worker
    listening = spawn.Event()
    stopping = False

    def start(me: int):
        process = spawn.Process(target=_worker, args=(app, shared, loads, listening, me, options))
        process.start()
        return process

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start(me) for me in range(workers)]
    try:
        while not stopping:
            time.sleep(0.2 if listening.is_set() else 0.02)
            if not listening.is_set() and NOT_SERVING not in loads:
                shared.listen(2048)
                listening.set()
            for i, process in enumerate(processes):
                if not process.is_alive() and not stopping:
                    loads[i] = NOT_SERVING          # until the one started instead is ready
                    print(f"etablera web: worker {process.pid} ended (exit code {process.exitcode}); "
                          "starting another", file=sys.stderr)
                    time.sleep(RESTART_PAUSE)
                    processes[i] = start(i)
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
        shared.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
