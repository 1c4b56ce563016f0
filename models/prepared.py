"""Statements compiled once and run on the driver's own cursor.

The write path of a case (read the row, update it with its version check, append the event
and the access-log row) runs four statements per step, and SQLAlchemy's execution of a
cached statement (its context, parameter processing, result metadata, events) cost more
than the statements themselves. `Prepared` keeps the Core statement as the one declaration
and, per dialect and set of parameter names, compiles it once: the SQL text, the order of
its parameters, each parameter's bind processor and each result column's processor. A run
converts the values with those processors, so the stored bytes and the values read back
are what SQLAlchemy's own execution gives. On PostgreSQL psycopg prepares a statement run
this way on the server after a few runs, as it does for SQLAlchemy's.

It runs inside the SQLAlchemy transaction of `conn` (the same driver connection). A driver
error is raised as SQLAlchemy's (`sqlalchemy.exc.IntegrityError`, `OperationalError`, ...)
with the parameters hidden, and a lost connection is invalidated as SQLAlchemy would.
Listeners of SQLAlchemy's before/after_cursor_execute events (tracing, the query-plan
test's recorder) are called with the SQL and values sent, and a plain object for their
context. What it does not do: Python-side column defaults (a statement that would need one
is refused when it is compiled), expanding IN parameters (refused too) and the
before/after_execute events of Core statements.
"""

from __future__ import annotations

from datetime import date, datetime
from operator import itemgetter
from types import SimpleNamespace
from typing import Any, Mapping

from sqlalchemy import Connection, Date
from sqlalchemy.exc import DBAPIError

from etablera.models.timestamps import UTC_TEXT, UTCDateTime, utc_digits


class Prepared:
    """One Core statement (select, insert, update, with RETURNING too), run straight on the driver."""

    def __init__(self, statement):
        self.statement = statement
        self._plans: dict[tuple, _Plan] = {}

    def run(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, _Plan]:
        """Execute with `params` (every bind parameter by name, but those the statement
        gives a value itself; for an insert or update, the columns given are the columns
        written); returns the driver's cursor and the plan that reads its rows."""
        dialect = conn.dialect
        key = (type(dialect), dialect.paramstyle, tuple(params))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _Plan(self.statement, dialect, key[2])
        values = plan.values(params)
        driver = conn.connection.driver_connection
        cursor = driver.cursor()
        sql, watched = plan.sql, _watched(conn)
        if watched:                 # someone listens (tracing, a test's recorder): tell them, as SQLAlchemy would
            context = SimpleNamespace()
            for listener in conn.dispatch.before_cursor_execute:
                sql, values = listener(conn, cursor, sql, values, context, False)
        try:
            cursor.execute(sql, values)
        except dialect.loaded_dbapi.Error as error:
            invalidated = dialect.is_disconnect(error, driver, cursor)
            cursor.close()
            if invalidated:
                conn.invalidate(error)
            raise DBAPIError.instance(sql, values, error, dialect.loaded_dbapi.Error, hide_parameters=True,
                                      connection_invalidated=invalidated, dialect=dialect) from error
        if watched:
            for listener in conn.dispatch.after_cursor_execute:
                listener(conn, cursor, sql, values, context, False)
        return cursor, plan

    def rowcount(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """The number of rows an update (or an insert) wrote."""
        cursor, _ = self.run(conn, params)
        count = cursor.rowcount
        cursor.close()
        return count

    def first(self, conn: Connection, params: Mapping[str, Any]) -> dict | None:
        """The first row of a select (or of what an insert returns) as a dict of its
        columns' keys, each value as SQLAlchemy would read it; None when there is none."""
        cursor, plan = self.run(conn, params)
        try:
            row = cursor.fetchone()
            return None if row is None else plan.row(cursor, row)
        finally:
            cursor.close()

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[dict]:
        """Every row of a select, in its order, each as `first` gives it."""
        cursor, plan = self.run(conn, params)
        try:
            return [plan.row(cursor, row) for row in cursor.fetchall()]
        finally:
            cursor.close()


def _watched(conn: Connection) -> bool:
    """Whether anyone listens to the cursor-execute events of `conn`: its engine's (and the
    Engine class's) listeners, and its own where it has any (SQLAlchemy's own gate). The
    engine's lists alone cost a third of the connection's joined ones."""
    engine = conn.engine.dispatch
    if engine.before_cursor_execute or engine.after_cursor_execute:
        return True
    return conn._has_events and bool(conn.dispatch.before_cursor_execute or conn.dispatch.after_cursor_execute)


class _Plan:
    """The statement compiled for one dialect and one set of parameter names."""

    def __init__(self, statement, dialect, names: tuple[str, ...]):
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        if compiled.insert_prefetch or compiled.update_prefetch:
            missing = ", ".join(c.key for c in [*compiled.insert_prefetch, *compiled.update_prefetch])
            raise ValueError(f"a prepared statement takes every column's value; missing: {missing}")
        expanding = [name for name, bind in compiled.binds.items() if bind.expanding]
        if expanding:
            raise ValueError(f"a prepared statement takes no expanding (IN) parameter: {', '.join(expanding)}")
        self.dialect = dialect
        self.sql = compiled.string
        binds = compiled.binds
        processors = {name: bind_processor(bind.type, dialect) for name, bind in binds.items()}
        if compiled.positional:
            order = list(compiled.positiontup)
            values = _positional(order, [processors.get(name) for name in order])
        else:
            values = _named({name: p for name, p in processors.items() if p})
        # A value the statement carries itself (`where(column == 5)`): merged under the given ones.
        own = {name: bind.effective_value for name, bind in binds.items() if name not in names}
        self.values = (lambda params: values({**own, **params})) if own else values
        self.columns = [(column.key, column.type) for column in statement.exported_columns]   # selected, RETURNING
        self._keys = [key for key, _ in self.columns]
        self._readers: list | None = None

    def row(self, cursor, row: tuple) -> dict:
        readers = self._readers
        if readers is None:
            processors = [result_processor(type_, self.dialect, description[1])
                          for (_, type_), description in zip(self.columns, cursor.description)]
            readers = self._readers = [(key, read) for (key, _), read in zip(self.columns, processors) if read]
        out = dict(zip(self._keys, row))
        for key, read in readers:
            value = out[key]
            if value is not None:
                out[key] = read(value)
        return out


def _positional(order: list[str], processors: list):
    convert = [(i, p) for i, p in enumerate(processors) if p]
    get = itemgetter(*order) if len(order) > 1 else (lambda params: tuple(params[name] for name in order))

    def values(params: Mapping) -> tuple:
        row = get(params)                   # one row of values, as SQLAlchemy hands them on
        if not convert:
            return row
        out = list(row)
        for i, process in convert:
            out[i] = process(out[i])
        return tuple(out)
    return values


def _named(processors: dict):
    def values(params: Mapping) -> dict:
        out = dict(params)
        for name, process in processors.items():
            out[name] = process(out[name])
        return out
    return values


# On SQLite SQLAlchemy writes a date and an instant as text through a general formatter and
# reads them back with a regular expression; these write the same text, and read it, with
# the standard library's isoformat (tests/test_rows.py and tests/test_prepared.py compare
# them). Any other value (None, a naive instant, which UTCDateTime refuses) goes to
# SQLAlchemy's own.

def _utc_text(fallback):
    """UTCDateTime on SQLite: the UTC wall clock as SQLite's DATETIME stores it."""
    def process(value):
        if type(value) is datetime and value.tzinfo is not None:
            return utc_digits(value, UTC_TEXT)
        return fallback(value)
    return process


def _day_text(fallback):
    """A Date on SQLite."""
    def process(value):
        return value.isoformat() if type(value) is date else fallback(value)
    return process


def _utc_read(fallback):
    def process(value):
        if type(value) is str and len(value) == 26:        # YYYY-MM-DD HH:MM:SS.ffffff, as written
            return datetime.fromisoformat(value + "+00:00")     # (tzinfo timezone.utc; replace() cost 8× this)
        return fallback(value)
    return process


def _day_read(fallback):
    def process(value):
        if type(value) is str and len(value) == 10:
            return date.fromisoformat(value)
        return fallback(value)
    return process


_SQLITE_TEXT = {UTCDateTime: _utc_text, Date: _day_text}
_SQLITE_READ = {UTCDateTime: _utc_read, Date: _day_read}


def bind_processor(type_, dialect):
    """The column type's bind processor; on SQLite, for a date or an instant, a faster one
    writing the same text."""
    processor = type_._cached_bind_processor(dialect)
    faster = _SQLITE_TEXT.get(type(type_)) if dialect.name == "sqlite" else None
    return faster(processor) if faster and processor else processor


def result_processor(type_, dialect, coltype=None):
    """The column type's result processor; on SQLite, for a date or an instant, a faster one
    reading the text `bind_processor` writes."""
    processor = type_._cached_result_processor(dialect, coltype)
    faster = _SQLITE_READ.get(type(type_)) if dialect.name == "sqlite" else None
    return faster(processor) if faster and processor else processor
