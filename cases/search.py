"""Finding a case when the person phones in: by identity number, by name, or by case id,
only within the user's municipalities, active and ended cases, newest first.

What the query is decides how it is answered:
- an identity or coordination number (12 or 10 digits, with or without `-`/`+`; a
  10-digit number gets its century as at registration, models/identity.py): the cases of
  exactly that number (`ix_cases_person`);
- digits that are no identity number, or `#123`: that case;
- anything else is a name: each word a prefix of the given or the family name, compared
  in their folded forms (statemachine/person.py `fold`: "ozl" finds "Özlem").

Every case a search shows is in the access log (one row per case, action `search`, one
INSERT, committed before the answer is returned; the kind of search, never its words); a
case the number or id names in another municipality is not shown, and the attempt is
logged (`denied:search`). On PostgreSQL the rows are written in the read's transaction; on
SQLite in one of their own after the read, so that the writers' lock, which every view
of a case takes in turn, is held for the INSERT only.

The statement of each kind of query is built once (the number, the id, the words and the
municipalities are bound parameters).

How a name is found, within the user's municipalities: the longest word leads.
- A lead word of three characters ("ahm", what most people type first): each case lies
  in two indexes under the head of its folded names (the first three characters,
  models/case.py `name_head`), newest last; each index gives its newest cases under that
  head, the other words checked on them, and stops at the page's 21st; the two lists are
  merged newest first. At a million cases that is 21 entries of each index where the
  prefix's range was thousands ("ahm" in Stockholm), all read to keep the newest.
- Two characters: each head index's range of heads, every case of it read, the newest kept.
- Longer ("mohammed"): the range of the whole word in (municipality, given_key) and
  (municipality, family_key), the cases of that prefix alone, the newest kept. (Under the
  head, "mohammed" would read every "Mohammadi" of the family index to find none.)
- A user of every municipality: the same ranges of (given_key) and (family_key).

A prefix is written per database so that each uses its index: on PostgreSQL
`LIKE 'prefix%'` (% and _ escaped, by !) over text/varchar_pattern_ops indexes; on SQLite,
whose LIKE is case-insensitive and so uses no ordinary index, the same prefix as a range
(`key >= 'ozl' AND key < 'ozl' || U+10FFFF`; the keys are already folded).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from sqlalchemy import and_, bindparam, or_, select, union_all
from sqlalchemy.engine import Engine

from etablera.access import scope
from etablera.access.principal import OUTSIDE, Principal
from etablera.cases.audit import CASES
from etablera.models.case import NAME_HEAD, name_head
from etablera.models.configuration import Config, get_config
from etablera.models.database import transaction
from etablera.models.identity import IdentityError, parse_identity
from etablera.models.timestamps import local_date, utcnow
from etablera.statemachine.errors import BadInput
from etablera.statemachine.person import fold, printable
from etablera.statemachine.process import state_label

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
MAX_QUERY = 100                  # characters of a query
MIN_NAME = 2                     # characters of the longest word of a name query
MAX_WORDS = 6
MAX_ID = 2_147_483_647           # ids are 32-bit integers on PostgreSQL
ACTION = "search"
_IDENTITY = re.compile(r"^(\d{6}|\d{8})[-+]\d{4}$|^\d{10}$|^\d{12}$")
_CASE_ID = re.compile(r"^#?(\d+)$")
_LAST = "\U0010ffff"             # sorts after every character (BINARY: F4 8F BF BF)
_COLUMNS = (CASES.c.id, CASES.c.person, CASES.c.given_name, CASES.c.family_name, CASES.c.municipality,
            CASES.c.state, CASES.c.active, CASES.c.version)


def parse_query(query: str | None, today: date) -> tuple[str, object]:
    """What `query` asks for: ("number", 12 digits) | ("case", id) | ("name", words), the
    words longest first (the first leads the search; of equal ones, the first typed)."""
    text = " ".join(str(query or "").split())
    if not text:
        raise BadInput("search_query_missing", field="query")
    if len(text) > MAX_QUERY:
        raise BadInput("search_query_too_long", field="query", max=MAX_QUERY)
    if not printable(text):
        raise BadInput("search_query_not_valid", field="query")
    compact = text.replace(" ", "")
    if _IDENTITY.match(compact):
        try:
            return "number", parse_identity(compact, on=today).digits
        except IdentityError as exc:
            if not compact.isdigit():            # a number with its separator: a mistyped identity number
                raise BadInput(exc.code, field="query") from None
    found = _CASE_ID.match(compact)
    if found:
        return "case", int(found.group(1))
    words = [w for w in re.split(r"[\s,]+", fold(text)) if w][:MAX_WORDS]
    if not words or max(len(w) for w in words) < MIN_NAME:
        raise BadInput("search_query_too_short", field="query", min=MIN_NAME)
    return "name", tuple(sorted(words, key=len, reverse=True))


def search(engine: Engine, who: Principal, query: str, *, limit: int = DEFAULT_LIMIT, lang: str = "sv",
           today: date | None = None, config: Config | None = None) -> dict:
    """The cases `query` finds that `who` may see, newest first, at most `limit` (1–100).
    Each case shown is logged as seen by `who`."""
    config = config or get_config()
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput("limit_range", field="limit", max=MAX_LIMIT)
    kind, value = parse_query(query, today or local_date(utcnow()))
    if kind == "case" and not 1 <= value <= MAX_ID:
        return _answer(kind, limit, [], False, config, lang)
    dialect = engine.dialect.name
    found = _select(*_shape(kind, value, who.municipalities), dialect)
    values = {**_values(kind, value, who.municipalities, dialect), "limit": limit + 1}
    apart = dialect == "sqlite"         # SQLite: the read outside the writers' lock (queues.list_cases)
    with transaction(engine, write=not apart, single=apart) as conn:
        rows = conn.execute(found, values).mappings().all()
        visible = [r for r in rows if who.sees(r["municipality"])]
        hidden = [r["id"] for r in rows if not who.sees(r["municipality"])]
        if not apart:
            _log(conn, who, kind, [r["id"] for r in visible[:limit]], hidden)
    if apart and rows:
        with transaction(engine) as conn:
            _log(conn, who, kind, [r["id"] for r in visible[:limit]], hidden)
    return _answer(kind, limit, visible[:limit], len(visible) > limit, config, lang)


def _log(conn, who: Principal, kind: str, shown: list[int], hidden: list[int]) -> None:
    scope.shown(conn, who, shown, ACTION, kind)
    scope.shown(conn, who, hidden, f"denied:{ACTION}", OUTSIDE)


def statement(kind: str, value, municipalities: tuple[str, ...] | None, dialect: str):
    """The SELECT that answers a parsed query (`parse_query`) for `municipalities` (None:
    all) on `dialect` (sqlite | postgresql), newest first, with its values (`search` runs
    the same statement with the values beside it)."""
    return _select(*_shape(kind, value, municipalities), dialect).params(
        {**_values(kind, value, municipalities, dialect), "limit": DEFAULT_LIMIT + 1})


def _shape(kind: str, value, municipalities: tuple[str, ...] | None) -> tuple:
    """What the statement of a query depends on: its kind, its number of words, the user's
    places (None: every municipality; one; many) and its lead word's length, as
    `_select` takes them."""
    places = None if municipalities is None else "one" if len(municipalities) == 1 else "many"
    if kind != "name":
        return kind, 0, places, None
    lead = len(value[0])
    return kind, len(value), places, "short" if lead < NAME_HEAD else "head" if lead == NAME_HEAD else "longer"


@lru_cache(maxsize=64)
def _select(kind: str, words: int, places: str | None, lead: str | None, dialect: str):
    """The statement of one shape of query (`_shape`; built once: the values are bound
    parameters)."""
    query = select(*_COLUMNS).order_by(CASES.c.id.desc()).limit(bindparam("limit"))
    if kind == "number":                # every case of the number: one outside scope is logged as refused
        return query.where(CASES.c.person == bindparam("value"))
    if kind == "case":
        return query.where(CASES.c.id == bindparam("value"))
    others = [_word(i, dialect) for i in range(1, words)]
    place = (None if places is None else CASES.c.municipality == bindparam("municipality") if places == "one"
             else CASES.c.municipality.in_(bindparam("municipalities", expanding=True)))
    if place is not None and lead != "longer":
        # Each name's index under the head, newest first: the head itself (three
        # characters) or, for two, its range of heads.
        newest = []
        for key in (CASES.c.given_key, CASES.c.family_key):
            first = _prefix(name_head(key), 0, dialect) if lead == "short" else name_head(key) == bindparam("head")
            ids = select(CASES.c.id).where(place, first, *others).order_by(CASES.c.id.desc())\
                .limit(bindparam("limit")).subquery()
            newest.append(select(ids.c.id))
        return query.where(CASES.c.id.in_(union_all(*newest)))
    # A longer lead word: its range of (municipality, given_key) and (municipality,
    # family_key), the cases of that prefix alone (every one read, the newest kept); a user
    # of every municipality: the same of (given_key) and (family_key). On SQLite the ids
    # first, from the two indexes alone (each entry holds its rowid, the id), then the rows
    # of those ids only; PostgreSQL weighs it by its statistics.
    query = query.where(*([] if place is None else [place]), _word(0, dialect), *others)
    if dialect == "sqlite":
        return select(*_COLUMNS).where(CASES.c.id.in_(query.with_only_columns(CASES.c.id))).order_by(CASES.c.id.desc())
    return query


def _word(i: int, dialect: str):
    """Word i is a prefix of the given or the family name."""
    return or_(_prefix(CASES.c.given_key, i, dialect), _prefix(CASES.c.family_key, i, dialect))


def _prefix(column, i: int, dialect: str):
    if dialect == "postgresql":
        return column.like(bindparam(f"w{i}"), escape="!")
    return and_(column >= bindparam(f"w{i}"), column < bindparam(f"w{i}_end"))


def _values(kind: str, value, municipalities: tuple[str, ...] | None, dialect: str) -> dict:
    if kind != "name":
        return {"value": value}
    values: dict = {"head": value[0][:NAME_HEAD]}
    if municipalities is not None:
        values.update({"municipality": municipalities[0]} if len(municipalities) == 1
                      else {"municipalities": list(municipalities)})
    for i, word in enumerate(value):
        if dialect == "postgresql":
            values[f"w{i}"] = word.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
        else:
            values[f"w{i}"], values[f"w{i}_end"] = word, word + _LAST
    return values


def _answer(kind: str, limit: int, rows, more: bool, config: Config, lang: str) -> dict:
    return {"by": kind, "limit": limit, "more": more, "items": [
        {"id": r["id"], "given_name": r["given_name"], "family_name": r["family_name"], "person": r["person"],
         "municipality": r["municipality"], "municipality_name": config.municipalities.get(r["municipality"]),
         "state": r["state"], "state_label": state_label(r["state"], lang), "active": r["active"],
         "version": r["version"]} for r in rows]}
