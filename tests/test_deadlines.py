"""Time travel: cases registered on known dates, the check replayed on chosen days gives
exactly the expected reminders per level, once; pauses move everything; agreements;
recomputing due dates after a config change. Plain functions on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select, text

from identities import pnr
from kit import add_measure, advance, at, register
from kit import officer as kit_officer
from etablera.models import Case, Measure, Reminder
from etablera.models.agreements import AgreementBook
from etablera.models.configuration import DEFAULT_DIR, load_config
from etablera.models.ladder import load_reminder_config
from etablera.reminders import deadlines, officers, outbox as reminders
from etablera.cases.audit import verify
from etablera.reminders.recompute import recompute

NO_AGREEMENTS = AgreementBook(directory=Path("/nonexistent"), agreements=())
CONFIG = load_reminder_config(DEFAULT_DIR)
CASES, MEASURES = Case, Measure


def check(engine, day: str, book=NO_AGREEMENTS):
    return deadlines.record_due(engine, at(day), config=CONFIG, book=book)


def newcomer(engine, birth: str, day: str, serial: int = 123, officer: str | None = "k1", municipality="0581"):
    """A case registered on `day`, ten days after the residence permit, with officers k1 and af1."""
    if officer:
        kit_officer(engine, officer, municipality)
        kit_officer(engine, "af1", municipality, "af")
    return register(engine, pnr(birth, serial), municipality, at(day).date() - timedelta(days=10), day, actor="t",
                    kommun_officer=officer, af_officer="af1" if officer else None)


def rows(engine):
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(Reminder).order_by(Reminder.c.id))
                .mappings()]


def test_time_travel_exact_reminders_per_level(any_engine):
    """Module 1 (30 working days from Mon 2 March 2026 → due Wed 15 April, across Easter):
    warning 5 working days before (8 April), overdue on the day, escalation 5 working
    days after (22 April). Each exactly once, whatever the days checked."""
    case_id = newcomer(any_engine, "19900101", "2026-03-02")
    expected = {"2026-04-07": {}, "2026-04-08": {"warning": 1}, "2026-04-09": {}, "2026-04-14": {},
                "2026-04-15": {"overdue": 1}, "2026-04-16": {}, "2026-04-21": {},
                "2026-04-22": {"escalation": 1}, "2026-04-23": {}, "2026-06-01": {}}
    for day, want in expected.items():
        result = check(any_engine, day)
        got = {step: n for step, n in result.by_step.items() if n}
        assert got == want, day
        assert check(any_engine, day).total == 0, f"second run on {day} recorded again"
    recorded = rows(any_engine)
    assert [(r["kind"], r["step"], r["stage"], r["due"], r["detected_on"], r["case_id"], r["visit"])
            for r in recorded] == [
        ("stage", "warning", "module1", date(2026, 4, 15), date(2026, 4, 8), case_id, 1),
        ("stage", "overdue", "module1", date(2026, 4, 15), date(2026, 4, 15), case_id, 1),
        ("stage", "escalation", "module1", date(2026, 4, 15), date(2026, 4, 22), case_id, 1)]


def test_first_check_after_a_gap_records_only_the_step_reached(any_engine):
    newcomer(any_engine, "19900101", "2026-03-02")
    assert check(any_engine, "2026-05-04").by_step == {"warning": 0, "overdue": 0, "escalation": 1}
    assert check(any_engine, "2026-05-05").total == 0


def test_many_cases_on_known_dates(any_engine):
    """Three cases a week apart: on each day exactly the ones whose step has come."""
    ids = [newcomer(any_engine, "19900101", "2026-03-02", serial=101),
           newcomer(any_engine, "19850505", "2026-03-09", serial=102),    # due 22 April → warning 15 April
           newcomer(any_engine, "19700707", "2026-03-16", serial=103)]    # due 29 April → warning 22 April
    assert check(any_engine, "2026-04-15").by_step == {"warning": 1, "overdue": 1, "escalation": 0}
    assert check(any_engine, "2026-04-22").by_step == {"warning": 1, "overdue": 1, "escalation": 1}
    by_case = {}
    for r in rows(any_engine):
        by_case.setdefault(r["case_id"], []).append(r["step"])
    assert by_case == {ids[0]: ["overdue", "escalation"], ids[1]: ["warning", "overdue"], ids[2]: ["warning"]}


def test_a_second_visit_of_a_stage_gets_its_own_reminders(any_engine):
    case_id = newcomer(any_engine, "19900101", "2026-01-05")
    advance(any_engine, case_id, "hold_talk", "2026-01-07", actor="t")
    advance(any_engine, case_id, "establish_plan", "2026-01-08", actor="t", plan="handlingsplan")
    advance(any_engine, case_id, "request_assessment", "2026-01-12", actor="t")
    # assessment: 10 working days from 12 Jan → 26 Jan; warning 19 Jan
    assert check(any_engine, "2026-01-19").counts["stage"] == {"warning": 1, "overdue": 0, "escalation": 0}
    advance(any_engine, case_id, "decide", "2026-01-20", actor="t", decision="extended_support",
            participants="kommun,af", note="längre rehabilitering")
    advance(any_engine, case_id, "request_assessment", "2026-01-21", actor="t")
    # second assessment visit: 21 Jan + 10 working days → 4 Feb; warning 28 Jan
    assert check(any_engine, "2026-01-28").counts["stage"] == {"warning": 1, "overdue": 0, "escalation": 0}
    visits = {(r["stage"], r["visit"], r["step"]) for r in rows(any_engine)}
    assert len({v for s, v, _ in visits if s == "assessment"}) == 2


def test_pause_moves_everything_by_the_paused_days(any_engine):
    """Twin cases; one paused 14 days: stage, establishment and measure due dates all move
    by 14 days, and so do the reminders (calendar offsets) or their base (working days)."""
    plain = newcomer(any_engine, "19900101", "2026-01-05", serial=201)
    paused = newcomer(any_engine, "19910202", "2026-01-05", serial=202)
    for case_id in (plain, paused):
        advance(any_engine, case_id, "hold_talk", "2026-01-06", actor="t")
        advance(any_engine, case_id, "establish_plan", "2026-01-07", actor="t", plan="handlingsplan")
        add_measure(any_engine, case_id, "career_guidance", "2026-01-08", actor="t")
    advance(any_engine, paused, "pause", "2026-01-12", actor="t", reason="illness")
    advance(any_engine, paused, "resume", "2026-01-26", actor="t")
    with any_engine.connect() as conn:
        cases = {r.id: r for r in conn.execute(select(CASES.c.id, CASES.c.due, CASES.c.establishment_due))}
        dues = {r.case_id: r.due for r in conn.execute(select(MEASURES.c.case_id, MEASURES.c.due))}
    assert cases[paused].due - cases[plain].due == timedelta(days=14)
    assert cases[paused].establishment_due - cases[plain].establishment_due == timedelta(days=14)
    assert dues[paused] - dues[plain] == timedelta(days=14)
    # the measure: career guidance P8W from 8 Jan → 5 March; paused → 19 March
    assert (dues[plain], dues[paused]) == (date(2026, 3, 5), date(2026, 3, 19))
    day = date(2026, 2, 20)
    while day <= date(2026, 4, 10):          # every day, as the scheduler would
        check(any_engine, day.isoformat())
        day += timedelta(days=1)
    measure_reminders = [(r["step"], r["detected_on"], r["due"]) for r in rows(any_engine) if r["kind"] == "measure"]
    plain_steps = sorted((s, d) for s, d, due in measure_reminders if due == dues[plain])
    paused_steps = sorted((s, d) for s, d, due in measure_reminders if due == dues[paused])
    assert [(s, d + timedelta(days=14)) for s, d in plain_steps] == paused_steps


def test_cases_on_hold_get_no_reminders(any_engine):
    case_id = newcomer(any_engine, "19900101", "2026-03-02")
    advance(any_engine, case_id, "pause", "2026-03-10", actor="t", reason="parental_leave")
    assert check(any_engine, "2026-04-22").total == 0
    advance(any_engine, case_id, "resume", "2026-05-04", actor="t")   # 55 days later
    assert check(any_engine, "2026-05-04").total == 0
    result = check(any_engine, "2026-06-02")        # due 15 April + 55 days = 9 June; warning 2 June
    assert result.by_step == {"warning": 1, "overdue": 0, "escalation": 0}


def test_establishment_and_closed_cases(any_engine):
    case_id = newcomer(any_engine, "19900101", "2024-03-04")        # permit 23 Feb 2024 → due 23 Feb 2026
    other = newcomer(any_engine, "19800808", "2024-03-04", serial=300)
    advance(any_engine, other, "close", "2024-03-05", actor="t", reason="moved_abroad")
    result = check(any_engine, "2026-02-23")
    assert result.counts["establishment"] == {"warning": 0, "overdue": 1, "escalation": 0}
    assert {r["case_id"] for r in rows(any_engine)} == {case_id}


def test_agreement_dates_remind_the_coordinator(any_engine, tmp_path, monkeypatch):
    monkeypatch.setenv("ETABLERA_NOTIFY_DEFAULT", f"file:{tmp_path / 'out.log'}")
    shipped = AgreementBook.load(DEFAULT_DIR / "agreements")
    norrkoping = shipped.agreement_for("0581", date(2026, 6, 1))
    book = replace(shipped, agreements=(replace(norrkoping, next_revision=date(2026, 9, 1),
                                                valid_to=date(2026, 12, 31)),))
    officers.add_officer(any_engine, "samo1", name="Sam Samordnare", org="kommun", municipality="0581",
                         role="coordinator", notify=f"file:{tmp_path / 'samo1.log'}")
    assert check(any_engine, "2026-07-31", book).total == 0
    assert check(any_engine, "2026-08-01", book).counts["agreement"] == {"warning": 1}
    assert check(any_engine, "2026-09-01", book).counts["agreement"] == {"overdue": 1}
    assert check(any_engine, "2026-09-01", book).total == 0
    assert check(any_engine, "2026-09-15", book).counts["agreement"] == {"escalation": 1}
    assert check(any_engine, "2026-12-01", book).counts["agreement"] == {"warning": 1}      # the end of validity
    expired = check(any_engine, "2027-01-18", book)      # no successor: the expiry escalates
    assert expired.counts["agreement"] == {"escalation": 1}
    reminders.deliver(any_engine, config=CONFIG)
    lines = [json.loads(line) for line in (tmp_path / "samo1.log").read_text().splitlines()]
    assert len(lines) == 5 and all(line["to"] == "samo1" for line in lines)
    assert "kommun 0581" in lines[0]["subject"]


def test_recompute_shows_then_applies_audited(any_engine, tmp_path, monkeypatch):
    case_id = newcomer(any_engine, "19900101", "2026-03-02")
    advance(any_engine, case_id, "pause", "2026-03-03", actor="t", reason="illness")
    advance(any_engine, case_id, "resume", "2026-03-10", actor="t")     # +7 days
    assert recompute(any_engine, actor="admin", dry_run=True, book=NO_AGREEMENTS).changes == []

    frames = tmp_path / "config"
    frames.mkdir()
    for source in DEFAULT_DIR.glob("*.toml"):
        (frames / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    timeframes = frames / "timeframes.toml"
    timeframes.write_text(timeframes.read_text(encoding="utf-8").replace('"30 working days"', '"20 working days"')
                          .replace('frame = "P2Y"', 'frame = "P3Y"'), encoding="utf-8")
    config = load_config(frames)
    shown = recompute(any_engine, actor="admin", dry_run=True, config=config, book=NO_AGREEMENTS)
    # 20 working days from 2 March → 30 March, plus the 7 paused days → 6 April; permit
    # 20 Feb 2026 + 2 (now 3) years + 7 days
    assert shown.changes == [{"case": case_id, "state": "module1.registered",
                              "due": {"from": "2026-04-22", "to": "2026-04-06"},
                              "establishment_due": {"from": "2028-02-27", "to": "2029-02-27"}}]
    with any_engine.connect() as conn:
        assert conn.execute(select(CASES.c.due)).scalar_one() == date(2026, 4, 22)
    applied = recompute(any_engine, actor="admin", dry_run=False, config=config, book=NO_AGREEMENTS)
    assert applied.changes == shown.changes
    with any_engine.connect() as conn:
        event = conn.execute(text("SELECT actor, trigger, data FROM audit_events ORDER BY id DESC LIMIT 1")).one()
        cases, _, breaks = verify(conn)
    assert (event.actor, event.trigger) == ("admin", "recompute_due")
    assert breaks == []
    assert recompute(any_engine, actor="admin", dry_run=True, config=config, book=NO_AGREEMENTS).changes == []


def test_no_personal_data_in_reminders(engine, tmp_path):
    person = pnr("19900101")
    newcomer(engine, "19900101", "2026-03-02")
    check(engine, "2026-04-22")
    seen = []
    reminders.deliver(engine, config=CONFIG,
                      send=lambda url, subject, body, **kw: seen.append(subject + body + json.dumps(kw)))
    assert seen and not any(person[:8] in s or person.replace("-", "") in s for s in seen)
    assert all("ärende 1" in s for s in seen)
