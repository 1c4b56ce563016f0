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
processes may each run one; a checkpoint that finds another under way just skips. (No
FULL or TRUNCATE checkpoints: they block every writer while they wait for readers.)
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger("etablera.wal")


class BackgroundCheckpoints:
    def __init__(self, engine: Engine, *, interval: float = 1.0):
        self.engine, self.interval = engine, interval
        self.last: tuple[int, int, int] | None = None     # (busy, pages in the log, pages copied)
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
        """One passive checkpoint: (busy, pages in the log, pages copied) as SQLite reports them."""
        raw = self.engine.raw_connection()
        try:
            self.last = tuple(raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
            return self.last
        finally:
            raw.close()

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
