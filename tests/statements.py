"""The statements a test's code sends to the database, seen on the driver connection.

The write path runs its statements on the driver (models/prepared.py), where SQLAlchemy's
execute events do not see them: on SQLite the connection's trace callback sees every
statement, on PostgreSQL a counting cursor class does (psycopg's `cursor_factory`)."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event


def _watch(driver, dialect: str, sent: list):
    """Starts recording on a driver connection; returns what stops it."""
    if dialect == "sqlite":
        driver.set_trace_callback(sent.append)
        return lambda: driver.set_trace_callback(None)
    factory = driver.cursor_factory

    class Counting(factory):
        def execute(self, query, *args, **kwargs):
            sent.append(query if isinstance(query, str) else query.as_string(driver))
            return super().execute(query, *args, **kwargs)

    driver.cursor_factory = Counting

    def stop():
        driver.cursor_factory = factory
    return stop


@contextmanager
def sent_on(conn):
    """The statements sent on `conn` (a SQLAlchemy Connection) inside the block."""
    sent: list[str] = []
    stop = _watch(conn.connection.driver_connection, conn.dialect.name, sent)
    try:
        yield sent
    finally:
        stop()


@contextmanager
def sent_by(engine):
    """The statements sent on every connection `engine` hands out inside the block, without
    the transactions' BEGIN, COMMIT and ROLLBACK."""
    sent: list[str] = []
    stops = {}

    def checkout(dbapi_connection, _record, _proxy):
        stops[id(dbapi_connection)] = _watch(dbapi_connection, engine.dialect.name, sent)

    def checkin(dbapi_connection, _record):
        stop = stops.pop(id(dbapi_connection), None)
        if stop:
            stop()

    event.listen(engine.pool, "checkout", checkout)
    event.listen(engine.pool, "checkin", checkin)
    try:
        yield sent
    finally:
        event.remove(engine.pool, "checkout", checkout)
        event.remove(engine.pool, "checkin", checkin)
        filtered = [s for s in sent if s.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK")]
        sent[:] = filtered
