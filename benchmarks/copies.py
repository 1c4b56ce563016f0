"""A large database quickly: the bulk writer's cohort copied in SQL.

`etablera.demo.bulk.write_cohort` writes the engine's own rows, but on a loaded 2-core
machine at ~6 s per 1,000 cases (10 minutes for 100,000). For the planner and for index
costs what counts is how many rows there are and how their values spread, so a seed
cohort from the writer is copied, in one INSERT ... SELECT per table, until there are
`size` cases: copy k has every id shifted by k times the seed's largest and a person
number of its own (12 digits from its id: no valid identity number, never one of the
seed's), and each copy's measures and events point at its cases. The copies' hash chains
are not valid (nothing here verifies them). Used by tests/test_query_plans.py and
benchmarks/bench_register.py.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

from etablera.cases.audit import CASES, EVENTS
from etablera.models import Measure
from etablera.models.database import transaction

TABLES = ("cases", "measures", "audit_events")


def copy_cohort(engine: Engine, size: int, tables: tuple[str, ...] = TABLES) -> int:
    """Copy the cases there (and their rows in `tables`) until there are at least `size`
    cases; on PostgreSQL VACUUM ANALYZE what was copied. Returns the number of cases."""
    with transaction(engine, write=False) as conn:
        row = conn.execute(text("SELECT (SELECT max(id) FROM cases), (SELECT max(id) FROM measures), "
                                "(SELECT max(id) FROM audit_events)")).one()
        seeded = conn.execute(text("SELECT count(*) FROM cases")).scalar()
    top = dict(zip(TABLES, (value or 0 for value in row)))
    copies = -(-size // seeded) - 1
    if copies <= 0:
        return seeded
    sqlite = engine.dialect.name == "sqlite"
    number = "printf('%012d', c.id + k * {top})" if sqlite else "lpad((c.id + k * {top})::text, 12, '0')"
    series = ("WITH RECURSIVE ks(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM ks WHERE k < :copies) "
              if sqlite else "WITH ks AS (SELECT generate_series(1, :copies) AS k) ")
    shifted = {"id": "c.id + k * {top}", "case_id": "c.case_id + k * " + str(top["cases"])}
    made = {"cases": {"id": shifted["id"], "person": number}, "measures": shifted, "audit_events": shifted}
    columns_of = {"cases": CASES, "measures": Measure, "audit_events": EVENTS}
    with transaction(engine) as conn:
        for name in tables:
            columns = [c.name for c in columns_of[name].c if c.name != "txid"]     # txid: the database's own
            values = ", ".join(made[name].get(column, "c." + column).format(top=top[name]) for column in columns)
            conn.execute(text(f"{series}INSERT INTO {name} ({', '.join(columns)}) SELECT {values} FROM {name} c, ks"),
                         {"copies": copies})
        if not sqlite:
            for name in tables:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
    if not sqlite:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM ANALYZE {', '.join(tables)}")
    return seeded * (copies + 1)
