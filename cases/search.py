"""Finding a case when the person phones in: by identity number, by name, or by case id,
only within the user's municipalities, active and ended cases, newest first.

What the query is decides how it is answered:
- an identity or coordination number (12 or 10 digits, with or without `-`/`+`; a
  10-digit number gets its century as at registration, models/identity.py): the cases of
  exactly that number (`ix_cases_person`);
- digits that are no identity number, or `#123`: that case;
- anything else is a name: each word a prefix of the given or the family name, compared
  in their folded forms (statemachine/person.py `fold`: "ozl" finds "Özlem"), by an
  indexed range of `given_key`/`family_key` within each of the user's municipalities
  (the indexes (municipality, given_key) and (municipality, family_key)).

Every case a search shows is in the access log (one row per case, action `search`, in the
same transaction as the read; the kind of search, never its words); a case the number or
id names in another municipality is not shown, and the attempt is logged (`denied:search`).

The name statement is written per database so that each uses its index: on PostgreSQL
`LIKE 'prefix%'` (% and _ escaped, by !) over the keys' varchar_pattern_ops indexes; on SQLite,
whose LIKE is case-insensitive and so uses no ordinary index, the same prefix as a range
(`key >= 'ozl' AND key < 'ozl' || U+10FFFF`; the keys are already folded).
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine

from etablera.access import scope
from etablera.access.principal import OUTSIDE, Principal
from etablera.cases.audit import CASES
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
    """What `query` asks for: ("number", 12 digits) | ("case", id) | ("name", words)."""
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
    return "name", tuple(words)


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
    found = statement(kind, value, who.municipalities, engine.dialect.name).limit(limit + 1)
    with transaction(engine) as conn:
        rows = conn.execute(found).mappings().all()
        visible = [r for r in rows if who.sees(r["municipality"])]
        hidden = [r for r in rows if not who.sees(r["municipality"])]
        scope.shown(conn, who, (r["id"] for r in visible[:limit]), ACTION, kind)
        scope.shown(conn, who, (r["id"] for r in hidden), f"denied:{ACTION}", OUTSIDE)
    return _answer(kind, limit, visible[:limit], len(visible) > limit, config, lang)


def statement(kind: str, value, municipalities: tuple[str, ...] | None, dialect: str):
    """The SELECT that answers a parsed query (`parse_query`) for `municipalities` (None:
    all) on `dialect` (sqlite | postgresql), newest first."""
    query = select(*_COLUMNS).order_by(CASES.c.id.desc())
    if kind == "number":                # every case of the number: one outside scope is logged as refused
        return query.where(CASES.c.person == value)
    if kind == "case":
        return query.where(CASES.c.id == value)
    if municipalities is not None:
        # Each municipality's range of the prefix, on (municipality, given_key) and
        # (municipality, family_key): never the whole country's cases of the prefix.
        query = query.where(CASES.c.municipality.in_(municipalities))
    words = [or_(_prefix(CASES.c.given_key, w, dialect), _prefix(CASES.c.family_key, w, dialect)) for w in value]
    return query.where(and_(*words))


def _prefix(column, prefix: str, dialect: str):
    if dialect == "postgresql":
        escaped = prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        return column.like(escaped + "%", escape="!")
    return and_(column >= prefix, column < prefix + _LAST)


def _answer(kind: str, limit: int, rows, more: bool, config: Config, lang: str) -> dict:
    return {"by": kind, "limit": limit, "more": more, "items": [
        {"id": r["id"], "given_name": r["given_name"], "family_name": r["family_name"], "person": r["person"],
         "municipality": r["municipality"], "municipality_name": config.municipalities.get(r["municipality"]),
         "state": r["state"], "state_label": state_label(r["state"], lang), "active": r["active"],
         "version": r["version"]} for r in rows]}
