"""The reminder ladder (påminnelsetrappa), its delivery settings and the check's schedule,
read from `reminders.toml` (looked up like every configuration file; its schema is
`RemindersFile` below).

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
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

import pendulum
from pydantic import (AfterValidator, BeforeValidator, Field, PlainSerializer, PlainValidator, TypeAdapter,
                      ValidationError, model_validator)
from pydantic_core import PydanticCustomError

from etablera.models.config_files import (Bool, ConfigError, Count, Positive, Section, Text, Where, as_search,
                                          error_at, load, search_path)
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


# ---------------------------------------------------------------------------- reminders.toml

def _offset(value) -> Offset:
    if isinstance(value, Offset):
        return value
    try:
        return Offset.parse(value if isinstance(value, str) else repr(value))
    except ValueError as exc:
        raise PydanticCustomError("offset", str(exc)) from None


def _a_list(value):
    """`to = "officers"` is `to = ["officers"]` (and a lone number a list of one)."""
    return [value] if isinstance(value, str | int) and not isinstance(value, bool) else value


def _zone(value: str) -> str:
    try:
        pendulum.timezone(value)
    except Exception:  # noqa: BLE001 - pendulum raises several kinds
        raise PydanticCustomError("time_zone", f"unknown time zone {value!r}") from None
    return value


def _cron(value: str) -> str:
    if len(value.split()) != 5:
        raise PydanticCustomError("cron", f"{value!r} is not a five-field cron expression")
    return value


OffsetText = Annotated[Offset, PlainValidator(_offset, json_schema_input_type=str),
                       PlainSerializer(str, return_type=str),
                       Field(description="from the due date: \"-5 working days\", \"0 days\", \"+1 months\"",
                             json_schema_extra={"pattern": _OFFSET.pattern})]
Recipients = Annotated[tuple[Literal[RECIPIENTS], ...], Field(min_length=1),
                       BeforeValidator(_a_list, json_schema_input_type=Literal[RECIPIENTS] | list[Literal[RECIPIENTS]])]
Zone = Annotated[Text, AfterValidator(_zone)]
Cron = Annotated[Text, AfterValidator(_cron)]


class RungEntry(Section):
    step: Text = Field(description="the step's name, e.g. warning, overdue, escalation")
    at: OffsetText
    to: Recipients


def _in_order(rungs: tuple[RungEntry, ...]) -> tuple[RungEntry, ...]:
    """Unique step names, and the steps fire in the order listed for every due date (checked
    over two years)."""
    steps = [r.step for r in rungs]
    if len(set(steps)) != len(steps):
        raise PydanticCustomError("steps", f"step names must be unique ({', '.join(steps)})")
    start = date(2024, 1, 1)
    for later, earlier in zip(rungs[1:], rungs):
        for n in range(0, 731):
            due = start + timedelta(days=n)
            if later.at.fire(due) < earlier.at.fire(due):
                raise PydanticCustomError("steps", f"step {later.step!r} ({later.at}) fires before {earlier.step!r} "
                                                   f"({earlier.at}) for due date {due}: list steps in order")
    return rungs


Steps = Annotated[tuple[RungEntry, ...], Field(min_length=1), AfterValidator(_in_order)]


def _base_url(value: str) -> str:
    """The web interface's address as people reach it: http(s)://host[:port][/path], no
    query, fragment or credentials; kept without a trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or "@" in parts.netloc or any(ch.isspace() for ch in value):
        shown = value.replace("{", "{{").replace("}", "}}")
        raise PydanticCustomError("base_url", "the web interface's address, http:// or https:// with no ?query, "
                                              f"#fragment or user:password@, e.g. \"https://etablera.kommun.se\": "
                                              f"{shown!r}")
    return value.rstrip("/")


def _mail_url(value: str) -> str:
    if not re.match(r"^mailtos?://[^\s]+$", value):
        raise PydanticCustomError("mail_url", "the mail server as an apprise URL, mailto://... or mailtos://..., "
                                              "e.g. \"mailtos://user:password@smtp.kommun.se?from=etablera@kommun.se\"")
    return value


BaseUrl = Annotated[Text, AfterValidator(_base_url)]
MailUrl = Annotated[Text, AfterValidator(_mail_url)]


class Delivery(Section):
    base_url: BaseUrl | None = Field(None, description="the web interface's address as its users reach it (e.g. "
                                                       "https://etablera.kommun.se): each reminder links to "
                                                       "BASE_URL/cases/ID; unset, it says how to find the case by "
                                                       "its id. ETABLERA_BASE_URL overrides it")
    mail_url: MailUrl | None = Field(None, description="the mail server for users' e-mail addresses (apprise: "
                                                       "mailto://... or mailtos://..., with from=, without to=); a "
                                                       "reminder to a user with an address and no notify URL goes "
                                                       "there with to=ADDRESS. Unset: such reminders go to the "
                                                       "default channel. ETABLERA_NOTIFY_MAIL overrides it")
    default_url: Text = Field("file:etablera-reminders.log",
                              description="where a reminder goes when its recipient has no notification URL "
                                          "(\"file:PATH\" or an apprise URL); ETABLERA_NOTIFY_DEFAULT overrides it")
    max_attempts: Positive = Field(5, description="a message that failed this many times is dead")
    retries: Count = Field(2, description="retries of the delivery task within one run")
    retry_delay_seconds: Annotated[tuple[Count, ...],
                                   BeforeValidator(_a_list, json_schema_input_type=int | list[int])] = (10, 60)
    retry_jitter_factor: Annotated[float, Field(ge=0)] = 0.2
    lease_seconds: Positive = Field(900, description="a claimed message whose delivery died is sent again after this")
    senders: Positive = Field(2, description="messages one delivery sends at the same time (threads); a delivery "
                                             "that dies may have sent the one in flight of each")
    language: Literal["sv", "en"] = "sv"


class Schedule(Section):
    """The daily check of `etablera serve`."""
    cron: Cron = "0 6 * * 1-5"
    timezone: Zone = "Europe/Stockholm"
    working_days_only: Bool = Field(True, description="also skip Swedish public holidays")


class ReportSchedule(Section):
    """The monthly follow-up report (flows/report_flow.py): when `etablera serve` runs it,
    and the folder it writes to (relative to the working directory; ETABLERA_REPORT_DIR
    overrides it)."""
    cron: Cron = "30 6 1 * *"
    timezone: Zone = "Europe/Stockholm"
    folder: Text = "reports"


class RemindersFile(Section):
    """reminders.toml: the reminder ladder, its delivery and the schedule of the daily check."""
    catch_up_days: Positive = Field(30, description="the last step is recorded only if its moment came within "
                                                    "this many days")
    ladder: Steps = Field(description="the default ladder, steps in the order they fire")
    ladders: dict[Literal[SUBJECTS], Steps] = Field({}, description="a subject's own ladder")
    delivery: Delivery = Delivery()
    schedule: Schedule = Schedule()
    report: ReportSchedule = ReportSchedule()

    @model_validator(mode="after")
    def _agreements_to_coordinators(self):
        for i, rung in enumerate(self.ladders.get("agreement", ())):
            if set(rung.to) - {"coordinator"}:
                raise error_at(("ladders", "agreement", i, "to"), "recipients",
                               "an agreement has no case officers; its reminders go to the coordinator", rung.to)
        return self


@dataclass(frozen=True)
class ReminderConfig:
    ladders: dict[str, Ladder]          # subject -> ladder
    delivery: Delivery
    schedule: Schedule
    report: ReportSchedule
    catch_up_days: int = 30
    sources: dict[str, str] = field(default_factory=dict)     # section -> file (or environment variable)

    def ladder(self, subject: str) -> Ladder:
        return self.ladders[subject]

    def as_dict(self) -> dict:
        return {
            "catch_up_days": self.catch_up_days,
            "ladders": {s: [{"step": r.step, "at": str(r.offset), "to": list(r.to)} for r in ladder.rungs]
                        for s, ladder in self.ladders.items()},
            "delivery": {"base_url": self.delivery.base_url,
                         "mail_url": redact(self.delivery.mail_url) if self.delivery.mail_url else None,
                         "default_url": redact(self.delivery.default_url),
                         "max_attempts": self.delivery.max_attempts, "retries": self.delivery.retries,
                         "retry_delay_seconds": list(self.delivery.retry_delay_seconds),
                         "lease_seconds": self.delivery.lease_seconds, "senders": self.delivery.senders,
                         "language": self.delivery.language},
            "schedule": self.schedule.model_dump(),
            "report": self.report.model_dump(),
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


# Delivery settings a deployment sets in its environment: key -> (variable, its type).
DELIVERY_ENV = {"base_url": ("ETABLERA_BASE_URL", BaseUrl), "mail_url": ("ETABLERA_NOTIFY_MAIL", MailUrl)}
# Every variable that overrides a setting, in the order `_with_env` takes their values.
ENV_OVERRIDES = ("ETABLERA_NOTIFY_DEFAULT", "ETABLERA_REPORT_DIR", *(v for v, _ in DELIVERY_ENV.values()))


def get_reminder_config() -> ReminderConfig:
    """The configuration, with environment overrides: ETABLERA_NOTIFY_DEFAULT (the default
    channel), ETABLERA_BASE_URL (the web interface's address the reminders link to),
    ETABLERA_NOTIFY_MAIL (the mail server for users' e-mail addresses) and
    ETABLERA_REPORT_DIR (the monthly report's folder). A bad value is a ConfigError
    naming its variable. The overrides are applied once per search path and set of values
    (`_with_env`): the worklist asks for the stage ladder on every view, and validating
    ETABLERA_BASE_URL again (a pydantic TypeAdapter built each time) was 450 µs of it."""
    return _with_env(search_path(), tuple(os.environ.get(v, "") for v in ENV_OVERRIDES))


@lru_cache(maxsize=16)
def _with_env(directory: Where, values: tuple[str, ...]) -> ReminderConfig:
    """`load_reminder_config(directory)` with the environment's `values` (of ENV_OVERRIDES)
    applied: cached as the file's reading is, and a bad value (raised) is never cached.
    Whoever clears `load_reminder_config`'s cache to read a changed file through
    `get_reminder_config` clears this one too."""
    config = load_reminder_config(directory)
    env = dict(zip(ENV_OVERRIDES, values))
    notify, folder = env["ETABLERA_NOTIFY_DEFAULT"], env["ETABLERA_REPORT_DIR"]
    sources = dict(config.sources)
    if notify:
        config = replace(config, delivery=config.delivery.model_copy(update={"default_url": notify}))
        sources["delivery.default_url"] = "$ETABLERA_NOTIFY_DEFAULT"
    for key, (variable, kind) in DELIVERY_ENV.items():
        value = env[variable].strip()
        if value:
            config = replace(config, delivery=config.delivery.model_copy(update={key: _from_env(variable, kind,
                                                                                                 value)}))
            sources[f"delivery.{key}"] = f"${variable}"
    if folder:
        config = replace(config, report=config.report.model_copy(update={"folder": folder}))
        sources["report.folder"] = "$ETABLERA_REPORT_DIR"
    return replace(config, sources=sources) if sources != config.sources else config


def _from_env(variable: str, kind, value: str) -> str:
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        raise ConfigError(f"${variable}: {exc.errors()[0]['msg']}") from None


@lru_cache(maxsize=8)
def load_reminder_config(directory: Where) -> ReminderConfig:
    """`reminders.toml` of a search path (or of one directory over the packaged defaults)."""
    doc, path = load(RemindersFile, FILE, as_search(directory))

    def ladder(rungs, to=None) -> Ladder:
        return Ladder(tuple(Rung(r.step, r.at, to or r.to) for r in rungs))

    ladders = {s: ladder(doc.ladder) for s in SUBJECTS}
    # An agreement has no case officers: by default its dates climb the same ladder to the coordinators.
    ladders["agreement"] = ladder(doc.ladder, ("coordinator",))
    ladders.update({subject: ladder(rungs) for subject, rungs in doc.ladders.items()})
    return ReminderConfig(ladders=ladders, delivery=doc.delivery, schedule=doc.schedule, report=doc.report,
                          catch_up_days=doc.catch_up_days, sources={"reminders": str(path)})
