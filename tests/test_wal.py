"""SQLite's write-ahead log checkpointed in the background (models/wal.py): the commits
of the engine's connections no longer checkpoint, the thread does."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from etablera.models.database import make_engine, transaction
from etablera.models.wal import BackgroundCheckpoints


def _write(engine, rows: int) -> None:
    for i in range(rows):
        with transaction(engine) as conn:
            conn.execute(text("INSERT INTO probe (x) VALUES (:x)"), {"x": "x" * 2000 + str(i)})


def test_commits_leave_the_log_to_the_thread_which_checkpoints_it(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    with transaction(engine) as conn:
        conn.execute(text("CREATE TABLE probe (x TEXT)"))
    engine.dispose()                                    # new connections from here on
    checkpoints = BackgroundCheckpoints(engine, interval=3600).start()   # the test calls checkpoint() itself
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        _write(engine, 1200)                            # well past the 1000 pages of the automatic checkpoint
        busy, pages, copied = checkpoints.checkpoint()
        assert pages > 1000 and copied == pages and busy == 0      # nothing was checkpointed before
        _write(engine, 10)
        assert checkpoints.checkpoint()[1] < 50         # the log started again from the beginning
    finally:
        checkpoints.stop()
    engine.dispose()                                    # connections made after stop() checkpoint as usual
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        assert conn.execute(text("SELECT count(*) FROM probe")).scalar() == 1210
    engine.dispose()


def test_the_thread_checkpoints_on_its_own(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    with transaction(engine) as conn:
        conn.execute(text("CREATE TABLE probe (x TEXT)"))
    engine.dispose()
    checkpoints = BackgroundCheckpoints(engine, interval=0.05).start()
    try:
        _write(engine, 300)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (checkpoints.last and checkpoints.last[1] > 100
                                                    and checkpoints.last[2] == checkpoints.last[1]):
            time.sleep(0.05)
        busy, pages, copied = checkpoints.last
        assert pages > 100 and copied == pages                  # all of the log copied, by the thread
    finally:
        checkpoints.stop()
    engine.dispose()


def test_not_for_postgresql_or_memory():
    assert not BackgroundCheckpoints.applies(make_engine("sqlite://"))
    assert not BackgroundCheckpoints.applies(make_engine("postgresql+psycopg://u@127.0.0.1:1/x"))


def test_the_log_stays_bounded_while_writers_leave_no_gap(tmp_path):
    """Writers back to back and a reader always reading: a passive checkpoint alone never
    finds the whole log copied when a transaction begins, so the log would only grow
    (all 3,000 pages here). The thread restarts it in the writers' turn instead."""
    path = tmp_path / "w.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with transaction(engine) as conn:
        conn.execute(text("CREATE TABLE probe (x TEXT)"))
    engine.dispose()
    checkpoints = BackgroundCheckpoints(engine, interval=0.005, restart_pages=200).start()
    reading = threading.Event()
    reading.set()

    def read() -> None:
        while reading.is_set():
            with transaction(engine, write=False) as conn:
                conn.execute(text("SELECT count(*) FROM probe")).scalar()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        peak = 0
        for i in range(3000):                           # a page and more each: 12 MB of log unchecked
            with transaction(engine) as conn:
                conn.execute(text("INSERT INTO probe (x) VALUES (:x)"), {"x": "x" * 3000 + str(i)})
            peak = max(peak, (path.parent / "w.sqlite3-wal").stat().st_size)
    finally:
        reading.clear()
        reader.join()
        checkpoints.stop()
    assert checkpoints.restarts >= 1
    assert peak < 3 * 1024 * 1024, f"the log reached {peak / 1e6:.1f} MB"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM probe")).scalar() == 3000
    engine.dispose()
