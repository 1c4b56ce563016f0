"""A process killed (SIGKILL) in the middle of a batch of transitions leaves every committed
state change with its audit event, a chain that verifies, and a database that works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import create_engine, func, select, text

from conftest import ROOT
from kit import advance
from etablera.models.database import make_engine, transaction
from etablera.cases import audit
from etablera.cases.audit import CASES, EVENTS

pytestmark = pytest.mark.slow

BATCH = textwrap.dedent("""
    import sys, time
    from datetime import date, timedelta
    sys.path.insert(0, "tests")
    from identities import pnr
    from etablera.models.database import make_engine
    from kit import add_measure, advance, change_measure, register

    engine = make_engine(sys.argv[1])
    first = int(sys.argv[3])
    people = [pnr((date(1970, 1, 1) + timedelta(days=first + i)).strftime("%Y%m%d"), 800)
              for i in range(int(sys.argv[2]))]
    cases = [register(engine, person, "0581", date(2025, 1, 15), actor="batch") for person in people]
    print("registered", flush=True)
    # module 1 -> module 2, then round and round: a measure added and started, a joint
    # assessment, extended support, a pause and a resume, a transfer
    for case in cases:
        advance(engine, case, "hold_talk", actor="batch")
        advance(engine, case, "establish_plan", actor="batch", plan="handlingsplan")
    towns = ["0180", "0380"]
    deadline = time.monotonic() + 120
    n = 0
    while time.monotonic() < deadline:
        for case in cases:
            m = add_measure(engine, case, "sfi", actor="batch")
            change_measure(engine, m, "start", actor="batch")
            advance(engine, case, "request_assessment", actor="batch")
            advance(engine, case, "decide", actor="batch", decision="extended_support", participants="kommun,af",
                    note="mer stöd")
            advance(engine, case, "pause", actor="batch", reason="illness")
            advance(engine, case, "resume", actor="batch")
            advance(engine, case, "transfer", actor="batch", municipality=towns[n % 2])
        n += 1      # every case moves on to the other town in the next round
""")


def _events(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    except Exception:  # noqa: BLE001 - the table may be locked or not yet visible
        return 0
    finally:
        engine.dispose()


def _kill_mid_batch(url: str, cases: int, after_events: int, first_person: int = 0) -> int:
    script = subprocess.Popen([sys.executable, "-c", BATCH, url, str(cases), str(first_person)], cwd=ROOT,
                              env={**os.environ, "ETABLERA_DATABASE_URL": url},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = 0
        while time.monotonic() < deadline:
            assert script.poll() is None, f"the batch ended by itself: {script.communicate()}"
            seen = _events(url)
            if seen >= after_events:
                break
            time.sleep(0.02)
        assert seen >= after_events, "no progress visible"
        os.kill(script.pid, signal.SIGKILL)
        script.wait(timeout=10)
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
    assert script.returncode == -signal.SIGKILL
    return seen


def _check_after_crash(url: str, cases: int) -> None:
    engine = make_engine(url)
    try:
        with transaction(engine, write=False) as conn:
            heads = conn.execute(select(CASES.c.id, CASES.c.state, CASES.c.last_seq, CASES.c.municipality)).all()
            per_case = {r.case_id: r for r in conn.execute(
                select(EVENTS.c.case_id, func.max(EVENTS.c.seq).label("top"), func.count().label("n"))
                .group_by(EVENTS.c.case_id)).all()}
            assert len(heads) == cases, "the batch registers all its cases before it moves any"
            for head in heads:
                events = per_case[head.id]
                assert head.last_seq == events.top == events.n, head
                last = conn.execute(select(EVENTS.c.to_state, EVENTS.c.municipality).where(
                    EVENTS.c.case_id == head.id, EVENTS.c.seq == head.last_seq)).one()
                assert (head.state, head.municipality) == (last.to_state, last.municipality), head
            case_count, event_count, breaks = audit.verify(conn)
        assert not breaks, [str(b) for b in breaks]
        assert case_count == cases and event_count > 3 * cases
        # the database works: every case can move again
        for head in heads:
            if head.state == "on_hold":
                advance(engine, head.id, "resume", actor="after")
            advance(engine, head.id, "pause", actor="after", reason="other")
            advance(engine, head.id, "resume", actor="after")
        with transaction(engine, write=False) as conn:
            _, _, breaks = audit.verify(conn)
        assert not breaks
    finally:
        engine.dispose()


def test_sigkill_mid_batch_sqlite(sqlite_url):
    cases = 30
    _kill_mid_batch(sqlite_url, cases, after_events=cases * 3 + 400)
    _check_after_crash(sqlite_url, cases)


@pytest.mark.postgres
def test_sigkill_mid_batch_postgres(pg_url):
    cases = 30
    _kill_mid_batch(pg_url, cases, after_events=cases * 3 + 300)
    _check_after_crash(pg_url, cases)


def test_sigkill_repeatedly_sqlite(sqlite_url):
    """Killed at a different moment each time, on the same database."""
    cases = 10
    _kill_mid_batch(sqlite_url, cases, after_events=cases * 3 + 50)
    _check_after_crash(sqlite_url, cases)
    for extra in (1, 2):
        # a new batch of new people on the same file, killed again
        seen = _events(sqlite_url)
        _kill_mid_batch(sqlite_url, cases, after_events=seen + cases * 3 + 50 * extra, first_person=100 * extra)
        engine = make_engine(sqlite_url)
        with transaction(engine, write=False) as conn:
            _, _, breaks = audit.verify(conn)
        engine.dispose()
        assert not breaks
