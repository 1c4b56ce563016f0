"""What the report's sections share to read rows and shape them: the query, dates and
instants bound as each database stores them, shares, and labels in the report's language."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import Connection, text

from etablera.reports.scope import Scope
from etablera.statemachine.process import STATE


def fetch(conn: Connection, sql: str, params: dict) -> list:
    return conn.execute(text(sql), params).all()


def state_label(name: str | None, lang: str) -> str | None:
    if name is None:
        return None
    state = STATE.get(name)
    return (state.en if lang == "en" else state.sv) if state else name


def muni_entry(scope: Scope, code: str) -> dict:
    return {"municipality": code, "name": scope.config.municipalities.get(code)}


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def bind_date(conn: Connection, day: date | None):
    if day is None or conn.dialect.name != "sqlite":
        return day
    return day.isoformat()


def bind_instant(conn: Connection, moment: datetime):
    """An instant as the database stores it (see models.timestamps.UTCDateTime)."""
    if conn.dialect.name == "sqlite":
        return moment.astimezone(timezone.utc).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment
