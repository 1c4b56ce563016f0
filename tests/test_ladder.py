"""The reminder ladder and Swedish working days: pure functions, no database."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etablera.models.config_files import shown
from etablera.models.configuration import DEFAULT_DIR, ConfigError
from etablera.models.ladder import Ladder, Offset, Rung, load_reminder_config, redact, shift_working_days
from etablera.models.timeframes import Frame, add_working_days, is_working_day

LADDER = Ladder((Rung("warning", Offset.parse("-5 working days"), ("officers",)),
                 Rung("overdue", Offset.parse("0 days"), ("officers",)),
                 Rung("escalation", Offset.parse("+5 working days"), ("officers", "coordinator"))))


@pytest.mark.parametrize("day, working", [
    (date(2025, 4, 18), False), (date(2025, 4, 21), False), (date(2025, 4, 22), True),    # Easter 2025
    (date(2026, 4, 3), False), (date(2026, 4, 6), False), (date(2026, 4, 7), True),       # Easter 2026
    (date(2027, 3, 26), False), (date(2027, 3, 29), False),                                # Easter 2027
    (date(2028, 4, 14), False), (date(2028, 4, 17), False),                                # Easter 2028
    (date(2025, 6, 20), False), (date(2026, 6, 19), False), (date(2027, 6, 25), False),    # Midsummer Eve
    (date(2026, 6, 18), True), (date(2026, 6, 22), True),
    (date(2025, 12, 24), False), (date(2026, 12, 24), False), (date(2027, 12, 24), False),  # Christmas Eve
    (date(2026, 12, 25), False), (date(2026, 12, 28), True), (date(2026, 12, 31), False),  # New Year's Eve
    (date(2027, 1, 6), False), (date(2026, 5, 1), False), (date(2026, 6, 6), False),
    (date(2026, 5, 14), False),                                                            # Ascension 2026
])
def test_swedish_working_days(day, working):
    assert is_working_day(day) is working


@pytest.mark.parametrize("start, frame, due", [
    # 30 working days from 2 March 2026 skip Good Friday (3 Apr) and Easter Monday (6 Apr).
    (date(2026, 3, 2), "30 working days", date(2026, 4, 15)),
    # Over Midsummer 2026: Fri 19 June is Midsummer Eve.
    (date(2026, 6, 15), "5 working days", date(2026, 6, 23)),
    (date(2027, 6, 21), "5 working days", date(2027, 6, 29)),   # Midsummer Eve 25 June 2027
    # Over Christmas and New Year 2026/27: 24, 25, 26 (Sat), 31 Dec, 1 Jan, 6 Jan are not working days.
    (date(2026, 12, 22), "5 working days", date(2027, 1, 4)),
    (date(2027, 12, 23), "3 working days", date(2027, 12, 29)),   # 24 Dec 2027 a Friday
    (date(2028, 4, 12), "3 working days", date(2028, 4, 19)),   # Easter 2028 (14 and 17 April)
    (date(2026, 1, 31), "P1M", date(2026, 2, 28)),              # month arithmetic from the anchor
    (date(2026, 3, 2), "P2Y", date(2028, 3, 2)),
])
def test_frames_across_holidays(start, frame, due):
    assert Frame.parse(frame).due(start) == due


@pytest.mark.parametrize("text, fire", [
    ("-5 working days", date(2026, 4, 8)),       # 5 working days before 15 April 2026, across Easter
    ("0 days", date(2026, 4, 15)),
    ("+5 working days", date(2026, 4, 22)),
    ("+3 days", date(2026, 4, 18)),
    ("-2 weeks", date(2026, 4, 1)),
    ("-1 months", date(2026, 3, 15)),
])
def test_offset_fire(text, fire):
    assert Offset.parse(text).fire(date(2026, 4, 15)) == fire


def test_catch_up_horizon_for_the_last_step():
    due = date(2026, 4, 15)                       # escalation on 22 April
    assert LADDER.reached(due, date(2026, 5, 21), 30) == "escalation"
    assert LADDER.reached(due, date(2026, 5, 22), 30) is None
    assert LADDER.reached(due, date(2027, 5, 22)) == "escalation"


def test_negative_working_days_skip_christmas():
    assert shift_working_days(date(2027, 1, 4), -3) == date(2026, 12, 28)   # 1 Jan and 31 Dec skipped
    assert shift_working_days(date(2027, 1, 4), 0) == date(2027, 1, 4)


@pytest.mark.parametrize("bad", ["5 working", "-x days", "5 hours", ""])
def test_offset_refuses_nonsense(bad):
    with pytest.raises(ValueError):
        Offset.parse(bad)


days = st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31))


@settings(max_examples=300, deadline=None)
@given(due=days, today=days, text=st.sampled_from(["-5 working days", "+5 working days", "0 days", "-1 months",
                                                   "+2 weeks", "-3 days", "+10 working days"]))
def test_latest_due_inverts_fire(due, today, text):
    """The SQL window is exact: fire(due) <= today iff due <= latest_due(today)."""
    offset = Offset.parse(text)
    assert (offset.fire(due) <= today) == (due <= offset.latest_due(today))


@settings(max_examples=400, deadline=None)
@given(due=days, today=days, catch_up=st.sampled_from([None, 1, 30, 90]))
def test_windows_match_the_step_reached(due, today, catch_up):
    """Each due date falls in exactly the window of the step it has reached (or none)."""
    inside = [w.step for w in LADDER.windows(today, catch_up) if due <= w.upto and (w.after is None or due > w.after)]
    reached = LADDER.reached(due, today, catch_up)
    assert inside == ([reached] if reached else [])


def test_shipped_config_parses():
    config = load_reminder_config(DEFAULT_DIR)
    assert [r.step for r in config.ladder("stage").rungs] == ["warning", "overdue", "escalation"]
    assert config.ladder("agreement").rungs[0].to == ("coordinator",)
    assert config.schedule.cron == "0 6 * * 1-5" and config.schedule.timezone == "Europe/Stockholm"
    assert config.delivery.max_attempts >= 1


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "reminders.toml").write_text(text, encoding="utf-8")
    load_reminder_config.cache_clear()
    return tmp_path


@pytest.mark.parametrize("text, where, message", [
    ('[[ladder]]\nstep="a"\nat="+1 days"\nto=["officers"]\n[[ladder]]\nstep="b"\nat="-1 days"\nto=["officers"]\n',
     "ladder", "fires before"),
    ('[[ladder]]\nstep="a"\nat="soon"\nto=["officers"]\n', "ladder[0].at", "not an offset"),
    ('[[ladder]]\nstep="a"\nat="0 days"\nto=["boss"]\n', "ladder[0].to[0]", "'coordinator', not str 'boss'"),
    ('[[ladder]]\nstep="a"\nat="0 days"\nto=["officers"]\n[[ladders.agreement]]\nstep="a"\nat="0 days"\n'
     'to=["officers"]\n', "ladders.agreement[0].to", "coordinator"),
    ('[[ladder]]\nstep="a"\nat="0 days"\nto=["officers"]\n[schedule]\ntimezone="Mars/Olympus"\n',
     "schedule.timezone", "time zone"),
    ('[[ladder]]\nstep="a"\nat="0 days"\nto=["officers"]\n[delivery]\nmax_attempts=0\n', "delivery.max_attempts",
     "greater than or equal to 1"),
    ('[[ladder]]\nstep="a"\nat="0 days"\nto=["officers"]\n[delivery]\nmax_attemps=5\n', "delivery.max_attemps",
     "unknown field"),
])
def test_broken_reminder_config_is_refused(tmp_path, text, where, message):
    """One line naming the file and the key path of the bad value."""
    with pytest.raises(ConfigError) as exc:
        load_reminder_config(_write(tmp_path, text))
    line = str(exc.value)
    assert "\n" not in line and line.startswith(f"{shown(tmp_path / 'reminders.toml')}: {where}: "), line
    assert message in line
    load_reminder_config.cache_clear()


def test_redact_hides_credentials():
    assert redact("mailtos://user:secret@mail.example.se:587?to=a@b.se") == "mailtos://mail.example.se:587/…"
    assert redact("json://hooks.example.se/secret-path") == "json://…"
    assert "token" not in redact("msteams://token1/token2/token3")
    assert redact("file:etablera-reminders.log") == "file:etablera-reminders.log"


def test_every_day_has_a_working_day_within_a_week():
    day = date(2025, 1, 1)
    while day < date(2029, 1, 1):
        assert add_working_days(day, 1) - day <= timedelta(days=6)
        day += timedelta(days=1)
