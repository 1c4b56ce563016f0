"""A fresh database for one benchmark run: a SQLite file in the work folder, or a database
of its own on a PostgreSQL server (created, then dropped when the run ends)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def fresh_engine(workdir: Path, name: str, postgres: str | None = None) -> Iterator:
    """An engine on an empty database called `name`: `workdir/NAME.sqlite3` (any old copy
    removed first), or database `etablera_bench_NAME` (hyphens as underscores) on the server
    of the URL `postgres`."""
    from sqlalchemy.engine import make_url

    from etablera.models.database import make_engine

    server = None
    if postgres:
        database = f"etablera_bench_{name.replace('-', '_')}"      # a bare identifier (import-floor)
        server = make_engine(postgres).execution_options(isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database}")
            conn.exec_driver_sql(f"CREATE DATABASE {database}")
        engine = make_engine(make_url(postgres).set(database=database).render_as_string(hide_password=False))
    else:
        path = workdir / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm", "-writers.lock"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{path}")
    try:
        yield engine
    finally:
        engine.dispose()
        if server is not None:
            with server.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database}")
            server.dispose()
