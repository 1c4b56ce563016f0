"""The start page's six queue counts read one index range each and nothing else (migration
0010), on SQLite and PostgreSQL, and the follow-up queue, which now asks for the exit's
instant in ranges computed from Stockholm days, is exactly the deadline check's due list:
exits a second either side of each window's first and last day, in summer and winter
time, recorded follow-ups, an exit that is not followed up, another municipality."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, insert, text, update

import kit
from identities import pnr
from etablera.access.principal import Principal
from etablera.cases import list_query, queues
from etablera.cases.audit import CASES
from etablera.cases.followup import DUE_WINDOW_DAYS, due_followups
from etablera.models import Case, FollowUp
from etablera.models.case import FOLLOWED_UP_SQL
from etablera.models.database import transaction
from etablera.models.followup import FOLLOWUP_DAYS
from etablera.models.timestamps import day_start, local_date
from etablera.statemachine.process import FOLLOWED_UP

OFFICER = Principal("h0581", "Handläggare", "officer", "kommun", ("0581",), "0581")
COORDINATOR = Principal("s0581", "Samordnare", "coordinator", "kommun", ("0581",), "0581")
AF = Principal("af-1", "AF-handläggare", "officer", "af", ("0580", "0581"), None, "af-nkpg")
# Two days whose windows' edges fall in winter and in summer time (and across the switches).
TODAYS = (date(2026, 1, 20), date(2026, 7, 1))


def test_the_follow_up_index_is_the_process_tables_followed_up_exits():
    assert tuple(re.findall(r"'([^']+)'", FOLLOWED_UP_SQL)) == FOLLOWED_UP


def _exit(engine, case_id: int, state: str, moment: datetime) -> None:
    with transaction(engine) as conn:
        conn.execute(update(CASES).where(CASES.c.id == case_id)
                     .values(state=state, state_since=moment, active=False, due=None))


def _edges(today: date) -> list[datetime]:
    """Instants a second, a minute and an hour either side of where each follow-up window
    of `today` begins and ends (Stockholm midnight in UTC), and the edges themselves."""
    out = []
    for n in FOLLOWUP_DAYS:
        for day in (today - timedelta(days=n + DUE_WINDOW_DAYS - 1), today - timedelta(days=n - 1)):
            edge = day_start(day)
            out += [edge + timedelta(seconds=s) for s in (-3600, -60, -1, 0, 1, 3600)]
    return out


def _due_by_hand(rows, recorded: set[tuple[int, int]], today: date) -> set[int]:
    """The queue as its definition says: a followed-up exit whose day + n is within the
    last DUE_WINDOW_DAYS days up to today, that follow-up not recorded."""
    return {case_id for case_id, state, since, municipality in rows
            if state in FOLLOWED_UP and municipality == "0581"
            and any(today - timedelta(days=DUE_WINDOW_DAYS) < local_date(since) + timedelta(days=n) <= today
                    and (case_id, n) not in recorded for n in FOLLOWUP_DAYS)}


def test_the_follow_up_queue_is_the_deadline_checks_due_list(any_engine):
    engine, serial, moments = any_engine, 0, []
    for today in TODAYS:
        moments += _edges(today)
    cases = []
    for moment in moments:
        serial += 1
        case_id = kit.register(engine, pnr("19850101", serial), "0581", date(2024, 1, 10), actor="setup")
        _exit(engine, case_id, FOLLOWED_UP[serial % len(FOLLOWED_UP)], moment)
        cases.append(case_id)
    # an exit not followed up, and one in another municipality, both inside a window
    inside = day_start(TODAYS[0] - timedelta(days=100))
    for state, municipality in (("exited.fast_track", "0581"), ("exited.work", "0580")):
        serial += 1
        case_id = kit.register(engine, pnr("19850101", serial), municipality, date(2024, 1, 10), actor="setup")
        _exit(engine, case_id, state, inside)
    # every third exit has each of its follow-ups recorded that are due on one of the days
    recorded = set()
    with transaction(engine) as conn:
        for case_id in cases[::3]:
            for today in TODAYS:
                for due in due_followups(conn, today, municipality="0581"):
                    if due.case_id == case_id and (case_id, due.day) not in recorded:
                        recorded.add((case_id, due.day))
                        conn.execute(insert(FollowUp).values(
                            case_id=case_id, day=due.day, status="work", exit_state=due.exit_state,
                            municipality="0581", at=datetime(2026, 7, 1, tzinfo=timezone.utc), actor="setup", seq=1))
        rows = conn.execute(CASES.select().with_only_columns(CASES.c.id, CASES.c.state, CASES.c.state_since,
                                                            CASES.c.municipality)).all()
    assert recorded
    for today in TODAYS:
        expected = _due_by_hand(rows, recorded, today)
        assert expected and expected != set(cases)
        deadline = {d.case_id for d in due_followups(engine, today, municipality="0581")}
        for who in (OFFICER, COORDINATOR):
            page = queues.list_cases(engine, who, list_query.ListQuery(queue="followup"), limit=200, today=today)
            listed = {item["id"] for item in page["items"]}
            counted = queues.queue_counts(engine, who, today)["followup"]
            assert listed == deadline == expected, today
            assert counted == page["total"] == len(expected), today


# --- the plans ---------------------------------------------------------------------------

QUEUE_INDEXES = {"ix_cases_queue_kommun", "ix_cases_queue_due", "ix_cases_queue_state",
                 "ix_cases_queue_transferred", "ix_cases_queue_followup"}


def _counts_statement(engine, who: Principal) -> tuple[str, object]:
    """The statement count_lists runs for the start page's queues, with its parameters."""
    seen = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))
    event.listen(engine, "before_cursor_execute", grab)
    try:
        queues.queue_counts(engine, who)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    return next((s, p) for s, p in seen if "count(" in s)


def _many_cases_on_postgresql(engine) -> None:
    """PostgreSQL plans by its statistics: 6,000 cases copied from one registered case
    (municipalities, officers, states, due dates, transfers and exits spread over them),
    VACUUMed (index-only scans need the visibility map) and ANALYZEd, as a real database
    is; on empty tables every plan costs the same and says nothing."""
    case_id = kit.register(engine, pnr("19850101", 999), "0581", date(2024, 1, 10), actor="setup")
    made = {
        "person": "lpad((100000000000 + g)::text, 12, '0')",
        "municipality": "(ARRAY['0581', '0580', '0180', '0160'])[g % 4 + 1]",
        "kommun_officer": "CASE WHEN g % 5 = 0 THEN NULL ELSE 'h0581' || repeat('x', g % 7) END",
        "af_officer": "CASE WHEN g % 3 = 0 THEN NULL ELSE 'af-' || (g % 5) END",
        "state": "CASE g % 10 WHEN 0 THEN 'exited.work' WHEN 1 THEN 'assessment.pending' ELSE c.state END",
        "active": "g % 10 <> 0",
        "due": "CASE WHEN g % 10 = 0 THEN NULL ELSE current_date + (g % 200 - 100) END",
        "state_since": "now() - g * interval '2 hours'",
        "transferred_at": "CASE WHEN g % 40 = 0 THEN current_date - g % 60 END",
    }
    columns = [c.name for c in CASES.c if c.name != "id"]
    values = ", ".join(made.get(name, f"c.{name}") for name in columns)
    with transaction(engine) as conn:
        conn.execute(text(f"INSERT INTO cases ({', '.join(columns)}) SELECT {values} "
                          f"FROM cases c, generate_series(1, 6000) g WHERE c.id = {case_id}"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE cases")


def _index_names(engine, table: str) -> set[str]:
    """The table's indexes as the database lists them (SQLAlchemy's reflection leaves out
    SQLite's expression indexes, such as the name heads: models/case.py)."""
    listed = ("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t" if engine.dialect.name == "sqlite"
              else "SELECT indexname FROM pg_indexes WHERE tablename = :t AND schemaname = current_schema()")
    with engine.connect() as conn:
        return set(conn.execute(text(listed), {"t": table}).scalars())


@pytest.mark.parametrize("who", [OFFICER, AF], ids=["kommun", "af"])
def test_each_queue_count_reads_one_index_and_not_the_table(any_engine, who):
    engine = any_engine
    if engine.dialect.name == "postgresql":
        _many_cases_on_postgresql(engine)
    assert {ix.name for ix in Case.indexes} <= _index_names(engine, "cases")
    sql, params = _counts_statement(engine, who)
    expected = QUEUE_INDEXES - {"ix_cases_queue_kommun"} | {f"ix_cases_queue_{who.organisation}"}
    with transaction(engine, write=False) as conn:
        if engine.dialect.name == "sqlite":
            plan = [r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()]
            reads = [line for line in plan if re.search(r"\b(SCAN|SEARCH) cases\b", line)]
            assert reads and all("USING COVERING INDEX ix_cases_queue_" in line for line in reads), plan
            used = {re.search(r"INDEX (\w+)", line).group(1) for line in reads}
        else:
            plan = [r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql, params).all()]
            reads = [line for line in plan if re.search(r" on cases\b", line)]
            assert reads and all("Index Only Scan using ix_cases_queue_" in line for line in reads), plan
            used = {re.search(r"using (\w+)", line).group(1) for line in reads}
    assert used == expected, plan
