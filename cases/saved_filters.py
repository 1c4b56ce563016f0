"""A user's saved filters (sparade filter): a name and a list's query (queue, state,
municipality, overdue, sort), shown on the start page as queues of their own with counts.

A filter belongs to the user who saved it: another user can neither list, read nor delete
it (theirs is answered like a missing one). It holds codes only, never personal data: the
query's values are checked like a list's (cases/list_query.py), and a name that carries an
identity number is refused.
"""

from __future__ import annotations

import re

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from etablera.access.principal import Principal
from etablera.cases import list_query, queues
from etablera.models.casework import SavedFilter
from etablera.models.database import transaction
from etablera.models.prepared import Prepared
from etablera.models.timestamps import utcnow
from etablera.models.users import User
from etablera.statemachine.errors import BadInput, Forbidden, NotFound
from etablera.statemachine.messages import Code

FILTERS = SavedFilter
USERS = User
MAX_NAME = 80
MAX_FILTERS = 50
# Ten or twelve digits, with or without a separator: what an identity number looks like.
_IDENTITY = re.compile(r"(?<!\d)(\d{2})?\d{6}\s*[-+]?\s*\d{4}(?!\d)")


def _owner(conn, who: Principal) -> None:
    if conn.execute(select(USERS.c.id).where(USERS.c.id == who.id)).first() is None:
        raise Forbidden("filter_needs_login", field="actor")


def carries_identity(text: str) -> bool:
    return bool(_IDENTITY.search(text))


def save_filter(engine: Engine, who: Principal, name: str, query: dict) -> dict:
    """Save `query` under `name` for `who`; returns the saved filter."""
    name = " ".join((name or "").split())
    if not name:
        raise BadInput("filter_name_missing", field="name")
    if len(name) > MAX_NAME:
        raise BadInput("filter_name_long", field="name", max=MAX_NAME)
    if carries_identity(name) or any(carries_identity(str(v)) for v in query.values()):
        raise BadInput("filter_personal_data", field="name")
    parsed = list_query.parse_query(query, keys=list_query.SAVED_KEYS, strict=True)
    queues.places_of(engine, who, parsed, "save_filter")        # a municipality outside theirs: refused, logged
    stored = parsed.params()
    try:
        with transaction(engine) as conn:
            _owner(conn, who)
            held = conn.execute(select(func.count()).select_from(FILTERS).where(FILTERS.c.user_id == who.id)).scalar()
            if held >= MAX_FILTERS:
                raise BadInput("filters_too_many", field="name", max=MAX_FILTERS)
            new_id = conn.execute(insert(FILTERS).values(user_id=who.id, name=name, query=stored,
                                                         created_at=utcnow()).returning(FILTERS.c.id)).scalar_one()
    except IntegrityError:
        raise BadInput("filter_name_taken", field="name", name=Code(name)) from None
    return {"id": new_id, "name": name, "query": stored}


# Built once and run on the driver (models/prepared.py), as it is read on every view of the
# start page: building the statement and its cache key cost more than running it.
_USERS_FILTERS = Prepared(select(FILTERS.c.id, FILTERS.c.name, FILTERS.c.query)
                          .where(FILTERS.c.user_id == bindparam("user")).order_by(FILTERS.c.name, FILTERS.c.id))


def list_filters(engine: Engine, who: Principal) -> list[dict]:
    """`who`'s own saved filters, by name."""
    with transaction(engine, write=False, single=True) as conn:
        rows = _USERS_FILTERS.all(conn, {"user": who.id})
    return [{"id": r["id"], "name": r["name"], "query": dict(r["query"])} for r in rows]


def get_filter(engine: Engine, who: Principal, filter_id: int) -> dict:
    found = next((f for f in list_filters(engine, who) if f["id"] == filter_id), None)
    if found is None:
        raise NotFound("no_such_filter", field="filter", filter=filter_id)
    return found


def delete_filter(engine: Engine, who: Principal, filter_id: int) -> None:
    """Delete one of `who`'s own filters (another user's is NotFound, like a missing one)."""
    with transaction(engine) as conn:
        gone = conn.execute(delete(FILTERS).where(FILTERS.c.id == filter_id, FILTERS.c.user_id == who.id)).rowcount
    if gone != 1:
        raise NotFound("no_such_filter", field="filter", filter=filter_id)


def saved_lists(engine: Engine, who: Principal) -> list[tuple[dict, list_query.ListQuery | None]]:
    """`who`'s saved filters, each with its list (None: saved before a state or municipality
    it names was removed)."""
    out = []
    for f in list_filters(engine, who):
        try:
            out.append((f, list_query.parse_query(f["query"], keys=list_query.SAVED_KEYS)))
        except BadInput:
            out.append((f, None))
    return out


def filters_with_counts(engine: Engine, who: Principal) -> list[dict]:
    """`who`'s saved filters with the count of each (one statement for all the counts);
    a filter whose municipality is no longer theirs has no count."""
    saved = saved_lists(engine, who)
    lists = [q for _, q in saved if q is not None]
    counts = iter(queues.count_lists(engine, who, lists) if lists else ())
    return [{**f, "count": None if q is None else next(counts)} for f, q in saved]


__all__ = ["MAX_FILTERS", "delete_filter", "filters_with_counts", "get_filter", "list_filters", "save_filter",
           "saved_lists"]
