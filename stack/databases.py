"""The stack's databases on its PostgreSQL server: created when missing, nothing else.
(The application's tables are `etablera migrate`'s; the Prefect server makes its own.)"""

from __future__ import annotations

from sqlalchemy import create_engine, text


def ensure_databases(server: str, names: list[str]) -> list[str]:
    """CREATE DATABASE for each of `names` the server lacks; the names created."""
    engine = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    created = []
    try:
        with engine.connect() as conn:
            for name in names:
                if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                    created.append(name)
    finally:
        engine.dispose()
    return created
