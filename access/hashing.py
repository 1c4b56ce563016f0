"""Password checks in a pool of their own, bounded, so that a burst of logins cannot take
the threads every other request needs.

argon2 costs a fraction of a second of CPU and releases the GIL while it works: in the
web interface's small request thread pool, a hundred logins at once left every other
request waiting its turn behind them (a logged-in GET took 19 s). Here at most
`THREADS` checks run at once (`ETABLERA_HASH_THREADS`, default 1 per process) and at
most `QUEUE` more wait (`ETABLERA_HASH_QUEUE`, default 16); a login beyond that is told
at once to try again in a moment (`Busy`, 503), before anything is recorded. The
pool's threads run at a lower priority than the requests' (`NICE`), and the whole login
check (counting the attempt, the hash, the access log) runs on them.

The pool is made on first use, in the process that uses it (a gunicorn worker after
the fork, never the master).
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from etablera.statemachine.errors import EtableraError

T = TypeVar("T")
THREADS = int(os.environ.get("ETABLERA_HASH_THREADS", "1"))
QUEUE = int(os.environ.get("ETABLERA_HASH_QUEUE", "16"))
RETRY_AFTER = 5     # seconds a busy answer asks the client to wait
NICE = 10           # how much lower a hashing thread's priority is


class Busy(EtableraError):
    """Too many password checks at once in this process: try again in a moment (503)."""
    exit_code = 1
    http_status = 503


class HashingPool:
    def __init__(self, threads: int = THREADS, queue: int = QUEUE):
        self.threads = max(1, threads)
        self._slots = threading.BoundedSemaphore(self.threads + max(0, queue))
        self._executor: ThreadPoolExecutor | None = None
        self._made = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """A place in the pool for one login, or Busy at once (never a wait)."""
        if not self._slots.acquire(blocking=False):
            raise Busy("login_busy", seconds=RETRY_AFTER)
        try:
            yield
        finally:
            self._slots.release()

    async def run(self, fn: Callable[..., T], *args) -> T:
        """`fn(*args)` on one of the pool's threads (call it inside `slot()`)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool(), fn, *args)

    def _pool(self) -> ThreadPoolExecutor:
        with self._made:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="etablera-hash",
                                                    initializer=_yield_the_cpu)
            return self._executor


POOL = HashingPool()


def _yield_the_cpu() -> None:
    """A hashing thread runs at a lower priority (Linux: a thread's own nice value), so
    that on a busy machine the requests' threads get the CPU first."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except (AttributeError, OSError):
        pass
