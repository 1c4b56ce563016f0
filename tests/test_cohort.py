"""The synthetic cohort: the bulk path writes exactly what the engine writes for the same
scripts, every history replays through the machine, and the chains verify."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text

from etablera.models.database import make_engine, transaction
from etablera.demo import cohort
from etablera.cases.audit import CASES, EVENTS, verify
from etablera.demo.bulk import MEASURES, write_cohort
from etablera.statemachine.decide import next_state
from etablera.statemachine.process import STATE, TRIGGER
from conftest import drop_pg_schema, fresh_pg_url

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
# The chain's hashes differ with the moment recorded and with each erasable value's random
# salt (cases/sealing.py); both sides' chains are verified below instead. On PostgreSQL each
# event records its writing transaction's id (txid, the feed's order), one per step there
# and one per chunk here.
IGNORED = {"recorded_at", "prev_hash", "hash", "last_hash", "id", "salts", "txid"}


def _dump(engine) -> tuple[list, list, list]:
    """Cases, measures and events, with measure ids replaced by their rank within the case
    (the engine numbers measures one by one, the bulk path in blocks)."""
    with transaction(engine, write=False) as conn:
        cases = [dict(r) for r in conn.execute(select(CASES).order_by(CASES.c.id)).mappings()]
        measures = [dict(r) for r in conn.execute(select(MEASURES).order_by(MEASURES.c.case_id, MEASURES.c.id))
                    .mappings()]
        events = [dict(r) for r in conn.execute(select(EVENTS).order_by(EVENTS.c.case_id, EVENTS.c.seq)).mappings()]
    rank, per_case = {}, {}
    for m in measures:
        per_case[m["case_id"]] = per_case.get(m["case_id"], 0) + 1
        rank[m["id"]] = per_case[m["case_id"]]
    for e in events:
        data = dict(e["data"])
        if "measure" in data:
            data["measure"] = rank[data["measure"]]
        for key in ("measures", "cancelled_measures"):
            if key in data:
                data[key] = [rank[i] for i in data[key]]
        if "measures_before" in data:
            data["measures_before"] = [{**m, "id": rank[m["id"]]} for m in data["measures_before"]]
        e["data"] = data

    def strip(rows):
        return [{k: v for k, v in r.items() if k not in IGNORED} for r in rows]
    return strip(cases), strip(measures), strip(events)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_databases(request, tmp_path, monkeypatch):
    """Two empty databases of one kind, migrated, sharing one audit key: on PostgreSQL the
    bulk writer copies its rows in (COPY), on SQLite it inserts them."""
    from etablera.models.database import upgrade
    monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / name}" for name in ("engine.sqlite3", "bulk.sqlite3")]
    else:
        server = request.getfixturevalue("pg_server")
        urls = [fresh_pg_url(server) for _ in range(2)]
    engines = [make_engine(url) for url in urls]
    for engine in engines:
        upgrade(engine)
    yield engines
    for engine, url in zip(engines, urls):
        engine.dispose()
        if request.param == "postgres":
            drop_pg_schema(server, url)


@pytest.mark.parametrize("count", [60])
def test_bulk_writes_what_the_engine_writes(two_databases, count):
    engine_db, bulk_db = two_databases
    for plan in cohort.scripts(count, seed=11, now=NOW, first_index=1):
        cohort.play(engine_db, plan)
    stats = write_cohort(bulk_db, count, seed=11, workers=1, now=NOW)
    assert stats["cases"] == count
    played, bulked = _dump(engine_db), _dump(bulk_db)
    for name, a, b in zip(("cases", "measures", "events"), played, bulked):
        assert len(a) == len(b), name
        for row_a, row_b in zip(a, b):
            assert row_a == row_b, name
    for engine in (engine_db, bulk_db):
        with transaction(engine, write=False) as conn:
            cases, events, breaks = verify(conn)
        assert (cases, breaks) == (count, [])
        assert events == stats["events"]


def test_every_history_replays_through_the_machine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'cohort.sqlite3'}")
    from etablera.models.database import upgrade
    upgrade(engine)
    write_cohort(engine, 400, seed=3, workers=2, now=NOW)
    with transaction(engine, write=False) as conn:
        events = conn.execute(select(EVENTS.c.case_id, EVENTS.c.trigger, EVENTS.c.from_state, EVENTS.c.to_state,
                                     EVENTS.c.data).order_by(EVENTS.c.case_id, EVENTS.c.seq)).all()
        states = dict(conn.execute(select(CASES.c.id, CASES.c.state)).all())
    paused_from, final, seen = {}, {}, set()
    for case_id, trigger, source, dest, data in events:
        if trigger == "register":
            assert dest == "module1.registered"
        elif trigger in TRIGGER:
            facts = {**data, "paused_from": paused_from.get(case_id)}
            assert next_state(source, trigger, facts) == dest, (case_id, trigger)
            if trigger == "pause":
                paused_from[case_id] = source
            seen.add(dest)
        else:
            assert source == dest        # measure events do not move the case
        final[case_id] = dest
    assert final == states
    # a realistic mix: every kind of state appears in a cohort of this size
    assert {"module2.preparing", "assessment.pending", "exited.work", "module3.in_track"} <= set(states.values())
    assert set(states.values()) <= set(STATE)


@pytest.mark.postgres
def test_a_cohort_on_postgresql_leaves_its_tables_vacuumed_and_analyzed(pg_url, tmp_path, monkeypatch):
    """A bulk load ends as autovacuum would leave it: each table it filled vacuumed (the
    visibility map index-only scans read) and analyzed (models/database.settle)."""
    monkeypatch.setenv("ETABLERA_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    engine = make_engine(pg_url)
    try:
        write_cohort(engine, 300, seed=3, workers=1)
        with engine.connect() as conn:
            settled = conn.execute(text(
                "SELECT relname, last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname IN ('cases', 'measures', 'audit_events')")).all()
            pages = conn.execute(text("SELECT relpages FROM pg_class WHERE oid = 'cases'::regclass")).scalar()
        assert sorted(settled) == [("audit_events", True), ("cases", True), ("measures", True)]
        assert pages > 0
    finally:
        engine.dispose()
