"""SQLite's write-ahead log, checkpointed in the background for a long-running server.

By default SQLite checkpoints inside the commit that takes the log past 1000 pages: that
one commit copies the pages into the database file and syncs it, while this process
still holds the writers' lock every process queues on (models/database.py), so every
writer waits for the sync. Under the web interface every view of a case commits an
access-log row, a checkpoint every few hundred views. (Measured with python -m benchmarks
web at 1,000,000 cases, the case page's p95 differed between the two by less than the
machine's run-to-run noise; the reason to keep the sync out of the commit is the lock.)
And with readers always active, automatic checkpoints can fall behind and the log grow
without bound (23 GB was seen while a cohort was written).

`BackgroundCheckpoints` turns the automatic checkpoint off on the engine's connections
and runs a PASSIVE checkpoint every `interval` seconds on a thread of its own: it copies
what no reader still needs and waits for nobody, so writers go on meanwhile, and once it
has copied everything the next commit starts the log again from its beginning. Several
processes may each run one; a checkpoint that finds another under way just skips.

A passive checkpoint alone does not bound the log. The log starts again from its beginning
only when a transaction begins with every page copied, and a passive checkpoint copies the
log as it was when it began: while writers leave no gap between them, each finds new pages
behind it, and the log grows for as long as the load lasts (`etablera web` on SQLite, 40
clients on the case page: 720 MB in 60 s, a steady 12 MB/s, before this was bounded). So
when the log has reached `restart_pages`, the thread takes the writers' turn itself
(models/database.writers_queue: every writer of every process waits behind it) and runs
a RESTART checkpoint: it copies what the passive one left and waits, at most
`RESTART_WAIT_MS`, for the readers still on the old log to finish; then the next commit
writes the log from its beginning, and SQLite cuts the file back to `LOG_LIMIT_BYTES`
(the connections' journal_size_limit, models/database.py). A reader that takes longer (a
report, a backup) makes it give up and try again a turn later. (No RESTART without the
writers' turn: SQLite would make writers poll for its lock with sleeps. No TRUNCATE: it
waits the same and only also shrinks the file, which journal_size_limit does.)
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine

from etablera.models.database import writers_queue

log = logging.getLogger("etablera.wal")

RESTART_PAGES = 8192            # 32 MB of log in 4 KB pages: then the writers' turn, to start it again
RESTART_WAIT_MS = 200           # how long a restart waits for readers on the old log, writers waiting too


class BackgroundCheckpoints:
    def __init__(self, engine: Engine, *, interval: float = 1.0, restart_pages: int = RESTART_PAGES):
        self.engine, self.interval, self.restart_pages = engine, interval, restart_pages
        self.last: tuple[int, int, int] | None = None     # (busy, pages in the log, pages copied)
        self.restarts = 0                                   # RESTART checkpoints that completed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def applies(engine: Engine) -> bool:
        return engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")

    def start(self) -> "BackgroundCheckpoints":
        if not self.applies(self.engine) or self._thread is not None:
            return self
        event.listen(self.engine, "connect", _no_automatic_checkpoint)
        self._thread = threading.Thread(target=self._run, name="etablera-wal-checkpoints", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        event.remove(self.engine, "connect", _no_automatic_checkpoint)
        self.checkpoint()                       # what the last requests wrote

    def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint, followed by a restart in the writers' turn when the log
        has reached `restart_pages`: (busy, pages in the log, pages copied) as SQLite
        reports them for the last."""
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            self.last = tuple(driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
            if self.last[1] >= self.restart_pages:
                self.last = self._restart(driver)
            return self.last
        finally:
            raw.close()

    def _restart(self, driver) -> tuple[int, int, int]:
        timeout = driver.execute("PRAGMA busy_timeout").fetchone()[0]
        with writers_queue(self.engine, True):
            driver.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            try:
                done = tuple(driver.execute("PRAGMA wal_checkpoint(RESTART)").fetchone())
            finally:
                driver.execute(f"PRAGMA busy_timeout={timeout}")
        self.restarts += not done[0]
        return done

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.checkpoint()
            except Exception as exc:  # noqa: BLE001 - keep checkpointing; say what went wrong, never the data
                log.warning("WAL checkpoint failed (%s); trying again in %.0f s", type(exc).__name__, self.interval)


@contextmanager
def checkpoints_in_background(engine: Engine) -> Iterator[None]:
    """For one long write of many transactions (an import): while it runs, the log is
    checkpointed on a thread of its own rather than inside its commits; afterwards the
    engine's connections checkpoint as before. The pool is replaced at both ends, so every
    connection it hands out follows (the connect-time setting is per connection)."""
    if not BackgroundCheckpoints.applies(engine):
        yield
        return
    engine.dispose()
    checkpoints = BackgroundCheckpoints(engine).start()
    try:
        yield
    finally:
        checkpoints.stop()
        engine.dispose()


def _no_automatic_checkpoint(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")
