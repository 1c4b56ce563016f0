"""How PostgreSQL plans the start page's statement, counted: `python -m benchmarks stack`
prints it at a million cases, tests/test_query_plans.py checks it at the size it builds."""

from __future__ import annotations

from sqlalchemy import text

from etablera.access.principal import Principal
from etablera.cases import list_query, queues
from etablera.interfaces.http.pages.queues import PAGE, counted_lists
from etablera.models.database import make_engine

VIEWS = 15


def start_page_plans(url: str, who: Principal) -> list[tuple[int, int]]:
    """How PostgreSQL planned the start page's statement (`who`'s own cases, a page of them,
    the queues' counts beside them) over VIEWS views in turn on one connection: (generic
    plans, custom plans) of each prepared statement of that list. psycopg prepares a
    statement at its sixth run, and PostgreSQL makes five custom plans before it weighs the
    generic one; a statement with no generic plan by then is planned again at every view."""
    engine = make_engine(url)           # used in turn: one connection
    try:
        counted, _ = counted_lists(engine, who)
        for _ in range(VIEWS):
            queues.list_cases(engine, who, list_query.ListQuery(queue="mine"), limit=PAGE, counted=counted)
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(      # the officer's column: kommun_ or af_officer
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE 'SELECT cases.id, %' AND statement LIKE '%officer = $%'"))]
    finally:
        engine.dispose()
