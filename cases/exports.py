"""A list of cases as CSV (the worklist, a queue, a saved filter, a report figure's list):
the same scope, filters and order as the list on screen, headings in Swedish (English with
lang=en), the person's name where the case has one.

The export holds personal data, so each exported case gets an access-log row (action
`export`), written before its line is handed out: a line is never exported without its
row. It is streamed in chunks: the ids are read first in the list's order, then each chunk
of cases is read, logged and written, so a large list never sits in memory as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from functools import lru_cache

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Engine

from etablera.access import scope
from etablera.access.principal import Principal
from etablera.cases import list_query, list_statements, queues
from etablera.cases.audit import CASES
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.timestamps import local_date, utcnow
from etablera.statemachine.errors import BadInput

CHUNK = 500
MAX_EXPORT = 1_000_000
ACTION = "export"
COLUMNS = (("id", "Ärende", "Case"), ("given_name", "Förnamn", "Given name"),
           ("family_name", "Efternamn", "Family name"), ("municipality", "Kommunkod", "Municipality code"),
           ("municipality_name", "Kommun", "Municipality"), ("state", "Lägeskod", "State code"),
           ("state_label", "Läge", "State"), ("due", "Förfaller", "Due"), ("days_late", "Dagar sent", "Days late"),
           ("reminder", "Påminnelse", "Reminder"), ("establishment_due", "Etablering senast", "Establishment by"),
           ("track", "Spår", "Track"), ("kommun_officer", "Handläggare kommun", "Municipal officer"),
           ("af_officer", "Handläggare AF", "AF officer"))


def headings(lang: str) -> list[str]:
    return [en if lang == "en" else sv for _, sv, en in COLUMNS]


@lru_cache(maxsize=128)
def _ids(shape, sort: str):
    return (select(CASES.c.id).where(*list_statements._conditions(shape))
            .order_by(*list_statements._order(sort, shape.status != "active")))


@lru_cache(maxsize=8)
def _chunk(places: str | None):
    query = select(*list_statements._LISTED).where(CASES.c.id.in_(bindparam("ids", expanding=True)))
    if places:              # still in scope when read (a case may have moved since the ids were)
        query = query.where(CASES.c.municipality.in_(bindparam("municipalities", expanding=True)))
    return query


def export_csv(engine: Engine, who: Principal, q: list_query.ListQuery, *, lang: str = "sv",
               today: date | None = None, config: Config | None = None, chunk: int = CHUNK) -> Iterator[str]:
    """The list as CSV text, a chunk of lines at a time (the heading first). A municipality
    outside the principal's is refused (403) and logged before anything is written."""
    config = config or get_config()
    today = today or local_date(utcnow())
    places = queues.places_of(engine, who, q, ACTION)
    dialect = engine.dialect.name
    shape = list_statements._shape(q, who, places, dialect, today)
    values = list_statements._values(q, who, places, today)
    with transaction(engine, write=False) as conn:
        ids = conn.execute(_ids(shape, q.sort).limit(MAX_EXPORT + 1), values).scalars().all()
    if len(ids) > MAX_EXPORT:
        raise BadInput("limit_range", field="limit", max=MAX_EXPORT)
    return _lines(engine, who, ids, places, lang, today, config, chunk)


def _lines(engine, who: Principal, ids: list[int], places, lang: str, today: date, config: Config,
           chunk: int) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headings(lang))
    yield _take(buffer)
    statement = _chunk("some" if places is not None else None)
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        with transaction(engine, write=False, single=True) as conn:
            rows = {r["id"]: r for r in conn.execute(statement, {"ids": part, "municipalities": list(places or ())})
                    .mappings()}
        listed = [rows[i] for i in part if i in rows]
        if not listed:
            continue
        with transaction(engine) as conn:
            scope.shown(conn, who, (r["id"] for r in listed), ACTION)
        for r in listed:
            doc = queues.item(r, today, config, lang)
            writer.writerow(["" if doc[key] is None else doc[key] for key, _, _ in COLUMNS])
        yield _take(buffer)


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


__all__ = ["ACTION", "COLUMNS", "export_csv", "headings"]
