"""Reading a case to look at it (cases/queries.view_case). On PostgreSQL the case, its
measures and its history come in one statement, the two lists as JSON beside the case's
columns: the rows it gives must be the rows the three statements give (SQLite's way, and
the way before), value for value and type for type, and the documents built from them the
same. A case whose documents read more (its track's standing, its notes and documents, its
corrections) is read again in one transaction with that, so all of it is one snapshot."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import event, func, select

from identities import pnr
from kit import add_measure, add_note, advance, attach, change_measure, correct, register
from etablera.access.principal import Principal
from etablera.cases import queries
from etablera.cases.journal import load_case
from etablera.demo.bulk import write_cohort
from etablera.models import AccessLog
from etablera.models.configuration import get_config
from etablera.models.database import transaction

A = "0581"
EVERYWHERE = Principal("revisor", "Revisor", "auditor", "kommun", None)
COORDINATOR = Principal("samord0581", "Samordnare", "coordinator", "kommun", (A,), A)
ELSEWHERE = Principal("h1280", "Handläggare", "officer", "kommun", ("1280",), "1280")
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


@pytest.fixture
def pg_engine(pg_url):
    from etablera.models.database import make_engine
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def _casework(engine) -> dict[str, int]:
    """Cases with what the cohort does not have: a note, a document, a correction, measures
    started, finished and cancelled."""
    cases = {}
    c = register(engine, pnr("19900101", 21), A, "2025-01-10", "2025-02-03")
    advance(engine, c, "hold_talk", "2025-02-10")
    advance(engine, c, "establish_plan", "2025-02-17", plan="handlingsplan")
    started = add_measure(engine, c, "sfi", "2025-02-18")
    done = add_measure(engine, c, "civic_orientation", "2025-02-18")
    cancelled = add_measure(engine, c, "validation", "2025-02-19")
    change_measure(engine, started, "start", "2025-02-20")
    change_measure(engine, done, "start", "2025-02-21")
    change_measure(engine, cancelled, "cancel", "2025-03-01", reason="not_needed")
    change_measure(engine, done, "complete", "2025-04-30")
    cases["measures"] = c
    c = register(engine, pnr("19910202", 22), A, "2025-01-10", "2025-02-03")
    add_note(engine, c, "Samtal med individen", "2025-02-05")
    attach(engine, c, "intyg.pdf", b"%PDF-1.4 intyg", "application/pdf", "2025-02-06")
    cases["journal"] = c
    c = register(engine, pnr("19920303", 23), A, "2025-01-10", "2025-02-03")
    step = advance(engine, c, "hold_talk", "2025-02-10")
    correct(engine, c, step["seq"], "2025-02-11", actor=COORDINATOR, reason="wrong_case", note="Fel person")
    cases["corrected"] = c
    return cases


def _three_statements(conn, case_id: int) -> tuple[dict, list, list]:
    return (load_case(conn, case_id), queries._MEASURES_OF.all(conn, {"case_id": case_id}),
            queries._EVENTS_OF.all(conn, {"case_id": case_id}))


@pytest.mark.postgres
def test_one_statement_reads_the_rows_the_three_read(pg_engine):
    write_cohort(pg_engine, 150, seed=3, workers=1, now=NOW)
    _casework(pg_engine)
    with transaction(pg_engine, write=False) as conn:
        ids = conn.execute(select(queries.CASES.c.id)).scalars().all()
        assert len(ids) == 153
        for case_id in ids:
            # repr: the same values, of the same types (an instant in UTC, a date), keys in the same order
            assert repr(queries._read_rows(conn, case_id, True)) == repr(_three_statements(conn, case_id))
            case, measures, events = queries._read_rows(conn, case_id, False)
            assert events == [] and repr((case, measures)) == repr(_three_statements(conn, case_id)[:2])
        kinds = {m["state"] for case_id in ids for m in _three_statements(conn, case_id)[1]}
    assert {"ongoing", "completed", "cancelled"} <= kinds       # the instants and reasons a measure gathers


@pytest.mark.postgres
def test_the_documents_are_those_of_the_rows_and_the_reads_they_need(pg_engine):
    write_cohort(pg_engine, 60, seed=4, workers=1, now=NOW)
    cases = _casework(pg_engine)
    config = get_config()
    with transaction(pg_engine, write=False) as conn:
        ids = conn.execute(select(queries.CASES.c.id)).scalars().all()
    in_track = 0
    for case_id in ids:
        with transaction(pg_engine, write=False) as conn:
            case, measures, rows = _three_statements(conn, case_id)
            expected = queries.read_case(conn, case, measures, rows, config, "sv", history=True)
        in_track += queries._reads_more(case, []) and expected[0]["track_valid"] is not None
        assert queries.view_case(pg_engine, EVERYWHERE, case_id, history=True) == expected
    assert in_track > 0                                          # the track's standing was read too
    shown = {name: queries.view_case(pg_engine, EVERYWHERE, c, history=True) for name, c in cases.items()}
    assert [e["journal"] for e in shown["journal"][1] if "journal" in e][0]["note"]["text"] == "Samtal med individen"
    assert any("document" in e.get("journal", {}) for e in shown["journal"][1])
    assert any(e.get("corrected_by") for e in shown["corrected"][1])
    assert [m["state"] for m in shown["measures"][0]["measures"]] == ["ongoing", "completed", "cancelled"]


def _statements(engine, work) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.split(None, 1)[0].upper())
    event.listen(engine, "before_cursor_execute", record)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


@pytest.mark.postgres
def test_a_case_page_is_one_read_and_the_log_row(pg_engine):
    cases = _casework(pg_engine)
    plain = register(pg_engine, pnr("19940404", 24), A, "2025-01-10", "2025-02-03")
    view = lambda case_id: lambda: queries.view_case(pg_engine, EVERYWHERE, case_id, history=True)  # noqa: E731
    assert _statements(pg_engine, view(plain)) == ["SELECT", "INSERT"]
    # Notes and documents are read in the snapshot of the case, which is read again with them.
    assert _statements(pg_engine, view(cases["journal"])) == ["SELECT", "SELECT", "SELECT", "SELECT", "INSERT"]
    with transaction(pg_engine, write=False) as conn:
        logged = conn.execute(select(AccessLog.c.case_id, AccessLog.c.action).order_by(AccessLog.c.id)).all()
    assert logged[-4:] == [(plain, "show"), (plain, "history"), (cases["journal"], "show"),
                           (cases["journal"], "history")]


@pytest.mark.postgres
def test_a_case_outside_the_users_municipalities_is_not_found_and_logged(pg_engine):
    from etablera.statemachine.errors import NotFound
    case_id = _casework(pg_engine)["journal"]
    with pytest.raises(NotFound):
        queries.view_case(pg_engine, ELSEWHERE, case_id, history=True)
    with pytest.raises(NotFound):
        queries.view_case(pg_engine, ELSEWHERE, 999_999)
    with transaction(pg_engine, write=False) as conn:
        logged = conn.execute(select(AccessLog.c.case_id, AccessLog.c.action, AccessLog.c.actor)
                              .where(AccessLog.c.actor == ELSEWHERE.id)).all()
    assert logged == [(case_id, "denied:show", ELSEWHERE.id)]
    with transaction(pg_engine, write=False) as conn:
        detail = conn.execute(select(AccessLog.c.detail, AccessLog.c.role, AccessLog.c.organisation)
                              .where(AccessLog.c.actor == ELSEWHERE.id)).one()
    assert tuple(detail) == (queries.OUTSIDE, "officer", "kommun")


@pytest.mark.parametrize("history, only_history, actions", [(False, False, ["show"]), (True, False, ["show", "history"]),
                                                            (False, True, ["history"])])
def test_the_log_rows_say_what_was_read_by_whom_on_both_databases(any_engine, history, only_history, actions):
    case_id = register(any_engine, pnr("19950505", 25), A, "2025-01-10", "2025-02-03")
    seen = Principal("h0581", "Handläggare", "officer", "kommun", (A,), A)
    with transaction(any_engine, write=False) as conn:
        last = conn.execute(select(func.max(AccessLog.c.id))).scalar() or 0
    queries.view_case(any_engine, seen, case_id, history=history, only_history=only_history)
    with transaction(any_engine, write=False) as conn:
        rows = conn.execute(select(AccessLog.c.case_id, AccessLog.c.action, AccessLog.c.actor, AccessLog.c.role,
                                   AccessLog.c.organisation, AccessLog.c.detail, AccessLog.c.at)
                            .where(AccessLog.c.id > last).order_by(AccessLog.c.id)).all()
    assert [tuple(r[:6]) for r in rows] == [(case_id, a, "h0581", "officer", "kommun", None) for a in actions]
    assert len({r.at for r in rows}) == 1 and rows[0].at.tzinfo is not None
