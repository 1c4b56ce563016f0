"""The reminder ladder (påminnelsetrappa), its delivery settings and the check's schedule,
read from `config/reminders.toml`.

A rung fires at an offset from a due date ("-5 working days", "0 days", "+1 months").
Offsets are monotone in the due date, so "which rung has a due date reached by `today`"
turns into a range of due dates per rung (`Ladder.windows`), and the check becomes one
index range scan per rung instead of a loop over cases.

The same file holds what `etablera serve` schedules: the daily check ([schedule]) and the
monthly follow-up report ([report]: when, and the folder it writes to).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import pendulum

from etablera.models.configuration import ConfigError, config_dir, read_toml
from etablera.models.timeframes import add_working_days, is_working_day

SUBJECTS = ("stage", "measure", "establishment", "agreement", "followup")
RECIPIENTS = ("officers", "kommun_officer", "af_officer", "coordinator")
_OFFSET = re.compile(r"^(?P<n>[+-]?\d+)\s+(?P<unit>working days?|days?|weeks?|months?)$")
FILE = "reminders.toml"


@dataclass(frozen=True)
class Offset:
    """A signed distance from a due date, in calendar days, weeks, months or Swedish
    working days."""
    n: int
    unit: str                  # days | weeks | months | working_days

    @classmethod
    def parse(cls, text: str) -> "Offset":
        m = _OFFSET.match(str(text).strip())
        if not m:
            raise ValueError(f"not an offset: {text!r} (use e.g. '-5 working days', '0 days', '+1 months')")
        unit = m["unit"].rstrip("s").replace("working day", "working_day") + "s"
        return cls(int(m["n"]), unit)

    def fire(self, due: date) -> date:
        """The day a rung with this offset fires for `due`."""
        if self.unit == "days":
            return due + timedelta(days=self.n)
        if self.unit == "weeks":
            return due + timedelta(weeks=self.n)
        if self.unit == "months":
            moved = pendulum.date(due.year, due.month, due.day).add(months=self.n)
            return date(moved.year, moved.month, moved.day)
        return shift_working_days(due, self.n)

    def latest_due(self, today: date) -> date:
        """The latest due date whose rung has fired by `today` (fire(due) <= today).
        `fire` never decreases as the due date grows, so a short walk finds it."""
        guess = today - timedelta(days=self.n * {"days": 1, "weeks": 7, "months": 30, "working_days": 1}[self.unit])
        while self.fire(guess) > today:
            guess -= timedelta(days=1)
        while self.fire(guess + timedelta(days=1)) <= today:
            guess += timedelta(days=1)
        return guess

    def __str__(self) -> str:
        unit = self.unit.replace("_", " ")
        return f"{'+' if self.n > 0 else ''}{self.n} {unit}"


def shift_working_days(day: date, n: int) -> date:
    """n > 0: the n-th working day after `day`; n < 0: the |n|-th working day before it;
    0: `day` itself."""
    if n >= 0:
        return add_working_days(day, n)
    remaining = -n
    while remaining > 0:
        day -= timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


@dataclass(frozen=True)
class Rung:
    step: str
    offset: Offset
    to: tuple[str, ...]


@dataclass(frozen=True)
class Window:
    """Due dates in (after, upto] have reached `step` and not yet the next one."""
    step: str
    after: date | None
    upto: date


@dataclass(frozen=True)
class Ladder:
    rungs: tuple[Rung, ...]

    def windows(self, today: date, catch_up_days: int | None = None) -> list[Window]:
        """With `catch_up_days`, the last step is recorded only if its moment came within
        that many days: a check never rescans every case that was ever overdue."""
        last = self.rungs[-1].offset
        ends = [r.offset.latest_due(today) for r in self.rungs]
        ends.append(last.latest_due(today - timedelta(days=catch_up_days)) if catch_up_days else None)
        return [Window(r.step, ends[i + 1], ends[i]) for i, r in enumerate(self.rungs)]

    def reached(self, due: date, today: date, catch_up_days: int | None = None) -> str | None:
        """The step `due` has reached on `today` (the one a check records), or None."""
        current = None
        for rung in self.rungs:
            if rung.offset.fire(due) <= today:
                current = rung.step
        if catch_up_days and current == self.rungs[-1].step \
                and self.rungs[-1].offset.fire(due) <= today - timedelta(days=catch_up_days):
            return None
        return current

    def rung(self, step: str) -> Rung | None:
        return next((r for r in self.rungs if r.step == step), None)


@dataclass(frozen=True)
class Delivery:
    default_url: str
    max_attempts: int
    retries: int
    retry_delay_seconds: tuple[int, ...]
    retry_jitter_factor: float
    lease_seconds: int
    language: str


@dataclass(frozen=True)
class Schedule:
    cron: str
    timezone: str
    working_days_only: bool


@dataclass(frozen=True)
class ReportSchedule:
    """The monthly follow-up report (flows/report_flow.py): when `etablera serve` runs it,
    and the folder it writes to (relative to the working directory)."""
    cron: str
    timezone: str
    folder: str


@dataclass(frozen=True)
class ReminderConfig:
    ladders: dict[str, Ladder]          # subject -> ladder
    delivery: Delivery
    schedule: Schedule
    report: ReportSchedule
    catch_up_days: int = 30

    def ladder(self, subject: str) -> Ladder:
        return self.ladders[subject]

    def as_dict(self) -> dict:
        return {
            "catch_up_days": self.catch_up_days,
            "ladders": {s: [{"step": r.step, "at": str(r.offset), "to": list(r.to)} for r in ladder.rungs]
                        for s, ladder in self.ladders.items()},
            "delivery": {"default_url": redact(self.delivery.default_url),
                         "max_attempts": self.delivery.max_attempts, "retries": self.delivery.retries,
                         "retry_delay_seconds": list(self.delivery.retry_delay_seconds),
                         "lease_seconds": self.delivery.lease_seconds, "language": self.delivery.language},
            "schedule": {"cron": self.schedule.cron, "timezone": self.schedule.timezone,
                         "working_days_only": self.schedule.working_days_only},
            "report": {"cron": self.report.cron, "timezone": self.report.timezone, "folder": self.report.folder},
        }


def redact(url: str) -> str:
    """A notification URL without its credentials: only the scheme and, for a mail
    server given as user:password@host, the host (webhook tokens are never shown)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    if "@" in authority:
        return f"{scheme}://{authority.rsplit('@', 1)[1]}/…"
    return f"{scheme}://…"


def get_reminder_config() -> ReminderConfig:
    """The configuration, with two environment overrides: ETABLERA_NOTIFY_DEFAULT (the
    default channel) and ETABLERA_REPORT_DIR (the monthly report's folder)."""
    config = load_reminder_config(config_dir())
    notify, folder = os.environ.get("ETABLERA_NOTIFY_DEFAULT"), os.environ.get("ETABLERA_REPORT_DIR")
    if notify:
        config = replace(config, delivery=replace(config.delivery, default_url=notify))
    if folder:
        config = replace(config, report=replace(config.report, folder=folder))
    return config


@lru_cache(maxsize=8)
def load_reminder_config(directory: Path) -> ReminderConfig:
    path = Path(directory) / FILE
    doc = read_toml(path)

    default = _ladder(doc.get("ladder"), "ladder")
    ladders = {s: default for s in SUBJECTS}
    # An agreement has no case officers: by default its dates climb the same ladder to the coordinators.
    ladders["agreement"] = Ladder(tuple(Rung(r.step, r.offset, ("coordinator",)) for r in default.rungs))
    for subject, rungs in (doc.get("ladders") or {}).items():
        if subject not in SUBJECTS:
            raise ConfigError(f"config/{FILE}: ladders.{subject}: unknown subject; subjects: {', '.join(SUBJECTS)}")
        ladders[subject] = _ladder(rungs, f"ladders.{subject}")
    for rung in ladders["agreement"].rungs:
        if set(rung.to) - {"coordinator"}:
            raise ConfigError(f"config/{FILE}: ladders.agreement.{rung.step}: an agreement has no case officers; "
                              "its reminders go to the coordinator")

    d = doc.get("delivery") or {}
    delays = d.get("retry_delay_seconds", [10, 60])
    delivery = Delivery(
        default_url=str(d.get("default_url", "file:etablera-reminders.log")),
        max_attempts=_positive(d.get("max_attempts", 5), "delivery.max_attempts"),
        retries=int(d.get("retries", 2)),
        retry_delay_seconds=tuple(int(x) for x in (delays if isinstance(delays, list) else [delays])),
        retry_jitter_factor=float(d.get("retry_jitter_factor", 0.2)),
        lease_seconds=int(d.get("lease_seconds", 900)),
        language=str(d.get("language", "sv")),
    )
    s = doc.get("schedule") or {}
    schedule = Schedule(*_cron(s, "schedule", "0 6 * * 1-5"), working_days_only=bool(s.get("working_days_only", True)))
    r = doc.get("report") or {}
    report = ReportSchedule(*_cron(r, "report", "30 6 1 * *"), folder=str(r.get("folder", "reports")))
    return ReminderConfig(ladders=ladders, delivery=delivery, schedule=schedule, report=report,
                          catch_up_days=_positive(doc.get("catch_up_days", 30), "catch_up_days"))


def _cron(section: dict, where: str, default: str) -> tuple[str, str]:
    """A section's cron expression and time zone (default Europe/Stockholm), checked."""
    cron, zone = str(section.get("cron", default)), str(section.get("timezone", "Europe/Stockholm"))
    try:
        pendulum.timezone(zone)
    except Exception:  # noqa: BLE001 - pendulum raises several kinds
        raise ConfigError(f"config/{FILE}: {where}.timezone: unknown time zone {zone!r}") from None
    if len(cron.split()) != 5:
        raise ConfigError(f"config/{FILE}: {where}.cron: {cron!r} is not a five-field cron expression")
    return cron, zone


def _ladder(rungs, where: str) -> Ladder:
    if not isinstance(rungs, list) or not rungs:
        raise ConfigError(f"config/{FILE}: {where}: give at least one step ([[{where}]] with step, at, to)")
    parsed = []
    for i, raw in enumerate(rungs):
        here = f"{where}[{i}]"
        if not isinstance(raw, dict) or not {"step", "at", "to"} <= raw.keys():
            raise ConfigError(f"config/{FILE}: {here}: needs step, at and to")
        try:
            offset = Offset.parse(raw["at"])
        except ValueError as exc:
            raise ConfigError(f"config/{FILE}: {here}.at: {exc}") from None
        to = tuple(raw["to"]) if isinstance(raw["to"], list) else (raw["to"],)
        unknown = set(to) - set(RECIPIENTS)
        if unknown or not to:
            raise ConfigError(f"config/{FILE}: {here}.to: unknown recipients {sorted(unknown)}; "
                              f"use {', '.join(RECIPIENTS)}")
        parsed.append(Rung(str(raw["step"]), offset, to))
    steps = [r.step for r in parsed]
    if len(set(steps)) != len(steps):
        raise ConfigError(f"config/{FILE}: {where}: step names must be unique ({', '.join(steps)})")
    # The rungs must fire in the order listed, for every due date (checked over two years).
    start = date(2024, 1, 1)
    for later, earlier in zip(parsed[1:], parsed):
        for n in range(0, 731, 1):
            due = start + timedelta(days=n)
            if later.offset.fire(due) < earlier.offset.fire(due):
                raise ConfigError(f"config/{FILE}: {where}: step {later.step!r} ({later.offset}) fires before "
                                  f"{earlier.step!r} ({earlier.offset}) for due date {due}: list steps in order")
    return Ladder(tuple(parsed))


def _positive(value, where: str) -> int:
    if not isinstance(value, int) or value < 1:
        raise ConfigError(f"config/{FILE}: {where}: must be a whole number ≥ 1")
    return value
