"""Follow-up after exit: recorded on the case's audit chain without a state change, once
per day, only when due; due follow-ups listed, and reminded of by the deadline check
(time travel, once each); the CLI."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select, text

from conftest import run_cli
from identities import pnr
import kit
from kit import advance, register
from etablera.models import Reminder
from etablera.models.agreements import AgreementBook
from etablera.models.configuration import DEFAULT_DIR
from etablera.models.database import make_engine
from etablera.models.ladder import load_reminder_config
from etablera.models.timestamps import parse_moment
from etablera.reminders import deadlines, outbox as reminders
from etablera.cases import followup
from etablera.cases.audit import verify
from etablera.statemachine.errors import BadInput, NotPermitted


def exited_case(engine, serial=11, exit_day="2025-05-15", outcome="work", municipality="0581"):
    kit.officer(engine, "k-1")
    kit.officer(engine, "af-1", org="af")
    if municipality != "0581":             # officers serve one municipality: the other's own
        kit.officer(engine, f"k-{municipality}", municipality)
        kit.officer(engine, f"af-{municipality}", municipality, "af")
    c = register(engine, pnr("19900101", serial), municipality, date(2025, 1, 1), "2025-01-15", actor="h1",
                 kommun_officer="k-1" if municipality == "0581" else f"k-{municipality}",
                 af_officer="af-1" if municipality == "0581" else f"af-{municipality}")
    advance(engine, c, "hold_talk", "2025-02-01", actor="h1")
    advance(engine, c, "exit_direct", exit_day, actor="h1", outcome=outcome, reason="job_offer", note="Anställd")
    return c


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_record_is_audited_and_keeps_the_state(db):
    c = exited_case(db)
    event = followup.record_followup(db, kit.who("h1"), c, day=90, status="unemployed", at=parse_moment("2025-08-14"),
                                     note="Anställningen upphörde")
    assert (event["trigger"], event["from_state"], event["to_state"]) == ("followup", "exited.work", "exited.work")
    assert event["data"] == {"day": 90, "status": "unemployed", "exited_on": "2025-05-15"}
    with db.connect() as conn:
        state = conn.execute(text("SELECT state, last_seq FROM cases WHERE id = :c"), {"c": c}).one()
        _, _, breaks = verify(conn, [c])
    assert state == ("exited.work", event["seq"]) and breaks == []
    assert followup.list_followups(db, c)[0]["status"] == "unemployed"


def test_refusals(db):
    c = exited_case(db)
    with pytest.raises(NotPermitted, match="due on 2025-08-13"):
        followup.record_followup(db, kit.who("h1"), c, day=90, status="work", at=parse_moment("2025-08-12"))
    with pytest.raises(BadInput, match="day"):
        followup.record_followup(db, kit.who("h1"), c, day=30, status="work")
    with pytest.raises(BadInput, match="status"):
        followup.record_followup(db, kit.who("h1"), c, day=90, status="retired")
    followup.record_followup(db, kit.who("h1"), c, day=90, status="work", at=parse_moment("2025-08-13"))
    with pytest.raises(NotPermitted, match="already recorded"):
        followup.record_followup(db, kit.who("h1"), c, day=90, status="work", at=parse_moment("2025-08-14"))
    running = register(db, pnr("19900101", 99), "0581", date(2025, 1, 1), "2025-01-15", actor="h1")
    with pytest.raises(NotPermitted, match="only a case that left"):
        followup.record_followup(db, kit.who("h1"), running, day=90, status="work")


def test_due_followups_for_the_deadline_check(db):
    first = exited_case(db, 11, "2025-05-15")
    second = exited_case(db, 12, "2025-06-01", outcome="studies", municipality="0180")
    due = followup.due_followups(db, date(2025, 8, 13))
    assert [(d.case_id, d.day, d.due, d.exit_state, d.kommun_officer) for d in due] == [
        (first, 90, date(2025, 8, 13), "exited.work", "k-1")]
    assert [d.case_id for d in followup.due_followups(db, date(2025, 8, 31))] == [first, second]
    assert [d.case_id for d in followup.due_followups(db, date(2025, 8, 31), municipality="0180")] == [second]
    followup.record_followup(db, kit.who("h1"), first, day=90, status="work", at=parse_moment("2025-08-20"))
    assert [d.case_id for d in followup.due_followups(db, date(2025, 8, 31))] == [second]
    assert followup.due_followups(db, date(2025, 10, 31)) == []         # 90-day ones missed, 180 not yet
    assert [(d.case_id, d.day) for d in followup.due_followups(db, date(2025, 11, 12))] == [(first, 180)]


def followup_reminders(engine, day: str) -> dict[str, int]:
    """Run the deadline check as of `day`; the follow-up reminders it recorded, by step."""
    result = deadlines.record_due(engine, parse_moment(day), config=load_reminder_config(DEFAULT_DIR),
                                  book=AgreementBook(directory=DEFAULT_DIR, agreements=()))
    return {step: n for step, n in result.counts.get("followup", {}).items() if n}


def test_due_followups_in_the_deadline_check(db):
    """Exit Thu 2025-05-15: the 90-day follow-up is due Wed 2025-08-13 and climbs the ladder
    (warning five working days before, overdue on the day, escalation five working days
    after) while nobody records it; the 180-day one (2025-11-11) is recorded on its day, so
    it gets only its warning; the 360-day one falls on a Sunday (2026-05-10) and Monday's
    check records the step reached. Each once, whatever is re-run."""
    c = exited_case(db)
    expected = {"2025-08-05": {}, "2025-08-06": {"warning": 1}, "2025-08-12": {}, "2025-08-13": {"overdue": 1},
                "2025-08-19": {}, "2025-08-20": {"escalation": 1}, "2025-09-30": {}, "2025-11-04": {"warning": 1},
                "2025-11-11": {}, "2025-11-28": {}, "2026-05-11": {"overdue": 1}}
    for day, want in expected.items():
        if day == "2025-11-11":
            followup.record_followup(db, kit.who("h1"), c, day=180, status="work", at=parse_moment(day))
        assert followup_reminders(db, day) == want, day
        assert followup_reminders(db, day) == {}, f"second run on {day} recorded again"
    with db.connect() as conn:
        r = Reminder.c
        rows = conn.execute(select(r.kind, r.target_id, r.visit, r.step, r.case_id, r.municipality, r.stage, r.due)
                            .order_by(r.id)).all()
    assert [tuple(r) for r in rows] == [
        ("followup", c, 90, step, c, "0581", "followup.90", date(2025, 8, 13))
        for step in ("warning", "overdue", "escalation")] + [
        ("followup", c, 180, "warning", c, "0581", "followup.180", date(2025, 11, 11)),
        ("followup", c, 360, "overdue", c, "0581", "followup.360", date(2026, 5, 10))]
    sent = []
    reminders.deliver(db, config=load_reminder_config(DEFAULT_DIR),
                      send=lambda url, subject, body, recipient, **kw: sent.append((recipient, subject, body)))
    assert sorted(r for r, _, _ in sent) == ["af-1"] * 5 + ["coordinator:0581"] + ["k-1"] * 5
    _, subject, _ = sent[0]
    assert subject == (f"[etablera] Varning: ärende {c}, Uppföljning 90 dagar efter avslut, 2025-08-13 "
                       "(förfaller om 7 dagar)")
    person = pnr("19900101", 11)
    assert not any(person[:8] in s + b or person.replace("-", "") in s + b for _, s, b in sent)


def test_cli_record_and_due(cli_env):
    engine = make_engine(cli_env["ETABLERA_DATABASE_URL"])
    c = exited_case(engine)
    engine.dispose()
    due = run_cli("followup", "due", "--today", "2025-08-20", "--json", env=cli_env)
    assert due.returncode == 0, due.stderr
    assert [(r["case_id"], r["day"]) for r in json.loads(due.stdout)] == [(c, 90)]
    done = run_cli("followup", "record", str(c), "--day", "90", "--status", "work", "--at", "2025-08-20", "--json",
                   env=cli_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "work"
    again = run_cli("followup", "record", str(c), "--day", "90", "--status", "work", "--at", "2025-08-21",
                    "--lang", "en", env=cli_env)
    assert again.returncode == 3 and "already recorded" in again.stderr
    bad = run_cli("followup", "record", str(c), "--day", "45", "--status", "work", env=cli_env)
    assert bad.returncode == 2
