"""Queues and lists of cases: "mine", "unassigned in my municipalities", "overdue",
"awaiting joint assessment", "follow-up due" and "transferred in", each with its count on
the start page, and the one scoped listing behind the worklist, the API's case list, the
CSV export, a user's saved filters and the report's figures (reports/links.py).

The list covers the principal's municipalities only; asking for one outside them is
refused (403) and logged. What a list holds is its `ListQuery` (cases/list_query.py); the
statements that select and count it are in cases/list_statements.py. A count of a thousand
cases or more may be one made up to half a minute ago (cases/recent_counts.py), shared by
the users whose count it is; the rows are always read now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.engine import Engine

from etablera.access import scope
from etablera.access.principal import Principal
from etablera.cases import recent_counts
from etablera.cases.list_query import QUEUES, ListQuery
from etablera.cases.list_statements import _counts, _listing, _listing_counted, _shape, _values, bound
from etablera.cases.worklist import LADDER_STEPS, MAX_LIMIT
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.timestamps import local_date, show, utcnow
from etablera.statemachine.errors import BadInput, EtableraError
from etablera.statemachine.process import state_label

LISTED = "list"                 # the access log's action for a case a list showed by name


def places_of(engine: Engine, who: Principal, q: ListQuery, action: str = "list") -> tuple[str, ...] | None:
    """The municipalities a list covers: those asked for (each in scope) or all of the
    principal's. One outside is refused (403) and the attempt logged."""
    try:
        return scope.scoped_municipalities(who, q.municipalities)
    except EtableraError:
        outside = [m for m in q.municipalities if not who.sees(m)]
        scope.log(engine, who, None, f"denied:{action}", f"municipality {','.join(outside)} outside the user's")
        raise


def list_cases(engine: Engine, who: Principal, q: ListQuery, *, limit: int = 50, offset: int = 0,
               today: date | None = None, lang: str = "sv", config: Config | None = None,
               counted: tuple[ListQuery, ...] | list[ListQuery] = ()) -> dict:
    """One page of a list, with its total (the same filters counted) and the offsets of the
    next and previous pages. `counted`: more lists to count beside it (the start page's
    queues and saved filters), as `count_lists` counts them, in the same statement as the
    total (under "counts"); a list equal to `q` is counted once.

    The rows and the counts are read in one snapshot. On PostgreSQL they are one statement,
    each row carrying the counts, outside a transaction: the BEGIN, the COMMIT and the
    counts' own statement were three of the start page's seven round trips. A list with
    no rows carries no counts; it is read again with them in a read transaction, as on
    SQLite (at REPEATABLE READ: at READ COMMITTED a case changing between the statements
    made the total disagree with the rows). A list by track first brings the report's
    stays up to date, in a transaction of its own. Each case shown by name is in the
    access log before the page is returned, written after the read in a statement of its
    own (on SQLite the writers' lock, which every view of a case takes in turn, is held
    for the INSERT only and not for the list's reads)."""
    config = config or get_config()
    today = today or local_date(utcnow())
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput("limit_range", field="limit", max=MAX_LIMIT)
    if offset < 0:
        raise BadInput("offset_negative", field="offset")
    places = places_of(engine, who, q)
    dialect = engine.dialect.name
    shape = _shape(q, who, places, dialect, today)
    values = _values(q, who, places, today)
    lists = list(dict.fromkeys([q, *counted]))          # q first: its count is the total
    counting = _counting(engine, who, lists, today)
    if q.track:               # the stays are the report's derived table: up to date with the trail first
        from etablera.reports.facts import refresh
        refresh(engine)
    given = {**values, "limit": limit + 1, "offset": offset}
    rows = counts = None
    if dialect == "postgresql":
        with transaction(engine, write=False, single=True) as conn:
            rows = conn.execute(_listing_counted(shape, q.sort, counting.shapes),
                                {**given, **counting.values}).mappings().all()
        if rows or not counting.shapes:
            counts = counting.take(rows[0] if rows else None)
    if counts is None:
        with transaction(engine, write=False) as conn:
            rows = conn.execute(_listing(shape, q.sort), given).mappings().all()
            counts = counting.run(conn)
    # A row with a name shows personal data: each such case shown is in the access log.
    shown = [r["id"] for r in rows[:limit] if r["given_name"] or r["family_name"]]
    if shown:
        with transaction(engine, single=True) as conn:
            scope.shown(conn, who, shown, LISTED)
    more = len(rows) > limit
    page = {"today": today.isoformat(), "queue": q.queue, "mine": q.queue == "mine", "sort": q.sort,
            "query": q.params(), "limit": limit, "offset": offset, "total": counts[0],
            "next_offset": offset + limit if more else None,
            "prev_offset": max(offset - limit, 0) if offset > 0 else None,
            "items": [item(r, today, config, lang) for r in rows[:limit]]}
    if counted:
        page["counts"] = [counts[lists.index(c)] for c in counted]
    return page


def item(r, today: date, config: Config, lang: str) -> dict:
    """A listed case as the worklist shows it (the person's name where the case has one)."""
    late = (today - r["due"]).days if r["due"] else 0
    step = LADDER_STEPS.get(r["ladder"])
    return {"id": r["id"], "municipality": r["municipality"],
            "municipality_name": config.municipalities.get(r["municipality"]),
            "target_group": r["target_group"], "state": r["state"], "state_label": state_label(r["state"], lang),
            "state_since": show(r["state_since"]), "due": r["due"].isoformat() if r["due"] else None,
            "establishment_due": r["establishment_due"].isoformat(), "overdue": late > 0,
            "days_late": late if late > 0 else 0, "reminder": step, "escalated": step == "escalation",
            "track": r["track"], "kommun_officer": r["kommun_officer"], "af_officer": r["af_officer"],
            "given_name": r["given_name"], "family_name": r["family_name"],
            "transferred_at": r["transferred_at"].isoformat() if r["transferred_at"] else None,
            "active": bool(r["active"]), "version": r["version"]}


def count_lists(engine: Engine, who: Principal, lists: list[ListQuery], today: date | None = None) -> list[int | None]:
    """The count of each list in one statement (a large one may be a recent count,
    cases/recent_counts.py); None for a list outside the principal's scope now (a saved
    filter whose municipality is no longer theirs)."""
    counting = _counting(engine, who, lists, today or local_date(utcnow()))
    if not counting.shapes:
        return counting.run(None)
    with transaction(engine, write=False, single=True) as conn:
        return counting.run(conn)


@dataclass
class _Counting:
    """The counts of some lists: those made now, in one statement (`_counts` of their
    shapes), and the large ones counted less than recent_counts.SECONDS ago."""
    engine: Engine
    shapes: tuple                   # of the lists counted now: the statement's columns q0, q1, ...
    values: dict
    slots: list[tuple | None]       # of each list: None (out of scope), ("now", column name, key) or ("kept", count)

    def run(self, conn) -> list[int | None]:
        """The counts, those made now read by their own statement on `conn`."""
        return self.take(conn.execute(_counts(self.shapes), self.values).mappings().one() if self.shapes else None)

    def take(self, row) -> list[int | None]:
        """The counts, those made now read from `row` (its columns q0, q1, ...: of the
        statement, or of a list's row that carries them, `_listing_counted`)."""
        counts: list[int | None] = []
        for slot in self.slots:
            if slot is None:
                counts.append(None)
            elif slot[0] == "kept":
                counts.append(slot[1])
            else:
                _, column, list_key = slot
                counts.append(row[column])
                recent_counts.remember(self.engine, list_key, row[column])
        return counts


def _counting(engine: Engine, who: Principal, lists: list[ListQuery], today: date) -> _Counting:
    """How to count `lists`: the statement that counts those in scope with no recent count,
    its values, and where each list's count comes from."""
    shapes, values, slots = [], {}, []
    for q in lists:
        try:
            places = scope.scoped_municipalities(who, q.municipalities)
        except EtableraError:
            slots.append(None)
            continue
        shape, plain = _shape(q, who, places, engine.dialect.name, today), _values(q, who, places, today)
        read = bound(shape)
        list_key = recent_counts.key(shape, {k: v for k, v in plain.items() if k in read})
        kept = recent_counts.recent(engine, list_key)
        if kept is not None:
            slots.append(("kept", kept))
            continue
        p = f"q{len(shapes)}_"
        slots.append(("now", f"q{len(shapes)}", list_key))
        shapes.append(shape)
        values.update({p + k: v for k, v in plain.items()})
    return _Counting(engine, tuple(shapes), values, slots)


def queue_counts(engine: Engine, who: Principal, today: date | None = None) -> dict[str, int]:
    """The start page's queues and their counts, within the principal's municipalities."""
    counts = count_lists(engine, who, [ListQuery(queue=name) for name in QUEUES], today)
    return dict(zip(QUEUES, counts))


__all__ = ["count_lists", "item", "list_cases", "places_of", "queue_counts"]
