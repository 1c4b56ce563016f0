"""The follow-up report on a hand-built cohort whose every figure is known, on SQLite and
PostgreSQL: medians and quartiles, shares, per-track outcomes, skips, overdue stages,
paused time excluded, a transferred case counted where it was, empty selections as zeros.

The cohort (A = 0581 Norrköping, B = 0180 Stockholm; all events at midday Stockholm):

case 1, A: permit 2024-12-01, registered 2025-01-10, talk 01-20, plan 02-09 (module 1:
    30 days), assessment requested 06-09 (module 2: 120), local track `industri` 06-19
    (assessment: 10), track completed to work 12-16 (module 3: 180); 380 days from permit.
case 2, A: permit 2025-01-01, registered 01-15, on hold 01-25 – 03-06 (40 days), talk
    03-10, plan 03-16 (module 1: 60 - 40 = 20 days), straight to work 05-15 skipping
    module 3 (module 2: 60); 134 days from permit; 90-day follow-up recorded: work.
case 3, A then B: permit 2025-01-01, registered 02-01 in A, talk 02-11, transferred to B
    02-21, module 2 skipped 03-03 (module 1: 30 days, counted in B), decision work 03-13
    skipping module 3 (assessment: 10, in B); 71 days from permit.
case 4, B: permit 2024-06-01, registered 2024-06-10, closed 2025-04-01 (module 1: 295).
case 5, A: permit 2025-02-15, registered 2025-03-01, still in module 1 (overdue).
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select, text

from etablera.models.database import make_engine
from etablera.cases import followup
from etablera.reports.report import build_report
from etablera.reports.scope import make_scope
from etablera.reports import facts
from etablera.reports.facts import refresh
from etablera.reports.sql import Dialect
from etablera.reports.overdue import ladder_levels
from etablera.models import Case, Measure
from etablera.statemachine.process import OPEN_MEASURE_STATES, STAGE_OF
from identities import pnr
import kit
from kit import add_measure, advance, at, change_measure, correct, register

A, B = "0581", "0180"
TODAY = date(2026, 11, 23)
PERIOD = dict(start=date(2025, 1, 1), end=date(2025, 12, 31), today=TODAY)


def build_cohort(engine) -> dict[int, int]:
    ids = {}
    c = ids[1] = register(engine, pnr("19900101", 101), A, "2024-12-01", "2025-01-10")
    advance(engine, c, "hold_talk", "2025-01-20")
    advance(engine, c, "establish_plan", "2025-02-09", plan="handlingsplan")
    advance(engine, c, "request_assessment", "2025-06-09")
    advance(engine, c, "decide", "2025-06-19", decision="local_track", track="industri",
            participants="kommun,af,individual,employer", note="Industrispåret passar")
    advance(engine, c, "complete_track", "2025-12-16", outcome="work")

    c = ids[2] = register(engine, pnr("19880202", 202), A, "2025-01-01", "2025-01-15")
    advance(engine, c, "pause", "2025-01-25", reason="illness")
    advance(engine, c, "resume", "2025-03-06")
    advance(engine, c, "hold_talk", "2025-03-10")
    advance(engine, c, "establish_plan", "2025-03-16", plan="handlingsplan")
    advance(engine, c, "exit_direct", "2025-05-15", outcome="work", reason="job_offer", note="Anställd")

    c = ids[3] = register(engine, pnr("19850303", 303), A, "2025-01-01", "2025-02-01")
    advance(engine, c, "hold_talk", "2025-02-11")
    advance(engine, c, "transfer", "2025-02-21", municipality=B)
    advance(engine, c, "skip_module2", "2025-03-03", reason="validated_skills", note="Validerad svetsare")
    advance(engine, c, "decide", "2025-03-13", decision="work", participants="kommun,af,individual",
            reason="job_offer", note="Erbjuden anställning")

    c = ids[4] = register(engine, pnr("19800404", 404), B, "2024-06-01", "2024-06-10")
    advance(engine, c, "close", "2025-04-01", reason="moved_abroad")

    ids[5] = register(engine, pnr("19950505", 505), A, "2025-02-15", "2025-03-01")
    followup.record_followup(engine, kit.who("handl01"), ids[2], day=90, status="work", at=at("2025-08-20"))
    return ids


@pytest.fixture
def cohort_engine(db_url):
    engine = make_engine(db_url)
    build_cohort(engine)
    yield engine
    engine.dispose()


def stage(doc, name):
    return next(s for s in doc["time_in_stage"]["stages"] if s["stage"] == name)


def muni(rows, code):
    return next(r for r in rows if r["municipality"] == code)


def test_national_figures(cohort_engine):
    doc = build_report(cohort_engine, make_scope(**PERIOD))
    assert doc["refreshed_cases"] == 5
    module1 = stage(doc, "module1")           # 20, 30, 30, 295 days
    assert {k: module1[k] for k in ("n", "min", "max", "mean", "p25", "median", "p75", "p90")} == {
        "n": 4, "min": 20, "max": 295, "mean": 93.75, "p25": 27.5, "median": 30.0, "p75": 96.25, "p90": 215.5}
    assert module1["paused_days_excluded"] == 40 and module1["stays_with_pause"] == 1
    m2 = stage(doc, "module2.preparing")      # 60, 120
    assert (m2["n"], m2["p25"], m2["median"], m2["p75"], m2["p90"]) == (2, 75.0, 90.0, 105.0, 114.0)
    assessment = stage(doc, "assessment")     # 10 (A), 10 (B)
    assert (assessment["n"], assessment["median"]) == (2, 10.0)
    assert (stage(doc, "module3")["n"], stage(doc, "module3")["median"]) == (1, 180.0)
    assert stage(doc, "module2.extended")["n"] == 0 and stage(doc, "module2.extended")["median"] is None

    flow = doc["flow"]
    assert flow["entries"] == 4                 # case 4 registered in 2024
    assert flow["exits"] == {"exited.work": 3, "exited.own_business": 0, "exited.studies": 0,
                             "exited.fast_track": 0, "closed": 1}
    assert (flow["transfers_in"], flow["transfers_out"]) == (1, 1)

    est = doc["establishment"]
    assert (est["starters"], est["established"], est["established_within_two_years"]) == (4, 3, 3)
    assert est["share_within_two_years"] == 0.75 and est["still_within_frame"] == 1
    days = est["days_from_permit"]            # 71, 134, 380
    assert (days["n"], days["median"], days["p25"], days["p90"]) == (3, 134.0, 102.5, 330.8)
    curve = {p["months"]: p["established"] for p in est["curve"]}
    assert (curve[1], curve[2], curve[4], curve[12], curve[48]) == (0, 1, 2, 3, 3)   # 71 d = 2.3 months

    assert doc["states_now"]["total"] == 5
    states = {s["state"]: s["count"] for s in doc["states_now"]["by_state"]}
    assert states["exited.work"] == 3 and states["closed"] == 1 and states["module1.registered"] == 1

    skips = doc["skips"]
    assert {s["module"]: s["count"] for s in skips["by_module"]} == {"module2": 1, "module3": 2}
    assert {(s["module"], s["reason"]): s["count"] for s in skips["by_reason"]} == {
        ("module2", "validated_skills"): 1, ("module3", "job_offer"): 2}

    groups = {g["target_group"]: g for g in doc["target_groups"]["groups"]}
    assert groups["A"]["exits_total"] == 4 and groups["A"]["established"] == 3

    fu = {d["day"]: d for d in doc["followups"]["days"]}
    assert (fu[90]["due"], fu[90]["recorded"], fu[90]["by_status"]["work"]) == (2, 1, 1)
    assert (fu[180]["due"], fu[180]["recorded"], fu[360]["due"]) == (2, 0, 0)
    json.dumps(doc)                            # JSON-able as it is (no Decimal, no date objects)


def test_municipality_counts_where_the_case_was(cohort_engine):
    doc = build_report(cohort_engine, make_scope([A], **PERIOD))
    module1 = stage(doc, "module1")           # cases 1 and 2; case 3 left module 1 in B
    assert (module1["n"], module1["median"], module1["p25"], module1["p90"]) == (2, 25.0, 22.5, 29.0)
    assert stage(doc, "assessment")["n"] == 1
    flow = doc["flow"]
    assert flow["entries"] == 4 and flow["exits"]["exited.work"] == 2 and flow["exits"]["closed"] == 0
    assert (flow["transfers_in"], flow["transfers_out"]) == (0, 1)
    skips = {s["module"]: s["count"] for s in doc["skips"]["by_module"]}
    assert skips == {"module2": 0, "module3": 1}
    track = doc["tracks"]["tracks"]
    assert [(t["track"], t["left"], t["work"], t["summary"]) for t in track] == [("industri", 1, 1, "1 av 1 i arbete")]
    assert doc["overdue"]["stages"]["overdue"] == 1          # case 5, still in module 1
    assert muni(doc["overdue"]["stages"]["by_municipality"], A)["overdue"] == 1

    other = build_report(cohort_engine, make_scope([B], **PERIOD))
    m1 = stage(other, "module1")              # case 3 (30, left after the transfer) and case 4 (295)
    assert (m1["n"], m1["median"]) == (2, 162.5)
    assert other["flow"]["entries"] == 0 and other["flow"]["exits"]["exited.work"] == 1
    assert other["flow"]["exits"]["closed"] == 1 and other["flow"]["transfers_in"] == 1
    assert {s["module"]: s["count"] for s in other["skips"]["by_module"]} == {"module2": 1, "module3": 1}
    assert other["overdue"]["stages"]["overdue"] == 0


def test_outcomes_per_track_two_of_three(any_engine):
    """Four people in Norrköping's industry track (module 3 from 2025-03-12): two leave for
    work, one goes back to module 2, one is still in the track."""
    for serial, ending in ((601, "work"), (602, "work"), (603, "drop"), (604, None)):
        c = register(any_engine, pnr("19900606", serial), A, "2025-01-01", "2025-01-10")
        advance(any_engine, c, "hold_talk", "2025-01-20")
        advance(any_engine, c, "establish_plan", "2025-02-01", plan="handlingsplan")
        advance(any_engine, c, "request_assessment", "2025-03-02")
        advance(any_engine, c, "decide", "2025-03-12", decision="local_track", track="industri",
                participants="kommun,af,individual,employer", note="Industrispåret")
        if ending == "work":
            advance(any_engine, c, "complete_track", "2025-09-08", outcome="work")
        elif ending == "drop":
            advance(any_engine, c, "drop_track", "2025-06-10", reason="track_not_suitable")
    doc = build_report(any_engine, make_scope([A], **PERIOD))
    [track] = doc["tracks"]["tracks"]
    assert {k: track[k] for k in ("track", "left", "work", "dropped", "ongoing", "established", "share_work",
                                  "summary")} == {
        "track": "industri", "left": 3, "work": 2, "dropped": 1, "ongoing": 1, "established": 2,
        "share_work": 0.6667, "summary": "2 av 3 i arbete"}
    module3 = stage(doc, "module3")           # 90, 180, 180 days in the track
    assert (module3["n"], module3["median"], module3["mean"]) == (3, 180.0, 150.0)
    english = build_report(any_engine, make_scope([A], lang="en", **PERIOD))
    assert english["tracks"]["tracks"][0]["summary"] == "2 of 3 in work"


def test_empty_municipality_and_period_give_zeros(cohort_engine):
    for scope in (make_scope(["2480"], **PERIOD), make_scope(start=date(2010, 1, 1), end=date(2010, 12, 31),
                                                             today=TODAY)):
        doc = build_report(cohort_engine, scope)
        assert doc["flow"]["entries"] == 0 and doc["flow"]["exits_total"] == 0
        assert all(s["n"] == 0 and s["median"] is None for s in doc["time_in_stage"]["stages"])
        assert doc["establishment"]["starters"] == 0 and doc["establishment"]["share_within_two_years"] is None
        assert doc["tracks"]["tracks"] == []
        assert all(d["due"] == 0 for d in doc["followups"]["days"])
    empty = build_report(cohort_engine, make_scope(["2480"], **PERIOD))
    assert empty["states_now"]["total"] == 0
    assert muni(empty["flow"]["by_municipality"], "2480")["entries"] == 0


def test_empty_database_gives_zeros(db_url):
    engine = make_engine(db_url)
    doc = build_report(engine, make_scope(today=TODAY))
    assert doc["states_now"]["total"] == 0 and doc["overdue"]["stages"]["overdue"] == 0
    assert all(s["n"] == 0 for s in doc["time_in_stage"]["stages"])
    engine.dispose()


def test_refresh_recomputes_only_changed_cases(cohort_engine):
    assert refresh(cohort_engine).cases == 5
    assert refresh(cohort_engine).cases == 0
    case_5 = 5
    with cohort_engine.connect() as conn:
        case_5 = conn.execute(text("SELECT MAX(id) FROM cases")).scalar()
    advance(cohort_engine, case_5, "hold_talk", "2025-03-11")
    assert refresh(cohort_engine).cases == 1
    with cohort_engine.connect() as conn:
        visits = conn.execute(text("SELECT stage, end_day FROM report_visits WHERE case_id = :c"),
                              {"c": case_5}).all()
    assert visits == [("module1", None)]      # still in module 1: one open visit



def overdue_measures_now(engine, today: date) -> dict[tuple[str, str, str], int]:
    """The overdue measures as the live tables give them: each open measure of a running
    case, by its case's municipality now, its type and the ladder step its due date is in."""
    levels = ladder_levels(today)
    running = tuple(STAGE_OF)
    counts: dict[tuple[str, str, str], int] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(Measure.c.type, Measure.c.due, Case.c.municipality, Case.c.state)
                            .join(Case, Case.c.id == Measure.c.case_id)
                            .where(Measure.c.state.in_(OPEN_MEASURE_STATES))).all()
    for kind, due, municipality, state in rows:
        for step, after, upto, _ in levels:
            if state in running and due <= upto and (after is None or due > after):
                counts[municipality, kind, step] = counts.get((municipality, kind, step), 0) + 1
    return counts


def overdue_measures_reported(doc) -> dict[tuple[str, str, str], int]:
    """The same from the report: per municipality by step, per type by step, summed over
    the other key (the report gives the two margins)."""
    part = doc["overdue"]["measures"]
    per_muni = {(m["municipality"], step): n for m in part["by_municipality"] for step, n in m["by_level"].items() if n}
    per_type = {(t["key"], step): n for t in part["by_type"] for step, n in t["by_level"].items() if n}
    return per_muni, per_type


def margins(counts: dict[tuple[str, str, str], int]):
    per_muni: dict = {}
    per_type: dict = {}
    for (municipality, kind, step), n in counts.items():
        per_muni[municipality, step] = per_muni.get((municipality, step), 0) + n
        per_type[kind, step] = per_type.get((kind, step), 0) + n
    return per_muni, per_type


def test_overdue_measures_follow_their_cases(any_engine):
    """The overdue measures are those of running cases, counted where each case is now
    and by the ladder step its due date has reached, as the live tables say, before and
    after measures end, a case pauses and resumes and a case moves (each recomputed by
    the report's refresh from the derived open measures)."""
    today = date.today()
    long_ago, lately = today - timedelta(days=60), today - timedelta(days=3)
    soon = today + timedelta(days=2)

    def in_module2(serial: int, municipality: str) -> int:
        c = register(any_engine, pnr("19900707", serial), municipality, "2025-01-01", "2025-01-10")
        advance(any_engine, c, "hold_talk", "2025-01-20")
        advance(any_engine, c, "establish_plan", "2025-02-01", plan="handlingsplan")
        return c

    stays, pauses, moves, ends = (in_module2(n, A) for n in (701, 702, 703, 704))
    elsewhere = in_module2(705, B)
    measures = {}
    for c in (stays, pauses, moves, ends, elsewhere):
        for kind, due in (("sfi", long_ago), ("internship", lately), ("validation", soon),
                          ("health", today + timedelta(days=200))):
            measures[c, kind] = add_measure(any_engine, c, kind, "2025-02-05", due=due)
    scope = make_scope(today=today)

    def agrees() -> None:
        expected = overdue_measures_now(any_engine, today)
        assert expected                             # some measure is overdue at every turn
        assert overdue_measures_reported(build_report(any_engine, scope)) == margins(expected)
        for municipality in (A, B):
            doc = build_report(any_engine, make_scope([municipality], today=today))
            assert overdue_measures_reported(doc) == margins(
                {key: n for key, n in expected.items() if key[0] == municipality})

    agrees()
    change_measure(any_engine, measures[ends, "sfi"], "cancel", "2025-02-06", reason="absence")
    change_measure(any_engine, measures[ends, "internship"], "start", "2025-02-06")
    advance(any_engine, pauses, "pause", "2025-02-07", reason="illness")
    advance(any_engine, moves, "transfer", "2025-02-08", municipality=B)
    agrees()
    with any_engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM report_measures WHERE case_id = :c"),
                            {"c": pauses}).scalar() == 0          # on hold: none of its measures counts
    advance(any_engine, pauses, "resume", "2025-02-10")
    change_measure(any_engine, measures[ends, "internship"], "complete", "2025-02-11")
    agrees()



def test_a_transfer_counts_on_its_stockholm_day(any_engine):
    """A transfer half an hour into the new year in Stockholm (still the old year in UTC)
    is a transfer of the new year."""
    c = register(any_engine, pnr("19900808", 801), A, "2025-11-01", "2025-11-10")
    advance(any_engine, c, "transfer", "2026-01-01 00:30", municipality=B)
    year = {y: build_report(any_engine, make_scope([A], start=date(y, 1, 1), end=date(y, 12, 31), today=TODAY))
            for y in (2025, 2026)}
    assert (year[2025]["flow"]["transfers_out"], year[2026]["flow"]["transfers_out"]) == (0, 1)


def cohort_with_measures_and_transfers(engine) -> None:
    """The cohort, and a case with open and ended measures, a corrected transfer and one
    that stands."""
    build_cohort(engine)
    c = register(engine, pnr("19900909", 901), A, "2025-01-01", "2025-01-10")
    advance(engine, c, "hold_talk", "2025-01-20")
    advance(engine, c, "establish_plan", "2025-02-01", plan="handlingsplan")
    for kind in ("sfi", "internship", "health"):
        add_measure(engine, c, kind, "2025-02-02", due=date(2025, 3, 1))
    change_measure(engine, add_measure(engine, c, "validation", "2025-02-02"), "cancel", "2025-02-03",
                   reason="absence")
    moved = advance(engine, c, "transfer", "2025-02-04", municipality=B)
    correct(engine, c, moved["seq"], "2025-02-05", actor="admin", reason="wrong_case", note="Fel kommun")
    advance(engine, c, "transfer", "2025-02-06", municipality=B)


def derived_rows(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2")).all()
                for t in ("report_measures", "report_transfers")}


def test_the_migration_derives_the_measures_and_transfers_as_a_refresh_does(any_engine):
    """Migration 0021 fills report_measures and report_transfers on a database that has
    cases (their measures open, ended and on hold; transfers standing and corrected) with
    the rows the refresh derives."""
    from alembic import command
    from alembic.config import Config
    from etablera.models.database import MIGRATIONS

    cohort_with_measures_and_transfers(any_engine)
    refresh(any_engine)
    refreshed = derived_rows(any_engine)
    assert len(refreshed["report_measures"]) == 3 and len(refreshed["report_transfers"]) == 2   # case 3's and c's second
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with any_engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0020")
        command.upgrade(config, "0021")
    assert derived_rows(any_engine) == refreshed


def test_the_transfers_are_found_alike_case_by_case_and_by_their_trigger(any_engine, monkeypatch):
    """A refresh finds the stale cases' transfers case by case (a day's changes: by the
    case's index, on SQLite told not to take the trigger's) or, for many stale cases, by
    the trigger's index: the same rows either way."""
    cohort_with_measures_and_transfers(any_engine)
    if any_engine.dialect.name == "sqlite":
        with any_engine.connect() as conn:
            conn.execute(text(f"CREATE TEMPORARY TABLE {facts.STALE} (case_id INTEGER PRIMARY KEY)"))
            query = "SELECT" + facts.transfers_sql(Dialect("sqlite"), 1).split("SELECT", 1)[1]
            plan = [row[3] for row in conn.execute(text(f"EXPLAIN QUERY PLAN {query}"))]
        assert any(re.fullmatch(r"SEARCH e USING INDEX \w+ \(case_id=\?\)", step) for step in plan), plan
    refresh(any_engine)
    by_case = derived_rows(any_engine)
    monkeypatch.setattr(facts, "TRANSFERS_BY_TRIGGER", 0)
    with any_engine.begin() as conn:
        conn.execute(text("UPDATE report_cases SET seq = -1"))
    assert refresh(any_engine).cases == 6
    assert derived_rows(any_engine) == by_case


def test_percentiles_match_percentile_cont(pg_url):
    """On PostgreSQL our ROW_NUMBER-free histogram method equals percentile_cont."""
    engine = make_engine(pg_url)
    build_cohort(engine)
    doc = build_report(engine, make_scope(**PERIOD))
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY days), percentile_cont(0.5) WITHIN GROUP "
            "(ORDER BY days), percentile_cont(0.75) WITHIN GROUP (ORDER BY days), percentile_cont(0.9) WITHIN "
            "GROUP (ORDER BY days) FROM report_visits WHERE stage = 'module1' AND end_day IS NOT NULL")).one()
    module1 = stage(doc, "module1")
    assert [module1["p25"], module1["median"], module1["p75"], module1["p90"]] == [pytest.approx(v) for v in row]
    engine.dispose()


# What the report reads from the derived tables, by a piece of its statement, and the
# index SQLite must read it through (models/followup.py).
COUNTED_AS_READ = {
    "CREATE TEMPORARY TABLE report_starters": "ix_report_cases_starters",
    "CREATE TEMPORARY TABLE report_exits": "ix_report_cases_exits",
    "FROM report_visits WHERE days IS NOT NULL": "ix_report_visits_stage_muni_days",
    "WHERE paused_days > 0": "ix_report_visits_paused",
    "WHERE skipped <> '[]'": "ix_report_visits_skips",
    "FROM report_measures": "ix_report_measures_due",
}


@pytest.mark.parametrize("municipalities", [(), (A,)])
def test_the_big_counts_are_taken_as_their_index_is_read(engine, municipalities):
    """SQLite counts the period's starters, exits, stays, paused stays, skips and the
    overdue measures each in one scan of a covering index in its grouping's order, with no
    sort of the rows read (only of the few already counted), for the nation; for one
    municipality it seeks that municipality's entries where the index is led by it. And
    the cases' exit days match."""
    build_cohort(engine)
    statements = {}

    def seen(conn, cursor, statement, parameters, context, executemany):
        for piece in COUNTED_AS_READ:
            if piece in statement:
                statements[piece] = (statement, parameters)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        build_report(engine, make_scope(**PERIOD, municipalities=municipalities))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert set(statements) == set(COUNTED_AS_READ)
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for piece, (statement, parameters) in statements.items():
            query = statement.split(" AS\n", 1)[1] if statement.lstrip().startswith("CREATE") else statement
            plan = [row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {query}", parameters)]
            reads = [step for step in plan if " report_" in step]
            assert len(reads) == 1, plan
            index = COUNTED_AS_READ[piece]
            assert re.fullmatch(rf"(SCAN|SEARCH) report_\w+ USING COVERING INDEX {index}( \(.*\))?", reads[0]), plan
            led_by_municipality = index.startswith(("ix_report_cases", "ix_report_visits_skips", "ix_report_measures"))
            if municipalities and led_by_municipality:
                assert reads[0].startswith("SEARCH") and "municipality=?" in reads[0], plan
            # A sort may follow only a step that counted first (a materialised or co-routine
            # result), or, for one municipality, the few rows of it an index led by the stage holds.
            sorted_as_read = plan[plan.index(reads[0]) + 1:][:1] == ["USE TEMP B-TREE FOR GROUP BY"]
            assert not sorted_as_read or (municipalities and not led_by_municipality), plan
        assert conn.execute(text("SELECT COUNT(exit_days), SUM(CASE WHEN exit_days IS NOT exit_day - permit_day "
                                 "THEN 1 ELSE 0 END) FROM report_cases")).one() == (4, 0)


def test_stockholm_day_in_sqlite_matches_zoneinfo(engine):
    """The SQLite spelling of 'the Stockholm date of an instant' (summer time by the EU
    rule) agrees with zoneinfo around every switch of several years."""
    from datetime import datetime, timedelta, timezone

    from etablera.models.timestamps import local_date
    from etablera.reports.sql import Dialect, day_number

    moments = []
    for year in (2019, 2024, 2025, 2026, 2031):
        for month, day in ((3, 24), (10, 24)):
            start = datetime(year, month, day, tzinfo=timezone.utc)
            moments += [start + timedelta(minutes=30 * i) for i in range(8 * 48)]
    expr = Dialect("sqlite").local_day(":at")
    with engine.connect() as conn:
        for moment in moments:
            stored = moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
            got = conn.execute(text(f"SELECT {expr}"), {"at": stored}).scalar()
            assert got == day_number(local_date(moment)), moment


def test_cli_report_formats(cli_env, tmp_path):
    from conftest import run_cli

    engine = make_engine(cli_env["ETABLERA_DATABASE_URL"])
    build_cohort(engine)
    engine.dispose()
    out = run_cli("report", "--municipality", A, "--from", "2025-01-01", "--to", "2025-12-31", "--json", env=cli_env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["flow"]["entries"] == 4 and doc["scope"]["municipalities"][0]["code"] == A
    table = run_cli("report", "--from", "2025-01-01", "--to", "2025-12-31", env=cli_env)
    assert table.returncode == 0 and "Tid i varje steg" in table.stdout and "1 av 1 i arbete" in table.stdout
    english = run_cli("report", "--lang", "en", "--format", "csv", "--to", "2025-12-31", env=cli_env)
    assert english.returncode == 0 and english.stdout.startswith("section,row,column,value")
    assert "Time in each stage" in english.stdout
    target = tmp_path / "out" / "report.html"
    html = run_cli("report", "--format", "html", "--output", str(target), env=cli_env)
    assert html.returncode == 0, html.stderr
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    bad = run_cli("report", "--municipality", "58", env=cli_env)
    assert bad.returncode == 2 and "municipality" in bad.stderr
