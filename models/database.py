"""Connecting to the database: SQLite by default, PostgreSQL by URL.

`ETABLERA_DATABASE_URL` names the database (default: `sqlite:///etablera.sqlite3` in the
working directory). On SQLite every connection gets WAL, `synchronous=NORMAL`, a busy
timeout and foreign keys; a transaction opened for writing starts with `BEGIN IMMEDIATE`
so two writers queue for the lock instead of failing half-way.
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import ContextManager, Iterator

import orjson
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

from etablera.models.keeping import give_back, kept_connections

try:
    import fcntl
except ImportError:         # not on Windows: there SQLite's busy handler alone queues writers
    fcntl = None

DEFAULT_URL = "sqlite:///etablera.sqlite3"
_HELD = threading.local()           # the writers' locks this thread holds (see writers_queue)
MIGRATIONS = Path(__file__).with_name("migrations")
PING_AFTER = 10.0           # seconds in the pool after which a PostgreSQL connection is pinged before use
_MADE: weakref.WeakSet[Engine] = weakref.WeakSet()      # the engines of this process (dispose_engines)


def database_url() -> str:
    url = os.environ.get("ETABLERA_DATABASE_URL", DEFAULT_URL)
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


SQLITE_CACHE_KB = 64 * 1024         # pages kept by each connection, at most (allocated as used)
LOG_LIMIT_BYTES = 64 * 1024 * 1024  # the write-ahead log's file is cut back to this when the log starts again


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    # cache_size: SQLite's own default is 2 MB a connection, less than the indexes of a large
    # caseload; a write that touches more pages than that spills to the WAL and reads back.
    # journal_size_limit: a log that grew under a long write (an import, a cohort, a busy
    # hour: models/wal.py) does not keep its size on disk once it starts again.
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000", "foreign_keys=ON",
                   f"cache_size=-{SQLITE_CACHE_KB}", f"journal_size_limit={LOG_LIMIT_BYTES}"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # Straight on the driver: this runs once per transaction, and SQLAlchemy's statement
    # path would cost more than the BEGIN itself. On a kept connection the transaction is
    # already open on the driver (`_OnKept`): a statement SQLAlchemy runs inside it joins it.
    driver = conn.connection.driver_connection
    if not driver.in_transaction:
        driver.execute("BEGIN IMMEDIATE" if conn._execution_options.get("etablera_write") else "BEGIN DEFERRED")


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    # orjson reads and writes the JSON columns (an event's data, what it skipped): a case
    # page reads two per event, and the standard library's loads was a fifth of reading the
    # case; its dumps was a twentieth of a step and an eighth of writing the demo cohort.
    codec = {"json_deserializer": orjson.loads, "json_serializer": _json_text}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 10}, **codec)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, **codec)
        event.listen(engine.pool, "checkin", _mark_idle)
        event.listen(engine.pool, "checkout", _ping_if_idle(engine.dialect))
    _MADE.add(engine)
    return engine


def dispose_engines() -> None:
    """Close the pooled connections of every engine this process made: a command's last
    step, so that its connections end (SQLite checkpoints its log; PostgreSQL sees a clean
    goodbye) even when the interpreter leaves without collecting them (interfaces/cli/main
    `run`). The engines stay usable; a later transaction connects again."""
    for engine in list(_MADE):
        engine.dispose()


def _json_text(value) -> str:
    """A JSON column's text: compact UTF-8 (the standard library's dumps wrote spaces and
    escaped every å); keys that are not strings become strings, as json.dumps makes them.
    What orjson refuses (an integer beyond 64 bits) is written by the standard library's."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _mark_idle(_dbapi_connection, record) -> None:
    if record is not None:
        record.info["etablera_idle_since"] = time.monotonic()


def _ping_if_idle(dialect):
    """SQLAlchemy's pool_pre_ping, for a connection that sat in the pool PING_AFTER seconds
    or more. A ping is a round trip: pinging at every checkout was two of a case page's
    ten. A connection given back a moment ago is alive unless the server restarted in
    that moment; then its statement fails, SQLAlchemy invalidates the whole pool, and the
    next request gets new connections. A DisconnectionError here makes the pool replace
    the connection before anyone uses it."""
    def checkout(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("etablera_idle_since")
        if since is None or time.monotonic() - since < PING_AFTER:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - a ping that fails in any way: a dead connection
            raise DisconnectionError(f"connection dead after {time.monotonic() - since:.0f} s in the pool") from exc
        if not alive:
            raise DisconnectionError("connection dead")
    return checkout


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    return engine_for(database_url())


def transaction(engine: Engine, write: bool = True, *, single: bool = False) -> ContextManager[Connection]:
    """One database transaction: committed when the block ends, rolled back on any error.

    Everything a use case writes (a case's new state, its audit event, its measures) goes
    through one of these, so it all commits together or not at all.

    `single`: the block runs one statement, which is a transaction by itself (a read that
    needs no snapshot beyond its own, one INSERT); on PostgreSQL it runs in autocommit,
    without the BEGIN and COMMIT round trips (two of a session lookup's four). On SQLite
    a write still takes the writers' lock and BEGIN IMMEDIATE.

    A read of several statements sees one snapshot: SQLite's read transaction does so by
    itself; on PostgreSQL it runs at REPEATABLE READ (at READ COMMITTED each statement
    would see what had committed by its own start: a case and its history from two
    moments). A read never waits or fails for that; writes stay at READ COMMITTED with
    their version checks.

    Inside `keep_connections()` (models/keeping.py: a command's or a worker's run), a
    SQLite engine's transactions on this thread reuse one connection.
    """
    kept = _kept(engine)
    if kept is not None:
        return _OnKept(kept, engine, write)
    return _pooled(engine, write, single)


@contextmanager
def _pooled(engine: Engine, write: bool, single: bool) -> Iterator[Connection]:
    """`transaction` on a connection of the pool, given back when it ends."""
    conn = engine.connect()
    if write:
        conn = conn.execution_options(etablera_write=True)
    if engine.dialect.name == "postgresql":
        if single:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        elif not write:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
    try:
        with writers_queue(engine, write), conn.begin():
            yield conn
    finally:
        conn.close()


def _kept(engine: Engine) -> Connection | None:
    """This thread's kept connection of `engine`, opened now if need be; None where nothing
    is kept (outside keep_connections, on PostgreSQL, or while it is in use)."""
    kept = kept_connections()
    if kept is None or engine.dialect.name != "sqlite":
        return None
    conn, pool = kept.get(engine, (None, None))
    if conn is not None and (pool is not engine.pool or conn.closed or conn.invalidated):
        give_back(engine, conn, pool)       # disposed since (a restore may have replaced the file), or dead
        conn = None
    if conn is None:
        conn = engine.connect()
        kept[engine] = (conn, engine.pool)
    return None if conn.in_transaction() or conn.connection.driver_connection.in_transaction else conn


class _OnKept:
    """`transaction` on a kept connection. The transaction is begun and committed on the
    driver: SQLAlchemy's transaction around it (its Transaction object, the begin and
    commit events, the in-place execution option telling `_sqlite_begin` which BEGIN) was
    a tenth of a persisted step's own time. A statement SQLAlchemy runs inside joins it
    (`_sqlite_begin`), and is committed with it. A class, not a generator: a step opens
    one, and the generator's frames cost a microsecond more."""
    __slots__ = ("conn", "engine", "write", "driver", "path")

    def __init__(self, conn: Connection, engine: Engine, write: bool):
        self.conn, self.engine, self.write = conn, engine, write

    def __enter__(self) -> Connection:
        self.driver = driver = self.conn.connection.driver_connection
        self.path = path = _enter_queue(self.engine, self.write)
        try:
            driver.execute("BEGIN IMMEDIATE" if self.write else "BEGIN DEFERRED")
        except BaseException:
            if path is not None:
                _leave_queue(path)
            raise
        return self.conn

    def __exit__(self, kind, _value, _traceback) -> bool:
        try:
            if kind is None:
                self._commit()
            else:
                self._give_up()
        finally:
            if self.path is not None:
                _leave_queue(self.path)
        return False

    def _commit(self) -> None:
        """Commit (SQLAlchemy's own commit where a statement of its joined); a commit that
        fails gives up the connection like any other failure."""
        try:
            if self.conn.in_transaction():
                self.conn.commit()
            else:
                self.driver.commit()
        except BaseException:
            self._give_up()
            raise

    def _give_up(self) -> None:
        """Roll back and give the connection back to the pool: the next transaction keeps one afresh."""
        conn = self.conn
        kept_connections().pop(self.engine, None)
        try:
            if conn.in_transaction():
                conn.rollback()
            elif not conn.invalidated:
                self.driver.rollback()
        finally:
            conn.close()


BULK_TABLES = ("cases", "measures", "audit_events", "access_log")


def settle(engine: Engine, tables: tuple[str, ...] = BULK_TABLES) -> None:
    """After a bulk load (the demo cohort, an import), on PostgreSQL: VACUUM (ANALYZE) the
    tables it filled, as autovacuum would in time. Until then the planner has no figures
    for the new rows and the visibility map does not cover them, so a count the start page
    reads from an index alone reads every counted row from the table too (one
    municipality's six queue counts at 100,000 cases: 10.9 ms, 1.6 ms after). SQLite has
    neither to catch up on."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(tables)}")


@contextmanager
def writers_queue(engine: Engine, write: bool) -> Iterator[None]:
    """On a SQLite file, writers (threads and processes) take turns on an flock before
    BEGIN IMMEDIATE. SQLite's own busy handler polls with sleeps of up to 100 ms, so
    under many concurrent writers (the web interface logs every view) some wait seconds;
    the kernel wakes the next writer as soon as the lock is free. Released after commit.
    Each thread keeps its lock file open (`_locked`): opening it was a tenth of a step."""
    path = _enter_queue(engine, write)
    try:
        yield
    finally:
        if path is not None:
            _leave_queue(path)


def _enter_queue(engine: Engine, write: bool) -> str | None:
    """`writers_queue`'s entry: the path whose writers' lock this thread now holds (for
    `_leave_queue`), or None where there is none to take (a read, PostgreSQL, memory, a
    write inside a write of the same thread, which meets SQLite's busy timeout as before)."""
    if not write or fcntl is None or engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    held = _HELD.__dict__.setdefault("paths", set())
    if not path or path == ":memory:" or path in held:
        return None
    _locked(path)
    held.add(path)
    return path


def _leave_queue(path: str) -> None:
    _HELD.paths.discard(path)
    fcntl.flock(_HELD.files[path].fd, fcntl.LOCK_UN)


def _locked(path: str) -> int:
    """Takes the writers' lock of `path` on this thread's open descriptor of the lock file.
    An flock belongs to an open file description, so each thread keeps its own (two
    threads sharing one would both hold the lock at once), and a forked child opens its
    own (it would share its parent's). If the file was removed or replaced meanwhile (its
    link count is 0: unlinked, or renamed over), the lock is taken again on the file now
    at that path. One fstat: a stat of the path beside it cost twice as much."""
    files = _HELD.__dict__.setdefault("files", {})
    while True:
        kept = files.get(path)
        if kept is None or kept.pid != os.getpid():
            kept = files[path] = _LockFile(f"{path}-writers.lock")
        fcntl.flock(kept.fd, fcntl.LOCK_EX)
        if os.fstat(kept.fd).st_nlink:
            return kept.fd
        fcntl.flock(kept.fd, fcntl.LOCK_UN)
        del files[path]


class _LockFile:
    """An open lock file, closed when dropped (with the thread that kept it)."""

    def __init__(self, name: str):
        self.fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self.pid = os.getpid()

    def __del__(self, _getpid=os.getpid, _close=os.close):     # (bound now: usable at interpreter exit)
        if _getpid() == self.pid:
            _close(self.fd)


def upgrade(engine: Engine) -> str:
    """Create or upgrade the schema to the newest migration; safe to run again.
    Returns the revision the database is at."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() or ""
