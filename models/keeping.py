"""A connection kept for the life of a command or a worker's run (no import of SQLAlchemy
here: the command line enters the block before it knows whether the command reads the
database at all).

Inside `keep_connections()`, each SQLite engine's transactions on this thread reuse one
connection (models/database.transaction), taken from the engine's pool once and given back
when the block ends, instead of taken and given back by each transaction. Taking and
giving back (SQLAlchemy's pool checkout, reset and checkin, and its Connection) was about
8% of a persisted step (bench_core's walk: 590–602 µs a step, 541–555 µs kept).

- A transaction opened while the kept one is in use (a read inside a write) takes its own
  connection from the pool, as outside the block.
- A transaction that fails gives the kept connection back to the pool (which resets it):
  the next one takes one afresh.
- After `engine.dispose()` (an import's checkpointing, a restore), the kept connection is
  closed and the next transaction keeps one of the engine's new pool.
- On PostgreSQL nothing is kept: there each transaction's isolation level is set at
  checkout and reset at checkin, and a checkout costs little beside the round trips.
- A nested block is part of the outer one. Never around a process that forks or serves
  (`etablera web`, `stack up`, `serve`) or a restore, which replaces the file: a kept
  connection must not reach a child, and a server's threads are not this thread.

What a run looks up once is kept the same way (`for_the_run`): the configuration's search
path (models/config_lookup.search_path), found by the working directory and
`$ETABLERA_CONFIG_DIR`, and the audit key's file (cases/audit_key.py), found by
`$ETABLERA_AUDIT_KEY_FILE` and the working directory. Asking the environment for a name it
does not hold (os.environ raises and catches two KeyErrors) and the getcwd were 3% of a
persisted step, asked at every step. A run reads every configuration file from the
directories it found first.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Hashable, Iterator, TypeVar

_LOCAL = threading.local()
T = TypeVar("T")


@contextmanager
def keep_connections() -> Iterator[None]:
    """Keep a connection per SQLite engine on this thread until the block ends (then each
    goes back to its pool)."""
    if getattr(_LOCAL, "kept", None) is not None:
        yield
        return
    _LOCAL.kept, _LOCAL.run = {}, {}
    try:
        yield
    finally:
        kept, _LOCAL.kept, _LOCAL.run = _LOCAL.kept, None, None
        for engine, (conn, pool) in kept.items():
            give_back(engine, conn, pool)


def give_back(engine, conn, pool) -> None:
    """A kept connection back to `pool`; closed at once instead when the engine has been
    disposed since (`pool` is no longer its pool: nobody would close it but the collector)."""
    if pool is not engine.pool and not conn.closed:
        conn.invalidate()
    conn.close()


def kept_connections() -> dict | None:
    """This thread's kept connections (engine -> (connection, the pool it came from)), or
    None outside `keep_connections`."""
    return getattr(_LOCAL, "kept", None)


_UNSET = object()


def for_the_run(name: Hashable, make: Callable[[], T]) -> T:
    """`make()`, made at its first use inside `keep_connections` on this thread and given
    again until the block ends; made at every call outside one."""
    run = getattr(_LOCAL, "run", None)
    if run is None:
        return make()
    value = run.get(name, _UNSET)
    if value is _UNSET:
        value = run[name] = make()
    return value
