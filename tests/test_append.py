"""journal.append writes a case's change, its event and (with `access`) the access-log row
together: on PostgreSQL as one statement, on SQLite as three. A stale version writes none
of them, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import kit
from etablera.access.principal import operator
from etablera.access.scope import access_row
from etablera.cases.audit import EVENTS, check
from etablera.cases.journal import ACCESS, append, load_case
from etablera.models.database import transaction
from etablera.models.timestamps import utcnow
from etablera.statemachine.errors import ConcurrentChange
from identities import pnr
from statements import sent_on

WHO = operator("tester", via="test")


@pytest.fixture
def engine(keyed_engine):
    return keyed_engine


def _event(case) -> dict:
    return {"at": utcnow(), "actor": WHO.id, "trigger": "followup", "from_state": case["state"],
            "to_state": case["state"], "municipality": case["municipality"], "reason": None, "note": "a note",
            "skipped": [], "data": {"day": 90}}


def _rows(conn, case_id: int) -> tuple[int, int]:
    return (conn.execute(select(func.count()).where(EVENTS.c.case_id == case_id)).scalar(),
            conn.execute(select(func.count()).where(ACCESS.c.case_id == case_id, ACCESS.c.action == "probe")).scalar())


def test_the_change_its_event_and_its_access_row_are_written_together(engine):
    case_id = kit.register(engine, pnr("19840915", 11), "0581", "2026-01-10")
    with transaction(engine) as conn:
        case = load_case(conn, case_id)
        before = _rows(conn, case_id)
        with sent_on(conn) as statements:
            stored = append(conn, case, {"municipality": "0180"}, _event(case),
                            access=access_row(WHO, case_id, "probe"))
        assert len(statements) == (1 if engine.dialect.name == "postgresql" else 3)
        assert _rows(conn, case_id) == (before[0] + 1, before[1] + 1)
    with transaction(engine, write=False) as conn:
        row = load_case(conn, case_id)
        assert row["municipality"] == "0180" and row["version"] == case["version"] + 1
        assert row["last_seq"] == stored["seq"] and row["last_hash"] == stored["hash"]
        logged = conn.execute(select(ACCESS).where(ACCESS.c.case_id == case_id, ACCESS.c.action == "probe")).one()
        assert logged.actor == WHO.id and logged.detail == "done"
        written = conn.execute(select(EVENTS).where(EVENTS.c.case_id == case_id, EVENTS.c.seq == stored["seq"])).one()
        assert written.data["day"] == 90 and written.note == "a note" and written.salts


def test_a_stale_version_writes_neither_the_change_nor_the_event_nor_the_access_row(engine):
    case_id = kit.register(engine, pnr("19900101", 22), "0581", "2026-01-10")
    with transaction(engine) as conn:
        case = load_case(conn, case_id)
        stale = {**case, "version": case["version"] - 1}
        before = _rows(conn, case_id)
        with pytest.raises(ConcurrentChange):
            append(conn, stale, {"municipality": "0180"}, _event(case), access=access_row(WHO, case_id, "probe"))
        assert _rows(conn, case_id) == before                          # inside the same transaction
        assert load_case(conn, case_id)["version"] == case["version"]
    with transaction(engine, write=False) as conn:
        assert not check(conn, [case_id]).breaks
